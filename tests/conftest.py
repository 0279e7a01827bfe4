"""Shared fixtures: databases (SQLite file, real PostgreSQL), the sample folder, frame builders."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from gesprokit.db import get_engine

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data"
PG_ENV = "GESPROKIT_TEST_POSTGRES_URL"
# The journal's key and checkpoints live in a folder of the test run, never in the home folder
# of whoever runs the tests; served kernels, notebooks and commands inherit it.
os.environ["GESPROKIT_SECRETS_DIR"] = tempfile.mkdtemp(prefix="gesprokit-secrets-")


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    """Accounts made by the tests hash at a low scrypt cost (hundreds of them are made);
    the production cost is checked by its own test (test_accounts_hash_at_owasp_cost)."""
    from gesprokit import accounts

    monkeypatch.setattr(accounts, "SCRYPT", {"n": 2**10, "r": 8, "p": 1})


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url):
    engine = get_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url():
    """A fresh schema on the PostgreSQL server of GESPROKIT_TEST_POSTGRES_URL, dropped after."""
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("GESPROKIT_REQUIRE_POSTGRES"):
            pytest.fail(f"{PG_ENV} n'est pas défini alors que PostgreSQL est exigé")
        pytest.skip(f"PostgreSQL non configuré : définir {PG_ENV} pour ces tests")
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema_name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema_name}"))
    except Exception as exc:  # server down: fail in CI, skip elsewhere
        if os.environ.get("GESPROKIT_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL injoignable : {exc}")
        pytest.skip(f"PostgreSQL injoignable : {exc}")
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema_name}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema_name} CASCADE"))
    admin.dispose()


@pytest.fixture
def postgres_engine(postgres_url):
    engine = get_engine(postgres_url)
    yield engine
    engine.dispose()


def contract_row(contract_id: str = "C1", total: int = 100_000_000, **over) -> dict:
    """A contract with the defaults of DOMAIN Part A (all amounts in cents)."""
    row = dict(contract_id=contract_id, operation_code="OP", lot_code="01", company_code="E1",
               title="Lot test", notified_on=pd.Timestamp("2025-01-01"), initial_total_ht=total,
               vat_rate_bp=2000, retention_rate_bp=500, retention_base="ttc", advance_cents=0,
               advance_start_bp=6500, advance_end_bp=8000, price_form="firm",
               revision_fixed_bp=0, revision_base_month=None, coef_decimals=4,
               penalty_denominator=3000, penalty_cap_bp=1000, penalty_waiver_cents=100_000)
    row.update(over)
    return row


def frame(rows: list[dict], columns: list[str] | None = None) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in df.columns:
        if col.endswith(("_on", "_at")):
            df[col] = pd.to_datetime(df[col]).astype("datetime64[us]")
    return df


def situations(contract_id: str, months: list[str], moe_at: list[str] | None = None):
    """Situations 1..N of a contract, issued by the MOE on the given dates."""
    moe_at = moe_at or [f"{m}-28" for m in months]
    return [dict(contract_id=contract_id, n=i, month=m, moe_at=pd.Timestamp(d))
            for i, (m, d) in enumerate(zip(months, moe_at, strict=True), start=1)]


def copy_base(base: Path, target: Path):
    """An engine on a copy of the SQLite base `base` at `target`, its journal checkpoint
    carried along (the checkpoint is filed under the base's address)."""
    import shutil

    from gesprokit import journal

    shutil.copy(base, target)
    original, engine = get_engine(f"sqlite:///{base}"), get_engine(f"sqlite:///{target}")
    source = journal.checkpoint_path(original)
    if source.exists():
        journal.checkpoint_path(engine).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, journal.checkpoint_path(engine))
    original.dispose()
    return engine


END_FILES = ("receptions.csv", "final_accounts.csv", "final_progress.csv")


@pytest.fixture(scope="session")
def open_sample(tmp_path_factory) -> Path:
    """The sample operation's folder without its contracts' ends: every lot still open, for
    tests that carry a contract's end themselves."""
    import shutil

    folder = tmp_path_factory.mktemp("open-sample") / "data"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns(*END_FILES))
    return folder


@pytest.fixture(scope="session")
def imported_sample(tmp_path_factory) -> Path:
    """The sample imported on 1 June 2026 into a SQLite base, once per run (no accounts)."""
    from datetime import datetime

    from gesprokit.importer import import_folder

    path = tmp_path_factory.mktemp("imported-sample") / "base.db"
    engine = get_engine(f"sqlite:///{path}")
    import_folder(SAMPLE, engine, now=datetime(2026, 6, 1))
    engine.dispose()
    return path


def engine_on_copy(base: Path, sqlite_url: str):
    """A fixture's engine on a copy of `base` at the test's own address, disposed after."""
    engine = copy_base(base, Path(sqlite_url.removeprefix("sqlite:///")))
    yield engine
    engine.dispose()


@pytest.fixture
def sample_engine(imported_sample, sqlite_url):
    """A copy of the imported sample at the test's own address."""
    yield from engine_on_copy(imported_sample, sqlite_url)


def pdf_words(content: bytes) -> str:
    """A PDF's text as one line of words, French number spaces read as plain spaces
    (pdftotext, from poppler-utils)."""
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext absent : apt-get install poppler-utils")
    text_ = subprocess.run(["pdftotext", "-", "-"], input=content, check=True,
                           capture_output=True).stdout.decode()
    return " ".join(text_.split()).replace("\u202f", " ").replace("\xa0", " ")
