"""Performance figures of the ledger (median of several runs, with a reference measured in the
same run). Usage: ``python benchmarks/run.py [--quick]``. See benchmarks/README.md."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from gesprokit.ledger import compute_ledger
from gesprokit.money import mul_div_half_up


def portfolio(progress_rows: int, lines: int = 25, months: int = 20, seed: int = 7):
    """A synthetic portfolio with about `progress_rows` progress rows (deterministic)."""
    rng = np.random.default_rng(seed)
    n_contracts = max(1, progress_rows // (lines * months))
    cids = np.array([f"C{i:06d}" for i in range(n_contracts)])
    amounts = rng.integers(1_000_00, 500_000_00, size=(n_contracts, lines))
    price_lines = pd.DataFrame({
        "contract_id": np.repeat(cids, lines),
        "line_no": np.tile([f"{j:03d}" for j in range(lines)], n_contracts),
        "amount_cents": amounts.ravel(), "subcontract_id": None})
    contracts = pd.DataFrame({
        "contract_id": cids, "initial_total_ht": amounts.sum(axis=1), "vat_rate_bp": 2000,
        "retention_rate_bp": 500, "retention_base": "ttc",
        "advance_cents": (amounts.sum(axis=1) * 6 // 100), "advance_start_bp": 6500,
        "advance_end_bp": 8000, "price_form": "firm", "revision_fixed_bp": 0,
        "revision_base_month": None, "coef_decimals": 4, "penalty_denominator": 3000,
        "penalty_cap_bp": 1000, "penalty_waiver_cents": 100_000})
    month_names = [f"{2024 + m // 12}-{m % 12 + 1:02d}" for m in range(months)]
    situations = pd.DataFrame({
        "contract_id": np.repeat(cids, months), "n": np.tile(np.arange(1, months + 1),
                                                             n_contracts),
        "month": np.tile(month_names, n_contracts),
        "moe_at": pd.Timestamp("2026-01-01")})
    pct = np.minimum(10_000, np.cumsum(rng.integers(0, 1200, size=(n_contracts, lines, months)),
                                       axis=2))
    progress = pd.DataFrame({
        "contract_id": np.repeat(cids, lines * months),
        "n": np.tile(np.arange(1, months + 1), n_contracts * lines),
        "line_no": np.tile(np.repeat([f"{j:03d}" for j in range(lines)], months), n_contracts),
        "pct_bp": pct.ravel()})
    return contracts, price_lines, situations, progress


def python_loop_works(price_lines: pd.DataFrame, progress: pd.DataFrame) -> dict:
    """Reference: the per-line Python loop a spreadsheet macro would do (works_cum only)."""
    amount = dict(zip(zip(price_lines["contract_id"], price_lines["line_no"], strict=True),
                      price_lines["amount_cents"].tolist(), strict=True))
    totals: dict = {}
    for cid, n, line, pct in zip(progress["contract_id"], progress["n"], progress["line_no"],
                                 progress["pct_bp"], strict=True):
        key = (cid, n)
        totals[key] = totals.get(key, 0) + mul_div_half_up(amount[(cid, line)], int(pct), 10_000)
    return totals


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def workbook_report_data(line_rows: int):
    """Report data for a synthetic portfolio with about `line_rows` ledger line rows."""
    from gesprokit.delays import compute_delays
    from gesprokit.ledger import compute_ledger
    from gesprokit.report_data import ReportData, synthesis
    from gesprokit.store import FRAME_TABLES, Frames

    contracts, lines, sits, prog = portfolio(line_rows)
    contracts = contracts.assign(operation_code="OP", lot_code="01", company_code="E1")
    lines = lines.assign(label="Ouvrage de la décomposition du prix global et forfaitaire")
    stamp = pd.to_datetime(sits["month"] + "-28")
    sits = sits.assign(submitted_at=stamp, verified_at=stamp + pd.Timedelta(days=3),
                       moe_at=stamp + pd.Timedelta(days=5), amo_at=stamp + pd.Timedelta(days=9),
                       moa_at=stamp + pd.Timedelta(days=15),
                       paid_at=stamp + pd.Timedelta(days=40), interrupted_at=pd.NaT,
                       resumed_at=pd.NaT)
    empty = {name: pd.DataFrame(columns=[c.name for c in model.__table__.columns])
             for name, model in FRAME_TABLES.items()}
    empty["events"] = empty["events"].astype({"event_id": "int64"})
    frames = Frames(**{**empty, "contracts": contracts, "price_lines": lines, "situations": sits,
                       "progress": prog,
                       "operations": pd.DataFrame({"code": ["OP"], "buyer_kind": ["health"],
                                                   "deadline_days_override": [None]}),
                       "companies": pd.DataFrame({"code": ["E1"], "name": ["Entreprise"]}),
                       "amendments": pd.DataFrame({"contract_id": pd.Series([], dtype=str),
                                                   "amount_cents": pd.Series([], dtype="int64")}),
                       "ecb_rates": pd.DataFrame({"effective_on": [pd.Timestamp("2022-12-21")],
                                                  "rate_bp": [250]})})
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
            out = subprocess.run([sys.executable, __file__, "--workbook-child", str(size)],
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="petites tailles, moins de runs")
    parser.add_argument("--workbook-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--voila-only", action="store_true",
                        help="seulement le premier affichage des tableaux de bord")
    args = parser.parse_args()
    if args.workbook_child:
        workbook_child(args.workbook_child)
        return
    pages = ["10_entreprise.ipynb", "20_opc_verification.ipynb", "30_moe.ipynb",
             "40_amo_delais.ipynb", "50_moa.ipynb"]
    if args.voila_only:
        voila_figures(pages, 3)
        return
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    runs = 3 if args.quick else 5
    print(f"{'lignes':>10} {'ledger (s)':>11} {'boucle Python (s)':>18} {'ratio':>7}")
    for size in sizes:
        contracts, lines, sits, prog = portfolio(size)
        ledger_t = median_time(partial(compute_ledger, contracts, lines, sits, prog), runs)
        loop_rows = min(size, 100_000)
        sub = prog.iloc[:loop_rows]
        loop_t = median_time(partial(python_loop_works, lines, sub), 1) * size / loop_rows
        print(f"{len(prog):>10} {ledger_t:>11.3f} {loop_t:>18.3f} {loop_t / ledger_t:>6.0f}×")
    print("(boucle Python mesurée sur au plus 100 000 lignes puis extrapolée linéairement)")
    workbook_figures([10_000] if args.quick else [10_000, 100_000], 1 if args.quick else 3)
    voila_figures(pages[:1] if args.quick else pages, 1 if args.quick else 3)


if __name__ == "__main__":
    main()
