"""`history.frames_as_of` against values worked out by hand and against a plain replay that
walks each situation's and each line's events one by one, at every date of a history."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from test_workflow import L05, PDF, T0, actor, at, engine, sample_base  # noqa: F401 - fixture

from gesprokit import workflow
from gesprokit.history import frames_as_of
from gesprokit.ledger import ledger_from_frames
from gesprokit.portfolio import portfolio
from gesprokit.store import FRAME_TABLES, Frames, _typed_empty, load_frames, typed_frame

STAMPS = {"submit": "submitted_at", "verify": "verified_at", "issue": "moe_at",
          "accept": "amo_at", "validate": "moa_at", "interrupt": "interrupted_at",
          "resume": "resumed_at", "pay": "paid_at"}
STATES = {"submit": "submitted", "verify": "verified", "issue": "issued", "accept": "accepted",
          "return": "verified", "validate": "validated", "pay": "paid"}


def payload(text) -> dict:
    return json.loads(text) if isinstance(text, str) and text else {}


def plain_replay(frames: Frames, when: datetime) -> tuple[pd.DataFrame, pd.DataFrame,
                                                          pd.DataFrame]:
    """(situations, progress, adjustments) known at `when`, one situation and one line at a
    time: a situation is known once one of its events is; its status and step dates are
    those of its known events; a month or a line's % changed by a later event takes the
    value that event found, the earliest such event counting; a line no event had entered
    before it goes; adjustments count once their situation is issued."""
    when = pd.Timestamp(when)
    journal: dict[tuple, list[dict]] = {}  # each situation's events, in order, JSON read
    for ev in frames.events.sort_values("event_id").to_dict("records"):
        if pd.notna(ev["n"]):
            ev["before"], ev["after"] = payload(ev["before"]), payload(ev["after"])
            journal.setdefault((ev["contract_id"], int(ev["n"])), []).append(ev)
    lines: dict[tuple, list[dict]] = {}
    for row in frames.progress.to_dict("records"):
        lines.setdefault((row["contract_id"], int(row["n"])), []).append(row)
    situations, rows, issued = [], [], set()
    for sit in frames.situations.to_dict("records"):
        key = (sit["contract_id"], int(sit["n"]))
        mine = journal.get(key, [])
        known = [ev for ev in mine if ev["at"] <= when]
        later = [ev for ev in mine if ev["at"] > when]
        if not known:
            continue
        sit["status"] = "draft"
        for stamp in STAMPS.values():
            sit[stamp] = pd.NaT
        for ev in known:
            sit["status"] = STATES.get(ev["action"], sit["status"])
            if ev["action"] in STAMPS:
                sit[STAMPS[ev["action"]]] = ev["at"]
        months = [ev["before"]["month"] for ev in later if "month" in ev["before"]]
        if months:
            sit["month"] = months[0]
        if pd.isna(sit["interrupted_at"]):
            sit["interruption_reason"] = None
        situations.append(sit)
        for row in lines.get(key, []):
            line = row["line_no"]
            for ev in later:
                before = ev["before"].get("pct_bp", {})
                if line in before and line in ev["after"].get("pct_bp", {}):
                    entered = any(line in earlier["after"].get("pct_bp", {}) for earlier in mine
                                  if earlier["event_id"] < ev["event_id"])
                    row = None if before[line] is None or not entered else {
                        **row, "pct_bp": before[line]}
                    break
            if row is not None:
                rows.append(row)
    for key, mine in journal.items():
        if any(ev["action"] == "issue" and ev["at"] <= when for ev in mine):
            issued.add(key)
    sit_frame = pd.DataFrame(situations, columns=frames.situations.columns).astype(
        frames.situations.dtypes.to_dict())
    progress = pd.DataFrame(rows, columns=frames.progress.columns).astype(
        frames.progress.dtypes.to_dict())
    progress = progress.sort_values(["contract_id", "n", "line_no"]).reset_index(drop=True)
    adjustments = frames.adjustments[np.array([(c, int(n)) in issued for c, n in zip(
        frames.adjustments["contract_id"], frames.adjustments["n"], strict=True)], dtype=bool)]
    return sit_frame, progress, adjustments.reset_index(drop=True)


def assert_same_as_plain_replay(frames: Frames, dates) -> None:
    for when in dates:
        replayed = frames_as_of(frames, when)
        situations, progress, adjustments = plain_replay(frames, when)
        pd.testing.assert_frame_equal(replayed.situations, situations, obj=f"situations {when}")
        pd.testing.assert_frame_equal(replayed.progress, progress, obj=f"progress {when}")
        pd.testing.assert_frame_equal(replayed.adjustments, adjustments,
                                      obj=f"adjustments {when}")
        pd.testing.assert_frame_equal(
            replayed.events, frames.events[frames.events["at"] <= when].sort_values(
                "event_id").reset_index(drop=True))


def every_date(events: pd.DataFrame) -> list[pd.Timestamp]:
    """Each event's time, a second before it, and a day before the first."""
    times = sorted(set(events["at"]))
    return [times[0] - timedelta(days=1)] + [t - timedelta(seconds=1) for t in times] + times


def frames_of(tables: dict[str, pd.DataFrame]) -> Frames:
    """Frames with the given tables (typed as the store reads them), the others empty."""
    return Frames(**{name: typed_frame(tables[name], model.__table__) if name in tables
                     else _typed_empty(model.__table__, pd.RangeIndex(0))
                     for name, model in FRAME_TABLES.items()})


def day(d: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, d, hour)


def event(event_id, when, action, n, before=None, after=None) -> dict:
    return {"event_id": event_id, "at": when, "actor": "x", "role": "x", "action": action,
            "contract_id": "C1", "n": n, "before": json.dumps(before) if before else None,
            "after": json.dumps(after) if after else None, "prev_hash": "",
            "hash": str(event_id)}


@pytest.fixture
def small() -> Frames:
    """Two situations of one contract: on the 1st, A and B are entered on situation 1, which
    the OPC corrects (A 1000 → 1500, month moved to February) then the MOE issues with a
    penalty; situation 2 enters A and C, then raises A again; B's row on situation 2 was
    never touched by an event."""
    stamps = dict.fromkeys(STAMPS.values(), None)
    situations = pd.DataFrame([
        {"contract_id": "C1", "n": 1, "month": "2026-02", "status": "issued", "version": 4,
         **stamps, "submitted_at": day(3), "verified_at": day(4), "moe_at": day(5),
         "interruption_reason": None},
        {"contract_id": "C1", "n": 2, "month": "2026-03", "status": "draft", "version": 3,
         **stamps, "interruption_reason": None}])
    progress = pd.DataFrame({"contract_id": "C1", "n": [1, 1, 2, 2, 2],
                             "line_no": ["A", "B", "A", "B", "C"],
                             "pct_bp": [1500, 2000, 3500, 2000, 500], "comment": None})
    events = pd.DataFrame([
        event(1, day(1), "create", 1, after={"status": "draft", "month": "2026-01"}),
        event(2, day(2), "enter_progress", 1, {"pct_bp": {"A": None, "B": None}},
              {"pct_bp": {"A": 1000, "B": 2000}}),
        event(3, day(3), "submit", 1),
        event(4, day(4), "verify", 1, {"pct_bp": {"A": 1000}, "month": "2026-01"},
              {"pct_bp": {"A": 1500}, "month": "2026-02"}),
        event(5, day(5), "issue", 1, after={"adjustments": [{"kind": "penalty"}]}),
        event(6, day(6), "create", 2, after={"status": "draft", "month": "2026-03"}),
        event(7, day(7), "enter_progress", 2, {"pct_bp": {"A": 1500, "C": None}},
              {"pct_bp": {"A": 3000, "C": 500}}),
        event(8, day(8), "enter_progress", 2, {"pct_bp": {"A": 3000}}, {"pct_bp": {"A": 3500}}),
    ])
    adjustments = pd.DataFrame({"adjustment_id": [1], "contract_id": "C1", "n": [1],
                                "kind": "penalty", "days": [2], "amount_cents": [None],
                                "reason": "Retard"})
    return frames_of({"situations": situations, "progress": progress, "events": events,
                      "adjustments": adjustments})


def pcts(frames: Frames) -> dict[tuple[int, str], int]:
    p = frames.progress
    return {(int(n), line): int(v) for n, line, v in zip(p["n"], p["line_no"], p["pct_bp"],
                                                         strict=True)}


def test_values_worked_out_by_hand(small):
    before = frames_as_of(small, day(1, 6))
    assert before.situations.empty and before.progress.empty and before.events.empty

    submitted = frames_as_of(small, day(3, 18))
    s1 = submitted.situations.iloc[0]
    assert list(submitted.situations["n"]) == [1]
    assert (s1["status"], s1["month"]) == ("submitted", "2026-01")
    assert s1["submitted_at"] == day(3) and pd.isna(s1["verified_at"]) and pd.isna(s1["moe_at"])
    assert pcts(submitted) == {(1, "A"): 1000, (1, "B"): 2000}
    assert submitted.adjustments.empty

    verified = frames_as_of(small, day(4, 18))
    assert tuple(verified.situations.iloc[0][["status", "month"]]) == ("verified", "2026-02")
    assert pcts(verified) == {(1, "A"): 1500, (1, "B"): 2000}
    assert verified.adjustments.empty

    # situation 2 opened: its lines entered later go, the row no event touched stays
    opened = frames_as_of(small, day(6, 18))
    assert list(opened.situations["status"]) == ["issued", "draft"]
    assert len(opened.adjustments) == 1
    assert pcts(opened) == {(1, "A"): 1500, (1, "B"): 2000, (2, "B"): 2000}

    # A raised on the 8th is put back to what the 7th entered
    entered = frames_as_of(small, day(7, 18))
    assert pcts(entered) == {(1, "A"): 1500, (1, "B"): 2000, (2, "A"): 3000, (2, "B"): 2000,
                             (2, "C"): 500}
    assert pcts(frames_as_of(small, day(9))) == pcts(small)


def test_an_empty_base_replays_to_nothing():
    empty = frames_as_of(frames_of({}), day(1))
    assert empty.situations.empty and empty.progress.empty and empty.events.empty
    assert list(empty.situations.columns) == list(frames_of({}).situations.columns)


def test_small_history_same_as_plain_replay(small):
    assert_same_as_plain_replay(small, every_date(small.events))


def journal(frames: Frames) -> pd.DataFrame:
    """Each month the contractor enters every line (a line not entered before has no value
    before), the OPC corrects every third line and moves the month of every second
    situation, then the circuit's steps, one day apart."""
    rows, previous = [], {}
    progress = frames.progress.sort_values(["contract_id", "n", "line_no"])
    situations = frames.situations.set_index(["contract_id", "n"])
    for (cid, n), month in progress.groupby(["contract_id", "n"], sort=True):
        start = pd.Timestamp(situations.loc[(cid, n), "submitted_at"]) - timedelta(days=1)
        lines, final = list(month["line_no"]), [int(v) for v in month["pct_bp"]]
        entered = {line: max(0, pct - 100) if k % 3 == 0 else pct
                   for k, (line, pct) in enumerate(zip(lines, final, strict=True))}
        rows.append((start, "create", cid, n, {}, {"month": "x"}))
        rows.append((start + timedelta(hours=1), "enter_progress", cid, n,
                     {"pct_bp": {line: previous.get((cid, line)) for line in lines}},
                     {"pct_bp": entered}))
        rows.append((start + timedelta(days=1), "submit", cid, n, {}, {}))
        fixed = dict(zip(lines[::3], final[::3], strict=True))
        moved = situations.loc[(cid, n), "month"]
        before = {"pct_bp": {line: entered[line] for line in fixed}}
        after = {"pct_bp": fixed}
        if n % 2 == 0:
            before["month"], after["month"] = f"{moved}-draft", moved
        rows.append((start + timedelta(days=2), "verify", cid, n, before, after))
        for k, action in enumerate(("issue", "accept", "validate", "pay"), start=3):
            rows.append((start + timedelta(days=k), action, cid, n, {}, {}))
        previous.update({(cid, line): pct for line, pct in zip(lines, final, strict=True)})
    events = pd.DataFrame(rows, columns=["at", "action", "contract_id", "n", "before", "after"])
    events = events.sort_values("at", kind="stable").reset_index(drop=True)
    events["before"] = [json.dumps(v) if v else None for v in events["before"]]
    events["after"] = [json.dumps(v) if v else None for v in events["after"]]
    events.insert(0, "event_id", np.arange(1, len(events) + 1))
    return events.assign(actor="x", role="x", prev_hash="", hash=events["event_id"].astype(str))


def test_portfolio_history_same_as_plain_replay():
    p = portfolio(2 * 12 * 3, lines=12, months=3)
    tables = {"situations": p.situations, "progress": p.progress}
    frames = frames_of(tables)
    frames = frames_of({**tables, "events": journal(frames)})
    dates = every_date(frames.events)
    assert len(frames.situations) == 6 and len(dates) > 90
    assert_same_as_plain_replay(frames, dates)


def test_circuit_history_same_as_plain_replay(engine):  # noqa: F811
    """Situation 7 of L05 through the circuit with corrections, a month moved, a return and
    a penalty; then situation 8 opened and entered."""
    contractor, verifier, moe = actor("contractor"), actor("verifier"), actor("moe")
    workflow.create_situation(engine, contractor, L05, "2026-06", now=T0)
    workflow.enter_progress(engine, contractor, L05, 7, {"05.01": 9500},
                            {"05.01": "Dépose de châssis non conformes"}, now=at(1, 8))
    workflow.enter_progress(engine, contractor, L05, 7, {"05.01": 9700},
                            {"05.01": "Dépose de châssis non conformes"}, now=at(1, 9))
    workflow.submit(engine, contractor, L05, 7, now=at(1, 10))
    workflow.verify(engine, verifier, L05, 7, corrections={"05.01": 9000}, month="2026-07",
                    comment="Constat contradictoire du 02/07", files=[PDF], now=at(3))
    workflow.issue(engine, moe, L05, 7, now=at(5), adjustments=[
        {"kind": "penalty", "days": 2, "reason": "Retard de remise du DOE"}])
    workflow.return_to_moe(engine, actor("amo"), L05, 7, next(iter(workflow.RETURN_REASONS)),
                           "Pièce manquante", [PDF], now=at(6))
    workflow.issue(engine, moe, L05, 7, corrections={"05.01": 8800}, comment="Métré repris",
                   files=[PDF], now=at(7))
    workflow.accept(engine, actor("amo"), L05, 7, now=at(8))
    workflow.validate(engine, actor("moa"), L05, 7, now=at(12))
    workflow.pay(engine, actor("treasury"), L05, 7, now=at(28))
    workflow.create_situation(engine, contractor, L05, "2026-08", now=at(29))
    workflow.enter_progress(engine, contractor, L05, 8, {"05.01": 10_000}, now=at(30))
    frames = load_frames(engine)
    mine = frames.events[frames.events["contract_id"] == L05]
    dates = [d for d in every_date(mine) if d >= datetime(2026, 6, 1)]
    assert_same_as_plain_replay(frames, dates)
    # the figures of situation 7 the MOE had in front of it on the 6th: the OPC's 90 %
    replayed = frames_as_of(frames, at(6, 12))
    seventh = replayed.situations.query("contract_id == @L05 and n == 7").iloc[0]
    assert (seventh["status"], seventh["month"]) == ("verified", "2026-07")
    line = replayed.progress.query("contract_id == @L05 and n == 7 and line_no == '05.01'")
    assert int(line["pct_bp"].item()) == 9000


def test_the_chorus_check_expects_the_figures_known_at_each_step(engine):  # noqa: F811
    """The A4 carries the contractor's figures as submitted, the A15 the OPC's correction:
    the check reads only what the ledger and the replay need, and expects the same amounts
    as the ledger of the whole contract replayed at the step's date."""
    from gesprokit.chorus import billing

    contractor = actor("contractor")
    workflow.create_situation(engine, contractor, L05, "2026-06", now=T0)
    workflow.enter_progress(engine, contractor, L05, 7, {"05.01": 9500},
                            {"05.01": "Dépose de châssis non conformes"}, now=at(1, 8))
    workflow.submit(engine, contractor, L05, 7, now=at(1, 9))
    workflow.verify(engine, actor("verifier"), L05, 7, corrections={"05.01": 9000},
                    comment="Constat contradictoire du 02/07", files=[PDF], now=at(3))
    workflow.issue(engine, actor("moe"), L05, 7, now=at(5))
    expected = {}
    with engine.connect() as conn:
        for frame, who, when in (("A4", contractor, at(1, 9)), ("A15", actor("moe"), at(5))):
            draft, _ = billing.prepare(conn, who, L05, frame, f"P-{frame}", n=7)
            expected[frame] = draft.expected
            whole = ledger_from_frames(frames_as_of(load_frames(conn, [L05]), when), when)
            row = whole.situations.query("n == 7").iloc[0]
            previous = whole.situations.query("n == 6").iloc[0]
            assert draft.expected.ht == row["total_ht_cum"] - previous["total_ht_cum"]
            assert draft.expected.ttc == row["total_ttc_cum"] - previous["total_ttc_cum"]
            assert draft.expected.to_pay == row["net_month"]
    # the OPC took 5 % of line 05.01 (248 640 € HT) off between the two
    assert expected["A4"].ht - expected["A15"].ht == 24_864_000 * 500 // 10_000
