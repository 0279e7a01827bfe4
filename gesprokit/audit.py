"""The audit log: append-only events chained by SHA-256, each signed with the journal's key
and sealing the state it leaves (see gesprokit.journal and gesprokit.seals)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from json.encoder import encode_basestring

import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from gesprokit import journal, seals
from gesprokit.bulk_insert import insert_dicts
from gesprokit.schema import Event

GENESIS = "0" * 64
HASHED_FIELDS = ("at", "actor", "role", "action", "contract_id", "n", "before", "after",
                 "comment", "attachments", "prev_hash")


PENDING_CHECKPOINT = "gesprokit_pending_checkpoint"
# the hashed fields in json.dumps' sorted order, around the previous hash ("seal" after all)
FIELDS_BEFORE_PREV = sorted(k for k in HASHED_FIELDS if k < "prev_hash")
FIELDS_AFTER_PREV = sorted(k for k in HASHED_FIELDS if k > "prev_hash")
CHAIN_SLICE = 20_000  # events chained and inserted at once by append_events


def event_hash(fields: dict) -> str:
    """SHA-256 of an event's canonical JSON (its fields, its seal when it has one, and the
    previous hash)."""
    payload = {k: fields.get(k) for k in HASHED_FIELDS}
    if fields.get("seal") is not None:
        payload["seal"] = fields["seal"]
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


def _value_json(value) -> str:
    """A value as json.dumps(..., ensure_ascii=False, default=str) writes it inside an
    event's canonical JSON (texts, integers and None without a call to json.dumps)."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _canonical_parts(ev: dict) -> tuple[str, str]:
    """The text :func:`event_hash` hashes, cut around the previous hash's JSON: json.dumps'
    own layout (keys sorted, ", " and ": "), written field by field."""
    at = ev["at"]
    at = f'"{at.isoformat(timespec="seconds")}"' if isinstance(at, datetime) else \
        _value_json(at)
    head = ", ".join([f'"{k}": {at if k == "at" else _value_json(ev.get(k))}'
                      for k in FIELDS_BEFORE_PREV])
    tail = "".join([f', "{k}": {_value_json(ev.get(k))}' for k in FIELDS_AFTER_PREV])
    if ev.get("seal") is not None:
        tail += f', "seal": {_value_json(ev["seal"])}'
    return "{" + head + ', "prev_hash": ', tail + "}"


def chain_events(events: list[dict], prev_hash: str, key: bytes | None = None) -> list[dict]:
    """Give each event its `prev_hash`, `hash` and (with the journal's key) `mac`, in order.

    Each hash is :func:`event_hash`'s, its text written around the previous hash (a
    journal's worth of imported events chained in a loop of string joins and SHA-256);
    the signatures are made at once (journal.macs)."""
    chained = []
    sha256 = hashlib.sha256
    for ev in events:
        ev = {k: ev.get(k) for k in (*HASHED_FIELDS, "seal") if k != "prev_hash"}
        ev["at"] = ev["at"].replace(microsecond=0)
        ev["prev_hash"] = prev_hash
        head, tail = _canonical_parts(ev)
        ev["hash"] = prev_hash = sha256(
            (head + _value_json(prev_hash) + tail).encode("utf-8")).hexdigest()
        chained.append(ev)
    signatures = journal.macs(key, [ev["hash"] for ev in chained]) if key is not None else \
        [None] * len(chained)
    for ev, signature in zip(chained, signatures, strict=True):
        ev["mac"] = signature
    return chained


def append_events(conn: Connection, events: list[dict], sealed: Iterable[tuple] = (),
                  seal: dict[str, str | None] | None = None) -> list[str]:
    """Append events (dicts with the event fields) to the chain, in the caller's transaction,
    after the writes they record: the last one seals the `sealed` groups as they now stand
    (or carries `seal`, their digests already computed: an import's, from the rows it wrote).
    Returns the hashes of the appended events (the journal's opening event included).

    Inside :func:`writing`, the newest event becomes the journal's checkpoint once the
    transaction is committed."""
    if not events:
        return []
    events = list(events)  # the caller's dicts are copied by chain_events, a slice at a time
    keys = list(sealed)
    if seal is None and keys:
        seal = seals.digests(conn, keys)
    if seal:
        events[-1] = {**events[-1], "seal": json.dumps(seal, sort_keys=True)}
    prev = genesis = last_hash(conn)
    if prev == GENESIS:  # a new journal opens with its own random name: two bases never
        # share a first event, so each one's checkpoints are its own
        events.insert(0, {"at": events[0]["at"], "actor": "gesprokit", "role": "admin",
                          "action": "open_journal",
                          "after": json.dumps({"journal_id": str(uuid.uuid4())})})
    key = _signing_key(conn, prev)
    hashes: list[str] = []
    # chained, signed and inserted a slice at a time: an import's 240 000 events are never
    # all held as chained dicts and driver tuples at once
    for start in range(0, len(events), CHAIN_SLICE):
        chained = chain_events(events[start:start + CHAIN_SLICE], prev, key)
        insert_dicts(conn, Event.__table__, chained)
        hashes.extend(ev["hash"] for ev in chained)
        prev = hashes[-1]
        del chained
    if PENDING_CHECKPOINT in conn.info:
        first = hashes[0] if genesis == GENESIS else conn.execute(
            select(Event.hash).order_by(Event.event_id).limit(1)).scalar()
        newest = conn.execute(select(func.max(Event.event_id))).scalar()
        known = journal.read_checkpoints(conn.engine).get(first)
        lost = known is not None and conn.execute(select(Event.event_id).where(
            Event.hash == known["hash"])).first() is None
        conn.info[PENDING_CHECKPOINT] = (first, hashes[-1], newest, known if lost else None)
    return hashes


def _signing_key(conn: Connection, prev: str) -> bytes:
    """The journal's key; never a new one for a journal that already holds signed events
    (a command run with another secrets folder would sign with a key nobody can check)."""
    key = journal.journal_key(create=False)
    if key is not None:
        return key
    if prev != GENESIS and conn.execute(select(Event.event_id).where(
            Event.mac.is_not(None)).limit(1)).first() is not None:
        from gesprokit.errors import GesprokitError

        raise GesprokitError(
            f"clé du journal introuvable ({journal.key_path()}) alors que cette base a un "
            "journal signé : lancez la commande avec le même GESPROKIT_SECRETS_DIR que le "
            "serveur ; rien n'a été enregistré")
    return journal.journal_key(create=True)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` for a write that appends events: once committed, its newest event is
    recorded as the journal's checkpoint outside the base (gesprokit.journal)."""
    pending = None
    with engine.begin() as conn:
        conn.info[PENDING_CHECKPOINT] = None
        try:
            yield conn
        finally:
            pending = conn.info.pop(PENDING_CHECKPOINT, None)
    if pending is not None:
        journal.record_checkpoint(engine, *pending)


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
    event no longer matches its hash; a deleted or inserted one breaks the link. (The
    signatures, checkpoint, seals and files: gesprokit.integrity.verify.)
    """
    from gesprokit.integrity import check_chain

    rows = []
    for ev in events.sort_values("event_id").to_dict("records"):
        row = {k: (None if _missing(v) else v) for k, v in ev.items()}
        if row.get("n") is not None:
            row["n"] = int(row["n"])
        if hasattr(row["at"], "to_pydatetime"):
            row["at"] = row["at"].to_pydatetime()
        rows.append(row)
    return check_chain(rows, None)


def _missing(value) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
