"""Reading the store: the bulk path (ADBC, Arrow) gives exactly the frames of the cursor path
used inside a transaction, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from conftest import SAMPLE

from gesprokit import schema
from gesprokit.importer import import_folder
from gesprokit.store import BULK_TABLES, _adbc_frame, read_table

BULK = [t for t in schema.Base.metadata.sorted_tables if t.name in BULK_TABLES]


def same_frames(engine) -> None:
    import_folder(SAMPLE, engine, now=datetime(2026, 6, 1))
    with engine.connect() as conn:
        for table in BULK:
            bulk = read_table(engine, table)
            cursor = read_table(conn, table)  # inside a transaction: the DB-API cursor
            assert len(bulk) > 0
            pd.testing.assert_frame_equal(bulk, cursor, obj=table.name)


def test_bulk_read_matches_cursor_read_sqlite(sqlite_engine):
    assert _adbc_frame(sqlite_engine, "SELECT 1 AS one") is not None  # the driver is there
    same_frames(sqlite_engine)


def test_sqlite_text_column_null_in_the_first_rows(sqlite_engine):
    """ADBC infers SQLite types from the first batch: a text column empty for thousands of
    rows, then filled, must still come back as text."""
    from sqlalchemy import insert

    with sqlite_engine.begin() as conn:
        conn.execute(insert(schema.Event), [
            {"at": datetime(2026, 1, 1), "actor": "a", "role": "admin", "action": "x",
             "comment": None if i < 5000 else "justifié", "prev_hash": f"{i}",
             "hash": f"{i + 1}"} for i in range(6000)])
    events = read_table(sqlite_engine, schema.Event.__table__)
    assert events["comment"].isna().sum() == 5000
    assert (events["comment"].dropna() == "justifié").all() and len(events) == 6000


def test_bulk_read_matches_cursor_read_postgres(postgres_engine):
    assert _adbc_frame(postgres_engine, "SELECT 1 AS one") is not None
    same_frames(postgres_engine)


def test_sqlite_bulk_read_waits_for_a_writer(sqlite_engine):
    """A read while another connection holds the write lock waits for it instead of
    failing (a dashboard refreshing while an action commits)."""
    import sqlite3
    import threading

    import_folder(SAMPLE, sqlite_engine, now=datetime(2026, 6, 1))
    expected = len(read_table(sqlite_engine, schema.Progress.__table__))
    locked, release = threading.Event(), threading.Event()

    def writer():
        conn = sqlite3.connect(sqlite_engine.url.database, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(5)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    locked.wait(5)
    threading.Timer(0.5, release.set).start()
    assert len(read_table(sqlite_engine, schema.Progress.__table__)) == expected
    thread.join()


def test_a_login_does_not_wait_for_a_writer(tmp_path):
    """While another connection holds the write lock of an action (SQLite's RESERVED lock),
    logging in and reading go on at once and see the last committed state."""
    import threading
    import time

    from sqlalchemy import text

    from gesprokit.accounts import create_user
    from gesprokit.db import get_engine
    from gesprokit.session import connect
    from gesprokit.store import load_frames

    engine = get_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO company (code, name, siret, is_sme) VALUES "
                          "('E1', 'Entreprise', '73282932000074', 1)"))
    create_user(engine, "a@e1.fr", "A", "E1", "contractor", "mot-de-passe-long")
    holding = threading.Event()

    def writer():
        with engine.begin() as conn:  # BEGIN IMMEDIATE: the write lock, held 3 s
            conn.execute(text("UPDATE company SET name = 'Renommée' WHERE code = 'E1'"))
            holding.set()
            time.sleep(3)
    thread = threading.Thread(target=writer)
    thread.start()
    holding.wait()
    start = time.perf_counter()
    session = connect(engine, "a@e1.fr", "mot-de-passe-long")
    names = load_frames(engine).companies["name"].tolist()
    waited = time.perf_counter() - start
    thread.join()
    assert session.actor.company_code == "E1"
    assert names == ["Entreprise"]  # the committed state, not the writer's pending one
    assert waited < 2.0, waited  # not held until the writer commits
