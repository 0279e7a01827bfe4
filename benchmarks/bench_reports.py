"""Workbook and dashboard figures: the auditor's workbook (fresh process, peak memory) and
the first render of each served dashboard."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from common import ECB_RATES

from gesprokit.portfolio import portfolio

RUN = Path(__file__).resolve().parent / "run.py"


def workbook_report_data(line_rows: int):
    """Report data for a synthetic portfolio with about `line_rows` ledger line rows."""
    from gesprokit.delays import compute_delays
    from gesprokit.ledger import compute_ledger
    from gesprokit.report_data import ReportData, synthesis
    from gesprokit.store import FRAME_TABLES, Frames

    p = portfolio(line_rows)
    lines = p.price_lines.assign(label="Ouvrage de la décomposition du prix global et "
                                       "forfaitaire")
    empty = {name: pd.DataFrame(columns=[c.name for c in model.__table__.columns])
             for name, model in FRAME_TABLES.items()}
    empty["events"] = empty["events"].astype({"event_id": "int64"})
    empty["amendments"] = pd.DataFrame({"contract_id": pd.Series([], dtype=str),
                                        "amount_cents": pd.Series([], dtype="int64")})
    frames = Frames(**{**empty, "operations": p.operations, "companies": p.companies,
                       "contracts": p.contracts, "price_lines": lines,
                       "situations": p.situations, "progress": p.progress,
                       "ecb_rates": ECB_RATES})
    contracts, sits, prog = p.contracts, p.situations, p.progress
    ledger = compute_ledger(contracts, lines, sits, prog)
    delays = compute_delays(sits, contracts, frames.operations, ledger.situations,
                            frames.ecb_rates, as_of=pd.Timestamp("2026-11-23"))
    return ReportData(frames=frames, ledger=ledger, delays=delays,
                      synthesis=synthesis(frames, ledger, delays),
                      as_of=pd.Timestamp("2026-11-23"))


def workbook_child(line_rows: int) -> None:
    """Run in a fresh process: time and peak memory of writing the workbook."""
    import tempfile

    from gesprokit.workbook import write_workbook

    data = workbook_report_data(line_rows)
    start = time.perf_counter()
    write_workbook(data, Path(tempfile.mkdtemp()) / "audit.xlsx")
    elapsed = time.perf_counter() - start
    # VmHWM: this process's own peak resident memory (ru_maxrss would carry the parent's
    # peak across fork and exec)
    status = Path("/proc/self/status").read_text()
    peak_mib = int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 1024
    print(f"{len(data.ledger.lines)} {elapsed:.3f} {peak_mib:.0f}")


def workbook_figures(sizes: list[int], runs: int) -> None:
    print(f"\n{'lignes':>10} {'classeur (s)':>13} {'pic mémoire (Mio)':>18} {'cible 6 s':>10}")
    for size in sizes:
        results = []
        for _ in range(runs):
            out = subprocess.run([sys.executable, str(RUN), "--workbook-child", str(size)],
                                 capture_output=True, text=True, check=True).stdout.split()
            results.append((int(out[0]), float(out[1]), float(out[2])))
        rows = results[0][0]
        seconds = statistics.median(r[1] for r in results)
        peak = max(r[2] for r in results)
        print(f"{rows:>10} {seconds:>13.2f} {peak:>18.0f} {seconds / 6:>9.2f}×")
    print("(pic mémoire du processus entier, données synthétiques comprises)")
