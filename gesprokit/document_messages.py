"""Message threads attached to a document of the library: the MOE's question on a plan, the
contractor's answer. Whoever may read the document (gesprokit.library.actions.
readable_document: its operation granted, its folder readable) reads its thread and writes
in it in their own name. Each message is one journaled action sealing its row; the other
readers are told (inbox and e-mail), the author excepted. A refusal changes nothing."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select

from gesprokit import schema
from gesprokit.audit import append_events, writing
from gesprokit.circuit import ROLE_LABELS
from gesprokit.library.actions import readable_document, rights
from gesprokit.messages import clean_message
from gesprokit.notifications import inform
from gesprokit.workflow import Actor

ACTION = "post_document_message"


def readers(conn: Connection, document: dict) -> list[str]:
    """The accounts that may read the document's thread (enabled, granted its operation,
    its folder readable by their role and company)."""
    from gesprokit.accounts import granted_accounts

    operation = document["operation_code"]
    return [u.email for u in granted_accounts(conn, operation) if rights(conn, Actor(
        u.email, u.role, u.company_code, operations=frozenset({operation})),
        document["folder_code"])[0]]


def post_document_message(engine: Engine, actor: Actor, document_id: str, body: str,
                          now: datetime | None = None) -> int:
    """Add a message to the document's thread, in the author's name; returns its number."""
    text = clean_message(body)
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        document = readable_document(conn, actor, document_id)
        message_id = conn.execute(insert(schema.DocumentMessage).values(
            document_id=document_id, author=actor.email, role=actor.role, at=now,
            body=text).returning(schema.DocumentMessage.message_id)).scalar_one()
        who = actor.name or actor.email
        title = document["title"]
        inform(conn, [r for r in readers(conn, document) if r != actor.email],
               f"[gesprokit] {title} ({document_id}) : message de {who} "
               f"({ROLE_LABELS.get(actor.role, actor.role)})",
               f"Bonjour,\n\n{who} a écrit sur le document {document_id} « {title} » :\n\n"
               f"{text}\n\nRépondez depuis la page « Documents et visas », sous le document "
               "ouvert.\n\n— gesprokit\n", now, document_id=document_id)
        append_events(conn, [{
            "at": now, "actor": actor.email, "role": actor.role, "action": ACTION,
            "comment": text, "after": json.dumps({"document_id": document_id,
                                                  "message_id": message_id},
                                                 ensure_ascii=False, sort_keys=True)}],
            sealed=[("document_message", message_id)])
    return message_id


def document_thread(engine: Engine, actor: Actor, document_id: str) -> pd.DataFrame:
    """The document's messages, oldest first (date, author, role, text), for a reader."""
    with engine.connect() as conn:
        readable_document(conn, actor, document_id)
        rows = conn.execute(select(
            schema.DocumentMessage.at, schema.DocumentMessage.author, schema.DocumentMessage.role,
            schema.DocumentMessage.body, schema.User.name).outerjoin(
            schema.User, schema.User.email == schema.DocumentMessage.author).where(
            schema.DocumentMessage.document_id == document_id).order_by(
            schema.DocumentMessage.message_id)).all()
    return pd.DataFrame([{"at": r.at, "author": r.name or r.author,
                          "role": ROLE_LABELS.get(r.role, r.role), "body": r.body}
                         for r in rows], columns=["at", "author", "role", "body"])
