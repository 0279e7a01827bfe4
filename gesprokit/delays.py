"""Payment delays: legal deadline, interruption, late interest, and who consumes the delay.

One row per situation (GLOSSARY "Payment delays"). The delay runs from the
contractor's validation of its projet de décompte (``received_at``); its
length comes from the buyer's kind (R2192-10/11) unless the operation sets
another. One interruption (R2192-27..29): a new delay of 30 days, or the
remaining balance if longer, runs from the receipt of the missing pieces.
Late interest (R2192-31): ECB rate in force on the 1st day of the half-year in
which interest starts + 8 points, simple interest on the TTC amount paid, per
365 days, plus the 40 € recovery indemnity (D2192-35). Pure pandas.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from gesprokit.money import BP, mul_div_half_up
from gesprokit.months import half_year_start

DEADLINE_DAYS = {"state": 30, "local": 30, "health": 50, "public_company": 60}
BUYER_LABELS = {"state": "l'État et ses établissements", "local": "une collectivité territoriale",
                "health": "un établissement public de santé",
                "public_company": "une entreprise publique"}
LATE_RATE_MARGIN_BP = 800
RECOVERY_INDEMNITY_CENTS = 4_000
MOE_LIMIT_DAYS = 7
RETENTION_REFUND_DAYS = 30  # CCP R2191-35
# the payments of a contract's end (solde, its revision, the retention's refunds)
END_PAYMENTS = ("solde", "révision du solde", "retenue", "retenue conservée (réserves)")
INTERRUPTION_MIN_DAYS = 30
ACTOR_STEPS = [("days_verifier", "submitted_at", "verified_at"),
               ("days_moe", "verified_at", "moe_at"), ("days_amo", "moe_at", "amo_at"),
               ("days_moa", "amo_at", "moa_at"), ("days_treasury", "moa_at", "paid_at")]
DELAY_COLUMNS = [
    "contract_id", "n", "payment", "payee", "subcontract_id", "month", "received_at",
    "paid_at", "amount_due_ttc", "deadline_days",
    "interrupted_days", "deadline_on", "elapsed_days", "late_days", "late_rate_bp",
    "late_interest", "recovery_indemnity", *[c for c, _, _ in ACTOR_STEPS],
    "moe_limit_breached", "returns_count", "return_reasons",
]


def deadline_days(buyer_kind: str, override=None) -> int:
    """The payment deadline of a buyer (R2192-10/11): the legal one, or the contract's when it
    is shorter (a longer one is refused on entry and never applied)."""
    legal = DEADLINE_DAYS[buyer_kind]
    if override is None or pd.isna(override):
        return legal
    return min(int(override), legal)


def longer_deadline_problem(buyer_kind: str, override) -> str | None:
    """The French refusal of a contractual deadline longer than the legal one, or None."""
    if override is None or pd.isna(override) or buyer_kind not in DEADLINE_DAYS:
        return None
    legal = DEADLINE_DAYS[buyer_kind]
    if int(override) <= legal:
        return None
    return (f"délai de paiement de {int(override)} jours plus long que le délai légal de "
            f"{legal} jours pour {BUYER_LABELS[buyer_kind]} (R2192-10/11) : un marché peut "
            "seulement le raccourcir")


def first_deadline(received: datetime, days: int) -> date:
    """The last day of the payment deadline before any interruption."""
    return received.date() + timedelta(days=int(days))


def late_interruption_problem(received: datetime, interrupted: datetime, days: int) -> str | None:
    """The French refusal of an interruption made after the deadline expired (R2192-27: it is
    only possible while the delay runs; days already late stay late), or None."""
    deadline = first_deadline(received, days)
    if interrupted.date() <= deadline:
        return None
    return (f"le délai de paiement a expiré le {deadline:%d/%m/%Y} : il ne peut plus être "
            "interrompu (R2192-27), les jours de retard sont acquis")


def _day(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.normalize().astype("datetime64[us]")


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.days.astype("Int64")


def ecb_rate_on(dates: pd.Series, ecb_rates: pd.DataFrame) -> pd.Series:
    """ECB rate (bp) in force on each date (the last change on or before it)."""
    left = pd.DataFrame({"date": dates.astype("datetime64[us]")}).reset_index()
    known = left.dropna(subset=["date"]).sort_values("date")
    rates = ecb_rates[["effective_on", "rate_bp"]].sort_values("effective_on")
    merged = pd.merge_asof(known, rates.astype({"effective_on": "datetime64[us]"}),
                           left_on="date", right_on="effective_on")
    return merged.set_index("index")["rate_bp"].reindex(dates.index).astype("Int64")


def _returns(events: pd.DataFrame | None) -> pd.DataFrame:
    cols = {"contract_id": pd.Series([], dtype=str), "n": pd.Series([], dtype="int64"),
            "returns_count": pd.Series([], dtype="int64"),
            "return_reasons": pd.Series([], dtype=str)}
    if events is None or events.empty:
        return pd.DataFrame(cols)
    ret = events[events["action"] == "return"].dropna(subset=["n"])
    if ret.empty:
        return pd.DataFrame(cols)

    def reason(after) -> str:
        try:
            return json.loads(after or "{}").get("reason_code", "")
        except (TypeError, ValueError):
            return ""

    ret = ret.assign(reason=ret["after"].map(reason), n=ret["n"].astype("int64"))
    return ret.groupby(["contract_id", "n"]).agg(
        returns_count=("reason", "size"),
        return_reasons=("reason", lambda r: ", ".join(x for x in r if x))).reset_index()


def compute_delays(situations: pd.DataFrame, contracts: pd.DataFrame,
                   operations: pd.DataFrame, ledger_situations: pd.DataFrame,
                   ecb_rates: pd.DataFrame, events: pd.DataFrame | None = None,
                   as_of: datetime | None = None, *,
                   direct_payments: pd.DataFrame | None = None,
                   subcontracts: pd.DataFrame | None = None,
                   requests: pd.DataFrame | None = None,
                   receptions: pd.DataFrame | None = None,
                   final_accounts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The delays frame (DELAY_COLUMNS): one row per payment and payee — each received
    situation paid to the titulaire (less what its directly paid subcontractors get), each
    advance, each accepted request of a directly paid subcontractor
    (`direct_payments` from the ledger, `requests` the subcontractors' requests) and each
    subcontractor's advance.

    An unpaid situation is measured as if paid on `as_of` (default: today):
    its ``late_interest`` is what would be owed then. Amounts in cents.
    """
    as_of = pd.Timestamp(as_of or datetime.now()).normalize()
    known = [c for c in ("contract_id", "operation_code", "company_code") if c in contracts]
    s = _with_buyer(situations[situations["submitted_at"].notna()].merge(
        contracts[known], on="contract_id"), operations)
    s = s.merge(ledger_situations[["contract_id", "n", "net_month"]], on=["contract_id", "n"],
                how="left")
    direct = _direct_by_situation(direct_payments)
    s = s.merge(direct, on=["contract_id", "n"], how="left")
    s = s.sort_values(["contract_id", "n"]).reset_index(drop=True)
    out = pd.DataFrame({"contract_id": s["contract_id"], "n": s["n"].astype("int64"),
                        "payee": s.get("company_code"), "subcontract_id": None,
                        "month": s["month"]})
    out["received_at"] = s["submitted_at"].astype("datetime64[us]")
    out["paid_at"] = s["paid_at"].astype("datetime64[us]")
    # the titulaire is paid the état's net less what goes directly to its subcontractors
    out["amount_due_ttc"] = (s["net_month"].fillna(0)
                             - s["direct_month"].fillna(0)).astype("int64")
    out["deadline_days"] = _deadline_days(s)

    received, paid = _day(s["submitted_at"]), _day(s["paid_at"])
    end = paid.fillna(as_of)
    plain = received + pd.to_timedelta(out["deadline_days"], unit="D")
    # an interruption counts only while the deadline runs: after it, days late stay late
    in_time = _day(s["interrupted_at"]) <= plain
    interrupted = _day(s["interrupted_at"]).where(in_time)
    resumed = _day(s["resumed_at"]).where(in_time)
    remaining = out["deadline_days"] - _days(interrupted, received).fillna(0).astype("int64")
    new_delay = np.maximum(remaining, INTERRUPTION_MIN_DAYS)
    after_resume = resumed + pd.to_timedelta(new_delay, unit="D")
    out["deadline_on"] = plain.where(interrupted.isna(), after_resume).astype("datetime64[us]")
    resume_or_now = resumed.fillna(end)
    out["interrupted_days"] = _days(resume_or_now, interrupted).fillna(0).astype("int64")
    out["elapsed_days"] = _days(end, received).astype("int64")
    out = out.join(_late_charges(out["deadline_on"], end, out["amount_due_ttc"], ecb_rates))

    for col, start_step, end_step in ACTOR_STEPS:
        begin, stop = _day(s[start_step]), _day(s[end_step])
        held = begin.notna() & (stop.notna() | paid.isna())
        out[col] = _days(stop.fillna(as_of), begin).where(held).fillna(0).astype("int64")
    out["moe_limit_breached"] = (_days(_day(s["moe_at"]).fillna(as_of), received)
                                 > MOE_LIMIT_DAYS).astype(bool)
    out = out.merge(_returns(events), on=["contract_id", "n"], how="left")
    out["returns_count"] = out["returns_count"].fillna(0).astype("int64")
    out["return_reasons"] = out["return_reasons"].fillna("").astype(str)
    out["payment"] = "acompte"
    others = [_advance_delays(contracts, operations, ecb_rates, as_of),
              _subcontractor_delays(contracts, operations, ecb_rates, as_of, situations,
                                    direct_payments, subcontracts, requests),
              _end_of_contract_delays(contracts, operations, ecb_rates, as_of, situations,
                                      receptions, final_accounts)]
    others = [o for o in others if not o.empty]
    if others:
        out = pd.concat([*others, out[DELAY_COLUMNS]], ignore_index=True).sort_values(
            ["contract_id", "n", "payment"], kind="stable").reset_index(drop=True)
    return out[DELAY_COLUMNS]


def _direct_by_situation(direct_payments: pd.DataFrame | None) -> pd.DataFrame:
    """What a situation's état pays directly to subcontractors (``direct_month``)."""
    if direct_payments is None or direct_payments.empty:
        return pd.DataFrame({"contract_id": pd.Series([], dtype=str),
                             "n": pd.Series([], dtype="int64"),
                             "direct_month": pd.Series([], dtype="int64")})
    return (direct_payments.groupby(["contract_id", "n"])["paid_month"].sum()
            .rename("direct_month").reset_index())


def _advance_delays(contracts: pd.DataFrame, operations: pd.DataFrame,
                    ecb_rates: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row (n = 0, payment « avance ») per contract with an advance: its deadline runs
    from the date the contract sets (else its notification), without a payment request
    (R2192-24); late interest and the 40 € as for any payment."""
    if "advance_due_from" not in contracts.columns:
        return pd.DataFrame(columns=DELAY_COLUMNS)
    c = _with_buyer(contracts[contracts["advance_cents"] > 0], operations).reset_index(
        drop=True)
    if c.empty:
        return pd.DataFrame(columns=DELAY_COLUMNS)
    start = _day(c["advance_due_from"].fillna(c["notified_on"]))
    return _direct_rows(c.assign(n=0, payment="avance", payee=c.get("company_code"),
                                 month=start.dt.strftime("%Y-%m"), start=start,
                                 paid=c["advance_paid_at"], amount=c["advance_cents"]),
                        ecb_rates, as_of)


def _subcontractor_delays(contracts, operations, ecb_rates, as_of, situations,
                          direct_payments, subcontracts, requests) -> pd.DataFrame:
    """The rows of directly paid subcontractors: each request the buyer knows accepted
    (its delay runs from that acceptance, R2193-13 and the DGP rule for subcontractors),
    for the amount the état pays it; and each subcontractor's own advance, from its
    acceptance (R2193-17..21)."""
    from gesprokit.direct_payment import known_acceptance

    if subcontracts is None or subcontracts.empty:
        return pd.DataFrame(columns=DELAY_COLUMNS)
    c = _with_buyer(contracts[["contract_id", "operation_code"]], operations)
    subs = subcontracts[subcontracts["direct_payment"]].merge(c, on="contract_id")
    parts = []
    if requests is not None and not requests.empty and direct_payments is not None:
        r = requests.assign(start=known_acceptance(requests, as_of)).dropna(subset=["start"])
        r = r.merge(subs[["subcontract_id", "company_code", "buyer_kind",
                          "deadline_days_override"]], on="subcontract_id")
        r = r.merge(direct_payments[["subcontract_id", "n", "paid_month"]],
                    on=["subcontract_id", "n"], how="left")
        r = r.merge(situations[["contract_id", "n", "month"]], on=["contract_id", "n"])
        if not r.empty:
            parts.append(_direct_rows(r.assign(
                payment="paiement direct", payee=r["company_code"], start=_day(r["start"]),
                paid=r["paid_at"], amount=r["paid_month"].fillna(0)), ecb_rates, as_of))
    if "advance_cents" in subs.columns:
        adv = subs[subs["advance_cents"].fillna(0) > 0]
        if not adv.empty:
            start = _day(adv["accepted_on"])
            parts.append(_direct_rows(adv.assign(
                n=0, payment="avance", payee=adv["company_code"],
                month=start.dt.strftime("%Y-%m"), start=start, paid=adv["advance_paid_at"],
                amount=adv["advance_cents"]), ecb_rates, as_of))
    if not parts:
        return pd.DataFrame(columns=DELAY_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def _end_of_contract_delays(contracts, operations, ecb_rates, as_of, situations, receptions,
                            final_accounts) -> pd.DataFrame:
    """The solde, due within the contract's deadline from the MOA's receipt of the DGD
    (R2192-16; tacit procedure: from the day after the MOA's 10 days), for the amount of
    the décompte général (the titulaire's projet in the tacit procedure); and the refund of
    the retention still withheld, due 30 days after the délai de garantie or the réserves'
    lifting (R2191-35). Each with late interest and the 40 € like any payment."""
    from gesprokit.end_of_contract import final_state, general_figures, retention_parts

    if final_accounts is None or final_accounts.empty:
        return pd.DataFrame(columns=DELAY_COLUMNS)
    c = _with_buyer(contracts[["contract_id", "operation_code", "company_code"]], operations)
    receptions = receptions.set_index("contract_id") if receptions is not None else None
    last_n = situations.groupby("contract_id")["n"].max()
    rows = []
    for r in final_accounts.merge(c, on="contract_id").itertuples():
        record = r._asdict()
        reception = (receptions.loc[r.contract_id].to_dict()
                     if receptions is not None and r.contract_id in receptions.index else None)
        state = final_state(record, reception, as_of.date())
        amounts = general_figures(record, state)
        if state.solde_from is None or amounts is None:
            continue
        base = dict(contract_id=r.contract_id, n=int(last_n.get(r.contract_id, 0)) + 1,
                    payee=r.company_code, month=r.month, buyer_kind=r.buyer_kind,
                    deadline_days_override=r.deadline_days_override)
        rows.append({**base, "payment": "solde", "start": state.solde_from,
                     "paid": r.solde_paid_at, "amount": amounts["solde"]})
        if isinstance(r.revision_figures, str):  # the solde's revision, notified later
            rows.append({**base, "payment": "révision du solde",
                         "start": r.revision_notified_at, "paid": r.revision_paid_at,
                         "amount": json.loads(r.revision_figures)["due_cum"]
                         - amounts["due_cum"]})
        for part in retention_parts(int(amounts.get("retention_cum", 0)), reception):
            if part.due_on is not None:
                rows.append({**base, "payment": part.payment, "days": RETENTION_REFUND_DAYS,
                             "start": part.due_on - timedelta(days=RETENTION_REFUND_DAYS),
                             "paid": record[part.column], "amount": part.amount})
    # nothing to pay (a solde of zero, or one the titulaire owes back) is no payment delay;
    # a refund whose delay has not begun yet is not one either
    rows = [r for r in rows if r["amount"] > 0 and pd.Timestamp(r["start"]) <= as_of]
    if not rows:
        return pd.DataFrame(columns=DELAY_COLUMNS)
    frame = pd.DataFrame(rows)
    frame["start"] = pd.to_datetime(frame["start"])
    frame["paid"] = pd.to_datetime(frame["paid"])
    return _direct_rows(frame, ecb_rates, as_of)


def _direct_rows(rows: pd.DataFrame, ecb_rates: pd.DataFrame,
                 as_of: pd.Timestamp) -> pd.DataFrame:
    """Delay rows of payments that pass through no actor of the circuit (advances, direct
    payments): `rows` has contract_id, n, payment, payee, month, start, paid, amount and the
    buyer's kind; the deadline runs from ``start``, no interruption."""
    rows = rows.reset_index(drop=True)
    start = _day(rows["start"])
    days = _deadline_days(rows)
    if "days" in rows:  # a payment with its own deadline (the retention's 30 days)
        days = rows["days"].fillna(days).astype("int64")
    end = _day(rows["paid"]).fillna(as_of)
    deadline = (start + pd.to_timedelta(days, unit="D")).astype("datetime64[us]")
    amount = rows["amount"].astype("int64")
    out = pd.DataFrame({
        "contract_id": rows["contract_id"], "n": rows["n"].astype("int64"),
        "payment": rows["payment"], "payee": rows["payee"],
        "subcontract_id": rows.get("subcontract_id"), "month": rows["month"],
        "received_at": start, "paid_at": pd.to_datetime(rows["paid"]).astype("datetime64[us]"),
        "amount_due_ttc": amount, "deadline_days": days, "interrupted_days": 0,
        "deadline_on": deadline, "elapsed_days": _days(end, start).astype("int64"),
        **{col: 0 for col, _, _ in ACTOR_STEPS}, "moe_limit_breached": False,
        "returns_count": 0, "return_reasons": ""})
    out = out.join(_late_charges(deadline, end, amount, ecb_rates))
    return out[DELAY_COLUMNS]


def _with_buyer(frame: pd.DataFrame, operations: pd.DataFrame) -> pd.DataFrame:
    """`frame` (with an ``operation_code``) plus its buyer's kind and contractual deadline."""
    return frame.merge(operations[["code", "buyer_kind", "deadline_days_override"]].rename(
        columns={"code": "operation_code"}), on="operation_code")


def _deadline_days(frame: pd.DataFrame) -> pd.Series:
    """:func:`deadline_days` of each row (the legal one, or a shorter contractual one)."""
    legal = frame["buyer_kind"].map(DEADLINE_DAYS)
    return np.minimum(frame["deadline_days_override"].fillna(legal), legal).astype("int64")


def _late_charges(deadline_on: pd.Series, end: pd.Series, amount: pd.Series,
                  ecb_rates: pd.DataFrame) -> pd.DataFrame:
    """Days late at `end`, the rate (ECB of the half-year in which interest starts + 8
    points), simple interest per 365 days, and the 40 €: interest and indemnity only on an
    amount actually due (R2192-31..36). One rule for every payment."""
    late = _days(end, deadline_on).fillna(0).clip(lower=0).astype("int64")
    rate = ecb_rate_on(half_year_start(deadline_on + pd.Timedelta(days=1)), ecb_rates)
    rate_bp = (rate + LATE_RATE_MARGIN_BP).where(late > 0).astype("Int64")
    due = amount.clip(lower=0).astype("int64")
    interest = pd.Series(0, index=late.index, dtype="int64")
    has = (late > 0) & rate.notna()
    if has.any():
        interest[has] = mul_div_half_up(due[has] * rate_bp[has].astype("int64"), late[has],
                                        BP * 365)
    indemnity = np.where((late > 0) & (due > 0), RECOVERY_INDEMNITY_CENTS, 0).astype("int64")
    return pd.DataFrame({"late_days": late, "late_rate_bp": rate_bp,
                         "late_interest": interest, "recovery_indemnity": indemnity},
                        index=late.index)


def forecast(delays_as_of: pd.DataFrame) -> pd.DataFrame:
    """Open items: unpaid situations with the interest owed if paid on the `as_of` date
    used to compute `delays_as_of`."""
    return delays_as_of[delays_as_of["paid_at"].isna()].reset_index(drop=True)


def actor_shares(delays: pd.DataFrame) -> pd.Series:
    """Share (bp) of the legal delay consumed by each actor, over the given situations."""
    delays = delays[delays["payment"] == "acompte"]  # the advance passes through no actor
    total = int(delays["deadline_days"].sum())
    cols = [c for c, _, _ in ACTOR_STEPS]
    if total == 0:
        return pd.Series(0, index=cols, dtype="int64")
    return (delays[cols].sum() * BP // total).astype("int64")


def portfolio_summary(delays: pd.DataFrame) -> dict:
    """Headline figures: situations, late ones, rate of late payment (bp), interest, indemnities."""
    paid = delays[delays["paid_at"].notna()]
    late = paid[paid["late_days"] > 0]
    return {
        "situations": int((delays["payment"] == "acompte").sum()),
        "advances": int((delays["payment"] == "avance").sum()),
        "direct_payments": int((delays["payment"] == "paiement direct").sum()),
        "end_payments": int(delays["payment"].isin(END_PAYMENTS).sum()),
        "paid": len(paid), "late": len(late),
        "late_rate_bp": int(len(late) * BP // len(paid)) if len(paid) else 0,
        "late_interest": int(delays["late_interest"].sum()),
        "recovery_indemnity": int(delays["recovery_indemnity"].sum()),
        "open": int(delays["paid_at"].isna().sum()),
        "moe_limit_breached": int(delays["moe_limit_breached"].sum()),
    }


def interest_by_month(delays: pd.DataFrame) -> pd.DataFrame:
    """Late interest + indemnities per month of payment (or of the as-of date when unpaid)."""
    paid_month = delays["paid_at"].dt.strftime("%Y-%m").fillna("non payé")
    return (delays.assign(payment_month=paid_month)
            .groupby("payment_month")[["late_interest", "recovery_indemnity"]].sum()
            .reset_index())


def return_causes(delays: pd.DataFrame) -> pd.DataFrame:
    """Returns to the MOE by reason, most frequent first: ``reason_code, label, returns``."""
    from gesprokit.circuit import RETURN_REASONS

    codes = delays["return_reasons"].str.split(", ").explode()
    codes = codes[codes.fillna("") != ""]
    counts = codes.value_counts().rename_axis("reason_code").reset_index(name="returns")
    counts["label"] = counts["reason_code"].map(RETURN_REASONS).fillna(counts["reason_code"])
    return counts.sort_values(["returns", "reason_code"], ascending=[False, True])[
        ["reason_code", "label", "returns"]].reset_index(drop=True)
