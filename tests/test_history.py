"""The state of a contract as known at a past date, rebuilt from the audit log."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from test_workflow import L05, PDF, T0, actor, at, engine, sample_base  # noqa: F401 - fixture

from gesprokit import workflow
from gesprokit.history import frames_as_of
from gesprokit.ledger import ledger_from_frames
from gesprokit.store import load_frames


def l05(frames, n: int = 7):
    s = frames.situations
    return s[(s["contract_id"] == L05) & (s["n"] == n)]


def pct(frames, line: str, n: int = 7):
    p = frames.progress
    row = p[(p["contract_id"] == L05) & (p["n"] == n) & (p["line_no"] == line)]
    return None if row.empty else int(row["pct_bp"].iloc[0])


def test_state_known_at_each_date(engine):  # noqa: F811
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.enter_progress(engine, actor("contractor"), L05, 7, {"05.01": 9500},
                            {"05.01": "Dépose de châssis non conformes"}, now=at(1, 8))
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1, 9))
    workflow.verify(engine, actor("verifier"), L05, 7, corrections={"05.01": 9000},
                    comment="Constat contradictoire du 02/07", files=[PDF], now=at(3))
    workflow.issue(engine, actor("moe"), L05, 7, now=at(5), adjustments=[
        {"kind": "penalty", "days": 2, "reason": "Retard de remise du DOE"}])
    now = load_frames(engine)

    before_creation = frames_as_of(now, datetime(2026, 6, 15))
    assert l05(before_creation).empty and pct(before_creation, "05.01") is None
    # the imported situations known then are those already submitted
    submitted_then = now.situations["submitted_at"] <= datetime(2026, 6, 15)
    assert len(before_creation.situations) == submitted_then.sum() == 63
    assert before_creation.situations["paid_at"].max() <= datetime(2026, 6, 15)

    submitted = frames_as_of(now, at(2))
    assert l05(submitted)["status"].item() == "submitted"
    assert pct(submitted, "05.01") == 9500  # the contractor's figure
    assert pd.isna(l05(submitted)["verified_at"].item())
    assert submitted.adjustments.query("contract_id == @L05 and n == 7").empty

    verified = frames_as_of(now, at(4))
    assert l05(verified)["status"].item() == "verified" and pct(verified, "05.01") == 9000

    later = datetime(2026, 12, 31)  # after every event: the state as it is
    current = frames_as_of(now, later)
    pd.testing.assert_frame_equal(ledger_from_frames(current, later).situations,
                                  ledger_from_frames(now, later).situations)
    # the décompte known on 2 July: 95 % of line 05.01 (248 640 €), no penalty yet
    row = ledger_from_frames(submitted, at(2)).situations.query("contract_id == @L05").iloc[-1]
    assert row["works_month"] == -mul(24_864_000, 500)
    assert row["penalty_cum"] == 270_984  # only the 12 days of situation 4


def mul(amount: int, bp: int) -> int:
    return amount * bp // 10_000
