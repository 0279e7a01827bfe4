"""What the recipient of a piece does with it in Chorus Pro, and how its depositor answers.

The maître d'œuvre receives the titulaire's A4 and A7, the maître d'ouvrage the MOE's A15
and A17 and the titulaire's A22 (the role of the frame that answers the piece). The recipient
either **refuses** the piece with its reason — the file stops, a new deposit under a new
number opens a new payment delay — or **suspends** it — the depositor must complete it, and
the payment delay keeps running (only the ordonnateur's interruption stops it, R2192-27).
The depositor **completes** a suspended piece with a comment and attachments.

An amount disagreement is not a reason: the MOE corrects the amount in its own état, the MOA
rectifies the validated état (DOMAIN Part A). Each action is one call to Chorus Pro with the
actor's own structure account, then one transaction: the piece's new dated status with its
reason, one chained event sealed with the piece, and a notice to whoever must act next.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import Connection, Engine, select

from gesprokit import schema
from gesprokit.audit import writing
from gesprokit.chorus.billing import (
    _context,
    _depositor_siret,
    _platform_time,
    new_statuses,
    record_statuses,
    situation_of,
)
from gesprokit.chorus.frames import (
    EFFECTS,
    FINAL,
    FRAMES,
    SEQUENCES,
    STOPPED,
    SUSPENDED,
    deadline_effect,
    status_label,
)
from gesprokit.chorus.piste import PisteClient, status_history
from gesprokit.circuit import AMOUNT_REASON, RETURN_REASONS, ROLE_LABELS
from gesprokit.mandates import acting_mandate, mandate_record
from gesprokit.notifications import inform
from gesprokit.workflow import Actor, File, out_of_scope
from gesprokit.workflow_errors import PermissionDenied, StaleState, ValidationError

RECEIVING_ROLES = ("moe", "moa")
# decision -> the platform's action
DECISIONS = {"refuse": "REFUS", "suspend": "SUSPENSION"}
# A refusal or a suspension names one of the circuit's return reasons (never the amount).
REASONS = RETURN_REASONS
MAX_COMMENT = 1000


def file_kind(file_key: str) -> str:
    """The kind of billing file a key names (``n<N>``: monthly; ``final``)."""
    return "final" if file_key == "final" else "acompte"


def recipient_role(kind: str, frame: str) -> str | None:
    """The role that receives a piece: the MOE or MOA depositing the frame that answers it
    (None when no MOE or MOA answers it, e.g. the A19 or the A8)."""
    answers = {FRAMES[f].role for f in SEQUENCES.get(kind, {}).get(frame, ())}
    return next((r for r in RECEIVING_ROLES if r in answers), None)


def _company_siret(conn: Connection, actor: Actor) -> str | None:
    return conn.execute(select(schema.Company.siret).where(
        schema.Company.code == actor.company_code)).scalar()


def _receiving_siret(conn: Connection, contract_id: str, role: str) -> str:
    siret = _depositor_siret(_context(conn, contract_id), role)
    if not siret:
        raise ValidationError(f"Fiche d'identité du marché {contract_id} absente : la structure "
                              f"Chorus Pro du {ROLE_LABELS[role].lower()} est inconnue.")
    return siret


def _piece(conn: Connection, piece_id, lock: bool = False) -> dict:
    """The piece's row (locked for the transaction with `lock`: a concurrent treatment of
    the same piece waits, then finds its status changed)."""
    try:
        piece_id = int(piece_id)
    except (TypeError, ValueError):
        raise ValidationError("Pièce Chorus Pro : choisissez une pièce de la liste.") from None
    query = select(schema.ChorusPiece).where(schema.ChorusPiece.piece_id == piece_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise ValidationError(f"Pièce Chorus Pro n°{piece_id} inconnue.")
    return dict(row)


def _is_last_live(conn: Connection, piece: dict) -> bool:
    """Whether the piece is the last one of its file as it stands (nothing answered it)."""
    last = conn.execute(select(schema.ChorusPiece.piece_id).where(
        schema.ChorusPiece.contract_id == piece["contract_id"],
        schema.ChorusPiece.file_key == piece["file_key"]).order_by(
        schema.ChorusPiece.piece_id.desc()).limit(1)).scalar()
    return last == piece["piece_id"]


def treatment_refusal(conn: Connection, actor: Actor, piece: dict, decision: str,
                      on: date | None = None) -> PermissionDenied | ValidationError | None:
    """Why `actor` may not refuse or suspend the piece (None: it may). The one rule the
    action and the page both apply."""
    ctx = _context(conn, piece["contract_id"])
    contract = ctx.contract
    role = recipient_role(file_kind(piece["file_key"]), piece["frame"])
    if actor.role != role or role is None:
        who = ROLE_LABELS[role].lower() if role else "personne"
        return PermissionDenied(f"La pièce {piece['frame']} n°{piece['number']} est reçue par "
                                f"le {who}, pas par votre rôle.")
    scope = out_of_scope(actor, contract["operation_code"])
    if scope:
        return scope
    try:  # a mandataire of the MOA acts with the MOA's structure, within its mandate
        mandated = acting_mandate(conn, actor, contract["operation_code"], "chorus_receive",
                                  on or date.today()) is not None
    except PermissionDenied as refused:
        return refused
    if not mandated and _company_siret(conn, actor) != _depositor_siret(ctx, role):
        return PermissionDenied(f"La pièce {piece['frame']} n°{piece['number']} est reçue par "
                                f"la structure du {ROLE_LABELS[role].lower()} du marché, pas "
                                "par votre entreprise.")
    if piece["status"] in FINAL:
        return ValidationError(f"La pièce {piece['frame']} n°{piece['number']} est "
                               f"« {status_label(piece['status'])} » : elle ne se traite plus.")
    if decision == "suspend" and piece["status"] in SUSPENDED:
        return ValidationError(f"La pièce {piece['frame']} n°{piece['number']} est déjà "
                               "suspendue.")
    if not _is_last_live(conn, piece):
        return ValidationError(f"La pièce {piece['frame']} n°{piece['number']} a déjà reçu sa "
                               "réponse dans le dossier : elle ne se traite plus.")
    return None


def _reason(reason: str | None) -> str:
    if reason == AMOUNT_REASON:
        raise ValidationError("Motif : un désaccord sur le montant ne se traite pas par un "
                              "refus ; le maître d'ouvrage rectifie l'état validé, le maître "
                              "d'œuvre corrige son état d'acompte.")
    if reason not in REASONS:
        raise ValidationError("Motif : choisissez un motif dans la liste.")
    return reason


def _comment(comment: str | None, field: str = "Commentaire") -> str:
    text = comment.strip() if isinstance(comment, str) else ""
    if not text:
        raise ValidationError(f"{field} : expliquez ce qui est attendu (obligatoire).")
    if len(text) > MAX_COMMENT:
        raise ValidationError(f"{field} : {MAX_COMMENT} caractères au plus "
                              f"({len(text)} écrits).")
    return text


def _tell(conn: Connection, piece: dict, roles: set[str], subject: str, body: str,
          now: datetime) -> None:
    """An information notice to the accounts of these roles granted the operation (a
    titulaire's accounts: its own company's only)."""
    from gesprokit.accounts import granted_accounts

    contract = _context(conn, piece["contract_id"]).contract
    recipients = [a.email for a in granted_accounts(conn, contract["operation_code"], roles)
                  if a.role not in ("contractor", "cocontractor")
                  or a.company_code == contract["company_code"]]
    inform(conn, recipients, subject, body, now, contract_id=piece["contract_id"],
           n=situation_of(piece["file_key"]))


def _history_after(client: PisteClient, piece: dict, answer: dict, siret: str,
                   now: datetime) -> list[tuple[datetime, str]]:
    """The piece's dated statuses as Chorus Pro now shows them (its history, else the
    answer's own status and date)."""
    history = status_history(client.history(int(piece["chorus_id"]), siret=siret))
    if history:
        return history
    at = _platform_time(answer.get("dateTraitement")) or now
    return [(at, answer["statutFactureTravaux"])]


def treat(engine: Engine, client: PisteClient, actor: Actor, piece_id: int, decision: str,
          reason: str, comment: str, now: datetime | None = None) -> dict:
    """Refuse or suspend a received piece in Chorus Pro with its reason, then record it.
    Refused (nothing sent, nothing changed): wrong role or operation, a closed or already
    answered piece, an amount given as reason, a blank comment."""
    if decision not in DECISIONS:
        raise ValidationError("Décision : refuser ou suspendre la pièce.")
    reason, comment = _reason(reason), _comment(comment)
    now = (now or datetime.now()).replace(microsecond=0)
    with engine.connect() as conn:
        piece = _piece(conn, piece_id)
        refused = treatment_refusal(conn, actor, piece, decision, now.date())
        if refused:
            raise refused
        siret = _receiving_siret(conn, piece["contract_id"], actor.role)
    text = f"{REASONS[reason]} : {comment}"
    answer = client.treat_works_invoice(actor.role, int(piece["chorus_id"]), DECISIONS[decision],
                                        reason, comment, siret=siret)
    history = _history_after(client, piece, answer, siret, now)
    with writing(engine) as conn:
        if _piece(conn, piece_id, lock=True)["status"] != piece["status"]:
            raise StaleState("La pièce vient d'être traitée par ailleurs : rechargez la page.")
        mandate = acting_mandate(conn, actor, _context(conn, piece["contract_id"]).contract[
            "operation_code"], "chorus_receive", now.date())
        at, status = record_statuses(
            conn, piece, history, new_statuses(conn, piece["piece_id"], history), actor,
            "chorus_receive", now, text, {"decision": decision, "reason": reason,
                                          **({"mandate": mandate_record(mandate)}
                                             if mandate else {})})
        effect = EFFECTS.get(deadline_effect(status) or "", "")
        who = ROLE_LABELS[actor.role].lower()
        depositor = FRAMES[piece["frame"]].role
        roles = {depositor} | ({"contractor"} if status in STOPPED else set())
        verb = "refusée" if decision == "refuse" else "suspendue"
        _tell(conn, piece, roles,
              f"[gesprokit] {piece['contract_id']} : pièce {piece['frame']} "
              f"n°{piece['number']} {verb} par le {who}",
              f"Bonjour,\n\nLa pièce {piece['frame']} n°{piece['number']} "
              f"({FRAMES[piece['frame']].label}) a été {verb} dans Chorus Pro par le {who} "
              f"le {at:%d/%m/%Y à %H:%M}.\nMotif : {text}\nEffet : {effect}.\n"
              + ("\nComplétez-la depuis la page Chorus Pro.\n" if decision == "suspend" else
                 "\nLe dossier repart de sa première pièce, sous un nouveau numéro.\n")
              + "\n— gesprokit\n", now)
    return {"piece_id": piece["piece_id"], "status": status, "at": at, "effect": effect}


def complete(engine: Engine, client: PisteClient, actor: Actor, piece_id: int, comment: str,
             files: list[File] | tuple[File, ...] = (), now: datetime | None = None) -> dict:
    """The depositor completes its suspended piece (comment, attachments) in Chorus Pro."""
    comment = _comment(comment, "Complément")
    now = (now or datetime.now()).replace(microsecond=0)
    with engine.connect() as conn:
        piece = _piece(conn, piece_id)
        ctx = _context(conn, piece["contract_id"])
        scope = out_of_scope(actor, ctx.contract["operation_code"])
        if scope:
            raise scope
        depositor = FRAMES[piece["frame"]].role
        if actor.role != depositor or _company_siret(conn, actor) != piece["depositor_siret"]:
            raise PermissionDenied(f"Seul le déposant de la pièce {piece['frame']} "
                                   f"n°{piece['number']} la complète.")
        if piece["status"] not in SUSPENDED:
            raise ValidationError(f"La pièce {piece['frame']} n°{piece['number']} n'est pas "
                                  f"suspendue (« {status_label(piece['status'])} »).")
    siret = piece["depositor_siret"]
    file_ids = [client.add_file(f.name, f.content, siret=siret) for f in files]
    answer = client.complete_works_invoice(int(piece["chorus_id"]), comment, file_ids,
                                           siret=siret)
    history = _history_after(client, piece, answer, siret, now)
    with writing(engine) as conn:
        if _piece(conn, piece_id, lock=True)["status"] != piece["status"]:
            raise StaleState("La pièce vient d'être traitée par ailleurs : rechargez la page.")
        names = [f.name for f in files]
        at, status = record_statuses(
            conn, piece, history, new_statuses(conn, piece["piece_id"], history), actor,
            "chorus_complete", now, comment, {"attachments": names})
        recipient = recipient_role(file_kind(piece["file_key"]), piece["frame"])
        _tell(conn, piece, {recipient} if recipient else set(),
              f"[gesprokit] {piece['contract_id']} : pièce {piece['frame']} "
              f"n°{piece['number']} complétée",
              f"Bonjour,\n\nLa pièce {piece['frame']} n°{piece['number']} suspendue a été "
              f"complétée dans Chorus Pro le {at:%d/%m/%Y à %H:%M} :\n{comment}\n"
              + (f"Pièces jointes : {', '.join(names)}\n" if names else "")
              + "\n— gesprokit\n", now)
    return {"piece_id": piece["piece_id"], "status": status, "at": at}


def received_pieces(engine: Engine, actor: Actor) -> pd.DataFrame:
    """The pieces waiting for the actor's role to treat them, in its operations: the last
    piece of each file, not closed, that its role receives."""
    columns = ["piece_id", "contract_id", "file_key", "frame", "frame_label", "number",
               "deposited_at", "amount_to_pay", "status", "status_label", "suspended"]
    if actor.role not in RECEIVING_ROLES:
        return pd.DataFrame(columns=columns)
    with engine.connect() as conn:
        query = select(schema.ChorusPiece).join(
            schema.Contract, schema.Contract.contract_id == schema.ChorusPiece.contract_id
        ).order_by(schema.ChorusPiece.piece_id)
        if actor.operations is not None:
            query = query.where(schema.Contract.operation_code.in_(sorted(actor.operations)))
        pieces = pd.read_sql(query, conn)
    if pieces.empty:
        return pd.DataFrame(columns=columns)
    last = pieces.groupby(["contract_id", "file_key"]).tail(1)
    received = pd.Series([recipient_role(file_kind(k), f) == actor.role
                          for k, f in zip(last["file_key"], last["frame"], strict=True)],
                         index=last.index, dtype=bool)
    last = last[~last["status"].isin(FINAL) & received].copy()
    last["frame_label"] = last["frame"].map(lambda f: FRAMES[f].label)
    last["status_label"] = last["status"].map(status_label)
    last["suspended"] = last["status"].isin(SUSPENDED)
    return last[columns].reset_index(drop=True)
