"""Message threads attached to a situation: a question from the OPC, the contractor's
answer, the MOA's remark. Each message is one journaled action; everyone who may read the
situation reads the thread and is told of a new message (inbox and e-mail), the author
excepted. Drafts stay the contractor's own: a thread on a draft is its company's only."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select

from gesprokit import schema
from gesprokit.audit import append_events, writing
from gesprokit.circuit import ROLE_LABELS
from gesprokit.notifications import inform
from gesprokit.workflow import Actor, out_of_scope
from gesprokit.workflow_errors import PermissionDenied, ValidationError

MAX_MESSAGE = 4000
COMPANY_ROLES = ("contractor", "cocontractor")
# control characters other than tab and line breaks (PostgreSQL refuses NUL in a text)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_message(body: str | None) -> str:
    """The text to store, or a French refusal: blank, too long, control characters."""
    text = (body or "").strip()
    if not text:
        raise ValidationError("Message vide : écrivez votre message avant de l'envoyer.")
    if len(text) > MAX_MESSAGE:
        raise ValidationError(f"Message : {MAX_MESSAGE} caractères au plus "
                              f"({len(text)} écrits).")
    if _CONTROL.search(text):
        raise ValidationError("Message : caractère de contrôle non admis (collez le texte "
                              "sans mise en forme).")
    return text


def _situation(conn: Connection, contract_id: str, n: int) -> tuple[dict, dict]:
    contract = conn.execute(select(schema.Contract).where(
        schema.Contract.contract_id == contract_id)).mappings().first()
    situation = conn.execute(select(schema.Situation).where(
        schema.Situation.contract_id == contract_id,
        schema.Situation.n == n)).mappings().first() if contract else None
    if situation is None:
        raise ValidationError(f"Situation n°{n} du marché {contract_id} inconnue.")
    return dict(contract), dict(situation)


def _subcontractors(conn: Connection, contract_id: str) -> set[str]:
    return set(conn.execute(select(schema.Subcontract.company_code).where(
        schema.Subcontract.contract_id == contract_id)).scalars())


def may_read(conn: Connection, actor: Actor, contract: dict, situation: dict) -> bool:
    """Whether the account reads the situation's thread: within its operations; a company
    role only on its company's contracts (a subcontractor on the contracts it works on);
    a draft only by the contractor's company."""
    if out_of_scope(actor, contract["operation_code"]) is not None or actor.role == "admin":
        return False
    own = actor.company_code == contract["company_code"]
    if situation["status"] == "draft" and not (actor.role in COMPANY_ROLES and own):
        return False
    if actor.role in COMPANY_ROLES:
        return own
    if actor.role == "subcontractor":
        return actor.company_code in _subcontractors(conn, contract["contract_id"])
    return True


def _readers(conn: Connection, contract: dict, situation: dict) -> list[str]:
    """The accounts that may read the thread (enabled, granted the operation)."""
    from gesprokit.accounts import granted_accounts

    users = granted_accounts(conn, contract["operation_code"])
    return [u.email for u in users if may_read(conn, Actor(
        u.email, u.role, u.company_code, operations=frozenset({contract["operation_code"]})),
        contract, situation)]


def post_message(engine: Engine, actor: Actor, contract_id: str, n: int, body: str,
                 now: datetime | None = None) -> int:
    """Add a message to the situation's thread, in the author's name; returns its number."""
    text = clean_message(body)
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        contract, situation = _situation(conn, contract_id, n)
        if not may_read(conn, actor, contract, situation):
            raise PermissionDenied("Vous ne pouvez pas écrire sur cette situation : elle n'est "
                                   "pas dans votre périmètre.")
        message_id = conn.execute(insert(schema.Message).values(
            contract_id=contract_id, n=n, author=actor.email, role=actor.role, at=now,
            body=text).returning(schema.Message.message_id)).scalar_one()
        who = actor.name or actor.email
        subject = (f"[gesprokit] {contract_id} situation n°{n} : message de {who} "
                   f"({ROLE_LABELS.get(actor.role, actor.role)})")
        inform(conn, [r for r in _readers(conn, contract, situation) if r != actor.email],
               subject, f"Bonjour,\n\n{who} a écrit sur la situation n°{n} du marché "
                        f"{contract_id} :\n\n{text}\n\nRépondez depuis la page de la "
                        "situation.\n\n— gesprokit\n", now, contract_id=contract_id, n=n)
        append_events(conn, [{
            "at": now, "actor": actor.email, "role": actor.role, "action": "post_message",
            "contract_id": contract_id, "n": n, "comment": text,
            "after": json.dumps({"message_id": message_id})}],
            sealed=[("message", message_id)])
    return message_id


def thread(engine: Engine, actor: Actor, contract_id: str, n: int) -> pd.DataFrame:
    """The situation's messages, oldest first (date, author, role, text), for a reader."""
    with engine.connect() as conn:
        contract, situation = _situation(conn, contract_id, n)
        if not may_read(conn, actor, contract, situation):
            raise PermissionDenied("Cette situation n'est pas dans votre périmètre.")
        rows = conn.execute(select(
            schema.Message.at, schema.Message.author, schema.Message.role,
            schema.Message.body, schema.User.name).outerjoin(
            schema.User, schema.User.email == schema.Message.author).where(
            schema.Message.contract_id == contract_id, schema.Message.n == n).order_by(
            schema.Message.message_id)).all()
    return pd.DataFrame([{"at": r.at, "author": r.name or r.author,
                          "role": ROLE_LABELS.get(r.role, r.role), "body": r.body}
                         for r in rows], columns=["at", "author", "role", "body"])
