"""``audit verify`` in bulk, for journals of hundreds of thousands of events.

The row code of gesprokit.integrity builds a dict per event and a JSON text per state row
through SQLAlchemy: tens of microseconds a row. Here the database itself writes, in one
query per table read through ADBC (as gesprokit.store reads), the very texts the row code
hashes: each event's canonical JSON (gesprokit.audit.event_hash) and each state row's line
and group key (gesprokit.seals); Python only hashes them, with C functions mapped over the
rows, and sorts the lines with Arrow. Nothing is checked less: every event is hashed,
linked and its signature recomputed, every state row digested.

The database's JSON quoting (SQLite's ``json_quote``, PostgreSQL's ``to_json``) escapes as
``json.dumps(..., ensure_ascii=False)`` does; a probe checks it each time. A value the query
cannot vouch to write as the row code does (a type SQLite let in against the schema, a date
not in the stored format) marks its row: such an event is hashed by event_hash, such a
table digested by gesprokit.seals, so a tampered base gives the same problems whichever
path reads it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Boolean, Date, DateTime, Engine, Integer, String

from gesprokit import schema, seals
from gesprokit.db import SQLITE_BUSY_TIMEOUT_MS

SQLITE_INFER_ROWS = "100000000"  # ADBC types SQLite columns from the first batch: all rows
# every control character, the quotes, the backslash, the slash, DEL, accents, the line
# separators, a BOM and an emoji: the database must quote them as json.dumps does
PROBE = [*range(1, 32), 34, 39, 47, 92, 127, 233, 8232, 8233, 65279, 128512]
DIGITS = "[0-9]"
STORED_DATE = "-".join([DIGITS * 4, DIGITS * 2, DIGITS * 2])
STORED_TIME = f"{STORED_DATE} {':'.join([DIGITS * 2] * 3)}"
PG_FORMAT = {"date": "YYYY-MM-DD", "datetime": 'YYYY-MM-DD"T"HH24:MI:SS'}
SEAL_TAIL = len('": "') + 64 + len('"}')  # what follows a seal's key
SEAL_KEY_BAD = r'["\\\x00-\x1f]'  # what json.dumps would escape in a key
SHA256 = hashlib.sha256
HEXDIGEST = type(SHA256()).hexdigest
EVENT_FIELDS = ("action", "actor", "after", "at", "attachments", "before", "comment",
                "contract_id", "n", "prev_hash", "role")  # audit.HASHED_FIELDS, sorted


class Reader:
    """An ADBC connection on the base, every read in one transaction (one snapshot)."""

    def __init__(self, conn, backend: str, error: type[Exception]):
        self.conn, self.backend, self.error = conn, backend, error

    def table(self, sql: str) -> pa.Table:
        """The rows of `sql` as an Arrow table."""
        with self.conn.cursor() as cur:
            if self.backend == "sqlite":
                cur.adbc_statement.set_options(
                    **{"adbc.sqlite.query.batch_rows": SQLITE_INFER_ROWS})
            cur.execute(sql)
            return cur.fetch_arrow_table()

    def value(self, sql: str):
        """The single value `sql` selects."""
        return self.table(sql).column(0)[0].as_py()


@contextmanager
def reader(engine: Engine) -> Iterator[Reader | None]:
    """A :class:`Reader` on the engine's base, or None when ADBC cannot open it (an
    in-memory SQLite base, another backend, the driver missing)."""
    from gesprokit.store import adbc_connect

    backend = engine.url.get_backend_name()
    opened = adbc_connect(engine)
    if opened is None:
        yield None
        return
    conn, driver = opened
    with conn:
        with conn.cursor() as cur:
            if backend == "sqlite":  # wait for a writer, as the engine does
                cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            else:  # every read of one snapshot
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.fetchall()
        try:
            yield Reader(conn, backend, driver.Error)
        finally:
            conn.rollback()


def quotes_like_python(reader: Reader) -> bool:
    """Whether the database quotes text in JSON exactly as json.dumps(ensure_ascii=False)
    (the probe leaves NUL out: PostgreSQL text cannot hold it)."""
    chars = [f"char({c})" if reader.backend == "sqlite" else f"chr({c})" for c in PROBE]
    text = "".join(map(chr, PROBE))
    with suppress(reader.error):
        return reader.value(f"SELECT {_json(reader, ' || '.join(chars), 'text')}") == \
            json.dumps(text, ensure_ascii=False)
    return False


# --- the SQL writing each value as the row code writes it ----------------------------------

def kind(column) -> str | None:
    """How the row code writes a column's values: bool, int, datetime, date or text (None:
    a type this path does not write)."""
    for name, types in (("bool", Boolean), ("int", Integer), ("datetime", DateTime),
                        ("date", Date), ("text", String)):
        if isinstance(column.type, types):
            return name
    return None


def _name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json(reader: Reader, x: str, how: str, seconds: bool = False) -> str:
    """SQL writing the value `x` as ``json.dumps`` writes what SQLAlchemy reads of it: a
    datetime by ``isoformat()`` (``timespec="seconds"`` when `seconds`), a date by
    ``isoformat()``, a boolean as 0 or 1."""
    sqlite = reader.backend == "sqlite"
    if how in ("datetime", "date"):
        if sqlite:  # stored as "2024-01-28 10:00:00.000000"
            text = f"substr({x}, 1, 10)"
            if how == "datetime":
                text += f" || 'T' || substr({x}, 12, 8)"
                if not seconds:  # isoformat writes the microseconds unless they are zero
                    text += (f" || CASE WHEN length({x}) = 19 OR substr({x}, 21) = '000000' "
                             f"THEN '' ELSE substr({x}, 20) END")
        else:
            text = f"to_char({x}, '{PG_FORMAT[how]}')"
            if how == "datetime" and not seconds:
                text += f" || CASE WHEN to_char({x}, 'US') = '000000' THEN '' " \
                        f"ELSE to_char({x}, '.US') END"
        return f"CASE WHEN {x} IS NULL THEN 'null' ELSE '\"' || {text} || '\"' END"
    if sqlite:  # json_quote writes an integer as a number, a text as a string
        return f"json_quote({x})"
    if how == "text":
        return f"coalesce(to_json({x})::text, 'null')"
    if how == "bool":
        return f"CASE WHEN {x} THEN '1' WHEN NOT {x} THEN '0' ELSE 'null' END"
    return f"coalesce({x}::text, 'null')"


def _exact(reader: Reader, x: str, how: str, text_affinity: bool) -> str | None:
    """SQL true when :func:`_json` writes the value exactly as the row code (None: always).

    SQLite's type affinity lets other values in than the schema's type, which SQLAlchemy
    hands the row code as they are: a real (written otherwise by Python), a boolean other
    than 0 or 1, a date in another format; a text stored as an integer's is written alike,
    a blob fails the query."""
    if reader.backend != "sqlite":
        if how in ("datetime", "date"):  # the years Python writes
            return f"({x} IS NULL OR ({x} >= '0001-01-01' AND {x} < '10000-01-01'))"
        return None
    if how == "bool":
        return f"({x} IS NULL OR (typeof({x}) = 'integer' AND {x} IN (0, 1)))"
    if how == "datetime":  # the microseconds tested cheapest first: the application's
        return (f"({x} IS NULL OR ({x} GLOB '{STORED_TIME}*' AND {x} NOT GLOB '0000*' AND "
                f"(length({x}) = 19 OR substr({x}, 20) = '.000000' OR "
                f"substr({x}, 20) GLOB '.{DIGITS * 6}')))")
    if how == "date":
        return f"({x} IS NULL OR ({x} GLOB '{STORED_DATE}' AND {x} NOT GLOB '0000*'))"
    return None if how == "text" and text_affinity else f"typeof({x}) <> 'real'"


def _key(reader: Reader, x: str) -> str:
    """SQL writing a group key's value as ``str()`` does (see seals.key_text)."""
    return f"coalesce({x}, 'None')" if reader.backend == "sqlite" else \
        f"coalesce({x}::text, 'None')"


def _text_affinity(reader: Reader, table: str) -> set[str]:
    """The columns SQLite stores every non-blob value of as text (declared CHAR, CLOB or
    TEXT, not INT: SQLite's affinity rules)."""
    if reader.backend != "sqlite":
        return set()
    declared = reader.table(f"SELECT name, type FROM pragma_table_info('{table}')")
    return {name for name, kind_ in zip(declared["name"].to_pylist(),
                                        declared["type"].to_pylist(), strict=True)
            if "INT" not in kind_.upper() and any(t in kind_.upper()
                                                  for t in ("CHAR", "CLOB", "TEXT"))}


def _all_exact(reader: Reader, table: str, columns) -> str:
    """SQL true on a row every value of which :func:`_json` writes exactly."""
    text = _text_affinity(reader, table)
    checks = [_exact(reader, _name(c.name), kind(c), c.name in text) for c in columns]
    return " AND ".join(f"({c})" for c in checks if c) or "1 = 1"


def _bools(values) -> np.ndarray:
    """A column of truth values (booleans, or SQLite's 0 and 1) as numpy, NULL false."""
    if not pa.types.is_boolean(values.type):
        values = pc.not_equal(values, 0)
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool)


# --- the journal ---------------------------------------------------------------------------

@dataclass
class Journal:
    """The event table in event order, with each event's canonical JSON (as bytes); `odd`:
    the positions of the events left to the row code."""

    ids: list[int]
    prev: list
    hashes: list
    macs: list
    seals: pa.Array
    attachments: pa.Array
    texts: list
    odd: list[int]


def read_journal(reader: Reader) -> Journal | None:
    """The event table with each event's canonical JSON; None when a hash, a link or a
    signature is not text, or the query fails (the row code then checks the whole journal,
    as it always did)."""
    columns = {c.name: c for c in schema.Event.__table__.columns}
    parts = [f"'{'{' if i == 0 else ', '}\"{name}\": ' || "
             + _json(reader, _name(name), kind(columns[name]), seconds=True)
             for i, name in enumerate(EVENT_FIELDS)]
    parts.append(f"CASE WHEN seal IS NULL THEN '' ELSE ', \"seal\": ' || "
                 f"{_json(reader, 'seal', 'text')} END || '}}'")
    exact = _all_exact(reader, "event", [c for c in columns.values()
                                         if c.name in (*EVENT_FIELDS, "seal")])
    chain = ("prev_hash", "hash", "mac")
    if reader.backend == "sqlite" and not set(chain) <= _text_affinity(reader, "event"):
        return None  # they could hold numbers, which SQLAlchemy hands on as they are
    try:
        rows = reader.table(
            f"SELECT event_id, prev_hash, hash, mac, seal, attachments, "
            f"{' || '.join(parts)} AS canonical, ({exact}) AS exact "
            "FROM event ORDER BY event_id")
    except reader.error:
        return None
    if not all(_is_text(rows[name]) for name in chain):
        return None  # a blob among them
    return Journal(ids=rows["event_id"].to_pylist(), prev=rows["prev_hash"].to_pylist(),
                   hashes=rows["hash"].to_pylist(), macs=rows["mac"].to_pylist(),
                   seals=_texts(rows["seal"]), attachments=_texts(rows["attachments"]),
                   texts=pc.cast(_texts(rows["canonical"]), pa.binary()).to_pylist(),
                   odd=np.flatnonzero(~_bools(rows["exact"])).tolist())


def _is_text(values: pa.ChunkedArray) -> bool:
    """Whether a column read only text and NULL (ADBC reads text and blobs as binary)."""
    return pa.types.is_string(values.type) or values.null_count == len(values)


def _texts(values: pa.ChunkedArray) -> pa.Array:
    """A text column as one string array (ADBC types a column of NULLs as integers)."""
    values = values.combine_chunks()
    return pa.nulls(len(values), pa.string()) if values.null_count == len(values) else values


def content_hashes(texts: list) -> list:
    """SHA-256 in hex of each text."""
    return list(map(HEXDIGEST, map(SHA256, texts)))


def _simple_seals(texts: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """(is it a seal of one group as json.dumps writes it, its key, its digest) of each
    text: ``{"key": "64 hex digits"}``, the key without a quote, backslash or control
    character (what json.loads reads back as that key and digest). Cut as bytes at fixed
    places (the tail is ASCII, so a simple seal's key is whole): cheaper than a pattern
    with groups."""
    raw = texts.cast(pa.binary())
    key = pc.binary_slice(raw, 2, -SEAL_TAIL)
    digest = pc.binary_slice(raw, -66, -2)
    simple = [pc.greater_equal(pc.binary_length(raw), SEAL_TAIL + 2),
              pc.starts_with(raw, b'{"'), pc.ends_with(raw, b'"}'),
              pc.equal(pc.binary_slice(raw, -SEAL_TAIL, -66), b'": "'),
              pc.match_substring_regex(digest, "^[0-9a-f]{64}$"),
              pc.invert(pc.match_substring_regex(key, SEAL_KEY_BAD))]
    return np.logical_and.reduce([_bools(x) for x in simple]), key, digest


def last_seals(texts: pa.Array) -> dict[str, str | None]:
    """gesprokit.integrity.last_seals over a column of seals: a seal of one group as
    json.dumps writes it is cut at its fixed places, any other read by json.loads, in
    event order."""
    present = texts.filter(pc.and_(pc.is_valid(texts), pc.not_equal(texts, "")))
    simple, key, digest = _simple_seals(present)
    keys = key.filter(pa.array(simple)).view(pa.string()).to_pylist()
    digests = digest.filter(pa.array(simple)).view(pa.string()).to_pylist()
    others = np.flatnonzero(~simple).tolist()
    other_texts = present.take(pa.array(others, pa.int64())).to_pylist()
    sealed: dict[str, str | None] = {}
    start = 0
    for j, (i, text) in enumerate(zip(others, other_texts, strict=True)):
        end = i - j  # the simple seals before this one
        sealed.update(zip(keys[start:end], digests[start:end], strict=True))
        with suppress(ValueError):  # unreadable: its hash check already reports it
            sealed.update(json.loads(text))
        start = end
    sealed.update(zip(keys[start:], digests[start:], strict=True))
    return sealed


# --- the state -----------------------------------------------------------------------------

@dataclass
class Lines:
    """A sealed table's rows as gesprokit.seals writes them: group keys and lines, each
    line ended by a newline."""

    table: str
    keys: pa.Array
    lines: pa.Array


def state_lines(reader: Reader, name: str) -> Lines | None:
    """The lines of every row of the sealed table `name`; None when one of its rows is
    left to the row code (then the whole table is)."""
    group, key_columns, excluded = seals.SEALED[name]
    table = schema.Base.metadata.tables[name]
    kept = [c for c in table.columns if c.name not in excluded]
    if any(kind(c) is None for c in kept):
        return None
    values = " || ', ' || ".join(_json(reader, _name(c.name), kind(c)) for c in kept)
    key = " || '|' || ".join([f"'{group}'", *(_key(reader, _name(c)) for c in key_columns)])
    try:
        rows = reader.table(
            f"SELECT {key} AS key, '[\"{name}\", [' || {values} || ']]' || "
            f"{'char(10)' if reader.backend == 'sqlite' else 'chr(10)'} AS line, "
            f"({_all_exact(reader, name, kept)}) AS exact FROM {_name(name)}")
    except reader.error:
        return None
    if not _bools(rows["exact"]).all():
        return None
    return Lines(name, _texts(rows["key"]), _texts(rows["line"]))


@dataclass
class State:
    """The sealed tables read in bulk: their lines, the tables left to the row code, and
    the groups' digests when none is."""

    parts: list[Lines]
    left: list[str]
    digests: dict[str, str] | None


def scan_state(reader: Reader) -> State:
    """Every sealed table's lines, digested when this path wrote them all."""
    parts, left = [], []
    for name in seals.SEALED:
        found = state_lines(reader, name)
        if found is None:
            left.append(name)
        elif len(found.keys):
            parts.append(found)
    return State(parts, left, None if left else digest_lines(parts))


def _runs(part: Lines) -> tuple[list[str], memoryview, list[int]]:
    """A table's rows by group: the key of each run of rows of one group, the bytes of the
    lines and where each run starts in them (one more: the end). The base gives each
    group's rows together and in the lines' order, as a rule; otherwise they are sorted."""
    encoded = pc.dictionary_encode(part.keys)
    codes, lines = encoded.indices.to_numpy(), part.lines
    same = codes[1:] == codes[:-1]
    if len(same) - int(same.sum()) + 1 != len(encoded.dictionary):  # a group's rows apart
        order = np.argsort(codes, kind="stable")
        codes, lines = codes[order], lines.take(pa.array(order))
        same = codes[1:] == codes[:-1]
    if not (_bools(pc.less_equal(lines[:-1], lines[1:])) | ~same).all():
        both = pa.table({"code": codes, "line": lines}).sort_by(
            [("code", "ascending"), ("line", "ascending")])
        codes, lines = both["code"].to_numpy(), both["line"].combine_chunks()
        same = codes[1:] == codes[:-1]
    first = np.flatnonzero(np.r_[True, ~same])
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width)[
        lines.offset:lines.offset + len(lines) + 1].astype(np.int64)
    data = memoryview(lines.buffers()[2])
    names = encoded.dictionary.take(pa.array(codes[first])).to_pylist()
    return names, data, np.r_[offsets[first], offsets[-1]].tolist()


def digest_lines(parts: list[Lines]) -> dict[str, str]:
    """{group key: SHA-256 of its lines sorted and joined by newlines}, as
    gesprokit.seals.digests computes it, a group's lines coming from all its tables.

    A line starts with its table's name: a group's lines are those of its tables in the
    order of their names, each table's in their own order; each group is hashed straight
    from the tables' buffers of lines."""
    pieces: dict[str, list[memoryview]] = {}
    for part in sorted(parts, key=lambda p: json.dumps(p.table)):
        names, data, bounds = _runs(part)
        for i, name in enumerate(names):
            pieces.setdefault(name, []).append(data[bounds[i]:bounds[i + 1]])
    digests = {}
    for name, lines in pieces.items():
        digest = SHA256()
        for block in lines[:-1]:
            digest.update(block)
        digest.update(lines[-1][:-1])  # no newline after the last line
        digests[name] = digest.hexdigest()
    return digests
