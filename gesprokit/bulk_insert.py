"""Many rows inserted at once inside the caller's transaction, without SQLAlchemy's work per
row.

``conn.execute(insert(table), dicts)`` compiles the parameters of every row in Python
(≈ 15 µs a row): an import writes hundreds of thousands of events and situations. Here each
value goes through its column type's own bind processor (so the base stores exactly what
SQLAlchemy stores: a time as SQLite's ``YYYY-MM-DD HH:MM:SS.ffffff``) and one prepared
statement runs over plain tuples, a slice at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Table

SLICE_ROWS = 100_000  # rows handed to the driver at once: bounds the memory of the tuples


def insert_rows(conn: Connection, table: Table, columns: Sequence[str],
                rows: Iterable[Sequence]) -> None:
    """Insert `rows` (values in the order of `columns`) into `table`. A refusal of the base
    raises the driver's error, as ``conn.execute(insert(...))`` would."""
    dialect = conn.dialect
    processors = [(i, p) for i, p in enumerate(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in columns) if p is not None]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
    sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    batch: list[tuple] = []
    for row in rows:
        if processors:
            row = list(row)
            for i, process in processors:
                row[i] = process(row[i])
        batch.append(tuple(row))
        if len(batch) == SLICE_ROWS:
            conn.exec_driver_sql(sql, batch)
            batch = []
    if batch:
        conn.exec_driver_sql(sql, batch)


def insert_dicts(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Insert dicts, a missing key as NULL (the columns: every one but an autoincremented
    primary key)."""
    columns = [c.key for c in table.columns if not (c.primary_key and c.autoincrement is True)]
    insert_rows(conn, table, columns, ([row.get(c) for c in columns] for row in rows))
