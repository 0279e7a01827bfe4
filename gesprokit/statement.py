"""The état d'acompte a person signs: its lines (cumulative, previous, this month) from the
ledger, and the same statement recomputed with figures typed but not yet saved.

The PDFs and the approval screens take their rows from here; the amounts themselves come
from the ledger only.
"""

from __future__ import annotations

import pandas as pd

from gesprokit.ledger import ledger_from_frames
from gesprokit.store import Frames, restrict_to_contracts

# (label, ledger column, sign): what the état d'acompte lists, in its order
STATEMENT_LINES = [
    ("a) Travaux HT aux prix initiaux", "works_cum", 1),
    ("d) Révision des prix", "revision_cum", 1),
    ("Primes", "bonus_cum", 1),
    ("Total HT", "total_ht_cum", 1),
    ("b) TVA", "vat_cum", 1),
    ("Total TTC", "total_ttc_cum", 1),
    ("c) Pénalités", "penalty_cum", -1),
    ("f) Remboursement de l'avance", "advance_repaid_cum", -1),
    ("g) Retenue de garantie", "retention_cum", -1),
]
CREDITOR_NOTE = "solde en faveur du maître d'ouvrage"
RECTIFICATION_LABEL = "h) Rectification du maître d'ouvrage (TTC)"


def statement_rows(situations: pd.DataFrame, row: pd.Series,
                   provisional_note: str = "") -> list[tuple[str, int, int, int]]:
    """(label, cumulative, previous, this month) in cents for the situation `row`, ending
    with the net to pay; `situations` holds the contract's other ledger rows."""
    prev = situations[(situations["contract_id"] == row["contract_id"])
                      & (situations["n"] < row["n"])]
    before = prev.iloc[-1] if len(prev) else None
    out = []
    for label, col, sign in STATEMENT_LINES:
        cum = sign * int(row[col])
        old = sign * int(before[col]) if before is not None else 0
        if col == "revision_cum":
            label += provisional_note
        out.append((label, cum, old, cum - old))
    # the MOA's rectification counts for its own acompte only: the line shows when this
    # acompte or the previous one has one
    rect, old_rect = int(row.get("rectification_month", 0) or 0), (
        int(before.get("rectification_month", 0) or 0) if before is not None else 0)
    if rect or old_rect:
        out.append((RECTIFICATION_LABEL, rect, old_rect, rect - old_rect))
    out.append(("Net à payer TTC", int(row["due_cum"]), int(row["previous_due_cum"]),
                int(row["net_month"])))
    return out


def _percent(bp: int) -> str:
    from gesprokit.money import format_number

    return format_number(int(bp) / 100, 2).rstrip("0").rstrip(",") + " %"


def retention_terms(contract) -> str:
    """The contract's retention as the état states it: « 5 % du TTC, moins les garanties »."""
    base = "du HT" if contract["retention_base"] == "ht" else "du TTC"
    return f"{_percent(contract['retention_rate_bp'])} {base}, moins les garanties"


def penalty_terms(contract) -> str:
    """The contract's penalty clause: daily rate, cap and waiver, from its own settings."""
    from gesprokit.money import format_eur, format_number

    denominator = format_number(int(contract["penalty_denominator"]), 0)
    return (f"1/{denominator} du montant du marché HT par jour ; "
            f"plafond {_percent(contract['penalty_cap_bp'])} du marché HT ; non appliquées "
            f"jusqu'à {format_eur(int(contract['penalty_waiver_cents']))} HT")


def creditor_sentence(net_month: int) -> str | None:
    """The sentence a statement carries when this month's net is zero or negative."""
    if net_month > 0:
        return None
    from gesprokit.money import format_eur

    return (f"Net du mois {'nul' if net_month == 0 else 'négatif'} : {CREDITOR_NOTE} "
            f"de {format_eur(-net_month)} TTC (rien n'est payé à l'entreprise ce mois-ci).")


def preview(frames: Frames, contract_id: str, n: int, pcts: dict[str, int] | None = None,
            adjustments: list[dict] | None = None, as_of=None) -> pd.DataFrame:
    """The contract's ledger rows as they would be with `pcts` (line -> cumulative bp) entered
    on situation `n` and `adjustments` (kind, days, amount_cents, reason) added to it."""
    mine = restrict_to_contracts(frames, [contract_id])
    if pcts:
        progress = mine.progress
        keep = ~((progress["n"] == n) & progress["line_no"].isin(list(pcts)))
        typed = pd.DataFrame({"contract_id": contract_id, "n": n, "line_no": list(pcts),
                              "pct_bp": list(pcts.values()), "comment": None})
        mine.progress = pd.concat([progress[keep], typed.astype(
            {c: progress[c].dtype for c in ("n", "pct_bp") if c in progress})],
            ignore_index=True).sort_values(["n", "line_no"]).reset_index(drop=True)
    if adjustments:
        extra = pd.DataFrame([{"contract_id": contract_id, "n": n, "kind": a["kind"],
                               "days": a.get("days"), "amount_cents": a.get("amount_cents"),
                               "reason": a.get("reason", "")} for a in adjustments])
        base = mine.adjustments
        extra["adjustment_id"] = range(-len(extra), 0)
        extra = extra[[c for c in base.columns if c in extra.columns]]
        for col in ("days", "amount_cents"):
            if col in base.columns:
                extra[col] = extra[col].astype(base[col].dtype)
        mine.adjustments = pd.concat([base, extra], ignore_index=True)
    return ledger_from_frames(mine, as_of=as_of).situations
