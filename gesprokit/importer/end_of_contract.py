"""Importing the end of contracts already under way: réceptions, projets de décompte final
and their answers, final progress (see docs/data-format.md).

The checks follow the same rules as the actions of :mod:`gesprokit.end_of_contract` (each
act after the one it answers, within its legal delay where the law closes it); the figures
the parties signed are computed once the rows are written, exactly as the actions compute
them on their dates.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, update

from gesprokit import schema

Row = dict


def check_end_of_contract(pf, contracts: dict, situations: dict, lines: dict,
                          receptions: dict, finals: dict) -> None:
    """Cross-table rules of ``receptions``, ``final_accounts`` and ``final_progress``;
    `receptions` and `finals` are the tables' rows by contract (duplicates already said).
    Completes each réception with its délai de garantie and each row with its author."""
    from gesprokit.chorus.frames import TACIT_MOA_DAYS
    from gesprokit.end_of_contract import ANSWER_DAYS

    last = {}
    for (cid, _), s in situations.items():
        if cid not in last or s["month"] > last[cid]["month"]:
            last[cid] = s
    for r in receptions.values():
        c = contracts.get(r["contract_id"])
        if c is None:
            pf.problem(r, "contract_id", f"marché « {r['contract_id']} » inconnu")
            continue
        months = c.get("guarantee_months") or 12
        if r["guarantee_until"] is None:
            r["guarantee_until"] = (pd.Timestamp(r["received_on"])
                                    + pd.DateOffset(months=months)).date()
        elif r["guarantee_until"] <= r["received_on"]:
            pf.problem(r, "guarantee_until", "fin du délai de garantie avant la réception")
        if r["received_on"] < c["notified_on"]:
            pf.problem(r, "received_on", "réception antérieure à la notification du marché")
        if r["reserves"] is None and (r["reserves_lifted_on"] or r["reserves_cost_cents"]):
            pf.problem(r, "reserves", "levée ou coût de réserves sans réserve énoncée")
        if r["reserves_lifted_on"] is not None and r["reserves_lifted_on"] < r["received_on"]:
            pf.problem(r, "reserves_lifted_on", "levée des réserves antérieure à la réception")
        r["recorded_at"] = datetime.combine(r["received_on"], datetime.min.time())
        r["recorded_by"] = "import"
    for f in finals.values():
        cid = f["contract_id"]
        reception = receptions.get(cid)
        if reception is None:
            if cid not in pf.known("receptions", receptions, "contract_id"):
                pf.problem(f, "contract_id", f"marché « {cid} » sans réception dans "
                                             "receptions.csv")
            continue
        if reception["guarantee_until"] is None:  # its réception is refused already
            continue
        _check_final(pf, f, reception, last.get(cid), ANSWER_DAYS, TACIT_MOA_DAYS)
    for p in pf.tables["final_progress"]:
        key = (p["contract_id"], p["line_no"])
        if p["contract_id"] not in finals:
            pf.problem(p, "contract_id", f"marché « {p['contract_id']} » sans projet de "
                                         "décompte final dans final_accounts.csv")
        elif key not in lines:
            pf.problem(p, "line_no", f"ligne « {p['line_no']} » inconnue au marché")
        else:
            high = 100_000 if lines[key]["may_exceed"] else 10_000
            for column in ("claimed_bp", "admitted_bp"):
                if p[column] is not None and p[column] > high:
                    pf.problem(p, column.replace("_bp", "_pct"), "avancement supérieur à 100 %")
        if p["admitted_bp"] is not None and p["admitted_bp"] != p["claimed_bp"] and \
                not p["comment"]:
            pf.problem(p, "comment", "un avancement rectifié exige sa justification")
        if p["claimed_bp"] is None and p["admitted_bp"] is None:
            pf.problem(p, "claimed_pct", "ni avancement présenté, ni avancement admis")


def _check_final(pf, f: Row, reception: Row, last: Row | None, answer_days: int,
                 tacit_days: int) -> None:
    """One contract's end, act after act."""
    def before(column: str, other: str, label: str) -> None:
        if f[column] is not None and f[other] is not None and f[column] < f[other]:
            pf.problem(f, column, label)

    if f["claimed_at"].date() < reception["received_on"]:
        pf.problem(f, "claimed_at", "projet de décompte final antérieur à la réception")
    if last is not None and f["month"] <= last["month"]:
        pf.problem(f, "month", f"le mois du décompte final suit celui de la dernière "
                               f"situation ({last['month']})")
    if last is not None and last.get("moa_at") is None:
        pf.problem(f, "claimed_at", f"la situation n°{last['n']} n'est pas validée")
    for column, needs, label in (
            ("settled_at", "claimed_at", "décompte final établi avant le projet"),
            ("signed_at", "settled_at", "décompte général signé avant le décompte final"),
            ("answered_at", "signed_at", "réponse du titulaire sans décompte général signé")):
        if f[column] is not None and f[needs] is None:
            pf.problem(f, column, label)
        before(column, needs, label)
    if (f["answered_at"] is None) != (f["answer"] is None):
        pf.problem(f, "answer", "une réponse (sans réserves / avec réserves) va avec sa date")
    elif f["answered_at"] is not None and f["signed_at"] is not None and \
            f["answered_at"].date() > f["signed_at"].date() + timedelta(days=answer_days):
        pf.problem(f, "answered_at", f"réponse après le délai de {answer_days} jours : le "
                                     "décompte général était réputé accepté")
    if f["answer"] == "reserves" and (not f["claim_text"] or not f["disputed_cents"]):
        pf.problem(f, "claim_text", "des réserves exigent le mémoire et le montant réclamé")
    if f["tacit_at"] is not None:
        if f["tacit_at"].date() < f["claimed_at"].date() + timedelta(days=tacit_days + 1):
            pf.problem(f, "tacit_at", f"procédure tacite avant les {tacit_days} jours du "
                                      "maître d'ouvrage")
        if f["signed_at"] is not None and f["signed_at"] < f["tacit_at"]:
            pf.problem(f, "tacit_at", "procédure tacite après la signature du décompte "
                                      "général")
    for column in ("solde_paid_at", "retention_released_at", "kept_released_at"):
        if f[column] is not None and f["signed_at"] is None and f["tacit_at"] is None:
            pf.problem(f, column, "paiement sans décompte général")
    for column in ("retention_released_at", "kept_released_at"):
        if f[column] is not None and f[column].date() <= reception["guarantee_until"]:
            pf.problem(f, column, "retenue remboursée avant la fin du délai de garantie")
    if f["kept_released_at"] is not None and reception["reserves_lifted_on"] is None:
        pf.problem(f, "kept_released_at", "part conservée remboursée avant la levée des "
                                          "réserves")
    f["claimed_by"] = "import"
    for column, by in (("settled_at", "settled_by"), ("signed_at", "signed_by")):
        f[by] = "import" if f[column] is not None else None


def signed_figures(conn: Connection, finals: list[Row]) -> None:
    """Write each imported end's figures as the actions would have: the titulaire's projet
    on its date, the décompte général on the day the MOA signed it."""
    from gesprokit.end_of_contract import _figures, account_from_frames
    from gesprokit.store import load_frames

    if not finals:
        return
    frames = load_frames(conn, [f["contract_id"] for f in finals])
    for f in finals:
        cid = f["contract_id"]
        values = {"claim_figures": _figures(account_from_frames(frames, cid, f["claimed_at"],
                                                                claimed=True))}
        if f["signed_at"] is not None:
            values["figures"] = _figures(account_from_frames(frames, cid, f["signed_at"]))
        conn.execute(update(schema.FinalAccountRecord).where(
            schema.FinalAccountRecord.contract_id == cid).values(**values))


END_EVENTS = (  # column of the imported row → (role, action) of its event
    ("receptions", "received_on", "moa", "record_reception"),
    ("receptions", "reserves_lifted_on", "moa", "lift_reserves"),
    ("final_accounts", "claimed_at", "contractor", "submit_final"),
    ("final_accounts", "settled_at", "moe", "settle_final"),
    ("final_accounts", "signed_at", "moa", "sign_general"),
    ("final_accounts", "answered_at", "contractor", "answer_general"),
    ("final_accounts", "tacit_at", "contractor", "notify_tacit"),
    ("final_accounts", "solde_paid_at", "treasury", "pay_solde"),
    ("final_accounts", "retention_released_at", "treasury", "release_retention"),
    ("final_accounts", "kept_released_at", "treasury", "release_retention"),
)


def end_events(tables: dict) -> list[dict]:
    """The dated events of the imported end-of-contract acts, for the audit chain."""
    events = []
    for name, column, role, action in END_EVENTS:
        for row in tables.get(name, []):
            at = row.get(column)
            if at is None:
                continue
            if not isinstance(at, datetime):
                at = datetime.combine(at, datetime.min.time())
            events.append({"at": at, "actor": "import", "role": role, "action": action,
                           "contract_id": row["contract_id"], "n": None, "comment": None})
    return events
