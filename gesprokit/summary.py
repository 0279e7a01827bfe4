"""French summaries of the ledger for people: per contract, and the S-curve."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from gesprokit.money import format_eur, format_number, format_pct_bp, mul_div_half_up
from gesprokit.months import format_month_short_fr, month_ordinal, ordinal_to_month


def contract_totals(contracts: pd.DataFrame, amendments: pd.DataFrame) -> pd.DataFrame:
    """Contract amount HT at initial prices: initial + every amendment (cents)."""
    extra = amendments.groupby("contract_id")["amount_cents"].sum()
    df = contracts[["contract_id", "lot_code", "company_code", "initial_total_ht"]].copy()
    df["amendments_ht"] = df["contract_id"].map(extra).fillna(0).astype("int64")
    df["contract_total_ht"] = df["initial_total_ht"] + df["amendments_ht"]
    return df


def contract_summary(ledger_situations: pd.DataFrame, contracts: pd.DataFrame,
                     amendments: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    """One row per contract: amount, works to date, % done, due to date (int cents)."""
    last = ledger_situations.groupby("contract_id").tail(1)
    df = contract_totals(contracts, amendments).merge(
        companies[["code", "name"]].rename(columns={"code": "company_code",
                                                    "name": "company"}), on="company_code")
    amounts = ["works_cum", "revision_cum", "due_cum", "retention_cum", "penalty_cum",
               "advance_repaid_cum"]
    df = df.merge(last[["contract_id", "n", "month", *amounts]], on="contract_id", how="left")
    for col in amounts:
        df[col] = df[col].fillna(0).astype("int64")
    total = df["contract_total_ht"].where(df["contract_total_ht"] > 0)
    df["pct_done_bp"] = (df["works_cum"] * 10_000 // total).fillna(0).astype("int64")
    return df.sort_values(["lot_code", "contract_id"]).reset_index(drop=True)


def format_summary(summary: pd.DataFrame) -> str:
    """The per-contract summary as a French text table with a total line."""
    rows = []
    for r in summary.itertuples():
        rows.append(f"Lot {r.lot_code} {r.company[:34]:<34} {format_eur(r.contract_total_ht):>18}"
                    f" {format_eur(r.works_cum):>18} {format_number(r.pct_done_bp / 100, 1):>7} %"
                    f" {format_eur(r.due_cum):>18}")
    head = (f"{'Lot / entreprise':<41} {'Marché HT':>18} {'Travaux cumulés HT':>18} "
            f"{'Réalisé':>9} {'Dû cumulé TTC':>18}")
    total = (f"{'Total':<41} {format_eur(int(summary['contract_total_ht'].sum())):>18} "
             f"{format_eur(int(summary['works_cum'].sum())):>18} {'':>9} "
             f"{format_eur(int(summary['due_cum'].sum())):>18}")
    rule = "-" * len(head)
    return "\n".join([head, rule, *rows, rule, total])


def _monthly_sum(frame: pd.DataFrame, value: str, contract_ids, months) -> pd.Series:
    """Σ over contracts of each contract's last known `value` at each month (0 before)."""
    grid = pd.MultiIndex.from_product([contract_ids, months], names=["contract_id", "ord"])
    keyed = frame.assign(ord=month_ordinal(frame["month"])).set_index(["contract_id", "ord"])
    return (keyed[value].reindex(grid).groupby(level="contract_id").ffill().fillna(0)
            .groupby(level="ord").sum().astype("int64"))


def s_curve(ledger_situations: pd.DataFrame, contracts: pd.DataFrame,
            amendments: pd.DataFrame, planned: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cumulative works of the whole operation per month vs its contract amount and, when a
    planning is given (``contract_id, month, pct_bp``), vs the planned works (cents)."""
    totals = contract_totals(contracts, amendments)
    ords = month_ordinal(ledger_situations["month"]).tolist()
    if planned is not None and len(planned):
        ords += month_ordinal(planned["month"]).tolist()
    months = list(range(int(min(ords)), int(max(ords)) + 1)) if ords else []
    ids = contracts["contract_id"]
    curve = pd.DataFrame({"month": ordinal_to_month(months).values,
                          "works_cum": _monthly_sum(ledger_situations, "works_cum", ids,
                                                    months).values,
                          "contract_total_ht": int(totals["contract_total_ht"].sum())})
    if planned is not None and len(planned):
        amount = planned.merge(totals[["contract_id", "contract_total_ht"]], on="contract_id")
        amount["planned"] = mul_div_half_up(amount["contract_total_ht"],
                                            amount["pct_bp"].astype("int64"), 10_000)
        curve["planned_cum"] = _monthly_sum(amount, "planned", ids, months).values
    return curve


def plot_s_curve(curve: pd.DataFrame, title: str, path: str | Path | None = None):
    """Line chart of cumulative works against the contract amount, French labels."""
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    if curve.empty:  # a base being filled in: no situation nor planning yet
        ax.set_title(title)
        ax.text(0.5, 0.5, "Aucune situation ni planning à tracer pour l'instant.",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig
    euros = curve["works_cum"] / 100
    x = range(len(curve))
    ax.plot(x, euros, marker="o", color="#1f5f8b", label="Travaux cumulés HT")
    if "planned_cum" in curve:
        ax.plot(x, curve["planned_cum"] / 100, color="#f2b134", linewidth=2,
                linestyle="-.", label="Prévu au planning")
    ax.set_xticks(list(x), [format_month_short_fr(m) for m in curve["month"]])
    ax.axhline(curve["contract_total_ht"].iloc[0] / 100, color="#b03a2e", linestyle="--",
               label="Montant des marchés HT")
    ax.set_title(title)
    ax.set_xlabel("Mois")
    ax.set_ylabel("Montant HT")
    ax.yaxis.set_major_formatter(FuncFormatter(
        lambda v, _: format_number(v / 1e6, 1) + " M€"))
    ax.tick_params(axis="x", rotation=60)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def french_view(df: pd.DataFrame, money: list[str] = (), pct_bp: list[str] = (),
                rename: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy for people: cents as ``1 234,56 €``, basis points as ``12,50 %``, flags as
    oui/non, French headers."""
    out = df.copy()
    for col in money:
        out[col] = out[col].map(format_eur)
    for col in pct_bp:
        out[col] = out[col].map(format_pct_bp)
    for col in out.select_dtypes(bool).columns:
        out[col] = out[col].map({True: "oui", False: "non"})
    return out.rename(columns=rename or {})
