"""Fuzzing the importer: whatever a cell holds, the import either succeeds or lists its
problems in French (ImportRejected) with nothing written; never another exception.

CI runs a small budget; `GESPROKIT_FUZZ_EXAMPLES=10000 pytest tests/test_importer_fuzz.py`
is the long run."""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from pathlib import Path

from conftest import SAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from gesprokit import schema
from gesprokit.db import get_engine
from gesprokit.errors import ImportRejected
from gesprokit.importer import import_folder

FILES = ["operation.csv", "companies.csv", "contracts.csv", "situations.csv", "progress.csv",
         "price_index.csv", "ecb_rates.csv", "guarantees.csv", "subcontracts.csv",
         "receptions.csv", "final_accounts.csv"]
EXAMPLES = int(os.environ.get("GESPROKIT_FUZZ_EXAMPLES", "40"))
NASTY = st.sampled_from([
    "", " ", "0", "-0", "-1", "1e999", "9" * 40, "9223372036854775808", "NaN", "inf",
    "1 234,567", "12 000 euros", "2026-13", "2027-ZZ", "31/02/2026", "oui", "True", "=1+1",
    "é" * 300, "\x00", "\r", '"', ";", "\ufeff", "\u202f", "0x1F", "None", "null",
])
VALUE = st.one_of(NASTY, st.text(max_size=60))


def _rewrite(path: Path, row: int, column: int, value: str) -> None:
    text = path.read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    r = rows[min(row, len(rows) - 1)]
    if r:
        r[column % len(r)] = value
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\n").writerows(rows)


def _rows(engine) -> int:
    with engine.connect() as conn:
        return sum(conn.execute(select(func.count()).select_from(t.__table__)).scalar()
                   for t in schema.TABLES_IN_LOAD_ORDER)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(file=st.sampled_from(FILES), row=st.integers(0, 30), column=st.integers(0, 30),
       value=VALUE)
def test_any_cell_imports_or_is_a_french_problem(file, row, column, value):
    folder = Path(tempfile.mkdtemp(prefix="gesprokit-fuzz-"))
    try:
        shutil.copytree(SAMPLE, folder / "op")
        _rewrite(folder / "op" / file, row, column, value)
        engine = get_engine(f"sqlite:///{folder / 'fuzz.db'}")
        try:
            import_folder(folder / "op", engine)
        except ImportRejected as exc:
            assert exc.problems and all(str(p) for p in exc.problems)
            assert _rows(engine) == 0  # all or nothing
        engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
