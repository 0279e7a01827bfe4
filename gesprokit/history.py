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


def _situation_index(df: pd.DataFrame) -> pd.MultiIndex:
    """(contract, situation) of each row, as an index to look rows up at once."""
    return pd.MultiIndex.from_arrays([df["contract_id"].astype(str),
                                      df["n"].astype("int64")])


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

    progress = _progress_as_of(frames.progress, frames.events, later)
    progress = progress[_situation_index(progress).isin(_situation_index(situations))
                        ].reset_index(drop=True)

    issues = known[known["action"] == "issue"].dropna(subset=["n"])
    adjustments = frames.adjustments[
        _situation_index(frames.adjustments).isin(_situation_index(issues))]
    return replace(
        frames, situations=situations.reset_index(drop=True), progress=progress,
        adjustments=adjustments.reset_index(drop=True),
        guarantees=frames.guarantees[frames.guarantees["received_on"] <= when],
        payment_statements=frames.payment_statements[
            frames.payment_statements["validated_at"] <= when],
        price_index=frames.price_index[frames.price_index["published_on"] <= when],
        events=known.reset_index(drop=True))


_DROP = object()  # the line had no row on the situation before the undone event


def _progress_as_of(progress: pd.DataFrame, events: pd.DataFrame,
                    later: pd.DataFrame) -> pd.DataFrame:
    """The progress rows with every change made by a `later` event undone, in one pass:
    each event's JSON is parsed once, the value kept for a line is the one before the
    earliest later event that changed it (a line first entered by a later event goes)."""
    undoing = later[later["before"].str.contains("pct_bp", regex=False, na=False)]
    # only the situations a later event changed need to know which event entered a line
    events = events.dropna(subset=["n"])
    events = events[_situation_index(events).isin(_situation_index(undoing))]
    first_entered: dict[tuple, int] = {}  # (contract, n, line) -> first event setting it
    for ev in events.sort_values("event_id").itertuples():
        if isinstance(ev.after, str) and "pct_bp" in ev.after:
            for line in event_payload(ev.after).get("pct_bp", {}):
                first_entered.setdefault((ev.contract_id, int(ev.n), line), ev.event_id)
    undo: dict[tuple, object] = {}
    for ev in undoing.sort_values("event_id", ascending=False).itertuples():
        before, after = event_payload(ev.before), event_payload(ev.after)
        changed = after.get("pct_bp", {})
        for line, old in before.get("pct_bp", {}).items():
            if line not in changed:
                continue
            key = (ev.contract_id, int(ev.n), line)
            entered = first_entered.get(key, ev.event_id) < ev.event_id
            undo[key] = old if old is not None and entered else _DROP
    keys_order = ["contract_id", "n", "line_no"]
    if not undo:
        return progress.sort_values(keys_order).reset_index(drop=True)
    keys = pd.MultiIndex.from_frame(progress[["contract_id", "n", "line_no"]])
    values = pd.Series(undo, dtype=object)
    values.index = pd.MultiIndex.from_tuples(values.index)
    found = values.reindex(keys)
    out = progress.copy()
    dropped = found.map(lambda v: v is _DROP).to_numpy(dtype=bool)
    restored = found.notna().to_numpy() & ~dropped
    out.loc[restored, "pct_bp"] = found[restored].astype("int64").to_numpy()
    out = out[~dropped]
    out["pct_bp"] = out["pct_bp"].astype("int64")
    return out.sort_values(keys_order).reset_index(drop=True)
