"""Billing files in the database: prepare a piece, check it, deposit it, follow its status.

A monthly situation's file is keyed ``n<N>`` and chains A4 (the contractor's projet de
décompte, from its ``submit``), A15 (the MOE's état d'acompte, from ``issue``) and A19 (the
MOA's validated état, from ``validate``): each piece carries the PDF its action produced and
the month's amounts of that document. The end-of-contract file (``final``) chains A7, A17,
A20, A8 (or the tacit A22 → A23) with the documents and amounts given by the depositor.
Depositing records the piece, its first status and one audit event in one transaction, only
after Chorus Pro accepted it; polling records each new status and, when the A19 is put in
payment (MISE_EN_PAIEMENT), sets the situation's ``paid_at`` that the delays read.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from gesprokit import schema
from gesprokit.audit import append_events, writing
from gesprokit.chorus.checker import (
    Amounts,
    AttachedFile,
    DepositDraft,
    check_deposit,
)
from gesprokit.chorus.frames import (
    EFFECTS,
    FINAL,
    FRAMES,
    NEEDS_VALIDATOR,
    STOPPED,
    Piece,
    deadline_effect,
    status_label,
)
from gesprokit.chorus.piste import ChorusAnswerLost, PisteClient, status_history
from gesprokit.chorus.structures import Structure
from gesprokit.errors import GesprokitError
from gesprokit.situation_documents import produced_document
from gesprokit.workflow import Actor, File, out_of_scope, pay
from gesprokit.workflow_errors import PermissionDenied

if TYPE_CHECKING:
    from gesprokit.store import Frames

log = logging.getLogger("gesprokit.chorus")

# The circuit action whose document and date a monthly piece transmits, and that document
# named after "de" (amounts "différent de celui …", "PDF …").
MONTHLY_STEPS = {"A4": ("submit", "submitted_at", "du projet de décompte (demande d'acompte)"),
                 "A15": ("issue", "moe_at", "de l'état d'acompte du maître d'œuvre"),
                 "A19": ("validate", "moa_at", "de l'état d'acompte validé")}
# The end-of-contract pieces: which recorded figures each transmits, named after "de".
FINAL_STEPS = {"A7": ("claim_figures", "du projet de décompte final"),
               "A17": (None, "du projet de décompte général du maître d'œuvre"),
               "A20": ("figures", "du décompte général signé"),
               "A8": ("figures", "du décompte général définitif"),
               "A22": ("claim_figures", "du projet de décompte général du titulaire"),
               "A23": ("claim_figures", "du décompte général définitif tacite")}
CHORUS_ACTOR = Actor("chorus-pro", "treasury", "CHORUS", "Chorus Pro (mise en paiement)")


class DepositRejected(GesprokitError):
    """The pre-deposit checker found problems; nothing was sent nor written."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problème(s) avant dépôt ; rien n'a été envoyé :\n"
                         + "\n".join(f"- {p}" for p in problems))


def file_key(n: int | None) -> str:
    """The key of a situation's billing file (``n3``), or ``final`` for the contract's end."""
    return "final" if n is None else f"n{n}"


def situation_of(key: str) -> int | None:
    """The situation a billing file's key names (``n3`` → 3; ``final`` → None)."""
    return int(key[1:]) if key.startswith("n") else None


def read_pieces(conn: Connection, contract_id: str, key: str) -> list[Piece]:
    rows = conn.execute(select(schema.ChorusPiece).where(
        schema.ChorusPiece.contract_id == contract_id, schema.ChorusPiece.file_key == key)
        .order_by(schema.ChorusPiece.piece_id))
    return [Piece(r.frame, r.status, r.deposited_at) for r in rows]


MAX_DISCOUNT_REASON = 200


def _discount_reason(conn: Connection, contract_id: str, n: int | None, frame: str) -> str:
    """Why the piece pays less than its TTC total: the retention, penalties and advance, and
    on the validated état (A19) the MOA's rectification with its justification."""
    reason = DepositDraft.discount_reason
    if n is None or frame != "A19":
        return reason
    rectified = conn.execute(select(schema.Rectification.reason).where(
        schema.Rectification.contract_id == contract_id,
        schema.Rectification.n == n)).scalar()
    if rectified:
        reason = f"{reason} ; rectification du maître d'ouvrage : {rectified}"
    return reason if len(reason) <= MAX_DISCOUNT_REASON else (
        reason[:MAX_DISCOUNT_REASON - 1] + "…")


def _structure(conn: Connection, siret: str | None) -> Structure | None:
    row = conn.execute(select(schema.ChorusStructure).where(
        schema.ChorusStructure.siret == siret)).first()
    if row is None:
        return None
    services = conn.execute(select(schema.ChorusService.code).where(
        schema.ChorusService.siret == siret, schema.ChorusService.active)).scalars()
    return Structure(row.siret, row.name, row.moa_mode, row.service_required,
                     row.engagement_required, row.service_or_engagement, frozenset(services))


def _month_amounts(rows: pd.DataFrame, n: int) -> Amounts | None:
    """The month's figures of situation `n` from cumulative rows (n, *_cum, net_month)."""
    rows = rows.sort_values("n")
    here = rows[rows["n"] == n]
    if here.empty:
        return None
    before = rows[rows["n"] < n].tail(1)

    def delta(col: str) -> int:
        return int(here[col].iloc[0]) - (int(before[col].iloc[0]) if len(before) else 0)
    return Amounts(delta("total_ht_cum"), delta("vat_cum"), delta("total_ttc_cum"),
                   int(here["net_month"].iloc[0]))


def _expected(conn: Connection, contract_id: str, n: int, frame: str,
              situation: dict) -> tuple[Amounts | None, str, list[str]]:
    """The amounts of the document a monthly piece transmits, and what is not ready."""
    from gesprokit.ledger import ledger_from_frames
    from gesprokit.store import read_table

    _, stamp, source = MONTHLY_STEPS[frame]
    when = situation.get(stamp)
    if when is None:
        return None, source, [f"situation n°{n} pas encore à l'étape {source} : le cadre "
                              f"{frame} ne peut pas être déposé"]
    if frame == "A19":
        statements = read_table(conn, schema.PaymentStatement.__table__, [contract_id])
        return _month_amounts(statements, n), source, []
    ledger = ledger_from_frames(_known_frames(conn, contract_id, when), as_of=when)
    return _month_amounts(ledger.situations, n), source, []


def _known_frames(conn: Connection, contract_id: str, when: datetime) -> Frames:
    """The contract's frames as known at `when`, for its ledger; only the tables the ledger
    reads and the journal columns the replay reads are read (not the other tables, nor the
    events' seals and attachments)."""
    from gesprokit.history import REPLAY_EVENT_COLUMNS, frames_as_of
    from gesprokit.store import LEDGER_TABLES, load_frames, read_table

    frames = load_frames(conn, [contract_id], LEDGER_TABLES)
    events = read_table(conn, schema.Event.__table__, [contract_id],
                        columns=REPLAY_EVENT_COLUMNS)
    return frames_as_of(replace(frames, events=events), when)


def _final_expected(conn: Connection, contract_id: str, frame: str
                    ) -> tuple[Amounts | None, str, list[str]]:
    """The amounts of the end-of-contract document a piece transmits (total HT, VAT, TTC of
    the décompte, the solde to pay), and what is not ready."""
    from gesprokit.end_of_contract import account_of

    column, source = FINAL_STEPS[frame]
    record = conn.execute(select(schema.FinalAccountRecord).where(
        schema.FinalAccountRecord.contract_id == contract_id)).mappings().first()
    if record is None:
        return None, source, [f"aucun projet de décompte final : le cadre {frame} ne peut pas "
                              "être déposé"]
    if column is None:
        if record["settled_at"] is None:
            return None, source, ["décompte final pas encore établi par le maître d'œuvre : "
                                  f"le cadre {frame} ne peut pas être déposé"]
        account = account_of(conn, contract_id, record["settled_at"])
        heads = dict(zip(account.headings()["key"], account.headings()["amount"],
                         strict=True))
    elif record[column] is None:
        return None, source, [f"pas encore de document {source} : le cadre {frame} ne peut "
                              "pas être déposé"]
    else:
        heads = json.loads(record[column])
    return (Amounts(int(heads["total_ht_cum"]), int(heads["vat_cum"]),
                    int(heads["total_ttc_cum"]), int(heads["solde"])), source, [])


def _document(conn: Connection, contract_id: str, n: int, action: str) -> AttachedFile | None:
    """The PDF the circuit action produced, as an attachment of the piece."""
    document = produced_document(conn, contract_id, n, action)
    return None if document is None else AttachedFile(document.name, len(document.content),
                                                      document.content)


@dataclass(frozen=True)
class _Context:
    contract: dict
    identity: dict | None
    supplier_siret: str | None


def _context(conn: Connection, contract_id: str) -> _Context:
    contract = conn.execute(select(schema.Contract).where(
        schema.Contract.contract_id == contract_id)).mappings().first()
    if contract is None:
        raise GesprokitError(f"Marché « {contract_id} » inconnu.")
    identity = conn.execute(select(schema.BillingIdentity).where(
        schema.BillingIdentity.contract_id == contract_id)).mappings().first()
    supplier = conn.execute(select(schema.Company.siret).where(
        schema.Company.code == contract["company_code"])).scalar()
    return _Context(dict(contract), dict(identity) if identity else None, supplier)


def _depositor_siret(ctx: _Context, role: str) -> str | None:
    if role in ("contractor", "subcontractor", "cocontractor"):
        return ctx.supplier_siret
    if ctx.identity is None:
        return None
    return ctx.identity["moe_siret"] if role == "moe" else ctx.identity["moa_siret"]


def prepare(conn: Connection, actor: Actor, contract_id: str, frame: str, number: str, *,
            n: int | None = None, amounts: Amounts | None = None,
            files: list[File] | tuple[File, ...] = (), on: date | None = None
            ) -> tuple[DepositDraft, list[str]]:
    """The draft of a piece as the database knows it, and the problems the database alone
    reveals (situation not at the step yet, missing document, unknown contract role)."""
    ctx = _context(conn, contract_id)
    refused = out_of_scope(actor, ctx.contract["operation_code"])
    if refused:
        raise refused
    from gesprokit.mandates import acting_mandate

    acting_mandate(conn, actor, ctx.contract["operation_code"], "chorus_deposit",
                   on or date.today())
    if actor.role in ("contractor", "cocontractor") and \
            ctx.contract["company_code"] != actor.company_code:
        raise PermissionDenied("Ce marché n'est pas celui de votre entreprise.")
    key = file_key(n)
    kind = "final" if n is None else "acompte"
    extra: list[str] = []
    identity = ctx.identity or {}
    if not ctx.identity:
        extra.append(f"fiche d'identité du marché {contract_id} absente (structures, code "
                     "service, engagement juridique)")
    if actor.role in ("contractor", "cocontractor"):
        from gesprokit.company_profile import profile

        if not (profile(conn, actor.company_code) or {}).get("iban"):
            extra.append("coordonnées bancaires de votre entreprise absentes : renseignez "
                         "l'IBAN et le BIC dans « Mon profil » (le paiement se fait par "
                         "virement)")
    given = [AttachedFile(f.name, len(f.content), f.content) for f in files]
    expected, source = None, "du document transmis"
    main_piece = "PDF du document transmis"
    if n is not None and frame in MONTHLY_STEPS:
        situation = conn.execute(select(schema.Situation).where(
            schema.Situation.contract_id == contract_id,
            schema.Situation.n == n)).mappings().first()
        if situation is None:
            raise GesprokitError(f"Situation n°{n} du marché {contract_id} inconnue.")
        expected, source, not_ready = _expected(conn, contract_id, n, frame, dict(situation))
        extra += not_ready
        document = _document(conn, contract_id, n, MONTHLY_STEPS[frame][0])
        if document is None and not not_ready:
            main_piece = (f"PDF {source} : la situation vient d'un historique importé, "
                          "joindre le PDF signé")
        given = ([document] if document else []) + given
    elif n is None and frame in FINAL_STEPS:
        expected, source, not_ready = _final_expected(conn, contract_id, frame)
        extra += not_ready
    depositor = _depositor_siret(ctx, actor.role)
    used = frozenset(conn.execute(select(schema.ChorusPiece.number).where(
        schema.ChorusPiece.depositor_siret == depositor)).scalars()) if depositor else frozenset()
    draft = DepositDraft(
        kind=kind, frame=frame, role=actor.role, number=number,
        supplier_siret=ctx.supplier_siret, depositor_siret=depositor,
        moa=_structure(conn, identity.get("moa_siret")),
        payer=_structure(conn, identity.get("payer_siret")),
        service_code=identity.get("service_code"),
        engagement_number=identity.get("engagement_number"),
        market_number=identity.get("market_number"),
        amounts=amounts or expected or Amounts(0, 0, 0, 0), expected=expected,
        expected_source=source, attachments=tuple(given),
        pieces=tuple(read_pieces(conn, contract_id, key)), used_numbers=used,
        on=on or date.today(), main_piece=main_piece,
        discount_reason=_discount_reason(conn, contract_id, n, frame))
    return draft, extra


def _checked(engine: Engine, actor: Actor, contract_id: str, frame: str, number: str,
             **kwargs) -> tuple[DepositDraft, list[str]]:
    """The piece's draft and every problem of it (database and checker together)."""
    with engine.connect() as conn:
        draft, extra = prepare(conn, actor, contract_id, frame, number, **kwargs)
    return draft, extra + check_deposit(draft)


def check(engine: Engine, actor: Actor, contract_id: str, frame: str, number: str,
          **kwargs) -> list[str]:
    """Every problem of the piece, nothing sent."""
    return _checked(engine, actor, contract_id, frame, number, **kwargs)[1]


def _euros(cents: int) -> float:
    """An amount for the JSON body. Chorus Pro takes decimal numbers; for any amount below
    2**53 cents the shortest repr of cents/100 is exactly its two-decimal text."""
    return round(cents / 100, 2)


DEPOSIT_MODE = "DEPOT_PDF_API"  # the piece is its PDF: no lines, the number is ours


def invoice_payload(draft: DepositDraft, supplier_id: int, file_ids: list[int],
                    previous: str | None = None) -> dict:
    """The works-piece body (DOMAIN §5.6) in the PDF deposit mode: the signed PDF is the
    piece, with its totals and no posting or VAT lines. A negative net is a credit note
    (``AVOIR``) of positive amounts; the global discount is what the TTC total does not pay
    (retention, penalties, advance repaid). `previous`: the number of the file's previous
    piece, which this one answers."""
    a = draft.amounts
    sign = -1 if a.to_pay < 0 else 1
    frame = {"codeCadreFacturation": FRAMES[draft.frame].api}
    if draft.frame in NEEDS_VALIDATOR:
        frame["codeStructureValideur"] = draft.supplier_siret
    names = [f.name for f in draft.attachments]
    ttc, to_pay = sign * a.ttc, sign * a.to_pay
    return {
        "modeDepot": DEPOSIT_MODE, "idUtilisateurCourant": 0,
        "numeroFactureSaisi": draft.number.strip(),
        "dateFacture": (draft.on or date.today()).isoformat(),
        "destinataire": {"codeDestinataire": draft.payer.siret,
                         "codeServiceExecutant": draft.service_code or None},
        "fournisseur": {"idFournisseur": supplier_id},
        "cadreDeFacturation": frame,
        "references": {"deviseFacture": "EUR",
                       "typeFacture": "AVOIR" if sign < 0 else "FACTURE",
                       "typeTva": "TVA_SUR_ENCAISSEMENT",
                       "numeroMarche": draft.market_number,
                       "numeroBonCommande": draft.engagement_number or None,
                       "numeroFactureOrigine": previous,
                       "modePaiement": "VIREMENT"},
        "montantTotal": {"montantHtTotal": _euros(sign * a.ht), "montantTVA": _euros(
                             sign * a.vat),
                         "montantTtcAvantRemiseGlobalTTC": _euros(ttc),
                         "montantRemiseGlobaleTTC": _euros(max(ttc - to_pay, 0)),
                         "motifRemiseGlobaleTTC": draft.discount_reason,
                         "montantAPayer": _euros(to_pay)},
        "pieceJointePrincipale": [{"pieceJointePrincipaleDesignation": names[0],
                                   "pieceJointePrincipaleId": file_ids[0]}],
        "pieceJointeComplementaire": [
            {"pieceJointeComplementaireDesignation": name, "pieceJointeComplementaireId": fid,
             "pieceJointeComplementaireType": "01"}
            for name, fid in zip(names[1:], file_ids[1:], strict=True)],
        "commentaire": FRAMES[draft.frame].label,
    }


def _previous_number(engine: Engine, contract_id: str, key: str) -> str | None:
    """The number of the last piece of the file that still counts (the one answered)."""
    with engine.connect() as conn:
        pieces = conn.execute(select(schema.ChorusPiece.number, schema.ChorusPiece.status)
                              .where(schema.ChorusPiece.contract_id == contract_id,
                                     schema.ChorusPiece.file_key == key)
                              .order_by(schema.ChorusPiece.piece_id)).all()
    live = [p for p in pieces if p.status not in STOPPED]
    return live[-1].number if live else None


def _submit_once(client: PisteClient, payload: dict, siret: str) -> dict:
    """Deposit the piece without ever deposing it twice: it is sent once; when its answer is
    lost, Chorus Pro is asked whether the depositor's number is there before it is sent
    again (once; a second lost answer is raised). Returns the works piece as Chorus Pro
    knows it: ``id``, ``status``, ``at``."""
    number = payload["numeroFactureSaisi"]
    try:
        answer = client.submit_works(payload, siret=siret)
    except ChorusAnswerLost:
        log.warning("dépôt n°%s : réponse perdue, recherche avant tout nouvel envoi", number)
        found = client.find_works_invoice(number, siret=siret)
        answer = found if found is not None else client.submit_works(payload, siret=siret)
    return {"id": answer["idFactureTravaux"],
            "status": answer.get("statutFactureTravaux", "DEPOSEE"),
            "at": answer.get("dateDepot")}


def deposit(engine: Engine, client: PisteClient, actor: Actor, contract_id: str, frame: str,
            number: str, *, n: int | None = None, amounts: Amounts | None = None,
            files: list[File] | tuple[File, ...] = (), now: datetime | None = None) -> dict:
    """Check the piece, send it to Chorus Pro with the depositor's own technical account and
    structure (titulaire, MOE or MOA), then record it. Raises :class:`DepositRejected`
    (nothing sent) or a Chorus error (nothing recorded)."""
    now = (now or datetime.now()).replace(microsecond=0)
    draft, problems = _checked(engine, actor, contract_id, frame, number, n=n,
                               amounts=amounts, files=files, on=now.date())
    if problems:
        raise DepositRejected(problems)
    siret = draft.depositor_siret
    supplier_id = client.find_structure(siret)["idStructureCPP"]
    file_ids = [client.add_file(f.name, f.content, siret=siret) for f in draft.attachments]
    previous = _previous_number(engine, contract_id, file_key(n))
    answer = _submit_once(client, invoice_payload(draft, supplier_id, file_ids, previous),
                          siret)
    # the platform's own dated statuses (its deposit answer gives a day, not a time)
    statuses = status_history(client.history(int(answer["id"]), siret=siret)) or [
        (_platform_time(answer["at"]) or now, answer["status"])]
    at, status = statuses[-1]
    a = draft.amounts
    with writing(engine) as conn:
        piece_id = conn.execute(insert(schema.ChorusPiece).values(
            contract_id=contract_id, file_key=file_key(n), frame=frame,
            number=draft.number.strip(), depositor_siret=draft.depositor_siret,
            deposited_at=now, deposited_by=actor.email,
            chorus_id=str(answer["id"]), amount_ht=a.ht, amount_vat=a.vat,
            amount_ttc=a.ttc, amount_to_pay=a.to_pay, status=status, status_at=at,
            attachments=json.dumps([f.name for f in draft.attachments], ensure_ascii=False),
        )).inserted_primary_key[0]
        conn.execute(insert(schema.ChorusStatus), [
            {"piece_id": piece_id, "at": when, "status": code} for when, code in statuses])
        append_events(conn, [{"at": now, "actor": actor.email, "role": actor.role,
                              "action": "chorus_deposit", "contract_id": contract_id, "n": n,
                              "after": json.dumps({"frame": frame, "number": draft.number,
                                                   "chorus_id": answer["id"],
                                                   "amount_to_pay": a.to_pay},
                                                  sort_keys=True)}],
                      sealed=[("piece", piece_id)])
    log.info("dépôt %s %s n°%s : facture de travaux Chorus %s", contract_id, frame,
             draft.number, answer["id"])
    return {"piece_id": piece_id, "chorus_id": answer["id"], "status": status}


def _platform_time(text: str | None) -> datetime | None:
    """A date or date-time as the platform writes it (``AAAA-MM-JJ``, ``AAAA-MM-JJ HH:MM``,
    ISO), or None."""
    if not text:
        return None
    try:
        return datetime.strptime(text[:16], "%Y-%m-%d %H:%M")
    except ValueError:
        return datetime.fromisoformat(text)


def new_statuses(conn: Connection, piece_id: int, history: list[tuple[datetime, str]]
                 ) -> list[tuple[datetime, str]]:
    """The dated statuses of `history` not yet recorded for the piece."""
    known = set(conn.execute(select(schema.ChorusStatus.at, schema.ChorusStatus.status)
                             .where(schema.ChorusStatus.piece_id == piece_id)))
    return [(at, s) for at, s in history if (at, s) not in known]


def record_statuses(conn: Connection, piece: dict, history: list[tuple[datetime, str]],
                    fresh: list[tuple[datetime, str]], actor: Actor, action: str,
                    now: datetime, comment: str | None = None, after: dict | None = None
                    ) -> tuple[datetime, str]:
    """Record the piece's new statuses (the last one carrying `comment`: a refusal's or a
    suspension's reason), its current status and one chained event of `actor` sealing the
    piece; returns the current status and its date. Serves the status feed and the
    recipient's and depositor's own actions alike."""
    last_at, last = history[-1]
    if fresh:
        conn.execute(insert(schema.ChorusStatus), [
            {"piece_id": piece["piece_id"], "at": at, "status": s,
             "comment": comment if (at, s) == (last_at, last) else None} for at, s in fresh])
    conn.execute(update(schema.ChorusPiece).where(
        schema.ChorusPiece.piece_id == piece["piece_id"]).values(status=last,
                                                                 status_at=last_at))
    append_events(conn, [{
        "at": now, "actor": actor.email, "role": actor.role, "action": action,
        "contract_id": piece["contract_id"], "n": situation_of(piece["file_key"]),
        "comment": comment, "before": json.dumps({"status": piece["status"]}),
        "after": json.dumps({"status": last, "frame": piece["frame"], "number": piece["number"],
                             "at": last_at.isoformat(), **(after or {})},
                            ensure_ascii=False, sort_keys=True)}],
        sealed=[("piece", piece["piece_id"])])
    return last_at, last


def poll(engine: Engine, client: PisteClient, now: datetime | None = None) -> list[dict]:
    """Fetch the status history of every piece still in progress (each with its depositor's
    account); record new statuses (one event per piece that changed) and pay the situations
    whose A19 is put in payment."""
    now = (now or datetime.now()).replace(microsecond=0)
    with engine.connect() as conn:
        pieces = conn.execute(select(schema.ChorusPiece).where(
            schema.ChorusPiece.status.not_in(FINAL))).mappings().all()
    changes = []
    for piece in pieces:
        history = status_history(client.history(int(piece["chorus_id"]),
                                                siret=piece["depositor_siret"]))
        if not history:
            continue
        with writing(engine) as conn:
            fresh = new_statuses(conn, piece["piece_id"], history)
            if not fresh:
                continue
            last_at, last = record_statuses(conn, piece, history, fresh, CHORUS_ACTOR,
                                            "chorus_status", now)
        changes.append({"contract_id": piece["contract_id"], "file_key": piece["file_key"],
                        "frame": piece["frame"], "number": piece["number"],
                        "from": piece["status"], "to": last, "at": last_at,
                        "effect": deadline_effect(last)})
        paid = next((at for at, s in fresh if s == "MISE_EN_PAIEMENT"), None)
        n = situation_of(piece["file_key"])
        if paid and piece["frame"] == "A19" and n is not None:
            _record_payment(engine, piece["contract_id"], n, paid)
    return changes


def _record_payment(engine: Engine, contract_id: str, n: int, at: datetime) -> None:
    with engine.connect() as conn:
        status = conn.execute(select(schema.Situation.status).where(
            schema.Situation.contract_id == contract_id, schema.Situation.n == n)).scalar()
    if status == "validated":
        pay(engine, CHORUS_ACTOR, contract_id, n, now=at)


def billing_files(engine: Engine, contract_id: str | None = None,
                  key: str | None = None) -> pd.DataFrame:
    """The deposited pieces (all, or one contract's, or one file's) with their status and
    what that status means for the file."""
    piece, status = schema.ChorusPiece, schema.ChorusStatus
    where = [c for c in (piece.contract_id == contract_id if contract_id is not None else None,
                         piece.file_key == key if key is not None else None) if c is not None]
    with engine.connect() as conn:
        df = pd.read_sql(select(piece).where(*where).order_by(piece.contract_id,
                                                              piece.piece_id), conn)
        # the reason given with each piece's current status (refusal, suspension, complement)
        reasons = pd.read_sql(select(status.piece_id, status.status, status.comment).join(
            piece, piece.piece_id == status.piece_id).where(
            status.comment.is_not(None), *where).order_by(status.at), conn)
    said = {(r.piece_id, r.status): r.comment for r in reasons.itertuples()}
    df["frame_label"] = df["frame"].map(lambda f: FRAMES[f].label)
    df["status_label"] = df["status"].map(status_label)
    df["reason"] = [said.get((p, s), "") for p, s in zip(df["piece_id"], df["status"],
                                                        strict=True)]
    df["effect"] = df["status"].map(lambda s: EFFECTS.get(deadline_effect(s) or "", ""))
    return df


def export_validated_pdf(engine: Engine, contract_id: str, n: int, folder: str | Path) -> Path:
    """Write the validated état d'acompte (the A19's PDF) under a name Chorus Pro accepts."""
    with engine.connect() as conn:
        document = _document(conn, contract_id, n, "validate")
    if document is None:
        raise GesprokitError(f"La situation n°{n} du marché {contract_id} n'a pas d'état "
                             "d'acompte validé.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / document.name
    path.write_bytes(document.content)
    return path


def refresh_structure(engine: Engine, client: PisteClient, siret: str,
                      moa_mode: str | None = None) -> Structure:
    """Read a structure's parameters and active services from Chorus Pro and record them
    (the MOA mode is not in the API: kept from the database, or given the first time)."""
    from gesprokit.chorus.structures import siret_problem

    problem = siret_problem(siret, "de la structure")
    if problem:
        raise GesprokitError(problem[0].upper() + problem[1:] + ".")
    found = client.find_structure(siret)
    params = client.structure_parameters(found["idStructureCPP"])
    services = sorted({s["codeService"] for s in client.structure_services(
        found["idStructureCPP"]) if s.get("estActif", True)})
    with writing(engine) as conn:
        known = _structure(conn, siret)
        mode = moa_mode or (known.moa_mode if known else None)
        if mode not in ("avec_moa", "exclusivement_moa", "sans_moa"):
            raise GesprokitError(f"Paramètre MOA de la structure {siret} inconnu : préciser "
                                 "avec_moa, exclusivement_moa ou sans_moa.")
        row = dict(name=found.get("designationStructure") or siret, moa_mode=mode,
                   service_required=bool(params.get("codeServiceDoitEtreRenseigne")),
                   engagement_required=bool(params.get("numeroEJDoitEtreRenseigne")),
                   service_or_engagement=bool(params.get("gestionNumeroEJOuCodeService")))
        if known:
            conn.execute(update(schema.ChorusStructure).where(
                schema.ChorusStructure.siret == siret).values(**row))
            conn.execute(update(schema.ChorusService).where(
                schema.ChorusService.siret == siret).values(active=False))
        else:
            conn.execute(insert(schema.ChorusStructure).values(siret=siret, **row))
        existing = set(conn.execute(select(schema.ChorusService.code).where(
            schema.ChorusService.siret == siret)).scalars())
        for code in services:
            if code in existing:
                conn.execute(update(schema.ChorusService).where(
                    schema.ChorusService.siret == siret,
                    schema.ChorusService.code == code).values(active=True))
            else:
                conn.execute(insert(schema.ChorusService).values(siret=siret, code=code,
                                                                 active=True))
        append_events(conn, [{"at": datetime.now().replace(microsecond=0),
                              "actor": CHORUS_ACTOR.email, "role": "admin",
                              "action": "chorus_structure",
                              "after": json.dumps({"siret": siret, **row,
                                                   "services": services},
                                                  ensure_ascii=False, sort_keys=True)}],
                      sealed=[("structure", siret)])
        return _structure(conn, siret)
