"""Charts of payment delays for the MOA assistant (matplotlib, French labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from gesprokit.delays import ACTOR_STEPS
from gesprokit.money import format_number

ACTOR_LABELS = {"days_verifier": "OPC / vérificateur", "days_moe": "Maître d'œuvre",
                "days_amo": "AMO", "days_moa": "Maître d'ouvrage",
                "days_treasury": "Comptable / trésorerie"}
ACTOR_COLORS = ["#8fb8de", "#1f5f8b", "#f2b134", "#b03a2e", "#5b8c5a"]


def _label(delays: pd.DataFrame) -> pd.Series:
    which = (" n°" + delays["n"].astype(str)).where(delays["payment"] != "avance", " avance")
    which = which.where(delays["payment"] != "paiement direct", which + " ST")
    return delays["contract_id"].str.split("-").str[-1] + which


MAX_BARS = 40  # beyond this, one bar per situation is unreadable: one per contract instead


def _per_contract(delays: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Mean days per actor of each contract's situations, its longest deadline and latest
    lateness; labels « L01 (18 sit.) »."""
    cols = [c for c, _, _ in ACTOR_STEPS]
    g = delays.groupby("contract_id", sort=True)
    out = g[cols].mean()
    out["deadline_days"] = g["deadline_days"].max()
    out["late_days"] = g["late_days"].max()
    out = out.reset_index()
    count = g.size().reindex(out["contract_id"]).to_numpy()
    labels = out["contract_id"].str.split("-").str[-1] + [f" ({c} sit.)" for c in count]
    return out, labels


def days_per_actor(delays: pd.DataFrame, title: str = "Jours consommés par acteur") -> Figure:
    """Stacked bars of the days each actor held each situation, against its legal deadline
    (more than MAX_BARS situations: the mean per contract)."""
    if len(delays) > MAX_BARS:
        delays, labels = _per_contract(delays)
        title += " (moyenne par marché)"
        late_label = "Au moins un paiement en retard"
    else:
        labels, late_label = _label(delays), "Paiement en retard"
    fig = Figure(figsize=(max(8, 0.28 * len(delays) + 3), 4.8))
    ax = fig.subplots()
    x = np.arange(len(delays))
    bottom = np.zeros(len(delays))
    for (col, _, _), color in zip(ACTOR_STEPS, ACTOR_COLORS, strict=True):
        values = delays[col].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, color=color, label=ACTOR_LABELS[col], width=0.8)
        bottom += values
    ax.step(np.append(x, x[-1] + 1) - 0.5 if len(x) else [],
            np.append(delays["deadline_days"].to_numpy(), delays["deadline_days"].iloc[-1])
            if len(x) else [], where="post", color="black", linestyle="--",
            label="Délai réglementaire")
    late = delays["late_days"].to_numpy() > 0
    ax.scatter(x[late], bottom[late] + 2, marker="v", color="#b03a2e", zorder=3,
               label=late_label)
    ax.set_xticks(x, labels, rotation=90 if len(delays) > 12 else 30, fontsize=8)
    ax.set_ylabel("Jours calendaires")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8, ncols=3)
    ax.set_ylim(0, max(bottom.max(initial=0), delays["deadline_days"].max()) * 1.35)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def payment_time_distribution(delays: pd.DataFrame) -> Figure:
    """Histogram of the days from receipt to payment of paid situations."""
    paid = delays[delays["paid_at"].notna()]
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    ax.hist(paid["elapsed_days"], bins=range(0, int(paid["elapsed_days"].max()) + 6, 5),
            color="#1f5f8b", edgecolor="white")
    deadline = int(paid["deadline_days"].median())
    ax.axvline(deadline, color="#b03a2e", linestyle="--",
               label=f"Délai réglementaire ({deadline} jours)")
    ax.set_xlabel("Jours entre la demande et le paiement")
    ax.set_ylabel("Situations")
    ax.set_title("Répartition des délais de paiement")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def interest_exposure(delays: pd.DataFrame) -> Figure:
    """Cumulative late interest + indemnities owed, by month of payment."""
    paid = delays[delays["paid_at"].notna()].sort_values("paid_at")
    months = paid["paid_at"].dt.strftime("%Y-%m")
    owed = (paid["late_interest"] + paid["recovery_indemnity"]).groupby(months).sum()
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    ax.bar(owed.index, owed.to_numpy() / 100, color="#f2b134", label="Du mois")
    ax.plot(owed.index, owed.cumsum().to_numpy() / 100, color="#b03a2e", marker="o",
            label="Cumul")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_number(v, 0) + " €"))
    ax.set_title("Intérêts moratoires et indemnités dus (par mois de paiement)")
    ax.tick_params(axis="x", rotation=60)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
