"""Reading the database into typed pandas frames (one frame per table).

Large tables read from an engine go through ADBC (Arrow all the way; on
PostgreSQL the driver streams ``COPY … TO STDOUT`` in binary): 3 to 4 times
faster than ``pandas.read_sql`` on a million rows (benchmarks/README.md). Other
reads, and reads inside a caller's transaction, use the raw DB-API cursor (twice
as fast as ``pandas.read_sql`` through SQLAlchemy). Column dtypes come from the
schema, so a frame has the same dtypes whatever the backend: money and basis
points are ``int64`` (``Int64`` when nullable), dates ``datetime64``, text ``str``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import BigInteger, Boolean, Connection, Date, DateTime, Engine, Integer, Table

from gesprokit import schema
from gesprokit.db import SQLITE_BUSY_TIMEOUT_MS

FRAME_TABLES = {
    "operations": schema.Operation, "companies": schema.Company, "lots": schema.Lot,
    "contracts": schema.Contract, "revision_terms": schema.RevisionTerm,
    "amendments": schema.Amendment, "subcontracts": schema.Subcontract,
    "subcontract_revision_terms": schema.SubcontractRevisionTerm,
    "price_lines": schema.PriceLine, "situations": schema.Situation,
    "progress": schema.Progress, "adjustments": schema.Adjustment,
    "guarantees": schema.Guarantee, "planned_progress": schema.PlannedProgress,
    "price_index": schema.PriceIndex,
    "ecb_rates": schema.EcbRate, "payment_statements": schema.PaymentStatement,
    "direct_payment_requests": schema.DirectPaymentRequest,
    "receptions": schema.Reception, "final_accounts": schema.FinalAccountRecord,
    "final_progress": schema.FinalProgress,
    "events": schema.Event,
    "rectifications": schema.Rectification,
}
BULK_TABLES = {"progress", "price_line", "situation", "event"}
SQLITE_INFER_ROWS = "100000000"  # ADBC infers SQLite column types from the first batch


def typed_frame(df: pd.DataFrame, table: Table, columns: Iterable[str] | None = None
                ) -> pd.DataFrame:
    """Give `df` the dtypes of `table` (int64 or Int64, bool, datetime64, str); with
    `columns`, only those of the table's columns."""
    if df.empty:
        empty = _typed_empty(table, df.index)
        return empty if columns is None else empty[[c for c in empty.columns if c in columns]]
    out = {}
    for col in table.columns:
        if columns is not None and col.name not in columns:
            continue
        s = df[col.name] if col.name in df else pd.Series([], dtype=object)
        if isinstance(col.type, (Integer, BigInteger)):
            s = pd.to_numeric(s)
            out[col.name] = s.astype("Int64" if col.nullable or s.isna().any() else "int64")
        elif isinstance(col.type, Boolean):
            out[col.name] = s.map(lambda v: v if isinstance(v, bool) else
                                  (str(v).lower() in ("1", "t", "true"))).astype(bool)
        elif isinstance(col.type, (Date, DateTime)):
            out[col.name] = pd.to_datetime(s, format="ISO8601").astype("datetime64[us]")
        else:
            out[col.name] = s.astype("str").where(s.notna(), None)
    return pd.DataFrame(out, index=df.index)


def _typed_empty(table: Table, index: pd.Index) -> pd.DataFrame:
    """:func:`typed_frame` of no row, without converting anything (many tables are empty
    for one contract: their conversions were most of the cost of reading them); built once
    per table, each caller gets its own copy (copy-on-write: nothing copied)."""
    empty = _EMPTY.get(table.name)
    if empty is None:
        def dtype(col):
            if isinstance(col.type, (Integer, BigInteger)):
                return "Int64" if col.nullable else "int64"
            if isinstance(col.type, Boolean):
                return bool
            if isinstance(col.type, (Date, DateTime)):
                return "datetime64[us]"
            return "str"
        empty = _EMPTY[table.name] = pd.DataFrame(
            {c.name: pd.Series([], dtype=dtype(c)) for c in table.columns})
    out = empty.copy(deep=False)
    out.index = index[:0]
    return out


_EMPTY: dict[str, pd.DataFrame] = {}


def _where(table: Table, contract_ids: list[str] | None, n: int | None = None
           ) -> tuple[str, list]:
    if contract_ids is None or "contract_id" not in table.columns:
        return "", []
    if not contract_ids:
        return " WHERE 1 = 0", []
    marks = ", ".join(["%s"] * len(contract_ids))
    where, params = f" WHERE contract_id IN ({marks})", list(contract_ids)
    if n is not None and "n" in table.columns:
        where, params = where + " AND n = %s", [*params, int(n)]
    return where, params


def read_table(bind: Engine | Connection, table: Table, contract_ids: list[str] | None = None,
               n: int | None = None, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """One table as a typed frame, optionally only some contracts' rows (and, with `n`, only
    situation `n`'s), and only some `columns` (in the table's order: what a caller needs,
    fewer values to fetch and convert).

    `bind` is an engine, or a connection whose transaction the read then belongs to."""
    wanted = None if columns is None else set(columns)
    names = [c.name for c in table.columns if wanted is None or c.name in wanted]
    where, params = _where(table, contract_ids, n)
    sql = f"SELECT {', '.join(names)} FROM {table.name}{where}"
    if table.name == "event":  # the journal in its order, whichever index serves the filter
        sql += " ORDER BY event_id"
    own = isinstance(bind, Engine)
    if own and table.name in BULK_TABLES and not params:
        df = _adbc_frame(bind, sql)
        if df is not None:
            return typed_frame(df, table, wanted)
    raw = bind.raw_connection() if own else bind.connection.driver_connection
    try:
        if bind.dialect.name == "postgresql" and table.name in BULK_TABLES and not params:
            buf = io.BytesIO()
            with raw.cursor() as cur, cur.copy(
                    f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
                for chunk in copy:
                    buf.write(chunk)
            buf.seek(0)
            df = pd.read_csv(buf, dtype=str, keep_default_na=False, na_values=[""])
        else:
            # one contract's rows: its id is filled in, not fetched row by row
            one = (contract_ids[0] if contract_ids is not None and len(contract_ids) == 1
                   and "contract_id" in names and len(names) > 1 else None)
            fetched = names if one is None else [c for c in names if c != "contract_id"]
            if one is not None:
                sql = f"SELECT {', '.join(fetched)}" + sql[sql.index(" FROM "):]
            if bind.dialect.name == "sqlite":
                sql = sql.replace("%s", "?")
            cur = raw.cursor()
            cur.execute(sql, params)
            df = _object_frame(cur.fetchall(), fetched)
            cur.close()
            if one is not None:
                df.insert(names.index("contract_id"), "contract_id",
                          pd.Series([one] * len(df), dtype=object))
    finally:
        if own:
            raw.close()
    return typed_frame(df, table, wanted)


def _object_frame(rows: list[tuple], names: list[str]) -> pd.DataFrame:
    """The cursor's rows as a frame of object columns, built column by column (for
    :func:`typed_frame` to type; several times faster than ``DataFrame.from_records``)."""
    if not rows:
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in names})
    # one list per column: transposing with zip(*rows) would make an iterator per row
    return pd.DataFrame({name: pd.Series([row[i] for row in rows], dtype=object)
                         for i, name in enumerate(names)})


def adbc_connect(engine: Engine):
    """(an ADBC connection on the engine's base, its driver module), or None when ADBC cannot
    open it (an in-memory SQLite base, another backend, the driver not installed)."""
    url = engine.url
    backend = url.get_backend_name()
    try:
        if backend == "sqlite" and url.database and url.database != ":memory:":
            import adbc_driver_sqlite.dbapi as driver

            return driver.connect(url.database), driver
        if backend == "postgresql":
            import adbc_driver_postgresql.dbapi as driver

            return driver.connect(url.set(drivername="postgresql").render_as_string(
                hide_password=False)), driver
    except ImportError:
        return None
    return None


def _adbc_frame(engine: Engine, sql: str) -> pd.DataFrame | None:
    """`sql`'s rows through an ADBC driver, or None when the engine's database has none
    (an in-memory SQLite base, another backend, the driver not installed) or the read
    failed (the DB-API path then waits and retries)."""
    opened = adbc_connect(engine)
    if opened is None:
        return None
    conn, driver = opened
    backend = engine.url.get_backend_name()
    try:
        with conn, conn.cursor() as cur:
            if backend == "sqlite":  # wait for a writer, as the engine does; type all rows
                cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                cur.fetchall()
                cur.adbc_statement.set_options(
                    **{"adbc.sqlite.query.batch_rows": SQLITE_INFER_ROWS})
            cur.execute(sql)
            return cur.fetch_arrow_table().to_pandas()
    except driver.Error:
        return None


@dataclass
class Frames:
    """Every table of the store as a typed frame (see FRAME_TABLES)."""

    operations: pd.DataFrame
    companies: pd.DataFrame
    lots: pd.DataFrame
    contracts: pd.DataFrame
    revision_terms: pd.DataFrame
    amendments: pd.DataFrame
    subcontracts: pd.DataFrame
    subcontract_revision_terms: pd.DataFrame
    price_lines: pd.DataFrame
    situations: pd.DataFrame
    progress: pd.DataFrame
    adjustments: pd.DataFrame
    guarantees: pd.DataFrame
    planned_progress: pd.DataFrame
    price_index: pd.DataFrame
    ecb_rates: pd.DataFrame
    payment_statements: pd.DataFrame
    direct_payment_requests: pd.DataFrame
    receptions: pd.DataFrame
    final_accounts: pd.DataFrame
    final_progress: pd.DataFrame
    events: pd.DataFrame
    rectifications: pd.DataFrame = field(default_factory=lambda: _typed_empty(
        schema.Rectification.__table__, pd.RangeIndex(0)))


# What the ledger reads (gesprokit.ledger.ledger_from_frames)
LEDGER_TABLES = frozenset({
    "contracts", "price_lines", "situations", "progress", "adjustments", "guarantees",
    "subcontracts", "amendments", "revision_terms", "price_index",
    "subcontract_revision_terms", "rectifications"})


def load_frames(bind: Engine | Connection, contract_ids: list[str] | None = None,
                tables: Iterable[str] | None = None) -> Frames:
    """Read every table (or only the given contracts' rows) into :class:`Frames`; with
    `tables`, only those are read and the others are left empty (with their columns)."""
    wanted = set(FRAME_TABLES) if tables is None else set(tables)
    return Frames(**{name: read_table(bind, model.__table__, contract_ids) if name in wanted
                     else _typed_empty(model.__table__, pd.RangeIndex(0))
                     for name, model in FRAME_TABLES.items()})


def restrict_to_contracts(frames: Frames, contract_ids) -> Frames:
    """The frames with only these contracts' rows, as :func:`load_frames` would read them;
    the journal stays whole (its chain is checked end to end), shared tables too."""
    keep = set(contract_ids)
    out = {}
    for name in FRAME_TABLES:
        df = getattr(frames, name)
        if name != "events" and "contract_id" in df.columns:
            df = df[df["contract_id"].isin(keep)].reset_index(drop=True)
        out[name] = df
    return Frames(**out)
