"""What every benchmark shares: the median timer and the PostgreSQL server, if any."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pandas as pd
from sqlalchemy import Engine, create_engine, text

from gesprokit.db import get_engine

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# ECB main refinancing rates of the portfolio's years (for late interest)
ECB_RATES = pd.DataFrame({
    "effective_on": pd.to_datetime(["2023-09-20", "2024-06-12", "2025-06-11"]),
    "rate_bp": [450, 425, 215]})


def median_time(fn: Callable[[], object], runs: int, setup: Callable[[], object] | None = None
                ) -> float:
    """Median wall time of `fn` over `runs` runs (`setup` before each, not timed)."""
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def postgres_url() -> str | None:
    """The server to measure on (``GESPROKIT_BENCH_POSTGRES_URL``, else the test server), or
    None when it does not answer."""
    url = os.environ.get("GESPROKIT_BENCH_POSTGRES_URL") or os.environ.get(
        "GESPROKIT_TEST_POSTGRES_URL") or DEFAULT_PG
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        with create_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - no server: the PostgreSQL figures are skipped
        return None
    return url


@contextmanager
def postgres_schema(url: str) -> Iterator[Engine]:
    """An engine on a fresh schema of the server, dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    engine = get_engine(f"{url}?options=-csearch_path%3D{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()
