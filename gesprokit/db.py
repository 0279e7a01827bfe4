"""Database access: the URL in force, the engine, and creating the schema."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url

from gesprokit.schema import Base

DEFAULT_DB_URL = "sqlite:///gesprokit.db"


def database_url(url: str | None = None) -> str:
    """The URL given, else ``$GESPROKIT_DB``, else the embedded SQLite file."""
    return url or os.environ.get("GESPROKIT_DB") or DEFAULT_DB_URL


def absolute_database_url(url: str | None = None, cwd: Path | None = None) -> str:
    """:func:`database_url` with a relative SQLite path made absolute against `cwd` (the
    directory the command runs in): a server's kernels run elsewhere and must open the same
    file the user meant."""
    resolved = database_url(url)
    parsed = make_url(resolved)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return resolved
    path = Path(parsed.database)
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    return parsed.set(database=str(path.resolve())).render_as_string(hide_password=False)


SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a connection waits for another one's write lock


def _sqlite_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
    # SQLAlchemy, not the driver, opens transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn) -> None:
    # A writing transaction takes the write lock when it starts: two writers never read the
    # same state (or the same last event hash) and both write. A reading one does not.
    if conn.get_execution_options().get("gesprokit_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def reading(engine: Engine) -> Engine:
    """The same engine for transactions that only read (logins, lookups): on SQLite they do
    not take the write lock, so they go on while another connection prepares its writes.
    (No write-ahead log: the bulk reader links its own SQLite library, and two SQLite
    libraries in one process must not share a WAL file.)"""
    return engine.execution_options(gesprokit_read_only=True)


def get_engine(url: str | None = None, create: bool = True) -> Engine:
    """An engine on `url` (see :func:`database_url`), with the schema created.

    PostgreSQL URLs written ``postgresql://`` use the psycopg 3 driver; SQLite
    enforces foreign keys like PostgreSQL does.
    """
    resolved = database_url(url)
    if resolved.startswith("postgresql://"):
        resolved = "postgresql+psycopg://" + resolved[len("postgresql://"):]
    engine = create_engine(resolved)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    if create:
        Base.metadata.create_all(engine)
        add_missing_columns(engine)
        add_missing_indexes(engine)
        widen_price_index_key(engine)
    return engine


def add_missing_indexes(engine: Engine) -> None:
    """Create on a base made by an older version the indexes its existing tables lack
    (``create_all`` makes indexes only with a new table)."""
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)


def widen_price_index_key(engine: Engine) -> bool:
    """A base made before index corrections were kept has one row per index and month: its
    key gains the publication date (rows unchanged). Returns whether it was done."""
    key = inspect(engine).get_pk_constraint("price_index")["constrained_columns"]
    if "published_on" in key:
        return False
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            name = inspect(conn).get_pk_constraint("price_index")["name"]
            conn.exec_driver_sql(f"ALTER TABLE price_index DROP CONSTRAINT {name}")
            conn.exec_driver_sql("ALTER TABLE price_index ADD PRIMARY KEY "
                                 "(index_code, month, published_on)")
        else:
            conn.exec_driver_sql("ALTER TABLE price_index RENAME TO price_index_old")
            Base.metadata.tables["price_index"].create(conn)
            conn.exec_driver_sql("INSERT INTO price_index (index_code, month, value_e4, "
                                 "published_on) SELECT index_code, month, value_e4, "
                                 "published_on FROM price_index_old")
            conn.exec_driver_sql("DROP TABLE price_index_old")
    return True


def add_missing_columns(engine: Engine) -> list[str]:
    """Add to a base made by an older version the nullable columns its tables lack (the only
    kind of change the schema makes to an existing table); returns ``table.column`` added."""
    inspector = inspect(engine)
    added = []
    for table in Base.metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
            added.append(f"{table.name}.{column.name}")
    return added
