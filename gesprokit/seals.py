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

from sqlalchemy import Connection, select, tuple_

from gesprokit import schema

# table -> (group, the columns naming the group in that table, columns left out: the
# delivery bookkeeping of notices, which no action records)
SEALED: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "situation": ("situation", ("contract_id", "n"), ()),
    "progress": ("situation", ("contract_id", "n"), ()),
    "adjustment": ("situation", ("contract_id", "n"), ("adjustment_id",)),
    "payment_statement": ("situation", ("contract_id", "n"), ()),
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
    "lot": ("operation", ("operation_code",), ()),
    "company": ("company", ("code",), ()),
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
    "piece": "pièce Chorus n°{0}", "folder": "dossier {0}", "document": "document {0}",
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


def _rows(conn: Connection, table, columns, excluded, wanted: set | None):
    """(group key, canonical row) of `table`, only the wanted keys' rows when given."""
    kept = [c for c in table.columns if c.name not in excluded]
    query = select(*kept)
    if wanted is not None and columns and len(wanted) <= BULK_KEYS:
        query = query.where(tuple_(*(table.c[c] for c in columns)).in_(
            [k[1:] for k in wanted]))
    positions = [kept.index(table.c[c]) for c in columns]
    group = SEALED[table.name][0]
    for row in conn.execute(query):
        key = (group, *(row[p] for p in positions))
        if wanted is None or key in wanted:
            yield key, json.dumps([table.name, [_canonical(v) for v in row]],
                                  ensure_ascii=False, default=str)


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
