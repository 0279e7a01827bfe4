"""The end of a contract, computed like a monthly acompte, cumulative first (CCAG-T 2021
art. 12.3–12.4; CCP R2191-11, R2191-35).

The décompte final is one more row of the ledger, after the last acompte: the final
progress of each line (a line left out keeps its last %), every month revised with the
index values known on the day of the calculation (the **definitive** revision, flagged
provisional while one is still unpublished), the final penalties (cap and waiver on the
whole contract), the advance repaid in full, the retention still withheld. The **état du
solde** is that row's net: its cumulative amount due less the one of the last acompte as it
was established. The **récapitulation** lists what each acompte paid and the solde. Pure
pandas: no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import pandas as pd

from gesprokit.ledger import compute_ledger
from gesprokit.money import mul_div_half_up
from gesprokit.revision import compute_revision

HEADINGS = [  # (key, French label) of the décompte général, in the order it is read
    ("works_cum", "Travaux aux prix initiaux (HT)"),
    ("revision_cum", "Révision définitive des prix (HT)"),
    ("bonus_cum", "Primes (HT)"),
    ("total_ht_cum", "Total HT"),
    ("vat_cum", "TVA"),
    ("total_ttc_cum", "Total TTC"),
    ("penalty_cum", "Pénalités"),
    ("advance_repaid_cum", "Avance remboursée"),
    ("retention_cum", "Retenue de garantie conservée"),
    ("due_cum", "Montant dû au titre du marché (TTC)"),
    ("acomptes", "Acomptes déjà payés (TTC)"),
    ("solde", "Solde (TTC)"),
]


@dataclass
class FinalAccount:
    """The décompte final of a contract, its état du solde and its récapitulation."""

    contract_id: str
    n: int  # the row number of the décompte final (last acompte + 1)
    final: pd.Series  # its ledger row (LEDGER_COLUMNS), cumulative and definitive
    acomptes: int  # Σ of the acomptes' nets (due_cum of the last acompte)
    solde: int  # état du solde: final due_cum − acomptes (TTC, may be negative)
    recap: pd.DataFrame  # n, month, net (one row per acompte, then the solde)
    provisional: bool  # an index is still unpublished: the solde's revision comes later
    direct_payments: pd.DataFrame  # the subcontractors' final rows (paid directly)
    _revision_inputs: tuple = field(default=(), repr=False)

    @cached_property
    def revision(self) -> pd.DataFrame:
        """Per month: coefficients and amounts as paid / definitive (computed when asked:
        the figures of the décompte do not need it)."""
        return definitive_revision(*self._revision_inputs)

    def headings(self) -> pd.DataFrame:
        """One row per heading of the décompte général: ``key, label, amount`` (cents)."""
        values = {**{k: int(self.final[k]) for k, _ in HEADINGS if k in self.final.index},
                  "acomptes": self.acomptes, "solde": self.solde}
        return pd.DataFrame([{"key": k, "label": label, "amount": values[k]}
                             for k, label in HEADINGS])


def final_frames(frames, contract_id: str, final_pcts: dict[str, int], month: str,
                 as_of: datetime, adjustments: list[dict] | None = None):
    """The contract's frames with the décompte final appended as row n = last + 1, dated
    `as_of` (its known date: every month is revised with the values known then)."""
    sits = frames.situations[frames.situations["contract_id"] == contract_id]
    n = int(sits["n"].max()) + 1 if len(sits) else 1
    row = {"contract_id": contract_id, "n": n, "month": month,
           "moe_at": pd.Timestamp(as_of)}
    situations = pd.concat([sits[["contract_id", "n", "month", "moe_at"]],
                            pd.DataFrame([row])], ignore_index=True)
    situations["moe_at"] = pd.to_datetime(situations["moe_at"]).astype("datetime64[us]")
    progress = frames.progress[frames.progress["contract_id"] == contract_id][
        ["contract_id", "n", "line_no", "pct_bp"]]
    final = pd.DataFrame({"contract_id": contract_id, "n": n, "line_no": list(final_pcts),
                          "pct_bp": [int(v) for v in final_pcts.values()]})
    progress = pd.concat([progress, final], ignore_index=True).astype({"n": "int64",
                                                                       "pct_bp": "int64"})
    adj = frames.adjustments[frames.adjustments["contract_id"] == contract_id]
    if adjustments:
        extra = pd.DataFrame([{"contract_id": contract_id, "n": n, **a} for a in adjustments])
        adj = pd.concat([adj, extra], ignore_index=True)
    return n, situations, progress, adj


def compute_final_account(frames, contract_id: str, final_pcts: dict[str, int], month: str,
                          as_of: datetime, adjustments: list[dict] | None = None
                          ) -> FinalAccount:
    """The décompte final of `contract_id` from its final progress (line → bp), the month of
    the end of the works and the calculation date (see the module docstring)."""
    n, situations, progress, adj = final_frames(frames, contract_id, final_pcts, month, as_of,
                                                adjustments)

    def mine(df: pd.DataFrame) -> pd.DataFrame:
        return df[df["contract_id"] == contract_id] if "contract_id" in df else df

    ledger = compute_ledger(
        mine(frames.contracts), mine(frames.price_lines), situations, progress,
        adjustments=adj.astype({"days": "Int64", "amount_cents": "Int64"}),
        guarantees=mine(frames.guarantees), subcontracts=mine(frames.subcontracts),
        amendments=mine(frames.amendments), revision_terms=mine(frames.revision_terms),
        price_index=frames.price_index, as_of=as_of, closing={contract_id: n},
        subcontract_revision_terms=mine(frames.subcontract_revision_terms))
    rows = ledger.situations
    final = rows[rows["n"] == n].iloc[0]
    acomptes = int(final["previous_due_cum"])
    recap = pd.concat([rows.loc[rows["n"] < n, ["n", "month", "net_month"]],
                       pd.DataFrame([{"n": n, "month": month, "net_month":
                                      int(final["net_month"])}])], ignore_index=True)
    recap = recap.rename(columns={"net_month": "net"}).assign(
        kind=["acompte"] * (len(recap) - 1) + ["solde"])
    provisional = _awaits_an_index(frames, contract_id, rows, as_of)
    direct = ledger.direct_payments
    return FinalAccount(
        contract_id=contract_id, n=n, final=final, acomptes=acomptes,
        solde=int(final["net_month"]), recap=recap,
        provisional=provisional, direct_payments=direct[direct["n"] == n].reset_index(
            drop=True),
        _revision_inputs=(frames, contract_id, situations, progress, ledger, as_of))


def _awaits_an_index(frames, contract_id: str, rows: pd.DataFrame, as_of: datetime) -> bool:
    """True while a month with works has an index of the contract's formula unpublished on
    `as_of` (its revision is then provisional; a month without works waits for nothing)."""
    contract = frames.contracts[frames.contracts["contract_id"] == contract_id]
    if contract.empty or contract["price_form"].iloc[0] != "revisable":
        return False
    codes = frames.revision_terms.loc[frames.revision_terms["contract_id"] == contract_id,
                                      "index_code"]
    index = frames.price_index
    known = index[index["index_code"].isin(codes)
                  & (pd.to_datetime(index["published_on"]) <= pd.Timestamp(as_of))]
    known = set(zip(known["index_code"], known["month"], strict=True))
    months = rows.loc[rows["works_month"] != 0, "month"]
    return any((code, month) not in known for code in codes for month in months)


def definitive_revision(frames, contract_id: str, situations: pd.DataFrame,
                        progress: pd.DataFrame, ledger, as_of: datetime) -> pd.DataFrame:
    """Per month of works: the coefficient and revision as last paid (in the last acompte,
    with the values known on its date) and definitive (known on `as_of`), and the
    difference, carried by the solde. Each month's revision is its works × (C − 1), C being
    the coefficient :func:`compute_revision` applies to that month with the values known on
    each date (one call per date, whatever the number of months)."""
    contracts = frames.contracts[frames.contracts["contract_id"] == contract_id]
    if contracts.empty or contracts["price_form"].iloc[0] != "revisable":
        return pd.DataFrame(columns=["n", "month", "works_month", "paid_coef", "paid",
                                     "definitive_coef", "definitive", "difference"])
    sits = ledger.situations[["n", "month", "works_month"]].reset_index(drop=True)
    last = int(sits["n"].max())
    earlier = situations.loc[situations["n"] < last, "moe_at"]
    paid_on = earlier.max() if len(earlier) else pd.Timestamp(as_of)
    terms = frames.revision_terms[frames.revision_terms["contract_id"] == contract_id]
    out = {"n": sits["n"], "month": sits["month"], "works_month": sits["works_month"]}
    # as paid: with the values known on the last acompte's date, over the acomptes only
    for label, when, upto in (("paid", paid_on, last - 1),
                              ("definitive", pd.Timestamp(as_of), last)):
        rows = sits.assign(contract_id=contract_id, known_on=when)
        rev = compute_revision(rows, contracts, terms, frames.price_index).set_index("n")
        coef = rev["revision_coef_scaled"].reindex(sits["n"])
        scale = rev["revision_coef_scale"].reindex(sits["n"])
        known = coef.notna().to_numpy() & (sits["n"] <= upto).to_numpy()
        amounts = pd.Series(0, index=sits.index, dtype="int64")
        if known.any():
            amounts[known] = mul_div_half_up(
                sits.loc[known, "works_month"].astype("int64").to_numpy(),
                (coef[known] - scale[known]).astype("int64").to_numpy(),
                scale[known].astype("int64").to_numpy())
        out[f"{label}_coef"] = [int(c) / int(k) if ok else None for c, k, ok in zip(
            coef, scale, known, strict=True)]
        out[label] = amounts.tolist()
    df = pd.DataFrame(out)
    df["difference"] = (df["definitive"] - df["paid"]).astype("int64")
    return df[["n", "month", "works_month", "paid_coef", "paid", "definitive_coef",
               "definitive", "difference"]]
