"""The history of one situation as people read it: who did what, when, and why.

Built from the journal (every action writes one event, with the per-line justifications
it recorded); the pages and the PDFs show the same rows, so a correction, a return
reason or an interruption travels with the situation to every role that may see it.
"""

from __future__ import annotations

import json

import pandas as pd

from gesprokit.audit import event_payload
from gesprokit.circuit import ACTION_LABELS, RETURN_REASONS, role_label
from gesprokit.money import format_eur, format_pct_bp
from gesprokit.months import format_date_fr

TIMELINE_COLUMNS = ["Date", "Par", "Rôle", "Action", "Détail"]
ENTRY_LINES_SHOWN = 10  # a contractor's entry of more lines is summed up in its history


def _detail(event, line_labels: dict[str, str]) -> str:
    before, after = event_payload(event.before), event_payload(event.after)
    parts = []
    old_pct, new_pct = before.get("pct_bp") or {}, after.get("pct_bp") or {}
    reasons = after.get("justifications") or {}
    shown = sorted(new_pct)
    if event.action == "enter_progress" and len(shown) > ENTRY_LINES_SHOWN:
        # a month's whole entry is the grid's and the annex's, line by line; the history
        # keeps the lines the contractor justified (a fall) and says how many were entered
        shown = [line for line in shown if reasons.get(line)]
        parts.append(f"{len(new_pct)} lignes saisies (le détail par ligne figure dans le "
                     "tableau des lignes)")
    for line in shown:
        label = f"{line} {line_labels.get(line, '')}".strip()
        why = f" ({reasons[line]})" if reasons.get(line) else ""
        parts.append(f"{label} : {format_pct_bp(int(old_pct.get(line) or 0))} → "
                     f"{format_pct_bp(int(new_pct[line]))}{why}")
    if "month" in after and "month" in before:
        parts.append(f"mois {before['month']} → {after['month']}")
    if after.get("reason_code"):
        parts.append("motif : " + RETURN_REASONS.get(after["reason_code"],
                                                      after["reason_code"]))
    rectified = after.get("rectification")
    if isinstance(rectified, dict):
        parts.append(f"rectification du maître d'ouvrage : "
                     f"{format_eur(int(rectified['amount_cents']))} TTC "
                     f"({rectified['reason']}) ; net proposé par le maître d'œuvre "
                     f"{format_eur(int(rectified['moe_net_month']))}, net arrêté "
                     f"{format_eur(int(after['net_month']))}")
    if after.get("missing_pieces"):
        parts.append("pièces manquantes : " + " ; ".join(after["missing_pieces"]))
    elif isinstance(event.comment, str) and event.comment.strip():
        parts.append(f"commentaire : {event.comment.strip()}")
    if event.action in ("verify", "return") and isinstance(event.attachments, str):
        try:
            count = len(json.loads(event.attachments) or [])
        except ValueError:
            count = 0
        if count:
            parts.append(f"{count} pièce(s) jointe(s)")
    return " ; ".join(parts)


def situation_timeline(events: pd.DataFrame, contract_id: str, n: int,
                       price_lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per event of the situation, oldest first (``TIMELINE_COLUMNS``, French text):
    corrections with their justification, comments, return reasons, missing pieces."""
    labels = {}
    if price_lines is not None:
        mine = price_lines[price_lines["contract_id"] == contract_id]
        labels = dict(zip(mine["line_no"], mine["label"], strict=True))
    # the binding of a PDF to its step is the journal's proof, not a step of the situation
    own = events[(events["contract_id"] == contract_id) & (events["n"] == n)
                 & (events["action"] != "document")]
    rows = [[format_date_fr(e.at) + pd.Timestamp(e.at).strftime(" %H:%M"),
             e.actor, role_label(e.role, e.after),
             ACTION_LABELS.get(e.action, e.action), _detail(e, labels)]
            for e in own.sort_values("event_id").itertuples()]
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)
