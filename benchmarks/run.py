"""gesprokit's performance figures, each the median of several runs with the ratio against
its reference measured in the same run. Usage: ``python benchmarks/run.py [--quick]``
(after ``pip install -e '.[test,bench]'``). Findings in benchmarks/README.md."""

from __future__ import annotations

import argparse
import platform
import time

import bench_action
import bench_audit
import bench_cli
import bench_dashboards
import bench_dask
import bench_delays
import bench_history
import bench_import
import bench_ledger
import bench_load
import bench_panels
import bench_reports
import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="petites tailles, moins de runs")
    parser.add_argument("--workbook-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["ledger", "load", "action", "delays", "history",
                                           "cli", "panels", "audit", "import", "workbook",
                                           "voila", "dask"],
                        help="une seule mesure")
    args = parser.parse_args()
    if args.workbook_child:
        bench_reports.workbook_child(args.workbook_child)
        return
    start = time.perf_counter()
    print(f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__},"
          f" {platform.machine()}")
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    runs = 3 if args.quick else 5
    sections = {
        "ledger": lambda: bench_ledger.run(sizes, runs),
        "load": lambda: bench_load.run(sizes, 3),
        "action": lambda: bench_action.run(3 if args.quick else 7,
                                           (12, 120) if args.quick else (12, 36, 120)),
        "delays": lambda: bench_delays.run(sizes, runs),
        "history": lambda: bench_history.run(3),
        "cli": lambda: bench_cli.run(5),
        "panels": lambda: bench_panels.run(sizes, 3),
        "import": lambda: bench_import.run(sizes, 3),
        "audit": lambda: bench_audit.run([24_000, 80_000] if args.quick
                                         else [24_000, 80_000, 240_000], runs),
        "workbook": lambda: bench_reports.workbook_figures(
            [10_000] if args.quick else [10_000, 30_000, 100_000], 1 if args.quick else 3),
        "voila": lambda: bench_dashboards.run(1 if args.quick else 3),
        # the sector on Dask: only with --only dask (100 M rows take minutes and disk)
        "dask": lambda: bench_dask.run([1_000_000, 10_000_000] if args.quick
                                       else [10_000_000, 100_000_000]),
    }
    for name, section in sections.items():
        if args.only == name or (args.only is None and name != "dask"):
            section()
    print(f"\n(mesures en {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
