"""The audit log: append-only events chained by SHA-256."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, insert, select

from gesprokit.schema import Event

GENESIS = "0" * 64
HASHED_FIELDS = ("at", "actor", "role", "action", "contract_id", "n", "before", "after",
                 "comment", "attachments", "prev_hash")


def event_hash(fields: dict) -> str:
    """SHA-256 of an event's canonical JSON (its fields and the previous hash)."""
    payload = {k: fields.get(k) for k in HASHED_FIELDS}
    if isinstance(payload["at"], datetime):
        payload["at"] = payload["at"].isoformat(timespec="seconds")
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def last_hash(conn: Connection) -> str:
    """Hash of the newest event, or the genesis hash of an empty log.

    On PostgreSQL a transaction-level advisory lock serialises writers of the chain, so
    two concurrent actions never both link to the same event."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242)")
    row = conn.execute(select(Event.hash).order_by(Event.event_id.desc()).limit(1)).first()
    return row[0] if row else GENESIS


def chain_events(events: list[dict], prev_hash: str) -> list[dict]:
    """Give each event its `prev_hash` and `hash`, in order."""
    chained = []
    for ev in events:
        ev = {k: ev.get(k) for k in HASHED_FIELDS if k != "prev_hash"}
        ev["at"] = ev["at"].replace(microsecond=0)
        ev["prev_hash"] = prev_hash
        ev["hash"] = prev_hash = event_hash(ev)
        chained.append(ev)
    return chained


def append_events(conn: Connection, events: list[dict]) -> None:
    """Append events (dicts with the event fields) to the chain, in the caller's transaction."""
    if events:
        conn.execute(insert(Event), chain_events(events, last_hash(conn)))


def event_payload(text) -> dict:
    """An event's before/after JSON as a dict ({} when absent or unreadable)."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def verify_chain(events: pd.DataFrame) -> list[str]:
    """Check every event's hash and link, in order; French description of each break.

    `events` is the ``event`` table as a frame (see gesprokit.store). An edited
    event no longer matches its hash; a deleted or inserted one breaks the link.
    """
    problems = []
    expected_prev = GENESIS
    for ev in events.sort_values("event_id").to_dict("records"):
        fields = {k: (None if _missing(ev.get(k)) else ev.get(k)) for k in HASHED_FIELDS}
        if fields["n"] is not None:
            fields["n"] = int(fields["n"])
        fields["at"] = ev["at"].to_pydatetime() if hasattr(ev["at"], "to_pydatetime") else ev["at"]
        if ev["prev_hash"] != expected_prev:
            problems.append(f"événement n°{ev['event_id']} : lien rompu avec l'événement "
                            "précédent (supprimé ou inséré)")
        if event_hash(fields) != ev["hash"]:
            problems.append(f"événement n°{ev['event_id']} : contenu modifié après coup "
                            "(empreinte différente)")
        expected_prev = ev["hash"]
    return problems


def _missing(value) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
