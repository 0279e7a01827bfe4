"""The multi-user deployment: the same import and ledger on a real PostgreSQL server."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SAMPLE
from sqlalchemy import func, select

from gesprokit import schema
from gesprokit.errors import ImportRejected
from gesprokit.importer import import_folder
from gesprokit.ledger import ledger_from_frames
from gesprokit.store import load_frames

AS_OF = pd.Timestamp("2026-11-23")


def test_same_frames_and_ledger_as_sqlite(postgres_engine, sqlite_engine):
    import_folder(SAMPLE, postgres_engine)
    import_folder(SAMPLE, sqlite_engine)
    pg, lite = load_frames(postgres_engine), load_frames(sqlite_engine)
    for name in ("contracts", "price_lines", "situations", "progress", "adjustments"):
        pd.testing.assert_frame_equal(
            getattr(pg, name).sort_values(list(getattr(pg, name).columns[:3]))
            .reset_index(drop=True),
            getattr(lite, name).sort_values(list(getattr(lite, name).columns[:3]))
            .reset_index(drop=True), check_like=False)
    pd.testing.assert_frame_equal(ledger_from_frames(pg, AS_OF).situations,
                                  ledger_from_frames(lite, AS_OF).situations)


def test_refused_import_leaves_postgres_unchanged(postgres_engine, tmp_path):
    import shutil
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    text = (folder / "progress.csv").read_text(encoding="utf-8")
    (folder / "progress.csv").write_text(text.replace(";100;", ";abc;", 1), encoding="utf-8")
    with pytest.raises(ImportRejected):
        import_folder(folder, postgres_engine)
    with postgres_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.Contract)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(schema.Event)).scalar() == 0
