"""Inbox items for the next actors, their delivery by e-mail (SMTP), and reminders.

Each workflow action tells the people who must act next ("situations à
traiter"), in the action's own transaction. An item stays in the inbox while
the situation waits in the state it was created for. Delivery and reminders
are separate, re-runnable jobs: an unreachable mail server leaves items
pending, never lost.
"""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Connection, Engine, insert, select, update

from gesprokit import schema
from gesprokit.circuit import STATE_LABELS, TRANSITIONS
from gesprokit.links import where_to_find, with_location

# action -> (role to tell, kind, what they have to do)
NEXT_ACTORS = {
    "submit": ("verifier", "todo", "vérifier l'avancement"),
    "verify": ("moe", "todo", "émettre l'état d'acompte"),
    "issue": ("amo", "todo", "accepter ou retourner l'état d'acompte"),
    "return": ("moe", "todo", "reprendre l'état d'acompte retourné par l'AMO"),
    "accept": ("moa", "todo", "valider l'état d'acompte"),
    "validate": ("treasury", "todo", "mettre en paiement"),
    "interrupt": ("contractor", "info", "fournir les pièces manquantes"),
    "pay": ("contractor", "info", "paiement effectué"),
}


def notify_next(conn: Connection, action: str, contract: dict, n: int, status: str,
                now: datetime, detail: str | None = None) -> int:
    """Create the inbox items that follow `action`; returns how many."""
    if action not in NEXT_ACTORS:
        return 0
    role, kind, todo = NEXT_ACTORS[action]
    from gesprokit.accounts import granted_accounts

    # only the accounts granted the contract's operation, and still enabled
    recipients = [a.email for a in granted_accounts(conn, contract["operation_code"], [role])
                  if role != "contractor" or a.company_code == contract["company_code"]]
    label = TRANSITIONS[action].label
    subject = f"[gesprokit] {contract['contract_id']} situation n°{n} : {todo}"
    body = (f"Bonjour,\n\nLa situation n°{n} du marché {contract['contract_id']} "
            f"({contract['title']}) vient de passer l'étape « {label} » ; elle est maintenant "
            f"« {STATE_LABELS[status]} ».\nÀ faire : {todo}.\n"
            + (f"\n{detail}\n" if detail else "") + "\n— gesprokit\n")
    rows = [dict(recipient=r, kind=kind, contract_id=contract["contract_id"], n=n,
                 awaiting_status=status if kind == "todo" else None, subject=subject,
                 body=body, created_at=now) for r in recipients]
    if rows:
        conn.execute(insert(schema.Notification), rows)
    return len(rows)


def inform(conn: Connection, recipients: list[str], subject: str, body: str, now: datetime,
           *, kind: str = "info", contract_id: str | None = None, n: int | None = None,
           document_id: str | None = None) -> int:
    """One inbox item (and e-mail to send) per recipient, in the caller's transaction;
    returns how many. The notice of everything that is not a step of the circuit."""
    rows = [dict(recipient=r, kind=kind, contract_id=contract_id, n=n, document_id=document_id,
                 subject=subject, body=body, created_at=now) for r in recipients]
    if rows:
        conn.execute(insert(schema.Notification), rows)
    return len(rows)


def _pending_todos(conn: Connection):
    """Todo items whose situation still waits in the state they were created for."""
    n = schema.Notification
    s = schema.Situation
    return (select(n).join(s, (s.contract_id == n.contract_id) & (s.n == n.n))
            .where(n.kind.in_(("todo", "reminder")), s.status == n.awaiting_status))


def inbox(engine: Engine, email: str) -> list[dict]:
    """The open items of one person, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(_pending_todos(conn).where(
            schema.Notification.recipient == email.lower()).order_by(
            schema.Notification.created_at)).mappings().all()
    return [{k: r[k] for k in ("contract_id", "n", "kind", "subject", "created_at")}
            for r in rows]


def remind(engine: Engine, after_days: int, now: datetime | None = None) -> int:
    """A reminder for each todo left untreated for `after_days` days (once per item)."""
    now = now or datetime.now()
    limit = now - timedelta(days=after_days)
    with engine.begin() as conn:
        late = conn.execute(_pending_todos(conn).where(
            schema.Notification.kind == "todo", schema.Notification.reminded_at.is_(None),
            schema.Notification.created_at <= limit)).mappings().all()
        for item in late:
            days = (now - item["created_at"]).days
            conn.execute(insert(schema.Notification).values(
                recipient=item["recipient"], kind="reminder", contract_id=item["contract_id"],
                n=item["n"], awaiting_status=item["awaiting_status"],
                subject="RELANCE – " + item["subject"],
                body=f"Relance : cette situation attend votre action depuis {days} jours.\n\n"
                     + item["body"], created_at=now))
            conn.execute(update(schema.Notification).where(
                schema.Notification.notification_id == item["notification_id"]).values(
                reminded_at=now))
    return len(late)


def email_body(item: dict, base_url: str | None, role: str | None = None) -> str:
    """The text e-mailed for an inbox item: its body, then the link to the served page of
    its document or situation (for the recipient's `role`), or where to find it in words
    when the service's address is not configured (gesprokit.links)."""
    return with_location(item["body"], where_to_find(
        base_url, document_id=item.get("document_id"), contract_id=item.get("contract_id"),
        n=item.get("n"), role=role))


def send_notifications(engine: Engine, host: str, port: int, sender: str,
                       now: datetime | None = None, timeout: float = 10,
                       base_url: str | None = None) -> int:
    """E-mail every unsent item through the SMTP server; returns how many were sent. Each
    e-mail carries the link to its page under `base_url` (the served application's public
    address), or says where to find it when there is none."""
    now = now or datetime.now()
    with engine.connect() as conn:
        pending = conn.execute(select(schema.Notification).where(
            schema.Notification.sent_at.is_(None)).order_by(
            schema.Notification.notification_id)).mappings().all()
        if not pending:
            return 0
        roles = dict(conn.execute(select(schema.User.email, schema.User.role).where(
            schema.User.email.in_({item["recipient"] for item in pending}))).all())
    sent = []
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            for item in pending:
                msg = EmailMessage()
                msg["From"], msg["To"] = sender, item["recipient"]
                msg["Subject"] = item["subject"]
                msg.set_content(email_body(dict(item), base_url, roles.get(item["recipient"])))
                smtp.send_message(msg)
                sent.append(item["notification_id"])
    finally:  # what went out is marked even if the server fails half-way
        if sent:
            with engine.begin() as conn:
                conn.execute(update(schema.Notification).where(
                    schema.Notification.notification_id.in_(sent)).values(sent_at=now))
    return len(sent)
