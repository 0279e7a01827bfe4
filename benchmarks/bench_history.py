"""`--known-at`: the operation as it was known at a past date, replayed from the journal
(`history.frames_as_of`), against the ledger of the same base."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
from common import median_time

from gesprokit.db import get_engine
from gesprokit.history import frames_as_of
from gesprokit.ledger import ledger_from_frames
from gesprokit.portfolio import portfolio, write_portfolio
from gesprokit.store import load_frames


def journal(frames) -> pd.DataFrame:
    """The events a real history leaves: each month the contractor enters every line's
    cumulative % (before/after in the event), the OPC corrects a tenth of the lines a few
    days later, then the circuit's steps."""
    rows = []
    progress = frames.progress.sort_values(["contract_id", "n", "line_no"])
    previous: dict[tuple, int] = {}
    for (cid, n), month in progress.groupby(["contract_id", "n"], sort=True):
        sit = frames.situations[(frames.situations["contract_id"] == cid)
                                & (frames.situations["n"] == n)].iloc[0]
        at = pd.Timestamp(sit["submitted_at"])
        lines = list(month["line_no"])
        pcts = [int(v) for v in month["pct_bp"]]
        entered = {line: max(pct - 50, previous.get((cid, line), 0))
                   for line, pct in zip(lines, pcts, strict=True)}
        rows.append((at - pd.Timedelta(hours=2), "enter_progress", cid, n,
                     {"pct_bp": {line: previous.get((cid, line)) for line in lines}},
                     {"pct_bp": entered}))
        fixed = {line: pct for line, pct in zip(lines[::10], pcts[::10], strict=True)}
        rows.append((at + pd.Timedelta(days=3), "verify", cid, n,
                     {"pct_bp": {line: entered[line] for line in fixed}}, {"pct_bp": fixed}))
        for line, pct in zip(lines, pcts, strict=True):
            entered[line] = pct
            previous[(cid, line)] = pct
        for k, action in enumerate(("issue", "accept", "validate", "pay"), start=4):
            rows.append((at + pd.Timedelta(days=k), action, cid, n, {}, {}))
    events = pd.DataFrame(rows, columns=["at", "action", "contract_id", "n", "before",
                                         "after"]).sort_values("at", kind="stable")
    events["before"] = events["before"].map(json.dumps)
    events["after"] = events["after"].map(json.dumps)
    events.insert(0, "event_id", range(1, len(events) + 1))
    events["at"] = events["at"].astype("datetime64[us]")
    return events.assign(actor="bench", role="contractor", comment=None, attachments=None,
                         seal=None, prev_hash="", hash=events["event_id"].astype(str), mac=None)


def base(lines: int, months: int, contracts: int):
    """A base of `contracts` contracts of `lines` lines over `months` months, with the
    journal of its history; returns its frames."""
    folder = Path(tempfile.mkdtemp(prefix="bench-history-"))
    engine = get_engine(f"sqlite:///{folder / 'base.db'}")
    write_portfolio(engine, portfolio(lines * months * contracts, lines=lines, months=months))
    frames = load_frames(engine)
    engine.dispose()
    return replace(frames, events=journal(frames))


def run(runs: int) -> None:
    print("\n--known-at (frames_as_of) contre le décompte de la même base")
    print(f"{'marchés × lignes × mois':>24} {'événements':>11} {'--known-at (s)':>15} "
          f"{'décompte (s)':>13} {'rapport':>8} {'1er mois (s)':>13}")
    for lines, months, contracts in ((500, 6, 1), (500, 12, 1), (500, 24, 1), (500, 12, 4)):
        frames = base(lines, months, contracts)
        middle = frames.situations["submitted_at"].sort_values().iloc[
            len(frames.situations) // 2]
        first = frames.situations["moa_at"].min()  # the Chorus check of situation 1
        replay = median_time(lambda f=frames, m=middle: frames_as_of(f, m), runs)
        ledger = median_time(lambda f=frames: ledger_from_frames(f), runs)
        early = median_time(lambda f=frames, w=first: frames_as_of(f, w), runs)
        print(f"{f'{contracts} × {lines} × {months}':>24} {len(frames.events):>11} "
              f"{replay:>15.3f} {ledger:>13.3f} {replay / ledger:>7.1f}× {early:>13.3f}")
