"""Seals of an import computed from the rows it writes, not read back from the base.

:func:`gesprokit.seals.digests` reads every sealed group back through SQLAlchemy: after an
import of a million progress rows that read took most of the journal's time. The groups an
import creates whole (its operation, contracts and situations: none of them existed before)
are digested here from the typed values handed to the base, each value first turned into
what the base gives back (a date in a time column reads back at midnight, an integer in a
text column as its digits), so the lines and digests are byte-identical to those of
``seals.digests`` (a test compares them on SQLite and PostgreSQL). A table whose values
cannot be vouched for (an unexpected type, an autoincremented key, rows changed after their
insert) is read back for those groups, as are the groups the import only adds to.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time
from json.encoder import encode_basestring

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Boolean, Connection, Date, DateTime, Integer, String, Table

from gesprokit import seals

# groups an import creates whole: the base holds no row of them but those it writes
FRESH_GROUPS = ("situation", "contract", "operation")
# tables of those groups changed after their insert (the signed figures of a final account)
READ_BACK = frozenset({"final_account"})
SLICE_ROWS = 100_000  # progress rows turned into lines at once: bounds the memory of lines


class _Unknown(Exception):
    """A value whose stored form is not known here: its table is read back."""


def _stored_datetime(v):
    if v is None or (type(v) is datetime and v.tzinfo is None):
        return v
    if isinstance(v, pd.Timestamp) and v.tzinfo is None and not v.nanosecond:
        return v.to_pydatetime()
    if type(v) is date:
        return datetime.combine(v, time())
    raise _Unknown


def _stored_date(v):
    if v is None or type(v) is date:
        return v
    raise _Unknown


def _stored_int(v):
    if v is None or type(v) is int:
        return v
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, np.integer):
        return int(v)
    raise _Unknown


def _stored_text(v):
    if v is None or type(v) is str:
        return v
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return str(int(v))  # SQLite's text affinity and PostgreSQL's assignment cast alike
    raise _Unknown


def _stored_bool(v):
    if v is None or type(v) is bool:
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    raise _Unknown


def _converter(column):
    """The function giving a value as the column reads it back (None: not known here)."""
    kind = column.type
    if isinstance(kind, DateTime) and not kind.timezone:
        return _stored_datetime
    if isinstance(kind, Date):
        return _stored_date
    if isinstance(kind, Boolean):
        return _stored_bool
    if isinstance(kind, Integer):
        return _stored_int
    if isinstance(kind, String):
        return _stored_text
    return None


_PLAIN = {datetime: (DateTime,), date: (Date,), int: (Integer,), str: (String,),
          bool: (Boolean,)}


def _as_stored(column, values: list) -> list:
    """`values` as the base gives them back from `column` (raises _Unknown)."""
    convert = _converter(column)
    if convert is None:
        raise _Unknown
    kinds = set(map(type, values)) - {type(None)}
    if len(kinds) == 1:
        kind = next(iter(kinds))
        if kind in _PLAIN and isinstance(column.type, _PLAIN[kind]) and \
                not (kind is datetime and any(v is not None and v.tzinfo for v in values)):
            return values  # the common case: already what the base gives back
    if not kinds:
        return values
    return [convert(v) for v in values]


def _column_values(rows, name: str) -> list:
    """One column of the rows written: a frame's column or each dict's key (a missing key is
    NULL, as gesprokit.bulk_insert writes it)."""
    if isinstance(rows, pd.DataFrame):
        return rows[name].tolist() if name in rows else [None] * len(rows)
    return [row.get(name) for row in rows]


def _vouched_columns(table: Table, excluded: tuple[str, ...], rows) -> list:
    """The sealed columns of `table` whose written values give its lines; raises _Unknown
    when the base numbers the rows or a frame lacks one of them."""
    kept = [c for c in table.columns if c.name not in excluded]
    if any(c.primary_key and c.autoincrement is True for c in kept):
        raise _Unknown  # the base numbers these rows
    if isinstance(rows, pd.DataFrame) and not {c.name for c in kept} <= set(rows.columns):
        raise _Unknown
    return kept


def _table_lines(table: Table, key_columns: tuple[str, ...], excluded: tuple[str, ...],
                 rows, wanted: set):
    """(group key, canonical line) of the written rows of `table` in the wanted groups,
    written as seals._rows writes them from the base; raises _Unknown when it cannot."""
    kept = _vouched_columns(table, excluded, rows)
    group = seals.SEALED[table.name][0]
    head = seals.line_head(table.name)
    positions = [[c.name for c in kept].index(k) for k in key_columns]
    for start in range(0, len(rows), SLICE_ROWS):
        part = rows.iloc[start:start + SLICE_ROWS] if isinstance(rows, pd.DataFrame) else \
            rows[start:start + SLICE_ROWS]
        cells = [_as_stored(c, _column_values(part, c.key)) for c in kept]
        keys = list(zip(*([group] * len(part), *(cells[p] for p in positions)), strict=True))
        lines = [head + ", ".join(row) + "]]"
                 for row in zip(*map(seals._column_json, cells), strict=True)]
        yield from ((key, line) for key, line in zip(keys, lines, strict=True)
                    if key in wanted)


def _json_texts(column, values: pd.Series) -> pa.Array:
    """Each value of a frame's column as seals._column_json writes it once stored, by
    pyarrow: integers cast to text, texts and None written once per distinct value
    (raises _Unknown for any other kind of value or column)."""
    if values.dtype.kind in "iu" and isinstance(column.type, Integer):
        if values.hasnans:
            raise _Unknown  # NA, not NULL: the row code's path decides
        return pa.array(values).cast(pa.string())
    if values.dtype.kind not in "OT" or not isinstance(column.type, String):
        raise _Unknown
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = []
    for value in uniques.tolist():
        if type(value) is not str:
            raise _Unknown
        texts.append(encode_basestring(value))
    if (codes < 0).any():
        if not np.equal(values.to_numpy()[codes < 0], None).all():
            raise _Unknown  # NaN or NA, not NULL: the row code's path decides
        texts.append("null")
        codes = np.where(codes < 0, len(texts) - 1, codes)
    return pa.array(texts, type=pa.string()).take(pa.array(codes))


def _frame_lines_by_group(table: Table, key_columns: tuple[str, ...],
                          excluded: tuple[str, ...], frame: pd.DataFrame,
                          wanted: set) -> dict[seals.Key, list[str]]:
    """The canonical lines of a frame's rows grouped by their group key, written column by
    column by pyarrow (the lines of :func:`_table_lines`, without a Python step per value);
    raises _Unknown for values it does not vouch for."""
    kept = _vouched_columns(table, excluded, frame)
    cells = [_json_texts(c, frame[c.name]) for c in kept]
    lines = pc.binary_join_element_wise(seals.line_head(table.name),
                                        pc.binary_join_element_wise(*cells, ", "), "]]", "")
    code = np.zeros(len(frame), dtype="int64")
    for name in key_columns:
        codes, uniques = pd.factorize(frame[name], use_na_sentinel=False)
        code = pd.factorize(code * len(uniques) + codes)[0]
    order = np.argsort(code, kind="stable")
    ordered = code[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(order)]
    texts = lines.take(pa.array(order)).to_pylist()
    firsts = order[starts]
    group = seals.SEALED[table.name][0]
    values = [_as_stored(table.c[name], frame[name].to_numpy()[firsts].tolist())
              for name in key_columns]
    out: dict[seals.Key, list[str]] = {}
    for key, start, end in zip(zip([group] * len(starts), *values, strict=True),
                               starts.tolist(), ends.tolist(), strict=True):
        if key in wanted:
            out[key] = texts[start:end]
    return out


def _lines_by_group(table: Table, key_columns: tuple[str, ...], excluded: tuple[str, ...],
                    frame: pd.DataFrame, wanted: set) -> dict[seals.Key, list[str]]:
    """:func:`_frame_lines_by_group`, or the row code's lines where it cannot vouch."""
    try:
        return _frame_lines_by_group(table, key_columns, excluded, frame, wanted)
    except _Unknown:
        pass
    out: dict[seals.Key, list[str]] = defaultdict(list)
    for key, line in _table_lines(table, key_columns, excluded, frame, wanted):
        out[key].append(line)
    return out


def _digest(rows: list[str]) -> str:
    rows.sort()
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


def _by_group(frame: pd.DataFrame, key_columns: tuple[str, ...]):
    """The frame in slices of about SLICE_ROWS rows, each holding whole groups (a group's
    rows all in one slice), so each group is digested once its slice is written out."""
    codes = frame.groupby(list(key_columns), sort=False, dropna=False).ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    start = 0
    while start < len(order):
        end = min(start + SLICE_ROWS, len(order))
        if end < len(order):  # on to the end of the last group begun
            end = int(np.searchsorted(sorted_codes, sorted_codes[end - 1], side="right"))
        yield frame.iloc[order[start:end]]
        start = end


def _fresh_digests(conn: Connection, written: dict, group: str, wanted: set,
                   out: dict) -> None:
    """Digest the wanted groups of one kind from the written rows into `out`; the largest
    written frame of the group (the progress) last, a slice of whole groups at a time, so
    its million lines are never all held at once. A table not vouched for is read back."""
    tables = list(seals._tables_of(group))
    frames = [t for t, _, _ in tables if isinstance(written.get(t.name), pd.DataFrame)
              and t.name not in READ_BACK]
    streamed = max(frames, key=lambda t: len(written[t.name]), default=None)
    lines: dict[seals.Key, list[str]] = defaultdict(list)
    last = None
    for table, key_columns, excluded in tables:
        rows = written.get(table.name)
        if table is streamed:
            last = (table, key_columns, excluded, rows)
            continue
        found = None
        if rows is not None and table.name not in READ_BACK:
            try:
                found = list(_table_lines(table, key_columns, excluded, rows, wanted))
            except _Unknown:
                found = None
        if found is None:
            found = seals._rows(conn, table, key_columns, excluded, wanted)
        for key, line in found:
            lines[key].append(line)
    if last is not None:
        table, key_columns, excluded, rows = last
        try:
            for part in _by_group(rows, key_columns):
                slice_lines = _lines_by_group(table, key_columns, excluded, part, wanted)
                for key, found in slice_lines.items():
                    found += lines.pop(key, [])
                    out[seals.key_text(key)] = _digest(found)
        except _Unknown:  # not vouched for (a slice was already digested): read the
            # whole kind of group back
            out.update(seals.digests(conn, wanted))
            return
    for key in list(lines):
        out[seals.key_text(key)] = _digest(lines.pop(key))


def digests(conn: Connection, written: dict[str, list[dict] | pd.DataFrame],
            keys: Iterable[seals.Key]) -> dict[str, str | None]:
    """:func:`gesprokit.seals.digests` of the given groups once `written` (table name ->
    the rows inserted: dicts, or the progress frame) is in the base: the groups of
    FRESH_GROUPS from those rows, the others (and any table not vouched for) read back."""
    keys = {tuple(k) for k in keys}
    fresh = {k for k in keys if k[0] in FRESH_GROUPS}
    out: dict[str, str | None] = seals.digests(conn, keys - fresh) if keys - fresh else {}
    out.update({seals.key_text(k): None for k in fresh})
    for group in sorted({k[0] for k in fresh}):
        _fresh_digests(conn, written, group, {k for k in fresh if k[0] == group}, out)
    return out
