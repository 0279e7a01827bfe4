"""A situation's history as people read it: a month's whole entry is summed up, the lines
the contractor justified and every correction stay listed."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from gesprokit.timeline import ENTRY_LINES_SHOWN, situation_timeline


def _event(event_id, action, before, after, comment=None):
    return {"event_id": event_id, "at": datetime(2026, 11, 2, 9 + event_id), "actor": "x@y.fr",
            "role": "contractor" if action == "enter_progress" else "verifier",
            "action": action, "contract_id": "C1", "n": 3, "before": json.dumps(before),
            "after": json.dumps(after), "comment": comment, "attachments": None}


def test_a_months_whole_entry_is_summed_up_but_justified_lines_and_corrections_stay():
    many = ENTRY_LINES_SHOWN + 2
    lines = [f"{k:02d}" for k in range(1, many + 1)]
    entry = _event(1, "enter_progress", {"pct_bp": {line: 1000 for line in lines}},
                   {"pct_bp": {**{line: 2000 for line in lines}, "07": 500},
                    "justifications": {"07": "métré corrigé"}})
    few = _event(2, "enter_progress", {"pct_bp": {"01": 2000, "02": 2000}},
                 {"pct_bp": {"01": 2500, "02": 2600}})
    fixed = _event(3, "verify", {"pct_bp": {line: 2000 for line in lines}},
                   {"pct_bp": {line: 1900 for line in lines},
                    "justifications": {line: "constat" for line in lines}})
    events = pd.DataFrame([entry, few, fixed])
    labels = pd.DataFrame({"contract_id": "C1", "line_no": lines,
                           "label": [f"Ouvrage {line}" for line in lines]})
    detail = situation_timeline(events, "C1", 3, labels)["Détail"].tolist()
    assert detail[0] == (f"{many} lignes saisies (le détail par ligne figure dans le tableau "
                         "des lignes) ; 07 Ouvrage 07 : 10,00\xa0% → 5,00\xa0% (métré corrigé)")
    assert detail[1] == ("01 Ouvrage 01 : 20,00\xa0% → 25,00\xa0% ; "
                         "02 Ouvrage 02 : 20,00\xa0% → 26,00\xa0%")
    assert detail[2].count("(constat)") == many  # every correction, each with its reason
