"""The full ledger against two references: a per-line Python loop and DuckDB computing the
same cumulative works totals."""

from __future__ import annotations

from functools import partial

import duckdb
from common import median_time

from gesprokit.ledger import compute_ledger, line_amounts
from gesprokit.money import mul_div_half_up
from gesprokit.portfolio import portfolio

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
