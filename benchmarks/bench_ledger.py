"""The full ledger against its references: a per-line Python loop and DuckDB computing the
same cumulative works totals; then DuckDB computing every column of the ledger on the
realistic every-rule portfolio (benchmarks/duckdb_ledger.py)."""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from functools import partial

import duckdb
import numpy as np
from common import median_time
from duckdb_ledger import register, run_ledger

from gesprokit.ledger import (
    DIRECT_PAYMENT_COLUMNS,
    LEDGER_COLUMNS,
    compute_ledger,
    line_amounts,
)
from gesprokit.money import mul_div_half_up
from gesprokit.portfolio import portfolio, with_every_rule

AS_OF = datetime(2026, 1, 1)  # every situation of the portfolio is issued before it

# Each line's cumulative amount (half-up), its change since the line's previous entry (a line
# left out keeps its amount), summed per situation and accumulated: the ledger's works_cum.
DUCKDB_WORKS_CUM = """
WITH line_cum AS (
    SELECT contract_id, n, line_no, (l.amount_cents * p.pct_bp + 5000) // 10000 AS cum
    FROM progress p JOIN price_lines l USING (contract_id, line_no)
), line_month AS (
    SELECT contract_id, n, cum - COALESCE(LAG(cum) OVER (
        PARTITION BY contract_id, line_no ORDER BY n), 0) AS month
    FROM line_cum
)
SELECT contract_id, n, SUM(SUM(month)) OVER (PARTITION BY contract_id ORDER BY n) AS works_cum
FROM line_month GROUP BY contract_id, n
"""


def python_loop_works(price_lines, progress) -> dict:
    """Reference 1: the per-line loop a macro would run (works_cum of each situation)."""
    amount = dict(zip(zip(price_lines["contract_id"], price_lines["line_no"], strict=True),
                      price_lines["amount_cents"].tolist(), strict=True))
    month: dict = {}
    last_cum: dict = {}
    rows = sorted(zip(progress["contract_id"], progress["n"], progress["line_no"],
                      progress["pct_bp"], strict=True))
    for cid, n, line, pct in rows:
        cum = mul_div_half_up(amount[(cid, line)], int(pct), 10_000)
        month[(cid, n)] = month.get((cid, n), 0) + cum - last_cum.get((cid, line), 0)
        last_cum[(cid, line)] = cum
    cum, running, last = {}, 0, None
    for cid, n in sorted(month):
        running = month[(cid, n)] + (running if cid == last else 0)
        cum[(cid, n)], last = running, cid
    return cum


def works_cum_only(price_lines, situations, progress):
    """gesprokit's own path for the same figure: line amounts, then per-situation cumsum."""
    lines = line_amounts(progress, price_lines)
    per_sit = lines.groupby(["contract_id", "n"], sort=False)["line_month"].sum()
    return per_sit.groupby(level=0, sort=False).cumsum()


def _same_figures(p, con, size: int) -> None:
    """The references compute the same works_cum as the ledger (checked on every size, on
    the rows the loop sees)."""
    ledger = compute_ledger(p.contracts, p.price_lines, p.situations, p.progress).situations
    ours = dict(zip(zip(ledger["contract_id"], ledger["n"], strict=True),
                    ledger["works_cum"].tolist(), strict=True))
    duck = con.execute(DUCKDB_WORKS_CUM).df()
    assert ours == dict(zip(zip(duck["contract_id"], duck["n"], strict=True),
                            duck["works_cum"].astype("int64").tolist(), strict=True))
    first = p.contracts["contract_id"].iloc[:max(1, 100_000 // 500)]
    sub = p.progress[p.progress["contract_id"].isin(first)]
    loop = python_loop_works(p.price_lines, sub)
    assert all(ours[k] == v for k, v in loop.items())


def every_rule(p) -> dict:
    """The same portfolio with every rule at work: revisable prices (one index, its last two
    months not yet published), a penalty by days and a bonus per contract, a guarantee and a
    direct-paid subcontract on the first line of each contract."""
    import pandas as pd

    contracts = p.contracts.assign(price_form="revisable", revision_fixed_bp=1250,
                                   revision_base_month=p.situations["month"].min(),
                                   advance_cents=p.contracts["initial_total_ht"] // 20)
    months = sorted(p.situations["month"].unique())
    index = pd.DataFrame({"index_code": "BT01", "month": months[:-2],
                          "value_e4": [1_300_000 + 1_500 * i for i in range(len(months) - 2)],
                          "published_on": [pd.Timestamp(m + "-01") + pd.Timedelta(days=75)
                                           for m in months[:-2]]})
    index["published_on"] = index["published_on"].astype("datetime64[us]")
    terms = pd.DataFrame({"contract_id": p.contracts["contract_id"], "index_code": "BT01",
                          "weight_bp": 8750})
    ids = p.contracts["contract_id"]
    adjustments = pd.concat([
        pd.DataFrame({"contract_id": ids, "n": 2, "kind": "penalty", "days": 12,
                      "amount_cents": pd.NA, "reason": "retard"}),
        pd.DataFrame({"contract_id": ids, "n": 3, "kind": "bonus", "days": pd.NA,
                      "amount_cents": 150_000, "reason": "prime"})], ignore_index=True)
    adjustments = adjustments.astype({"days": "Int64", "amount_cents": "Int64"})
    guarantees = pd.DataFrame({"contract_id": ids, "amount_cents": 2_000_000,
                               "received_on": pd.Timestamp(months[0] + "-15")})
    guarantees["received_on"] = guarantees["received_on"].astype("datetime64[us]")
    subcontracts = pd.DataFrame({"subcontract_id": "ST-" + ids, "contract_id": ids,
                                 "amount_cents": 5_000_000, "direct_payment": True})
    first = p.price_lines.groupby("contract_id").head(1).index
    price_lines = p.price_lines.copy()
    price_lines["subcontract_id"] = None
    price_lines.loc[first, "subcontract_id"] = "ST-" + price_lines.loc[first, "contract_id"]
    return dict(contracts=contracts, price_lines=price_lines, situations=p.situations,
                progress=p.progress, adjustments=adjustments, guarantees=guarantees,
                subcontracts=subcontracts, revision_terms=terms, price_index=index)


def run_every_rule(sizes: list[int], runs: int) -> None:
    """The full ledger on data exercising every rule, against the fixed-price-only ledger
    of the same rows (the ratio shows what the rules cost)."""
    print(f"\n{'lignes':>10} {'prix fermes (s)':>16} {'toutes règles (s)':>18} {'ratio':>7}")
    for size in sizes:
        p = portfolio(size)
        fixed_t = median_time(partial(compute_ledger, p.contracts, p.price_lines,
                                      p.situations, p.progress), runs)
        kwargs = every_rule(p)
        ledger = compute_ledger(**kwargs).situations
        assert ledger["revision_cum"].ne(0).any() and ledger["penalty_cum"].gt(0).any()
        assert ledger["revision_provisional"].any() and ledger["direct_payment_cum"].gt(0).any()
        rules_t = median_time(partial(compute_ledger, **kwargs), runs)
        print(f"{len(p.progress):>10} {fixed_t:>16.3f} {rules_t:>18.3f} "
              f"{rules_t / fixed_t:>6.1f}×")
    print("toutes règles : prix révisables (indice provisoire sur les deux derniers mois), "
          "pénalités, primes, garanties, avance, sous-traitance en paiement direct.")


def run(sizes: list[int], runs: int) -> None:
    print(f"\n{'lignes':>10} {'ledger (s)':>11} {'boucle Python':>14} {'ratio':>7} "
          f"{'DuckDB cumuls':>14} {'ratio':>7} {'cumuls seuls':>13} {'ratio':>7}")
    for size in sizes:
        p = portfolio(size)
        args = (p.contracts, p.price_lines, p.situations, p.progress)
        ledger_t = median_time(partial(compute_ledger, *args), runs)
        loop_rows = min(size, 100_000)
        loop_t = median_time(partial(python_loop_works, p.price_lines,
                                     p.progress.iloc[:loop_rows]), 1) * size / loop_rows
        con = duckdb.connect()
        con.register("progress", p.progress[["contract_id", "n", "line_no", "pct_bp"]])
        con.register("price_lines", p.price_lines[["contract_id", "line_no", "amount_cents"]])
        duck_t = median_time(lambda con=con: con.sql(DUCKDB_WORKS_CUM).to_arrow_table(), runs)
        own_t = median_time(partial(works_cum_only, p.price_lines, p.situations, p.progress),
                            runs)
        _same_figures(p, con, size)
        print(f"{len(p.progress):>10} {ledger_t:>11.3f} {loop_t:>14.3f} "
              f"{loop_t / ledger_t:>6.1f}× {duck_t:>14.3f} {duck_t / ledger_t:>6.2f}× "
              f"{own_t:>13.3f} {duck_t / own_t:>6.2f}×")
    print("ratios : temps de la référence / temps de gesprokit (> 1 : gesprokit plus rapide) ;"
          "\nboucle Python mesurée sur au plus 100 000 lignes puis extrapolée ; DuckDB et "
          "« cumuls seuls » ne calculent que les travaux cumulés.")
    run_every_rule(sizes, runs)
    run_against_duckdb(sizes, runs)


def _assert_same_ledger(ledger, situations, direct) -> None:
    """DuckDB's frames equal gesprokit's, every column of every row (amounts to the cent)."""
    for what, ours, theirs, columns in (
            ("situations", ledger.situations, situations, LEDGER_COLUMNS),
            ("paiements directs", ledger.direct_payments, direct, DIRECT_PAYMENT_COLUMNS)):
        assert len(ours) == len(theirs), f"{what} : {len(ours)} lignes contre {len(theirs)}"
        for column in columns:
            a, b = ours[column].to_numpy(), theirs[column].to_numpy()
            differ = np.flatnonzero(a != b)
            assert not len(differ), (f"{what}, {column} : {len(differ)} écarts, le premier "
                                     f"{a[differ[0]]!r} contre {b[differ[0]]!r}")


def _copied_into_duckdb(kwargs: dict) -> duckdb.DuckDBPyConnection:
    """A connection holding the input frames as DuckDB's own tables (its best case: no
    pandas scan while the ledger runs)."""
    con = duckdb.connect()
    register(con, **kwargs)
    for name in kwargs:
        con.execute(f"CREATE TEMP TABLE copy_{name} AS SELECT * FROM {name}")
        con.execute(f"DROP VIEW IF EXISTS {name}")
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(f"ALTER TABLE copy_{name} RENAME TO {name}")
    return con


def run_against_duckdb(sizes: list[int], runs: int) -> None:
    """Issue 16's target: compute_ledger on with_every_rule(portfolio(rows)) against DuckDB
    (default threads) computing the same situations and direct payments frames from the same
    frames, asserted equal to the cent. DuckDB reads the pandas frames registered as views
    (registration, zero-copy, not timed; their scan is in its time), or its own tables copied
    beforehand (copy not timed); both fetch their result as pandas frames, as gesprokit
    returns them. The runs alternate, so that a change of load hits each alike."""
    print(f"\n{'lignes':>10} {'gesprokit (s)':>14} {'DuckDB vues (s)':>16} {'ratio':>7} "
          f"{'DuckDB tables (s)':>18} {'ratio':>7}")
    for size in sizes:
        kwargs = with_every_rule(portfolio(size)).ledger_kwargs()
        views = duckdb.connect()
        register(views, **kwargs)
        tables = _copied_into_duckdb(kwargs)
        ledger = compute_ledger(**kwargs, as_of=AS_OF)
        for con in (views, tables):
            _assert_same_ledger(ledger, *run_ledger(con, AS_OF))
        timings: dict[str, list[float]] = {"gesprokit": [], "views": [], "tables": []}
        work = {"gesprokit": partial(compute_ledger, **kwargs, as_of=AS_OF),
                "views": partial(run_ledger, views, AS_OF),
                "tables": partial(run_ledger, tables, AS_OF)}
        for _ in range(runs):
            for name, fn in work.items():
                start = time.perf_counter()
                fn()
                timings[name].append(time.perf_counter() - start)
        ours, on_views, on_tables = (statistics.median(timings[k]) for k in work)
        print(f"{len(kwargs['progress']):>10} {ours:>14.3f} {on_views:>16.3f} "
              f"{on_views / ours:>6.2f}× {on_tables:>18.3f} {on_tables / ours:>6.2f}×")
    print("toutes règles de gesprokit.portfolio.with_every_rule ; DuckDB calcule toutes les "
          "colonnes des situations et des paiements directs,\négales au centime à celles de "
          "compute_ledger (vérifié à chaque taille) ; ratio : temps DuckDB / temps gesprokit "
          "(> 1 : gesprokit plus rapide).")
