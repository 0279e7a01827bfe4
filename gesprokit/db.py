"""Database access: the URL in force, the engine, and creating the schema."""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine, event

from gesprokit.schema import Base

DEFAULT_DB_URL = "sqlite:///gesprokit.db"


def database_url(url: str | None = None) -> str:
    """The URL given, else ``$GESPROKIT_DB``, else the embedded SQLite file."""
    return url or os.environ.get("GESPROKIT_DB") or DEFAULT_DB_URL


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


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
        event.listen(engine, "connect", _sqlite_foreign_keys)
    if create:
        Base.metadata.create_all(engine)
    return engine
