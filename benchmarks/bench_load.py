"""Loading progress rows from the database into frames: gesprokit's reader (ADBC: Arrow,
binary COPY on PostgreSQL) against ``pandas.read_sql``."""

from __future__ import annotations

import tempfile

import pandas as pd
from common import median_time, postgres_schema, postgres_url

from gesprokit import schema
from gesprokit.db import get_engine
from gesprokit.portfolio import portfolio, write_portfolio
from gesprokit.store import read_table

TARGETS = {"sqlite": 1.5, "postgresql": 1.0}  # seconds for 1 000 000 rows


def _measure(engine, backend: str, rows: int, runs: int) -> None:
    table = schema.Progress.__table__
    ours = median_time(lambda: read_table(engine, table), runs)
    reference = median_time(lambda: pd.read_sql("SELECT * FROM progress", engine), runs)
    versus = f"{ours / TARGETS[backend]:>11.2f}×" if rows >= 1_000_000 else f"{'—':>12}"
    print(f"{backend:<11} {rows:>10} {ours:>10.3f} {reference:>15.3f} "
          f"{reference / ours:>7.1f}× {versus}")


def run(sizes: list[int], runs: int) -> None:
    print(f"\n{'base':<11} {'lignes':>10} {'lecture (s)':>10} {'pandas.read_sql':>15} "
          f"{'ratio':>8} {'vs cible':>12}")
    pg = postgres_url()
    for size in sizes:
        p = portfolio(size)
        engine = get_engine(f"sqlite:///{tempfile.mkdtemp()}/load.db")
        write_portfolio(engine, p)
        _measure(engine, "sqlite", len(p.progress), runs)
        engine.dispose()
        if pg:
            with postgres_schema(pg) as engine:
                write_portfolio(engine, p)
                _measure(engine, "postgresql", len(p.progress), runs)
    if not pg:
        print("PostgreSQL injoignable : chiffres PostgreSQL non mesurés.")
    print("cible pour 1 000 000 de lignes : 1,5 s (SQLite), 1,0 s (PostgreSQL) ; « vs cible » "
          "< 1 : tenue. Le lecteur ouvre sa propre connexion ADBC (≈ 50 ms sur PostgreSQL) : "
          "pandas.read_sql reste plus rapide sur de petites tables.")
