"""The delays frame of a whole portfolio (legal deadline, late days, late interest)."""

from __future__ import annotations

from functools import partial

import pandas as pd
from common import ECB_RATES, median_time

from gesprokit.delays import compute_delays
from gesprokit.ledger import compute_ledger
from gesprokit.portfolio import portfolio


def run(sizes: list[int], runs: int) -> None:
    print(f"\n{'lignes':>10} {'situations':>11} {'délais (s)':>11} {'µs / situation':>15}")
    for size in sizes:
        p = portfolio(size)
        ledger = compute_ledger(p.contracts, p.price_lines, p.situations, p.progress)
        fn = partial(compute_delays, p.situations, p.contracts, p.operations,
                     ledger.situations, ECB_RATES, as_of=pd.Timestamp("2026-11-23"))
        t = median_time(fn, runs)
        n = len(p.situations)
        print(f"{len(p.progress):>10} {n:>11} {t:>11.3f} {t / n * 1e6:>15.1f}")
