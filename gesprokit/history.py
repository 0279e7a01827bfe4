"""The state of the operation as it was known at a past date, rebuilt from the audit log.

Situations, their states and dated steps are replayed from the events up to
the date; progress changes made later are undone with the values each event
recorded before it; the penalties and bonuses a later issue added, the MOA's
rectification of a validation made later, later guarantees (received or
recorded later), validations and index publications are left out. Every action
stores its before/after values, so no state is lost.

The replay works on arrays: events and rows are matched to their situation by an integer
key, and only the JSON of events that can change a situation known at the date is parsed
(a situation unknown then is left out with all its rows, whatever later events did to it).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pandas as pd

from gesprokit.audit import event_payload
from gesprokit.circuit import TRANSITIONS
from gesprokit.store import Frames

# the journal's columns the replay reads (a caller may read only these)
REPLAY_EVENT_COLUMNS = ("event_id", "at", "action", "contract_id", "n", "before", "after")
_STAMP_COLUMNS = [t.stamp for t in TRANSITIONS.values() if t.stamp]
_TO_STATE = {t.action: t.to_state for t in TRANSITIONS.values() if t.to_state}


def _pair_keys(*pairs: tuple[pd.Series, pd.Series]) -> list[np.ndarray]:
    """One int64 key per (contract, n) row of each (contract ids, n) pair of columns, equal
    across them exactly when contract and n are equal (n must have no missing value)."""
    ids = pd.factorize(pd.concat([c for c, _ in pairs], ignore_index=True))[0]
    ns = [n.to_numpy(dtype="int64") for _, n in pairs]
    every = np.concatenate(ns)
    low = int(every.min()) if len(every) else 0
    stride = int(every.max()) - low + 1 if len(every) else 1
    keys, start = [], 0
    for n in ns:
        keys.append(ids[start:start + len(n)].astype("int64") * stride + (n - low))
        start += len(n)
    return keys


def _last_per(positions: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each distinct position, the value of its last row) of rows in journal order."""
    if not len(positions):
        return positions, values
    reversed_positions = positions[::-1]
    unique, first = np.unique(reversed_positions, return_index=True)
    return unique, values[::-1][first]


def frames_as_of(frames: Frames, when: datetime) -> Frames:
    """`frames` as they were known at `when` (see the module docstring)."""
    when = pd.Timestamp(when)
    events = frames.events
    if not events["event_id"].is_monotonic_increasing:
        events = events.sort_values("event_id")
    known_mask, later_mask = (events["at"] <= when).to_numpy(), (events["at"] > when).to_numpy()
    known = events[known_mask]

    situations = frames.situations
    on_situation = events["n"].notna().to_numpy()
    mine = events[on_situation]
    sit_keys, ev_keys = _pair_keys((situations["contract_id"], situations["n"]),
                                   (mine["contract_id"], mine["n"]))
    ev_pos = pd.Index(sit_keys).get_indexer(ev_keys)  # the event's situation row, or -1
    ev_known = known_mask[on_situation] & (ev_pos >= 0)
    ev_later = later_mask[on_situation] & (ev_pos >= 0)

    # a situation is known once one of its events is; its state is the last one's
    kept = np.zeros(len(situations), dtype=bool)
    kept[ev_pos[ev_known]] = True
    actions = mine["action"].to_numpy(dtype=object)
    ats = mine["at"].to_numpy()
    status = np.full(len(situations), "draft", dtype=object)
    to_state = pd.Series(actions).map(_TO_STATE).to_numpy(dtype=object)
    moved = ev_known & pd.notna(to_state)
    where, value = _last_per(ev_pos[moved], to_state[moved])
    status[where] = value
    stamps = {}
    for col in _STAMP_COLUMNS:
        stamp = np.full(len(situations), np.datetime64("NaT"), dtype="datetime64[us]")
        doing = ev_known & np.isin(actions, [a for a, t in TRANSITIONS.items()
                                             if t.stamp == col])
        where, value = _last_per(ev_pos[doing], ats[doing])
        stamp[where] = value
        stamps[col] = stamp

    # the month before the first later event that changed it
    month = situations["month"].to_numpy(dtype=object).copy()
    later_kept = ev_later.copy()
    later_kept[ev_later] = kept[ev_pos[ev_later]]
    befores = mine["before"]
    changing = later_kept & befores.str.contains("month", regex=False, na=False).to_numpy()
    for pos, text in zip(ev_pos[changing][::-1], befores.to_numpy(dtype=object)[changing][::-1],
                         strict=True):
        before = event_payload(text)
        if "month" in before:
            month[pos] = before["month"]

    out = situations.assign(status=status, month=month, **stamps)[kept].copy()
    out.loc[out["interrupted_at"].isna(), "interruption_reason"] = None
    out["status"] = out["status"].astype(situations["status"].dtype)
    out["month"] = out["month"].astype(situations["month"].dtype)

    undoing = later_kept & befores.str.contains("pct_bp", regex=False, na=False).to_numpy()
    progress = _progress_as_of(frames.progress, situations, kept, mine, ev_pos, undoing)

    issued = known_mask[on_situation] & (actions == "issue")
    adjustments = frames.adjustments
    if len(adjustments):
        issue_keys, adj_keys = _pair_keys(
            (mine["contract_id"][issued], mine["n"][issued]),
            (adjustments["contract_id"], adjustments["n"]))
        adjustments = adjustments[np.isin(adj_keys, issue_keys)]
        # an état issued again (after a return) adds its own: they are the situation's last
        reissued = mine[later_kept & (actions == "issue")]
        reissued = reissued[reissued["after"].str.contains("adjustments", regex=False,
                                                           na=False).to_numpy()]
        if len(reissued):
            adjustments = _without_added(adjustments, reissued)
    rectifications = frames.rectifications
    if len(rectifications):  # written by the validation, which may come later
        done = out[out["moa_at"].notna()]
        done_keys, rect_keys = _pair_keys((done["contract_id"], done["n"]),
                                          (rectifications["contract_id"], rectifications["n"]))
        rectifications = rectifications[np.isin(rect_keys, done_keys)]
    guarantees = frames.guarantees[frames.guarantees["received_on"] <= when]
    recorded = later_mask & (events["action"] == "record_guarantee").to_numpy()
    if recorded.any():  # received by then but recorded later: unknown then
        later_ids = [event_payload(text).get("guarantee_id")
                     for text in events["after"].to_numpy(dtype=object)[recorded]]
        guarantees = guarantees[~guarantees["guarantee_id"].isin(later_ids)]
    return replace(
        frames, situations=out.reset_index(drop=True), progress=progress,
        adjustments=adjustments.reset_index(drop=True),
        rectifications=rectifications.reset_index(drop=True), guarantees=guarantees,
        payment_statements=frames.payment_statements[
            frames.payment_statements["validated_at"] <= when],
        price_index=frames.price_index[frames.price_index["published_on"] <= when],
        events=known.reset_index(drop=True))


def _without_added(adjustments: pd.DataFrame, issues: pd.DataFrame) -> pd.DataFrame:
    """`adjustments` less those the `issues` events added: as many of their situation's last
    rows (by id, ids growing as rows are added) as each event lists."""
    added: dict[tuple[str, int], int] = {}
    for cid, n, text in zip(issues["contract_id"], issues["n"],
                            issues["after"].to_numpy(dtype=object), strict=True):
        added[(cid, int(n))] = added.get((cid, int(n)), 0) + len(
            event_payload(text).get("adjustments") or [])
    ordered = adjustments.sort_values("adjustment_id")
    from_end = ordered.groupby(["contract_id", "n"], sort=False).cumcount(ascending=False)
    later = np.array([added.get((cid, int(n)), 0) for cid, n in zip(
        ordered["contract_id"], ordered["n"], strict=True)], dtype="int64")
    return adjustments[adjustments.index.isin(ordered.index[from_end.to_numpy() >= later])]


_DROP = object()  # the line had no row on the situation before the undone event


def _progress_as_of(progress: pd.DataFrame, situations: pd.DataFrame, kept: np.ndarray,
                    events: pd.DataFrame, ev_pos: np.ndarray, undoing: np.ndarray
                    ) -> pd.DataFrame:
    """The rows of the `kept` situations, sorted, with every change made by an `undoing`
    event undone: the value kept for a line is the one before the earliest such event that
    changed it; a line no earlier event had entered goes from a situation opened by the
    workflow (an imported situation's rows were there before its first event).

    `events` are the journal's situation events in order, `ev_pos` each one's situation row
    (-1: none); only the JSON of the undoing events and of the other events of their
    situations is parsed."""
    prog_keys, sit_keys = _pair_keys((progress["contract_id"], progress["n"]),
                                     (situations["contract_id"], situations["n"]))
    prog_pos = pd.Index(sit_keys).get_indexer(prog_keys)
    keep = prog_pos >= 0
    keep[keep] = kept[prog_pos[keep]]

    undo: dict[tuple[int, str], object] = {}
    if undoing.any():
        touched = np.unique(ev_pos[undoing])
        ids = events["event_id"].to_numpy()
        afters = events["after"].to_numpy(dtype=object)
        entering = np.isin(ev_pos, touched) & events["after"].str.contains(
            "pct_bp", regex=False, na=False).to_numpy()
        opened = set(ev_pos[np.isin(ev_pos, touched) & (
            events["action"].to_numpy(dtype=object) == "create")].tolist())
        first_entered: dict[tuple[int, str], int] = {}  # (situation, line) -> first event
        for pos, event_id, text in zip(ev_pos[entering], ids[entering], afters[entering],
                                       strict=True):
            for line in event_payload(text).get("pct_bp", {}):
                first_entered.setdefault((pos, line), event_id)
        befores = events["before"].to_numpy(dtype=object)
        for i in np.flatnonzero(undoing)[::-1]:
            before, after = event_payload(befores[i]), event_payload(afters[i])
            changed = after.get("pct_bp", {})
            pos, event_id = ev_pos[i], ids[i]
            for line, old in before.get("pct_bp", {}).items():
                if line not in changed:
                    continue
                entered = (pos not in opened
                           or first_entered.get((pos, line), event_id) < event_id)
                undo[(pos, line)] = old if old is not None and entered else _DROP

    pct = progress["pct_bp"].to_numpy(dtype="int64").copy()
    if undo:
        touched_rows = np.flatnonzero(keep & np.isin(prog_pos, [p for p, _ in undo]))
        lines = progress["line_no"].to_numpy(dtype=object)
        for row in touched_rows:
            value = undo.get((prog_pos[row], lines[row]))
            if value is _DROP:
                keep[row] = False
            elif value is not None:
                pct[row] = value
    rows = np.flatnonzero(keep)
    out = progress.iloc[rows].assign(pct_bp=pct[rows])
    order = np.lexsort((pd.factorize(out["line_no"], sort=True)[0], out["n"].to_numpy(),
                        pd.factorize(out["contract_id"], sort=True)[0]))
    if len(order) and (np.diff(order) < 0).any():
        out = out.iloc[order]
    return out.reset_index(drop=True)
