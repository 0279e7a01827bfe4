"""Seals: digests of the state each event leaves, so the tables outside the journal are
proved by it too.

The state is cut into groups (one situation with its progress, adjustments and validated
figures; one contract with its price lines, terms, amendments, subcontracts, guarantees,
planning and billing identity; one account with its grants; one document with its versions,
visas and distribution; …). An event that changes a group carries the SHA-256 of the group
as it left it (its ``seal``); ``audit verify`` recomputes every group and compares it with
the last seal given to it. A row changed, added or removed outside an action shows.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from itertools import repeat
from json.encoder import encode_basestring

from sqlalchemy import Connection, select, tuple_

from gesprokit import schema

# table -> (group, the columns naming the group in that table, columns left out: the
# delivery bookkeeping of notices, which no action records)
SEALED: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "situation": ("situation", ("contract_id", "n"), ()),
    "progress": ("situation", ("contract_id", "n"), ()),
    "adjustment": ("situation", ("contract_id", "n"), ("adjustment_id",)),
    "payment_statement": ("situation", ("contract_id", "n"), ()),
    "rectification": ("situation", ("contract_id", "n"), ()),
    "message": ("message", ("message_id",), ()),
    "document_message": ("document_message", ("message_id",), ()),
    "contract": ("contract", ("contract_id",), ()),
    "price_line": ("contract", ("contract_id",), ()),
    "revision_term": ("contract", ("contract_id",), ()),
    "amendment": ("contract", ("contract_id",), ()),
    "subcontract": ("contract", ("contract_id",), ()),
    "subcontract_revision_term": ("contract", ("contract_id",), ()),
    "direct_payment_request": ("contract", ("contract_id",), ()),
    "reception": ("contract", ("contract_id",), ()),
    "final_account": ("contract", ("contract_id",), ()),
    "final_progress": ("contract", ("contract_id",), ()),
    "guarantee": ("contract", ("contract_id",), ()),
    "planned_progress": ("contract", ("contract_id",), ()),
    "billing_identity": ("contract", ("contract_id",), ()),
    "operation": ("operation", ("code",), ()),
    "moa_mandate": ("mandate", ("mandate_id",), ()),
    "lot": ("operation", ("operation_code",), ()),
    "company": ("company", ("code",), ()),
    "company_profile": ("company", ("company_code",), ()),
    "app_user": ("account", ("email",), ()),
    "operation_grant": ("account", ("email",), ()),
    "password_reset": ("account", ("email",), ()),
    "price_index": ("index", ("index_code",), ()),
    "ecb_rate": ("ecb", (), ()),
    "chorus_structure": ("structure", ("siret",), ()),
    "chorus_service": ("structure", ("siret",), ()),
    "chorus_piece": ("piece", ("piece_id",), ()),
    "chorus_status": ("piece", ("piece_id",), ()),
    "folder": ("folder", ("folder_code",), ()),
    "folder_right": ("folder", ("folder_code",), ()),
    "document": ("document", ("document_id",), ()),
    "document_version": ("document", ("document_id",), ()),
    "visa": ("document", ("document_id",), ()),
    "distribution": ("document", ("document_id",), ("reminded_at",)),
}
GROUP_LABELS = {
    "situation": "situation n°{1} du marché {0}", "contract": "marché {0}",
    "operation": "opération {0}", "company": "entreprise {0}", "account": "compte {0}",
    "index": "indice {0}", "ecb": "taux de la BCE", "structure": "structure Chorus {0}",
    "piece": "pièce Chorus n°{0}", "message": "message n°{0}", "folder": "dossier {0}",
    "mandate": "mandat de maîtrise d'ouvrage n°{0}",
    "document": "document {0}", "document_message": "message n°{0} sur un document",
}
BULK_KEYS = 300  # above this many groups of a table, read it whole and filter here

Key = tuple  # (group, *key values)


def key_text(key: Key) -> str:
    """The key as stored in an event's seal: ``group|value|value``."""
    return "|".join(str(part) for part in key)


def key_label(text: str) -> str:
    """The French name of a group, from its stored key."""
    group, *values = text.split("|")
    return GROUP_LABELS.get(group, group).format(*values, "", "")


def _canonical(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return repr(value)
    return value


def _tables_of(group: str):
    for name, (g, columns, excluded) in SEALED.items():
        if g == group:
            yield schema.Base.metadata.tables[name], columns, excluded


def _row_json(table_name: str, row) -> str:
    """One row as its group's digest reads it."""
    return json.dumps([table_name, [_canonical(v) for v in row]], ensure_ascii=False,
                      default=str)


def line_head(table_name: str) -> str:
    """The start of each canonical line of `table_name`'s rows (:func:`_row_json`'s text up
    to its first value)."""
    return "[" + json.dumps(table_name, ensure_ascii=False) + ", ["


def _cell_json(value) -> str:
    """One value as :func:`_row_json` writes it inside its row."""
    return json.dumps(_canonical(value), ensure_ascii=False, default=str)


PARTITION_ROWS = 100_000
# exact types written without json.dumps: equal values are written alike
_WRITERS = {str: encode_basestring, int: int.__repr__, type(None): lambda _: "null"}
_BOOLEANS = {True: "1", False: "0", None: "null"}  # _canonical's integers
_DATES = {datetime, date, type(None)}


def _column_json(values: tuple) -> list[str]:
    """:func:`_cell_json` of each value of a column; texts, integers and None written once
    per distinct value, dates and times straight (their ISO text needs no escaping)."""
    kinds = set(map(type, values))
    if kinds <= _WRITERS.keys():
        texts = {v: _WRITERS[type(v)](v) for v in dict.fromkeys(values)}
        return list(map(texts.__getitem__, values))
    if kinds <= {bool, type(None)}:
        return list(map(_BOOLEANS.__getitem__, values))
    if kinds <= _DATES:
        return ["null" if v is None else '"' + v.isoformat() + '"' for v in values]
    return [_cell_json(v) for v in values]


def _rows(conn: Connection, table, columns, excluded, wanted: set | None):
    """(group key, canonical row) of `table`, only the wanted keys' rows when given. A whole
    table is written column by column (a million progress rows after an import): the same
    text as row by row."""
    kept = [c for c in table.columns if c.name not in excluded]
    query = select(*kept)
    positions = [kept.index(table.c[c]) for c in columns]
    group = SEALED[table.name][0]
    if wanted is not None and columns and len(wanted) <= BULK_KEYS:
        query = query.where(tuple_(*(table.c[c] for c in columns)).in_(
            [k[1:] for k in wanted]))
        for row in conn.execute(query):
            key = (group, *(row[p] for p in positions))
            if key in wanted:
                yield key, _row_json(table.name, row)
        return
    head = line_head(table.name)
    for part in conn.execute(query).partitions(PARTITION_ROWS):
        cells = list(zip(*part, strict=True))
        lines = [head + ", ".join(row) + "]]"
                 for row in zip(*map(_column_json, cells), strict=True)]
        keys = zip(repeat(group), *(cells[p] for p in positions))
        if wanted is None:
            yield from zip(keys, lines, strict=False)  # keys: endless without columns
        else:
            yield from ((key, line) for key, line in zip(keys, lines, strict=False)
                        if key in wanted)


def digests(conn: Connection, keys: Iterable[Key] | None = None) -> dict[str, str | None]:
    """{stored key: SHA-256 of the group's rows} for the given groups (None: every group in
    the base); a requested group that has no row gets None."""
    wanted_by_group: dict[str, set] | None = None
    if keys is not None:
        wanted_by_group = defaultdict(set)
        for key in keys:
            wanted_by_group[key[0]].add(tuple(key))
    lines: dict[Key, list[str]] = defaultdict(list)
    groups = wanted_by_group.keys() if wanted_by_group is not None else \
        {g for g, _, _ in SEALED.values()}
    for group in groups:
        wanted = wanted_by_group[group] if wanted_by_group is not None else None
        for table, columns, excluded in _tables_of(group):
            for key, line in _rows(conn, table, columns, excluded, wanted):
                lines[key].append(line)
    out: dict[str, str | None] = {}
    if wanted_by_group is not None:
        out = {key_text(k): None for ks in wanted_by_group.values() for k in ks}
    for key, rows in lines.items():
        rows.sort()
        out[key_text(key)] = hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()
    return out


def keys_of_rows(table_name: str, rows: Iterable[dict]) -> set[Key]:
    """The groups the given rows of a table belong to (None for an unsealed table)."""
    if table_name not in SEALED:
        return set()
    group, columns, _ = SEALED[table_name]
    return {(group, *(row[c] for c in columns)) for row in rows}
