"""The circuit's PDFs (demande, état d'acompte, état validé), laid out after the commit.

An action that produces a document writes, in its own transaction, the document's content
— every figure already written out, as JSON blocks (:func:`gesprokit.documents.content`) —
in ``pending_document``, and the content's SHA-256 in its event. The layout (fpdf2, the
slow part) then runs outside any transaction: :func:`produce_documents` checks the content
against the hash the journal holds, renders it, stores the PDF and appends a ``document``
event that binds the PDF's SHA-256 to the action's event. The figures are those the action
committed; the journal proves it twice (content hash, then PDF hash).
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Connection, Engine, delete, select

from gesprokit import schema
from gesprokit.audit import append_events, writing
from gesprokit.errors import GesprokitError

DOCUMENT_ACTION = "document"


def content_text(content: dict) -> tuple[str, str]:
    """The canonical JSON of a document's content and its SHA-256."""
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def produce_documents(engine: Engine) -> int:
    """Lay out every pending document and bind each PDF to its action's event; returns how
    many were stored. Safe to run twice at once: a document another process stored in the
    meantime is skipped."""
    from gesprokit.pdf_layout import render_content
    from gesprokit.workflow import MAX_ATTACHMENT_BYTES, File, store_attachment

    with engine.connect() as conn:
        pending = [dict(r) for r in conn.execute(select(schema.PendingDocument)).mappings()]
    stored = 0
    for doc in pending:
        with engine.connect() as conn:
            action = conn.execute(select(schema.Event).where(
                schema.Event.hash == doc["event_hash"])).mappings().first()
        _check_content(doc, action)
        pdf = File(doc["name"], render_content(json.loads(doc["content"])))
        with writing(engine) as conn:
            if conn.execute(delete(schema.PendingDocument).where(
                    schema.PendingDocument.event_hash == doc["event_hash"])).rowcount != 1:
                continue  # stored by another process meanwhile
            sha = store_attachment(conn, pdf, pdf.name, MAX_ATTACHMENT_BYTES)
            append_events(conn, [{
                "at": action["at"], "actor": action["actor"], "role": action["role"],
                "action": DOCUMENT_ACTION, "contract_id": doc["contract_id"], "n": doc["n"],
                "after": json.dumps({"kind": doc["kind"], "for_event": doc["event_hash"]}),
                "attachments": json.dumps([sha])}])
        stored += 1
    return stored


def _check_content(doc: dict, action: dict | None) -> None:
    """The pending content is the one the action's event vouches for."""
    recorded = None
    if action is not None and action["after"]:
        recorded = (json.loads(action["after"]).get("document") or {}).get("content_sha256")
    if recorded is None or content_text(json.loads(doc["content"]))[1] != recorded:
        raise GesprokitError(
            f"Document « {doc['name']} » : son contenu ne correspond pas à celui que l'action "
            "a enregistré au journal ; il n'est pas produit (à signaler à l'administrateur).")


def produced_document(conn: Connection, contract_id: str, n: int | None,
                      action: str | tuple[str, ...]):
    """The PDF the latest `action` (or any of several) on situation `n` — on the contract as
    a whole when `n` is None — produced, or None (an imported step produced none; a
    document still being laid out).

    A situation action's PDF is bound to its event by a following ``document`` event; an
    end-of-contract act stores its PDF as the last file of its own event."""
    from gesprokit.workflow import File

    actions = (action,) if isinstance(action, str) else action
    situation = schema.Event.n.is_(None) if n is None else schema.Event.n == n
    latest = conn.execute(select(schema.Event.hash, schema.Event.after,
                                 schema.Event.attachments).where(
        schema.Event.contract_id == contract_id, situation,
        schema.Event.action.in_(actions)).order_by(schema.Event.event_id.desc())).all()
    for event in latest:
        bound = binds_document(event.after)
        if bound:
            hashes = _bound_pdf(conn, contract_id, situation, event.hash)
        else:
            hashes = json.loads(event.attachments) if event.attachments else []
        if hashes:
            row = conn.execute(select(schema.Attachment.name, schema.Attachment.content).where(
                schema.Attachment.sha256 == hashes[-1])).one()
            return File(row.name, row.content)
        if bound:
            return None  # the latest action's document is not laid out yet
    return None


def binds_document(after: str | None) -> bool:
    """Whether an action's recorded `after` announces a document laid out after it (its PDF
    is then bound by a following ``document`` event, not stored in the action's own)."""
    value = json.loads(after) if after else {}
    return isinstance(value, dict) and bool(value.get("document"))


def _bound_pdf(conn: Connection, contract_id: str, situation, event_hash: str) -> list[str]:
    """The PDF hash the ``document`` event bound to the action event `event_hash`."""
    for after, attachments in conn.execute(select(
            schema.Event.after, schema.Event.attachments).where(
            schema.Event.contract_id == contract_id, situation,
            schema.Event.action == DOCUMENT_ACTION)):
        if json.loads(after).get("for_event") == event_hash:
            return json.loads(attachments)
    return []
