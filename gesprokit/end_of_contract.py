"""The end of a contract as workflow actions (CCAG-T 2021 art. 12.3–12.4, 41, 44; CCP
R2191-35, R2191-42, R2192-16): réception, projet de décompte final, décompte final and
projet de décompte général, décompte général signed by the MOA, the titulaire's answer (or
the tacit procedure), payment of the solde and refund of the retention.

Each action is a workflow action like the others: the role's permission, one transaction,
one chained event sealing the contract, a French refusal that changes nothing. The figures
come from :mod:`gesprokit.final_account`; the dates that follow from silence (DG deemed
accepted, tacit DGD) are computed by :func:`final_state`, never written by a clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from gesprokit import inputs, schema
from gesprokit.chorus.frames import TACIT_MOA_DAYS, TACIT_NOTICE_DAYS
from gesprokit.delays import RETENTION_REFUND_DAYS
from gesprokit.final_account import FinalAccount, compute_final_account
from gesprokit.situation_documents import produced_document
from gesprokit.store import load_frames
from gesprokit.workflow import Actor, File, contract_action
from gesprokit.workflow_errors import InvalidTransition, StaleState, ValidationError

GUARANTEE_MONTHS = 12  # CCAG-T art. 44.1: one year from the réception
ANSWER_DAYS = 30  # CCAG-T 12.4.3/12.4.5: the titulaire's 30 days to sign the DG
GUARANTOR_RELEASE_DAYS = 30  # CCP R2191-42: one month at most


@dataclass(frozen=True)
class FinalState:
    """Where a contract's end stands, on a date (see :func:`final_state`)."""

    stage: str  # French, as users read it
    dgd_on: date | None  # the day the décompte général became definitive
    dgd_mode: str | None  # "signé", "signé avec réserves", "réputé accepté", "tacite"
    solde_from: date | None  # the day the solde's payment delay starts (R2192-16)
    retention_due_on: date | None  # the day the retention (less any part kept) is due by
    tacit_possible_from: date | None  # the day the titulaire may start the tacit procedure
    kept_due_on: date | None = None  # the day the part kept for réserves is due by
    guarantee_release_by: date | None = None  # the guarantor's mainlevée deadline (R2191-42)


@dataclass(frozen=True)
class RetentionPart:
    """A part of the retention to refund: the whole of it, or, réserves remaining at the end
    of the délai de garantie, the part above their estimated cost and the part kept."""

    payment: str  # as the delays table names it
    amount: int  # cents TTC
    due_on: date | None  # None: not yet due (réserves not lifted)
    column: str  # the FinalAccountRecord column that records its payment


def _date(value) -> date | None:
    if not _present(value):
        return None
    return pd.Timestamp(value).date()


def _present(value) -> bool:
    """A value that is there: not None, NaN or NaT (rows may come from a frame)."""
    return value is not None and not (not isinstance(value, str) and pd.isna(value))


def _retention_dates(reception: dict | None) -> tuple[date | None, date | None, date | None]:
    """(retention due on, part kept for réserves due on, guarantor released by) from the
    réception: 30 days after the délai de garantie, or after the réserves' lifting when later
    (R2191-35); réserves still there at the end of the délai keep the whole retention, or only
    their estimated cost when the réception states it; the guarantor one month after the same
    date (R2191-42)."""
    if reception is None:
        return None, None, None
    end = _date(reception["guarantee_until"])
    lifted = _date(reception.get("reserves_lifted_on"))
    refund = timedelta(days=RETENTION_REFUND_DAYS)
    if not _reserves_outlast(reception):
        release = max(end, lifted or end)
        return (release + refund, None,
                (pd.Timestamp(release) + pd.DateOffset(months=1)).date())
    kept_due = lifted + refund if lifted is not None else None
    guarantor = (pd.Timestamp(lifted) + pd.DateOffset(months=1)).date() if lifted else None
    if _present(reception.get("reserves_cost_cents")):
        return end + refund, kept_due, guarantor
    return kept_due, None, guarantor


def _reserves_outlast(reception: dict) -> bool:
    """Réserves were notified and are not lifted by the end of the délai de garantie."""
    lifted = _date(reception.get("reserves_lifted_on"))
    return _present(reception.get("reserves")) and (
        lifted is None or lifted > _date(reception["guarantee_until"]))


def retention_parts(retention: int, reception: dict | None) -> list[RetentionPart]:
    """The refunds of `retention` (cents), with their due dates (see
    :func:`_retention_dates`): one part, or two when réserves with an estimated cost remain
    at the end of the délai de garantie."""
    if reception is None or retention <= 0:
        return []
    main_due, kept_due, _ = _retention_dates(reception)
    if not (_reserves_outlast(reception) and _present(reception.get("reserves_cost_cents"))):
        return [RetentionPart("retenue", retention, main_due, "retention_released_at")]
    kept = min(int(reception["reserves_cost_cents"]), retention)
    parts = [RetentionPart("retenue conservée (réserves)", kept, kept_due, "kept_released_at")]
    if retention > kept:
        parts.insert(0, RetentionPart("retenue", retention - kept, main_due,
                                      "retention_released_at"))
    return parts


def final_state(record: dict | None, reception: dict | None, on: date) -> FinalState:
    """The stage of a contract's end on `on`, with the dates that follow from the rules:
    the DG deemed accepted 30 days after its notification without an answer (12.4.5); the
    titulaire's projet becoming the DGD when the MOA lets 10 days pass after its notice
    (12.4.4), the solde's delay running from the next day; the retention refunded 30 days
    after the délai de garantie, or after the réserves' lifting when later (R2191-35)."""
    retention_due, kept_due, guarantor = _retention_dates(reception)
    dates = {"kept_due_on": kept_due, "guarantee_release_by": guarantor}
    if record is None:
        stage = "réception prononcée" if reception else "en cours"
        return FinalState(stage, None, None, None, retention_due, None, **dates)
    claimed, signed = _date(record["claimed_at"]), _date(record.get("signed_at"))
    tacit, answered = _date(record.get("tacit_at")), _date(record.get("answered_at"))
    tacit_from = claimed + timedelta(days=TACIT_MOA_DAYS + 1) if signed is None else None
    if tacit is not None and (signed is None or signed > tacit + timedelta(
            days=TACIT_NOTICE_DAYS)):
        becomes = tacit + timedelta(days=TACIT_NOTICE_DAYS)
        if on > becomes:
            return FinalState("décompte général définitif (procédure tacite)", becomes,
                              "tacite", becomes + timedelta(days=1), retention_due, None,
                              **dates)
        return FinalState("projet de décompte général du titulaire notifié (procédure tacite)",
                          None, None, None, retention_due, None, **dates)
    if signed is None:
        stage = ("décompte final établi, décompte général à signer"
                 if _present(record.get("settled_at")) else
                 "projet de décompte final transmis")
        return FinalState(stage, None, None, None, retention_due, tacit_from, **dates)
    if answered is not None:
        mode = "signé" if record.get("answer") == "accepted" else "signé avec réserves"
        return FinalState(f"décompte général {mode}", answered, mode, answered, retention_due,
                          None, **dates)
    deemed = signed + timedelta(days=ANSWER_DAYS)
    if on > deemed:
        return FinalState("décompte général réputé accepté", deemed, "réputé accepté",
                          deemed, retention_due, None, **dates)
    return FinalState("décompte général notifié, en attente de la signature du titulaire",
                      None, None, None, retention_due, None, **dates)


def _reception(conn: Connection, contract_id: str) -> dict | None:
    row = conn.execute(select(schema.Reception).where(
        schema.Reception.contract_id == contract_id)).mappings().first()
    return dict(row) if row else None


def _record(conn: Connection, contract_id: str) -> dict | None:
    row = conn.execute(select(schema.FinalAccountRecord).where(
        schema.FinalAccountRecord.contract_id == contract_id)).mappings().first()
    return dict(row) if row else None


def account_of(bind, contract_id: str, as_of: datetime, claimed: bool = False
               ) -> FinalAccount:
    """The décompte final as recorded (the MOE's admitted %, or the titulaire's claim when
    `claimed` or not yet settled), computed on `as_of`."""
    return account_from_frames(load_frames(bind, [contract_id]), contract_id, as_of, claimed)


def account_from_frames(frames, contract_id: str, as_of: datetime, claimed: bool = False
                        ) -> FinalAccount:
    """:func:`account_of` on frames already read."""
    record = frames.final_accounts[frames.final_accounts["contract_id"] == contract_id]
    if record.empty:
        raise InvalidTransition(f"Le marché {contract_id} n'a pas de projet de décompte final.")
    record = record.iloc[0]
    progress = frames.final_progress[frames.final_progress["contract_id"] == contract_id]
    settled = pd.notna(record["settled_at"]) and not claimed
    column = "admitted_bp" if settled else "claimed_bp"
    pcts = {r.line_no: int(getattr(r, column)) for r in progress.itertuples()
            if pd.notna(getattr(r, column))}
    adjustments = (json.loads(record["adjustments"])
                   if settled and isinstance(record["adjustments"], str) else None)
    return compute_final_account(frames, contract_id, pcts, record["month"], as_of,
                                 adjustments)


def _signed_document(conn: Connection, contract_id: str, kind: str, when: datetime,
                     produced: list[File], claimed: bool = False) -> FinalAccount:
    """The account as it stands inside the action's transaction, and the PDF the person
    signs (`kind`, see :mod:`gesprokit.final_documents`) rendered from exactly those
    figures, appended to `produced`."""
    from gesprokit.final_documents import render_final

    frames = load_frames(conn, [contract_id])
    account = account_from_frames(frames, contract_id, when, claimed)
    produced.append(File(f"{kind}-{contract_id}.pdf", render_final(kind, frames, account, when)))
    return account


SIGNING_ACTIONS = ("submit_final", "settle_final", "sign_general")


def signed_document(conn: Connection, contract_id: str) -> File | None:
    """The last document signed at the contract's end (projet de décompte final, projet de
    décompte général, décompte général) as it was stored with its act, or None."""
    return produced_document(conn, contract_id, None, SIGNING_ACTIONS)


def _figures(account: FinalAccount) -> str:
    heads = account.headings()
    return json.dumps({**dict(zip(heads["key"], heads["amount"].astype(int), strict=True)),
                       "provisional": account.provisional}, sort_keys=True)


def record_reception(engine: Engine, actor: Actor, contract_id: str, received_on: date,
                     reserves: str | None = None, guarantee_months: int | None = None,
                     reserves_cost_cents: int | None = None, *,
                     now: datetime | None = None) -> dict:
    """The MOA pronounces the réception, with or without réserves (and, optionally, the
    estimated cost of the works that lift them: the part of the retention kept should they
    remain); the délai de garantie runs from it (the contract's, one year by default)."""
    if guarantee_months is not None:
        guarantee_months = inputs.whole_number(guarantee_months, "Délai de garantie (mois)", 1,
                                               120)
    reserves = reserves.strip() or None if isinstance(reserves, str) else None
    if reserves_cost_cents is not None:
        if reserves is None:
            raise ValidationError("Coût estimé des réserves : aucune réserve n'est énoncée.")
        reserves_cost_cents = inputs.amount(reserves_cost_cents,
                                            "Coût estimé des travaux de levée des réserves")

    def write(conn: Connection) -> dict:
        if _reception(conn, contract_id) is not None:
            raise InvalidTransition(f"La réception du marché {contract_id} est déjà "
                                    "prononcée.")
        months = guarantee_months or conn.execute(select(schema.Contract.guarantee_months).where(
            schema.Contract.contract_id == contract_id)).scalar_one()
        until = (pd.Timestamp(received_on) + pd.DateOffset(months=months)).date()
        row = dict(contract_id=contract_id, received_on=received_on, reserves=reserves,
                   reserves_cost_cents=reserves_cost_cents, guarantee_until=until,
                   recorded_at=(now or datetime.now()).replace(microsecond=0),
                   recorded_by=actor.email)
        conn.execute(insert(schema.Reception).values(**row))
        return {"received_on": received_on.isoformat(), "reserves": reserves,
                "reserves_cost_cents": reserves_cost_cents,
                "guarantee_until": until.isoformat()}
    return contract_action(engine, actor, contract_id, "moa", "record_reception", write, now)


def lift_reserves(engine: Engine, actor: Actor, contract_id: str, lifted_on: date, *,
                  now: datetime | None = None) -> dict:
    """The MOA records that the réserves of the réception are lifted."""
    def write(conn: Connection) -> dict:
        reception = _reception(conn, contract_id)
        if reception is None or not reception["reserves"]:
            raise InvalidTransition("Aucune réserve à lever sur ce marché.")
        if reception["reserves_lifted_on"] is not None:
            raise InvalidTransition("Les réserves sont déjà levées.")
        if lifted_on < reception["received_on"]:
            raise ValidationError("Levée des réserves : date antérieure à la réception.")
        conn.execute(update(schema.Reception).where(
            schema.Reception.contract_id == contract_id).values(reserves_lifted_on=lifted_on))
        return {"reserves_lifted_on": lifted_on.isoformat()}
    return contract_action(engine, actor, contract_id, "moa", "lift_reserves", write, now)


def extend_guarantee(engine: Engine, actor: Actor, contract_id: str, until: date, *,
                     now: datetime | None = None) -> dict:
    """The MOA extends the délai de garantie (CCAG-T art. 44.2)."""
    def write(conn: Connection) -> dict:
        reception = _reception(conn, contract_id)
        if reception is None:
            raise InvalidTransition("La réception n'est pas prononcée.")
        if until <= reception["guarantee_until"]:
            raise ValidationError("Prolongation du délai de garantie : la nouvelle fin doit "
                                  f"suivre le {reception['guarantee_until']:%d/%m/%Y}.")
        conn.execute(update(schema.Reception).where(
            schema.Reception.contract_id == contract_id).values(guarantee_until=until))
        return {"guarantee_until": until.isoformat()}
    return contract_action(engine, actor, contract_id, "moa", "extend_guarantee", write, now)


def _check_pcts(conn: Connection, contract_id: str, pcts: dict) -> dict[str, int]:
    lines = {r.line_no: r.may_exceed for r in conn.execute(select(
        schema.PriceLine.line_no, schema.PriceLine.may_exceed).where(
        schema.PriceLine.contract_id == contract_id))}
    out = {}
    for line, value in pcts.items():
        if line not in lines:
            raise ValidationError(f"Ligne « {line} » inconnue au marché {contract_id}.")
        high = 100_000 if lines[line] else 10_000
        out[line] = inputs.whole_number(value, f"Avancement final de la ligne {line}", 0, high)
    return out


def submit_final(engine: Engine, actor: Actor, contract_id: str, month: str,
                 pcts: dict[str, int], *, now: datetime | None = None) -> dict:
    """The titulaire sends its projet de décompte final (demande de paiement finale) after
    the réception: its final cumulative % per line (the others keep their last %), and the
    month the works ended."""
    now = (now or datetime.now()).replace(microsecond=0)
    month = inputs.month(month, "Mois du décompte final")

    produced: list[File] = []  # the PDF the person signs, bound to the event

    def write(conn: Connection) -> dict:
        contract = conn.execute(select(schema.Contract.company_code).where(
            schema.Contract.contract_id == contract_id)).one()
        if contract.company_code != actor.company_code:
            raise InvalidTransition("Seul le titulaire du marché présente son projet de "
                                    "décompte final.")
        if _reception(conn, contract_id) is None:
            raise InvalidTransition("Le projet de décompte final suit la réception : elle "
                                    "n'est pas prononcée.")
        if _record(conn, contract_id) is not None:
            raise InvalidTransition("Le projet de décompte final est déjà transmis.")
        last = conn.execute(select(schema.Situation.n, schema.Situation.month,
                                   schema.Situation.status).where(
            schema.Situation.contract_id == contract_id).order_by(
            schema.Situation.n.desc())).first()
        if last is not None and last.status not in ("validated", "paid"):
            raise InvalidTransition(f"La situation n°{last.n} n'est pas encore validée par le "
                                    "maître d'ouvrage : le projet de décompte final la suit.")
        if last is not None and month <= last.month:  # that month's works are in it
            raise ValidationError(f"Mois du décompte final {month} : il suit le mois de la "
                                  f"dernière situation ({last.month}).")
        checked = _check_pcts(conn, contract_id, pcts)
        conn.execute(insert(schema.FinalAccountRecord).values(
            contract_id=contract_id, month=month, claimed_at=now, claimed_by=actor.email))
        if checked:
            conn.execute(insert(schema.FinalProgress), [
                {"contract_id": contract_id, "line_no": k, "claimed_bp": v} for k, v in
                checked.items()])
        account = _signed_document(conn, contract_id, "projet_final", now, produced,
                                   claimed=True)
        conn.execute(update(schema.FinalAccountRecord).where(
            schema.FinalAccountRecord.contract_id == contract_id).values(
            claim_figures=_figures(account)))
        return {"month": month, "solde": account.solde, "lines": len(checked)}
    return contract_action(engine, actor, contract_id, "contractor", "submit_final", write, now,
                           produced)


def settle_final(engine: Engine, actor: Actor, contract_id: str,
                 corrections: dict[str, int] | None = None,
                 reasons: dict[str, str] | None = None,
                 adjustments: list[dict] | None = None, *,
                 now: datetime | None = None) -> dict:
    """The MOE accepts or rectifies the projet de décompte final (décompte final: each
    corrected line with its reason) and draws up the projet de décompte général."""
    now = (now or datetime.now()).replace(microsecond=0)
    corrections, reasons = corrections or {}, reasons or {}

    produced: list[File] = []  # the PDF the person signs, bound to the event

    def write(conn: Connection) -> dict:
        record = _record(conn, contract_id)
        if record is None:
            raise InvalidTransition("Aucun projet de décompte final à examiner.")
        if record["settled_at"] is not None:
            raise InvalidTransition("Le décompte final est déjà établi.")
        _tacit_refusal(record, _reception(conn, contract_id), now.date())
        checked = _check_pcts(conn, contract_id, corrections)
        claimed = {r.line_no: r.claimed_bp for r in conn.execute(select(
            schema.FinalProgress).where(schema.FinalProgress.contract_id == contract_id))}
        for line, value in checked.items():
            if claimed.get(line) != value:
                inputs.text(reasons.get(line), f"Justification de la ligne {line}")
        for line, value in claimed.items():
            conn.execute(update(schema.FinalProgress).where(
                schema.FinalProgress.contract_id == contract_id,
                schema.FinalProgress.line_no == line).values(
                admitted_bp=checked.pop(line, value), comment=reasons.get(line)))
        if checked:  # lines the titulaire left out, rectified by the MOE
            conn.execute(insert(schema.FinalProgress), [
                {"contract_id": contract_id, "line_no": k, "claimed_bp": None,
                 "admitted_bp": v, "comment": reasons.get(k)} for k, v in checked.items()])
        adj = [_adjustment(a) for a in adjustments or []]
        conn.execute(update(schema.FinalAccountRecord).where(
            schema.FinalAccountRecord.contract_id == contract_id).values(
            settled_at=now, settled_by=actor.email,
            adjustments=json.dumps(adj, ensure_ascii=False) if adj else None))
        account = _signed_document(conn, contract_id, "projet_general", now, produced)
        return {"solde": account.solde, "corrected": sorted(set(corrections))}
    return contract_action(engine, actor, contract_id, "moe", "settle_final", write, now,
                           produced)


def _adjustment(a: dict) -> dict:
    kind = a.get("kind")
    if kind not in ("penalty", "bonus"):
        raise ValidationError("Ajustement final : pénalité ou prime.")
    reason = inputs.text(a.get("reason"), "Motif de l'ajustement final")
    days = a.get("days")
    if kind == "penalty" and days is not None:
        return {"kind": kind, "days": inputs.days(days), "amount_cents": None,
                "reason": reason}
    return {"kind": kind, "days": None,
            "amount_cents": inputs.amount(a.get("amount_cents"), "Montant de l'ajustement"),
            "reason": reason}


def _tacit_refusal(record: dict, reception: dict | None, on: date) -> None:
    state = final_state(record, reception, on)
    if state.dgd_mode == "tacite":
        raise InvalidTransition(f"Le projet du titulaire est devenu le décompte général "
                                f"définitif le {state.dgd_on:%d/%m/%Y} (procédure tacite, "
                                "CCAG-T 12.4.4).")


def sign_general(engine: Engine, actor: Actor, contract_id: str, *,
                 now: datetime | None = None) -> dict:
    """The MOA validates and signs the décompte général, notified to the titulaire: its
    figures are kept as signed."""
    now = (now or datetime.now()).replace(microsecond=0)

    produced: list[File] = []  # the PDF the person signs, bound to the event

    def write(conn: Connection) -> dict:
        record = _record(conn, contract_id)
        if record is not None:
            _tacit_refusal(record, _reception(conn, contract_id), now.date())
        if record is None or record["settled_at"] is None:
            raise InvalidTransition("Le décompte final n'est pas encore établi par le maître "
                                    "d'œuvre.")
        if record["signed_at"] is not None:
            raise InvalidTransition("Le décompte général est déjà signé.")
        account = _signed_document(conn, contract_id, "general", now, produced)
        done = conn.execute(update(schema.FinalAccountRecord).where(
            schema.FinalAccountRecord.contract_id == contract_id,
            schema.FinalAccountRecord.signed_at.is_(None)).values(
            signed_at=now, signed_by=actor.email, figures=_figures(account)))
        if done.rowcount != 1:
            raise StaleState("Le décompte général vient d'être signé par un autre "
                             "utilisateur : actualisez la page.")
        return {"solde": account.solde, "due_cum": int(account.final["due_cum"])}
    return contract_action(engine, actor, contract_id, "moa", "sign_general", write, now,
                           produced)


def answer_general(engine: Engine, actor: Actor, contract_id: str, accept: bool, *,
                   claim: str | None = None, disputed_cents: int | None = None,
                   now: datetime | None = None) -> dict:
    """The titulaire returns the décompte général signed: without réserves (it becomes the
    DGD) or with réserves, stated in a mémoire en réclamation with the amount disputed."""
    now = (now or datetime.now()).replace(microsecond=0)
    if not accept:
        claim = inputs.text(claim, "Mémoire en réclamation")
        disputed_cents = inputs.amount(disputed_cents, "Montant réclamé")

    def write(conn: Connection) -> dict:
        record = _record(conn, contract_id)
        if record is None or record["signed_at"] is None:
            raise InvalidTransition("Aucun décompte général notifié à signer.")
        if record["answered_at"] is not None:
            raise InvalidTransition("Le décompte général est déjà signé par le titulaire.")
        deemed = record["signed_at"] + timedelta(days=ANSWER_DAYS)
        if now.date() > deemed.date():
            raise InvalidTransition(f"Le délai de {ANSWER_DAYS} jours est passé : le décompte "
                                    f"général est réputé accepté depuis le {deemed:%d/%m/%Y} "
                                    "(CCAG-T 12.4.5).")
        conn.execute(update(schema.FinalAccountRecord).where(
            schema.FinalAccountRecord.contract_id == contract_id).values(
            answered_at=now, answer="accepted" if accept else "reserves",
            claim_text=None if accept else claim,
            disputed_cents=None if accept else disputed_cents))
        return {"answer": "accepted" if accept else "reserves",
                **({} if accept else {"disputed_cents": disputed_cents})}
    return contract_action(engine, actor, contract_id, "contractor", "answer_general", write,
                           now)


def notify_tacit(engine: Engine, actor: Actor, contract_id: str, *,
                 now: datetime | None = None) -> dict:
    """The titulaire, the MOA having let 30 days pass without a décompte général, notifies
    its own projet de décompte général (CCAG-T 12.4.4): the MOA has 10 days left."""
    now = (now or datetime.now()).replace(microsecond=0)

    def write(conn: Connection) -> dict:
        record = _record(conn, contract_id)
        if record is None:
            raise InvalidTransition("Aucun projet de décompte final transmis.")
        if record["signed_at"] is not None or record["tacit_at"] is not None:
            raise InvalidTransition("Le décompte général est déjà notifié.")
        state = final_state(record, _reception(conn, contract_id), now.date())
        if now.date() < state.tacit_possible_from:
            raise InvalidTransition(
                "Le maître d'ouvrage a jusqu'au "
                f"{state.tacit_possible_from - timedelta(days=1):%d/%m/%Y} pour notifier le "
                "décompte général (CCAG-T 12.4.2).")
        conn.execute(update(schema.FinalAccountRecord).where(
            schema.FinalAccountRecord.contract_id == contract_id).values(tacit_at=now))
        return {"tacit_at": now.isoformat()}
    return contract_action(engine, actor, contract_id, "contractor", "notify_tacit", write, now)


def notify_final_revision(engine: Engine, actor: Actor, contract_id: str, *,
                          now: datetime | None = None) -> dict:
    """The MOA notifies the revision of the solde once the indices missing when the
    décompte général was signed are published (CCAG-T 12.4.2: within 10 days of their
    publication); this notification starts the payment delay of that remainder."""
    now = (now or datetime.now()).replace(microsecond=0)

    def write(conn: Connection) -> dict:
        record = _record(conn, contract_id)
        if record is None or record["figures"] is None:
            raise InvalidTransition("Le décompte général n'est pas encore signé.")
        signed = json.loads(record["figures"])
        if not signed.get("provisional"):
            raise InvalidTransition("Le décompte général a été signé avec la révision "
                                    "définitive : aucune révision du solde à notifier.")
        if record["revision_notified_at"] is not None:
            raise InvalidTransition("La révision du solde est déjà notifiée.")
        account = account_of(conn, contract_id, now)
        if account.provisional:
            raise InvalidTransition("Un indice de révision n'est pas encore publié : la "
                                    "révision du solde attend sa publication.")
        figures = _figures(account)
        done = conn.execute(update(schema.FinalAccountRecord).where(
            schema.FinalAccountRecord.contract_id == contract_id,
            schema.FinalAccountRecord.revision_notified_at.is_(None)).values(
            revision_notified_at=now, revision_figures=figures))
        if done.rowcount != 1:
            raise StaleState("La révision du solde vient d'être notifiée par un autre "
                             "utilisateur : actualisez la page.")
        difference = json.loads(figures)["due_cum"] - signed["due_cum"]
        return {"revision_cum": int(account.final["revision_cum"]), "difference": difference}
    return contract_action(engine, actor, contract_id, "moa", "notify_final_revision", write,
                           now)


def pay_solde(engine: Engine, actor: Actor, contract_id: str, *,
              now: datetime | None = None) -> dict:
    """Treasury records the payment of the solde, once the décompte général is definitive
    (or signed with réserves: the sums admitted are paid); then, once notified, the payment
    of the solde's revision."""
    now = (now or datetime.now()).replace(microsecond=0)

    def write(conn: Connection) -> dict:
        record = _record(conn, contract_id)
        if record is None:
            raise InvalidTransition("Aucun décompte général sur ce marché.")
        state = final_state(record, _reception(conn, contract_id), now.date())
        if state.solde_from is None:
            raise InvalidTransition("Le solde se paie sur le décompte général définitif : "
                                    f"{state.stage}.")
        if record["solde_paid_at"] is None:
            column = "solde_paid_at"
        elif record["revision_notified_at"] is not None and record["revision_paid_at"] is None:
            column = "revision_paid_at"
        else:
            raise InvalidTransition("Le solde est déjà payé.")
        conn.execute(update(schema.FinalAccountRecord).where(
            schema.FinalAccountRecord.contract_id == contract_id).values(**{column: now}))
        return {column: now.isoformat()}
    return contract_action(engine, actor, contract_id, "treasury", "pay_solde", write, now)


def release_retention(engine: Engine, actor: Actor, contract_id: str, *,
                      now: datetime | None = None) -> dict:
    """Treasury refunds the retention still withheld once it is due (R2191-35): at the end
    of the délai de garantie when no réserve remains; réserves remaining, only the part above
    their estimated cost (when the réception states it), the rest after their lifting."""
    now = (now or datetime.now()).replace(microsecond=0)

    def write(conn: Connection) -> dict:
        reception = _reception(conn, contract_id)
        record = _record(conn, contract_id)
        if reception is None or record is None or record["figures"] is None and \
                record["tacit_at"] is None:
            raise InvalidTransition("La retenue se rembourse après le décompte général.")
        if now.date() <= reception["guarantee_until"]:
            raise InvalidTransition("Le délai de garantie court jusqu'au "
                                    f"{reception['guarantee_until']:%d/%m/%Y}.")
        figures = general_figures(record, final_state(record, reception, now.date())) or {}
        parts = retention_parts(int(figures.get("retention_cum", 0)), reception)
        unpaid = [p for p in parts if record[p.column] is None]
        if not unpaid:
            raise InvalidTransition("La retenue est déjà remboursée." if parts else
                                    "Aucune retenue n'est conservée sur ce marché.")
        due = [p for p in unpaid if p.due_on is not None]
        if not due:
            raise InvalidTransition("Des réserves ne sont pas levées : la retenue est "
                                    "conservée (R2191-35).")
        conn.execute(update(schema.FinalAccountRecord).where(
            schema.FinalAccountRecord.contract_id == contract_id).values(
            **{p.column: now for p in due}))
        return {"released": {p.payment: p.amount for p in due},
                "kept": {p.payment: p.amount for p in unpaid if p.due_on is None}}
    return contract_action(engine, actor, contract_id, "treasury", "release_retention", write,
                           now)


def general_figures(record: dict | None, state: FinalState) -> dict | None:
    """The figures of the décompte général (headings in cents): as the MOA signed them, or
    the titulaire's projet when the tacit procedure made it the DGD; None before either."""
    if record is None:
        return None
    text = record.get("claim_figures") if state.dgd_mode == "tacite" else record.get("figures")
    return json.loads(text) if isinstance(text, str) else None


def release_guarantee(engine: Engine, actor: Actor, contract_id: str, guarantee_id: str, *,
                      now: datetime | None = None) -> dict:
    """The MOA gives the guarantor (GAPD or caution replacing the retention) its mainlevée,
    once the délai de garantie is over and no réserve remains (R2191-42: within one month)."""
    now = (now or datetime.now()).replace(microsecond=0)

    def write(conn: Connection) -> dict:
        guarantee = conn.execute(select(schema.Guarantee).where(
            schema.Guarantee.guarantee_id == guarantee_id,
            schema.Guarantee.contract_id == contract_id)).mappings().first()
        if guarantee is None:
            raise ValidationError(f"Garantie « {guarantee_id} » inconnue au marché "
                                  f"{contract_id}.")
        if guarantee["released_at"] is not None:
            raise InvalidTransition(f"La garantie {guarantee_id} est déjà libérée.")
        reception = _reception(conn, contract_id)
        if reception is None:
            raise InvalidTransition("La réception n'est pas prononcée.")
        if now.date() <= reception["guarantee_until"]:
            raise InvalidTransition("Le délai de garantie court jusqu'au "
                                    f"{reception['guarantee_until']:%d/%m/%Y}.")
        deadline = _retention_dates(reception)[2]
        if deadline is None:
            raise InvalidTransition("Des réserves ne sont pas levées : la garantie est "
                                    "maintenue (R2191-42).")
        conn.execute(update(schema.Guarantee).where(
            schema.Guarantee.guarantee_id == guarantee_id).values(
            released_at=now, released_by=actor.email))
        return {"guarantee_id": guarantee_id, "released_at": now.isoformat(),
                "deadline": deadline.isoformat(), "late_days": max(0, (now.date() -
                                                                       deadline).days)}
    return contract_action(engine, actor, contract_id, "moa", "release_guarantee", write, now)
