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


def voila_figures(pages: list[str], loads: int) -> None:
    """Time from the request to the login form of each served dashboard (preheated kernels),
    median of `loads` page views, each after the pool has refilled."""
    import os
    import socket
    import tempfile
    import urllib.request

    from playwright.sync_api import sync_playwright

    from gesprokit.cli import prepare_demo, voila_command

    url = f"sqlite:///{tempfile.mkdtemp()}/served.db"
    prepare_demo(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(voila_command(port), env={**os.environ, "GESPROKIT_DB": url},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(20)  # let every pool fill
        print(f"\n{'tableau de bord':<28} {'1er affichage (s)':>18} {'cible 2 s':>10}")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            for name in pages:
                times = []
                for _ in range(loads):
                    page = browser.new_page()
                    start = time.perf_counter()
                    page.goto(f"http://127.0.0.1:{port}/voila/render/{name}", timeout=240_000)
                    page.get_by_text("Connexion", exact=True).wait_for(timeout=240_000)
                    times.append(time.perf_counter() - start)
                    page.close(run_before_unload=True)
                    time.sleep(15)  # the pool refills
                median = statistics.median(times)
                print(f"{name:<28} {median:>18.2f} {median / 2:>9.2f}×")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
