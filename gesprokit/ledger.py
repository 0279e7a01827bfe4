"""The décompte, cumulative first: progress -> amounts per situation (pure pandas).

Everything is computed cumulatively since the contract's notification and the
month's figure is the difference with the previous situation (CCAG-T art.
12.2.1 a), over all contracts and situations at once. Columns and meaning:
GLOSSARY.md ("The décompte, cumulative first"); rules: DOMAIN.md Part A.
All amounts are int64 cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gesprokit.money import BP, mul_div_half_up
from gesprokit.revision import compute_revision

LEDGER_COLUMNS = [
    "contract_id", "n", "month", "works_cum", "works_month", "revision_cum", "revision_month",
    "revision_provisional", "bonus_cum", "penalty_cum", "total_ht_cum", "vat_cum",
    "total_ttc_cum", "advance_repaid_cum", "retention_cum", "rectification_month", "due_cum",
    "direct_payment_cum", "previous_due_cum", "net_month",
]
MONEY_COLUMNS = [c for c in LEDGER_COLUMNS
                 if c not in ("contract_id", "n", "month", "revision_provisional")]
LINE_COLUMNS = ["contract_id", "n", "line_no", "amount_cents", "pct_bp", "line_cum",
                "line_month"]
LINE_INPUT_COLUMNS = ["contract_id", "n", "line_no", "pct_bp"]  # what line_amounts reads
DIRECT_PAYMENT_COLUMNS = [
    "contract_id", "n", "subcontract_id", "works_cum", "revision_cum", "retention_cum",
    "advance_repaid_cum", "paid_cum", "paid_month"]
_KEY_SEPARATOR = "\x1f"  # joins a contract and a subcontract into one revision key


@dataclass
class Ledger:
    """The ledger frames: one row per situation, per entered line, per revised situation."""

    situations: pd.DataFrame  # LEDGER_COLUMNS
    lines: pd.DataFrame  # LINE_COLUMNS
    revisions: pd.DataFrame  # contract_id, n, revision_cum, coefficient, provisional flag
    direct_payments: pd.DataFrame = None  # DIRECT_PAYMENT_COLUMNS, one row per payee and month

    def __post_init__(self) -> None:
        if self.direct_payments is None:
            self.direct_payments = _no_direct_payment()


def _no_direct_payment() -> pd.DataFrame:
    return _empty_if_none(None, {c: str if c in ("contract_id", "subcontract_id") else "int64"
                                 for c in DIRECT_PAYMENT_COLUMNS})


def _empty_if_none(frame: pd.DataFrame | None, columns: dict) -> pd.DataFrame:
    if frame is not None:
        return frame
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in columns.items()})


def codes_in(values: pd.Series, categories: pd.Index) -> np.ndarray:
    """Position of each value in `categories` (-1 when absent), as int64. Arrow-backed text
    is looked up by pyarrow's hash index (an order of magnitude faster than get_indexer)."""
    arrow = getattr(values.array, "_pa_array", None)
    if arrow is not None and len(values) > 1000:
        value_set = pa.array(categories.to_numpy(dtype=object), type=arrow.type)
        found = pc.index_in(arrow, value_set=value_set)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")
    return categories.get_indexer(values).astype("int64")


def line_cum(amount_cents, pct_bp):
    """A line's cumulative amount at `pct_bp`: round_half_up(amount × pct_bp / 10 000), the
    one rule for line amounts (ints or arrays; the entry grid uses it too)."""
    return mul_div_half_up(amount_cents, pct_bp, BP)


def line_amounts(progress: pd.DataFrame, price_lines: pd.DataFrame) -> pd.DataFrame:
    """Cumulative amount of each entered line: round_half_up(amount × pct_bp / 10 000)
    (see :func:`_line_amounts`)."""
    return _line_amounts(progress, price_lines)[0]


def _line_amounts(progress: pd.DataFrame, price_lines: pd.DataFrame
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cumulative amount of each entered line: round_half_up(amount × pct_bp / 10 000), and
    the works of each situation's month (``contract_id, n, works_month``).

    A line left out of a situation keeps its previous cumulative %, so
    ``line_month`` is the change since the line's previous entry. Rows come
    out ordered by contract, situation and line. Keys are encoded as integers
    once (sorted codes keep the text order), so that lookups, sorting and
    differences run in numpy.
    """
    contracts = pd.Index(np.sort(price_lines["contract_id"].unique()))
    line_nos = pd.Index(np.sort(price_lines["line_no"].unique()))
    width = max(len(line_nos), 1)
    price_key = (codes_in(price_lines["contract_id"], contracts) * width
                 + codes_in(price_lines["line_no"], line_nos))
    p_contract = codes_in(progress["contract_id"], contracts)
    p_line = codes_in(progress["line_no"], line_nos)
    position = pd.Index(price_key).get_indexer(p_contract * width + p_line)
    unknown = (p_contract < 0) | (p_line < 0) | (position < 0)
    if unknown.any():
        first = progress.iloc[int(np.flatnonzero(unknown)[0])]
        raise ValueError(f"ligne de prix inconnue : {first['contract_id']} {first['line_no']}")
    n = progress["n"].to_numpy(dtype="int64")
    span = int(n.max()) + 1 if len(n) else 1
    line_key = p_contract * width + p_line
    order = _sorting(line_key * span + n)  # each line's entries in situation order
    amount = price_lines["amount_cents"].to_numpy(dtype="int64")[position][order]
    pct = progress["pct_bp"].to_numpy(dtype="int64")[order]
    cum = line_cum(amount, pct)
    key = line_key[order]
    first_of_line = np.r_[True, key[1:] != key[:-1]]
    previous = np.r_[0, cum[:-1]]
    previous[first_of_line] = 0
    # then ordered by contract, situation and line
    situation_key = (p_contract * span + n)[order]
    back = _sorting(situation_key * width + p_line[order])  # in line order
    final = order[back]  # in the input's rows
    month = (cum - previous)[back]
    lines = pd.DataFrame({
        "contract_id": contracts[p_contract[final]], "n": n[final],
        "line_no": line_nos[p_line[final]], "amount_cents": amount[back], "pct_bp": pct[back],
        "line_cum": cum[back], "line_month": month,
        # taken from the column's own array: an object array of a million ids would be
        # inferred as text again, value by value
        "subcontract_id": price_lines["subcontract_id"].astype("str").array.take(
            position[final])})
    # each situation's works of the month, summed on the ordered keys (no second hashing
    # of a million contract ids)
    keys = situation_key[back]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else keys
    months = pd.DataFrame({
        "contract_id": contracts[p_contract[final[starts]]], "n": n[final[starts]],
        "works_month": np.add.reduceat(month, starts)
        if len(starts) else np.zeros(0, dtype="int64")})
    return lines, months


def _sorting(key: np.ndarray) -> np.ndarray:
    """The permutation sorting `key` (stable), skipping the sort when already in order."""
    if len(key) < 2 or bool((key[1:] >= key[:-1]).all()):
        return np.arange(len(key))
    return np.argsort(key, kind="stable")


def _sum_by_situation(frame: pd.DataFrame, value: str, sit: pd.DataFrame) -> pd.Series:
    """Sum of `value` per (contract_id, n), aligned on `sit` (0 where absent)."""
    if sit.empty:
        return pd.Series([], index=sit.index, dtype="int64")
    contracts = pd.Index(sit["contract_id"].unique())
    width = int(max(sit["n"].max(), frame["n"].max() if len(frame) else 0)) + 1
    sit_key = codes_in(sit["contract_id"], contracts) * width + sit["n"].to_numpy("int64")
    row_key = codes_in(frame["contract_id"], contracts) * width + frame["n"].to_numpy("int64")
    sums = pd.Series(frame[value].to_numpy("int64")).groupby(row_key).sum()
    return pd.Series(sums.reindex(sit_key, fill_value=0).to_numpy(), index=sit.index,
                     dtype="int64")


def _cum(sit: pd.DataFrame, values: pd.Series) -> pd.Series:
    return values.groupby(sit["contract_id"], sort=False).cumsum().astype("int64")


def _amount_by_date(sit: pd.DataFrame, dated: pd.DataFrame, date_col: str) -> pd.Series:
    """Σ amount_cents of a contract's `dated` rows dated on or before each known_on."""
    if dated.empty:
        return pd.Series(0, index=sit.index, dtype="int64")
    d = dated[["contract_id", date_col, "amount_cents"]].sort_values(date_col)
    d = d.assign(total=d.groupby("contract_id")["amount_cents"].cumsum().astype("int64"))
    left = sit[["contract_id", "known_on"]].reset_index().sort_values("known_on")
    merged = pd.merge_asof(left, d[["contract_id", date_col, "total"]],
                           left_on="known_on", right_on=date_col, by="contract_id")
    return merged.set_index("index")["total"].reindex(sit.index).fillna(0).astype("int64")


def compute_ledger(contracts: pd.DataFrame, price_lines: pd.DataFrame,
                   situations: pd.DataFrame, progress: pd.DataFrame,
                   adjustments: pd.DataFrame | None = None,
                   guarantees: pd.DataFrame | None = None,
                   subcontracts: pd.DataFrame | None = None,
                   amendments: pd.DataFrame | None = None,
                   revision_terms: pd.DataFrame | None = None,
                   price_index: pd.DataFrame | None = None,
                   as_of: datetime | None = None,
                   closing: dict[str, int] | None = None,
                   subcontract_revision_terms: pd.DataFrame | None = None,
                   rectifications: pd.DataFrame | None = None) -> Ledger:
    """Compute the décompte of every situation of every contract.

    Frames follow the store's columns (gesprokit.schema). The facts used for a
    situation (index values, guarantees, amendments) are those known on the
    date the MOE issued its état d'acompte (``moe_at``), or on `as_of` (default:
    now) for a situation not issued yet. `closing` maps a contract to its décompte final's
    row: there the advance is repaid in full, whatever the works' progress (R2191-11).
    `rectifications`: the MOA's rectification of a validated état (a signed TTC amount): it
    changes what that acompte makes due, and only that one (acomptes are cumulative: the
    next état starts again from the MOE's figures, less what was made due before).
    """
    as_of = pd.Timestamp(as_of or datetime.now())
    adjustments = _empty_if_none(adjustments, {"contract_id": str, "n": "int64", "kind": str,
                                               "days": "Int64", "amount_cents": "Int64"})
    guarantees = _empty_if_none(guarantees, {"contract_id": str, "amount_cents": "int64",
                                             "received_on": "datetime64[us]"})
    subcontracts = _empty_if_none(subcontracts, {"subcontract_id": str, "contract_id": str,
                                                 "amount_cents": "int64",
                                                 "direct_payment": bool})
    amendments = _empty_if_none(amendments, {"contract_id": str, "amount_cents": "int64",
                                             "signed_on": "datetime64[us]"})
    revision_terms = _empty_if_none(revision_terms, {"contract_id": str, "index_code": str,
                                                     "weight_bp": "int64"})
    price_index = _empty_if_none(price_index, {"index_code": str, "month": str,
                                               "value_e4": "int64",
                                               "published_on": "datetime64[us]"})

    sit = situations[["contract_id", "n", "month", "moe_at"]].sort_values(
        ["contract_id", "n"], kind="stable").reset_index(drop=True)
    sit["known_on"] = pd.to_datetime(sit["moe_at"]).fillna(as_of).astype("datetime64[us]")
    c = contracts.set_index("contract_id")
    per_sit = c.loc[sit["contract_id"]].reset_index(drop=True)

    lines, months = _line_amounts(progress, price_lines)
    sit["works_month"] = _sum_by_situation(months, "works_month", sit)
    sit["works_cum"] = _cum(sit, sit["works_month"])

    rev = compute_revision(sit[["contract_id", "n", "month", "works_month", "known_on"]],
                           contracts, revision_terms, price_index)
    sit = sit.merge(rev[["contract_id", "n", "revision_cum", "revision_provisional"]],
                    on=["contract_id", "n"], how="left")
    sit["revision_cum"] = sit["revision_cum"].fillna(0).astype("int64")
    sit["revision_provisional"] = sit["revision_provisional"].fillna(False).astype(bool)
    sit["revision_month"] = (sit["revision_cum"] - sit.groupby("contract_id")["revision_cum"]
                             .shift(1, fill_value=0)).astype("int64")

    contract_total = per_sit["initial_total_ht"].astype("int64") + _amount_by_date(
        sit, amendments, "signed_on")
    bonus = adjustments[adjustments["kind"] == "bonus"]
    sit["bonus_cum"] = _cum(sit, _sum_by_situation(
        bonus.assign(amount_cents=bonus["amount_cents"].astype("int64")), "amount_cents", sit))
    sit["penalty_cum"] = _penalties(sit, adjustments, per_sit, contract_total)

    sit["total_ht_cum"] = sit["works_cum"] + sit["revision_cum"] + sit["bonus_cum"]
    sit["vat_cum"] = mul_div_half_up(sit["total_ht_cum"], per_sit["vat_rate_bp"].astype("int64"),
                                     BP)
    sit["total_ttc_cum"] = sit["total_ht_cum"] + sit["vat_cum"]
    gross_retention, sit["retention_cum"] = _retention(sit, per_sit, guarantees)
    closed = _closing_rows(sit, closing)
    direct = _direct_payments(sit, lines, subcontracts, per_sit, contracts, revision_terms,
                              price_index, gross_retention, closed, subcontract_revision_terms)
    own_advance = _advance_repaid(sit["works_cum"], per_sit).where(
        ~closed, per_sit["advance_cents"].astype("int64"))
    sit["advance_repaid_cum"] = (own_advance
                                 + _sum_by_situation(direct, "advance_repaid_cum", sit))
    sit["rectification_month"] = _rectification(sit, rectifications)
    sit["due_cum"] = (sit["total_ttc_cum"] - sit["penalty_cum"] - sit["advance_repaid_cum"]
                      - sit["retention_cum"] + sit["rectification_month"])
    sit["direct_payment_cum"] = _sum_by_situation(direct, "paid_cum", sit)
    sit["previous_due_cum"] = sit.groupby("contract_id")["due_cum"].shift(1, fill_value=0)
    sit["net_month"] = sit["due_cum"] - sit["previous_due_cum"]
    for col in MONEY_COLUMNS:
        sit[col] = sit[col].astype("int64")
    sit["n"] = sit["n"].astype("int64")
    # line_amounts already orders the lines by contract, situation and line
    return Ledger(situations=sit[LEDGER_COLUMNS], lines=lines[LINE_COLUMNS], revisions=rev,
                  direct_payments=direct[DIRECT_PAYMENT_COLUMNS])


def _penalties(sit, adjustments, per_sit, contract_total) -> pd.Series:
    """Cumulative penalties: 1/3000 × contract HT per day (or fixed amounts),
    capped at 10 % of the contract total HT, waived while ≤ 1 000 € HT."""
    pen = adjustments[adjustments["kind"] == "penalty"][["contract_id", "n", "days",
                                                         "amount_cents"]]
    if pen.empty:
        return pd.Series(0, index=sit.index, dtype="int64")
    keyed = sit[["contract_id", "n"]].assign(total=contract_total,
                                             denominator=per_sit["penalty_denominator"])
    # a penalty counts in its own situation only: one recorded on a situation not in these
    # frames (a contract whose situations are not read, a replay before it) counts nowhere
    pen = pen.merge(keyed, on=["contract_id", "n"], how="inner")
    by_days = pen["days"].notna()
    amount = pen["amount_cents"].fillna(0).astype("int64").copy()
    if by_days.any():
        amount[by_days] = mul_div_half_up(pen.loc[by_days, "days"].astype("int64"),
                                          pen.loc[by_days, "total"].astype("int64"),
                                          pen.loc[by_days, "denominator"].astype("int64"))
    raw = _cum(sit, _sum_by_situation(pen.assign(amount=amount), "amount", sit))
    cap = mul_div_half_up(contract_total, per_sit["penalty_cap_bp"].astype("int64"), BP)
    waived = raw <= per_sit["penalty_waiver_cents"].astype("int64")
    return pd.Series(np.where(waived, 0, np.minimum(raw, cap)), index=sit.index, dtype="int64")


def _advance_repaid(works_cum: pd.Series, per_sit: pd.DataFrame) -> pd.Series:
    """advance × clamp((x − start) / (end − start), 0, 1), x = works_cum / initial HT."""
    initial = per_sit["initial_total_ht"].astype("int64")
    start = per_sit["advance_start_bp"].astype("int64")
    span = (per_sit["advance_end_bp"].astype("int64") - start) * initial
    num = (works_cum * BP - start * initial).clip(lower=0)
    num = np.minimum(num, span)
    advance = per_sit["advance_cents"].astype("int64")
    has = (advance > 0) & (span > 0)
    out = pd.Series(0, index=works_cum.index, dtype="int64")
    if has.any():
        out[has] = mul_div_half_up(advance[has], num[has], span[has])
    return out


def _retention(sit, per_sit, guarantees) -> tuple[pd.Series, pd.Series]:
    """(gross, withheld): rate × cumulative TTC (or HT), and that less what guarantees
    recorded by then cover."""
    base = np.where(per_sit["retention_base"] == "ht", sit["total_ht_cum"], sit["total_ttc_cum"])
    gross = mul_div_half_up(pd.Series(base, index=sit.index, dtype="int64"),
                            per_sit["retention_rate_bp"].astype("int64"), BP)
    covered = _amount_by_date(sit, guarantees, "received_on")
    return gross, (gross - covered).clip(lower=0).astype("int64")


def _closing_rows(sit: pd.DataFrame, closing: dict[str, int] | None) -> pd.Series:
    """Whether each situation row is its contract's décompte final (see `closing`)."""
    if not closing:
        return pd.Series(False, index=sit.index)
    return pd.Series([closing.get(c) == n for c, n in zip(sit["contract_id"], sit["n"],
                                                           strict=True)], index=sit.index)


def _direct_payments(sit, lines, subcontracts, per_sit, contracts, revision_terms,
                     price_index, gross_retention, closed=None,
                     own_terms=None) -> pd.DataFrame:
    """What each accepted, directly paid subcontractor is owed, cumulatively, per situation
    (DIRECT_PAYMENT_COLUMNS; HT, autoliquidation): its works at initial prices, never more
    than the declared subcontract amount, the work of a month that ended before its
    acceptance being the contractor's; revised month by month with the contract's formula,
    or the subcontract's own when it has one (the same revision rule, healed the same way);
    less its share of the
    retention (rate × its HT, reduced in the proportion a guarantee reduces the contract's)
    and its own advance's repayment. It is the part of ``due_cum`` paid to it."""
    subs = subcontracts[subcontracts["direct_payment"]]
    sub_lines = lines[lines["subcontract_id"].isin(subs["subcontract_id"])]
    if sub_lines.empty:
        return _no_direct_payment()
    per = sub_lines.groupby(["contract_id", "subcontract_id", "n"])["line_month"].sum()
    sub_cols = [c for c in ("contract_id", "subcontract_id", "amount_cents", "accepted_on",
                            "advance_cents") if c in subs.columns]
    grid = sit[["contract_id", "n", "month", "known_on"]].assign(
        gross=gross_retention, withheld=sit["retention_cum"],
        closing=False if closed is None else closed).merge(subs[sub_cols], on="contract_id")
    grid = grid.merge(per.rename("work").reset_index(),
                      on=["contract_id", "subcontract_id", "n"], how="left")
    work = grid.pop("work").fillna(0).astype("int64")
    if "accepted_on" in grid.columns:
        work = work.where(_month_ends(grid["month"]) >= grid["accepted_on"], 0)
    grid = grid.assign(work=work).sort_values(["contract_id", "subcontract_id", "n"],
                                              kind="stable").reset_index(drop=True)
    payee = grid.groupby(["contract_id", "subcontract_id"], sort=False)
    grid["works_cum"] = np.minimum(payee["work"].cumsum(), grid["amount_cents"]).clip(lower=0)
    grid["works_month"] = grid["works_cum"] - payee["works_cum"].shift(1, fill_value=0)
    grid["revision_cum"] = _payee_revision(grid, subs, contracts, revision_terms, price_index,
                                           own_terms)
    terms = contracts.set_index("contract_id").loc[grid["contract_id"]].reset_index(drop=True)
    own_ht = grid["works_cum"] + grid["revision_cum"]
    share = mul_div_half_up(own_ht, terms["retention_rate_bp"].astype("int64"), BP)
    reduced = grid["withheld"] < grid["gross"]
    if reduced.any():  # a guarantee covers part of the retention: the share shrinks alike
        share[reduced] = mul_div_half_up(share[reduced], grid.loc[reduced, "withheld"],
                                         grid.loc[reduced, "gross"].clip(lower=1))
    grid["retention_cum"] = share
    advance = (grid["advance_cents"] if "advance_cents" in grid.columns
               else pd.Series(0, index=grid.index)).fillna(0).astype("int64")
    grid["advance_repaid_cum"] = _advance_repaid(grid["works_cum"], terms.assign(
        initial_total_ht=grid["amount_cents"], advance_cents=advance)).where(
        ~grid["closing"].astype(bool), advance)
    grid["paid_cum"] = own_ht - grid["retention_cum"] - grid["advance_repaid_cum"]
    grid["paid_month"] = grid["paid_cum"] - grid.groupby(
        ["contract_id", "subcontract_id"], sort=False)["paid_cum"].shift(1, fill_value=0)
    grid["n"] = grid["n"].astype("int64")
    for col in DIRECT_PAYMENT_COLUMNS[3:]:
        grid[col] = grid[col].astype("int64")
    return grid[DIRECT_PAYMENT_COLUMNS]


def _payee_revision(grid, subs, contracts, revision_terms, price_index,
                    own_terms=None) -> pd.Series:
    """The cumulative revision of each subcontractor's own works: the contract's revision
    (:func:`compute_revision`) run with the subcontractor's works of each month, as if it
    were a contract of its own under the contract's formula — or under the subcontract's
    own formula (fixed part, base month, indices) when it has one."""
    key = grid["contract_id"] + _KEY_SEPARATOR + grid["subcontract_id"]
    pseudo = grid[["contract_id", "subcontract_id"]].assign(key=key).drop_duplicates("key")
    own = pseudo.merge(contracts, on="contract_id").drop(columns="contract_id").rename(
        columns={"key": "contract_id"})
    terms = pseudo.merge(revision_terms, on="contract_id").drop(columns="contract_id").rename(
        columns={"key": "contract_id"})
    formula = subs[subs["revision_base_month"].notna()] if "revision_base_month" in subs \
        else subs.iloc[0:0]
    if len(formula) and own_terms is not None:
        mine = own["subcontract_id"].isin(formula["subcontract_id"])
        by_sub = formula.set_index("subcontract_id")
        own.loc[mine, "price_form"] = "revisable"
        own.loc[mine, "revision_fixed_bp"] = own.loc[mine, "subcontract_id"].map(
            by_sub["revision_fixed_bp"].fillna(0)).astype("int64")
        own.loc[mine, "revision_base_month"] = own.loc[mine, "subcontract_id"].map(
            by_sub["revision_base_month"])
        terms = pd.concat([
            terms[~terms["subcontract_id"].isin(formula["subcontract_id"])],
            pseudo.merge(own_terms[["subcontract_id", "index_code", "weight_bp"]],
                         on="subcontract_id").drop(columns="contract_id").rename(
                columns={"key": "contract_id"})], ignore_index=True)
    rev = compute_revision(grid[["n", "month", "works_month", "known_on"]].assign(
        contract_id=key), own, terms, price_index)
    found = grid[["n"]].assign(contract_id=key).merge(
        rev[["contract_id", "n", "revision_cum"]], on=["contract_id", "n"], how="left")
    return found["revision_cum"].fillna(0).astype("int64")


def _month_ends(months: pd.Series) -> pd.Series:
    """The last day of each ``AAAA-MM`` month, as datetime64."""
    starts = pd.to_datetime(months + "-01")
    return (starts + pd.offsets.MonthEnd(0)).astype("datetime64[us]")


def check_ledger(ledger: Ledger) -> list[str]:
    """The reconciliation identities; returns the French description of each one broken."""
    s = ledger.situations
    problems = []
    prev = s.groupby("contract_id")

    def rule(mask: pd.Series, text: str) -> None:
        bad = s.loc[~mask, ["contract_id", "n"]]
        problems.extend(f"{r.contract_id} n°{r.n} : {text}" for r in bad.itertuples())

    rule(s["works_month"] == s["works_cum"] - prev["works_cum"].shift(1, fill_value=0),
         "travaux du mois ≠ cumul − cumul précédent")
    rule(s["revision_month"] == s["revision_cum"] - prev["revision_cum"].shift(1, fill_value=0),
         "révision du mois ≠ cumul − cumul précédent")
    rule(s["total_ht_cum"] == s["works_cum"] + s["revision_cum"] + s["bonus_cum"],
         "total HT ≠ travaux + révision + primes")
    rule(s["total_ttc_cum"] == s["total_ht_cum"] + s["vat_cum"], "TTC ≠ HT + TVA")
    rule(s["due_cum"] == s["total_ttc_cum"] - s["penalty_cum"] - s["advance_repaid_cum"]
         - s["retention_cum"] + s["rectification_month"],
         "montant dû ≠ TTC − pénalités − avance − retenue + rectification du maître d'ouvrage")
    rule(s["net_month"] == s["due_cum"] - s["previous_due_cum"],
         "net du mois ≠ dû cumulé − acomptes précédents")
    rule(s["previous_due_cum"] == prev["due_cum"].shift(1, fill_value=0),
         "acomptes précédents ≠ dû cumulé de la situation précédente")
    lines_month = _sum_by_situation(ledger.lines, "line_month", s)
    rule(lines_month == s["works_month"], "somme des lignes du mois ≠ travaux du mois")
    latest = ledger.lines.sort_values("n").groupby(["contract_id", "line_no"]).tail(1)
    by_contract = latest.groupby("contract_id")["line_cum"].sum()
    last = s.groupby("contract_id").tail(1).set_index("contract_id")["works_cum"]
    for cid, total in last.items():
        if by_contract.get(cid, 0) != total:
            problems.append(f"{cid} : somme des cumuls par ligne ≠ travaux cumulés")
    return problems


def _rectification(sit: pd.DataFrame, rectifications: pd.DataFrame | None) -> pd.Series:
    """Each situation's MOA rectification (TTC cents, 0 without one)."""
    if rectifications is None or rectifications.empty:
        return pd.Series(0, index=sit.index, dtype="int64")
    found = sit[["contract_id", "n"]].merge(
        rectifications[["contract_id", "n", "amount_cents"]], on=["contract_id", "n"],
        how="left")
    return pd.Series(found["amount_cents"].fillna(0).astype("int64").to_numpy(),
                     index=sit.index)


def ledger_from_frames(frames, as_of: datetime | None = None) -> Ledger:
    """:func:`compute_ledger` on the frames read by :func:`gesprokit.store.load_frames`."""
    return compute_ledger(
        frames.contracts, frames.price_lines, frames.situations, frames.progress,
        adjustments=frames.adjustments, guarantees=frames.guarantees,
        subcontracts=frames.subcontracts, amendments=frames.amendments,
        revision_terms=frames.revision_terms, price_index=frames.price_index, as_of=as_of,
        subcontract_revision_terms=getattr(frames, "subcontract_revision_terms", None),
        rectifications=getattr(frames, "rectifications", None))
