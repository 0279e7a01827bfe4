"""The state of the operation as it was known at a past date, rebuilt from the audit log.

Situations, their states and dated steps are replayed from the events up to
the date; progress changes made later are undone with the values each event
recorded before it; later guarantees, validations and index publications are
left out. Every action stores its before/after values, so no state is lost.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pandas as pd

from gesprokit.audit import event_payload
from gesprokit.circuit import TRANSITIONS
from gesprokit.store import Frames


def _keys(df: pd.DataFrame) -> pd.Series:
    return pd.Series(list(zip(df["contract_id"], df["n"], strict=True)), index=df.index,
                     dtype=object)


def _situation_states(events: pd.DataFrame, situations: pd.DataFrame) -> pd.DataFrame:
    """Status, month and step dates of each situation from the events known at the date."""
    rows = situations.set_index(["contract_id", "n"])
    state = {}
    for ev in events.dropna(subset=["n"]).itertuples():
        key = (ev.contract_id, int(ev.n))
        if key not in rows.index:
            continue
        s = state.setdefault(key, {"status": "draft", "month": rows.loc[key, "month"]})
        t = TRANSITIONS.get(ev.action)
        if t is not None:
            if t.to_state:
                s["status"] = t.to_state
            if t.stamp:
                s[t.stamp] = ev.at
    return state


def frames_as_of(frames: Frames, when: datetime) -> Frames:
    """`frames` as they were known at `when` (see the module docstring)."""
    when = pd.Timestamp(when)
    events = frames.events.sort_values("event_id")
    known, later = events[events["at"] <= when], events[events["at"] > when]

    situations = frames.situations.copy()
    undo_month = {}
    for ev in later[::-1].itertuples():
        before = event_payload(ev.before)
        if "month" in before:
            undo_month[(ev.contract_id, int(ev.n))] = before["month"]
    states = _situation_states(known, situations)
    keep = _keys(situations).isin(states.keys())
    situations = situations[keep].copy()
    stamp_columns = [t.stamp for t in TRANSITIONS.values() if t.stamp]
    for col in stamp_columns:
        situations[col] = pd.NaT
    for i, key in _keys(situations).items():
        s = states[key]
        situations.at[i, "status"] = s["status"]
        situations.at[i, "month"] = undo_month.get(key, s["month"])
        for col in stamp_columns:
            if col in s:
                situations.at[i, col] = s[col]
    for col in stamp_columns:
        situations[col] = situations[col].astype("datetime64[us]")
    situations.loc[situations["interrupted_at"].isna(), "interruption_reason"] = None

    progress = frames.progress.copy().set_index(["contract_id", "n", "line_no"]).sort_index()
    for ev in later[::-1].itertuples():
        before, after = event_payload(ev.before), event_payload(ev.after)
        for line, old in before.get("pct_bp", {}).items():
            key = (ev.contract_id, int(ev.n), line)
            if line not in after.get("pct_bp", {}):
                continue
            if old is None or not _was_entered(key, ev, frames.events):
                progress = progress.drop(key, errors="ignore")
            else:
                progress.loc[key, "pct_bp"] = old
    progress = progress.reset_index()
    progress = progress[_keys(progress).isin(set(_keys(situations)))].reset_index(drop=True)
    progress["pct_bp"] = progress["pct_bp"].astype("int64")

    issued = {(c, int(n)) for c, n, a in zip(known["contract_id"], known["n"], known["action"],
                                             strict=True) if a == "issue"}
    adjustments = frames.adjustments[_keys(frames.adjustments).isin(issued)]
    return replace(
        frames, situations=situations.reset_index(drop=True), progress=progress,
        adjustments=adjustments.reset_index(drop=True),
        guarantees=frames.guarantees[frames.guarantees["received_on"] <= when],
        payment_statements=frames.payment_statements[
            frames.payment_statements["validated_at"] <= when],
        price_index=frames.price_index[frames.price_index["published_on"] <= when],
        events=known.reset_index(drop=True))


def _was_entered(key: tuple, event, events: pd.DataFrame) -> bool:
    """Whether the line had a row on that situation before `event` (an earlier event set it)."""
    contract_id, n, line = key
    earlier = events[(events["event_id"] < event.event_id) & (events["contract_id"] == contract_id)
                     & (events["n"] == n)]
    return any(line in event_payload(after).get("pct_bp", {}) for after in earlier["after"])
