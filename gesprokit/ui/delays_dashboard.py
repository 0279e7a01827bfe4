"""The MOA assistant's delays dashboard: filters, French tables and charts (ipywidgets).

It owns no rule: figures come from :mod:`gesprokit.delays`, charts from
:mod:`gesprokit.delay_charts`; this module only filters and shows them.
"""

from __future__ import annotations

import ipywidgets as w
import pandas as pd

from gesprokit import delay_charts
from gesprokit.delays import actor_shares, forecast, portfolio_summary, return_causes
from gesprokit.money import format_eur, format_pct_bp
from gesprokit.months import format_date_fr
from gesprokit.ui.common import esc
from gesprokit.ui.tables import chart, table

ALL = "Tous"
TABLE_COLUMNS = {
    "lot": "Lot", "company": "Entreprise", "payment": "Paiement", "month": "Mois",
    "received_at": "Reçue le", "deadline_on": "Date limite", "paid_at": "Payée le",
    "elapsed_days": "Jours écoulés", "late_days": "Jours de retard",
    "late_interest": "Intérêts moratoires", "recovery_indemnity": "Indemnité forfaitaire",
    "amount_due_ttc": "Montant TTC",
}


def enrich(delays: pd.DataFrame, contracts: pd.DataFrame, companies: pd.DataFrame,
           lots: pd.DataFrame) -> pd.DataFrame:
    """Delays with the lot and the payee's company name users filter on (the titulaire, or
    the subcontractor paid directly)."""
    names = contracts[["contract_id", "lot_code", "operation_code"]].merge(
        lots.rename(columns={"code": "lot_code", "name": "lot_name"}),
        on=["operation_code", "lot_code"])
    names["lot"] = names["lot_code"] + " – " + names["lot_name"]
    payees = companies[["code", "name"]].rename(columns={"code": "payee", "name": "company"})
    return delays.merge(names[["contract_id", "lot"]], on="contract_id").merge(
        payees, on="payee", how="left")


def payment_label(payment: str, n: int) -> str:
    """« avance », « situation n°3 » or « paiement direct n°3 »."""
    if payment == "avance":
        return "avance"
    return f"{'paiement direct' if payment == 'paiement direct' else 'situation'} n°{n}"


def french_table(delays: pd.DataFrame) -> pd.DataFrame:
    """The delays as people read them: French dates and amounts, French headers."""
    t = delays[list(TABLE_COLUMNS)].copy()
    t["payment"] = [payment_label(p, n)
                    for p, n in zip(delays["payment"], delays["n"], strict=True)]
    for col in ("received_at", "deadline_on", "paid_at"):
        t[col] = t[col].map(format_date_fr)
    for col in ("late_interest", "recovery_indemnity", "amount_due_ttc"):
        t[col] = t[col].map(format_eur)
    return t.rename(columns=TABLE_COLUMNS).reset_index(drop=True)


def headline(delays: pd.DataFrame) -> str:
    """One French paragraph with the portfolio's figures."""
    s = portfolio_summary(delays)
    shares = actor_shares(delays)
    parts = ", ".join(f"{delay_charts.ACTOR_LABELS[k]} {format_pct_bp(v)}"
                      for k, v in shares.items())
    others = [f"{s['advances']} avance(s)"] if s["advances"] else []
    if s["direct_payments"]:
        others.append(f"{s['direct_payments']} paiement(s) direct(s) de sous-traitants")
    if s["end_payments"]:
        others.append(f"{s['end_payments']} paiement(s) de fin de marché (solde, retenue)")
    advances = (", " + ", ".join(others[:-1]) + " et " + others[-1]) if len(others) > 1 else (
        f" et {others[0]}" if others else "")
    return (f"{s['situations']} situations reçues{advances}, {s['paid']} paiements faits dont "
            f"{s['late']} en retard ({format_pct_bp(s['late_rate_bp'])}) ; {s['open']} en "
            f"attente de paiement. Intérêts moratoires : {format_eur(s['late_interest'])}, "
            f"indemnités forfaitaires : {format_eur(s['recovery_indemnity'])}. Part du délai "
            f"réglementaire consommée : {parts}.")


class DelaysDashboard:
    """Filters (lot, company, period) driving a table, a headline and the charts."""

    def __init__(self, delays: pd.DataFrame, as_of=None):
        self.delays, self.as_of = delays, as_of if as_of is not None else pd.Timestamp.now()
        months = sorted(delays["month"].unique())
        self.lot = w.Dropdown(options=[ALL, *sorted(delays["lot"].unique())], value=ALL,
                              description="Lot")
        self.company = w.Dropdown(options=[ALL, *sorted(delays["company"].unique())],
                                  value=ALL, description="Entreprise")
        self.period = w.SelectionRangeSlider(options=months, index=(0, len(months) - 1),
                                             description="Période",
                                             layout=w.Layout(width="60%"))
        self.only_late = w.Checkbox(value=False, description="Seulement les retards")
        self.body = w.VBox()
        for control in (self.lot, self.company, self.period, self.only_late):
            control.observe(self.refresh, names="value")

    def selection(self) -> pd.DataFrame:
        """The situations matching the filters."""
        d = self.delays
        first, last = self.period.value
        mask = (d["month"] >= first) & (d["month"] <= last)
        if self.lot.value != ALL:
            mask &= d["lot"] == self.lot.value
        if self.company.value != ALL:
            mask &= d["company"] == self.company.value
        if self.only_late.value:
            mask &= d["late_days"] > 0
        return d[mask]

    def refresh(self, _change=None) -> None:
        """Every block of the page follows the filters: headline, tables, charts."""
        selected = self.selection()
        if selected.empty:
            self.body.children = [w.HTML("<p><i>Aucune situation pour ces filtres.</i></p>")]
            return
        items = [w.HTML(f"<p>{esc(headline(selected))}</p>")]
        for title, rows, name, empty in self.blocks(selected):
            items += [w.HTML(f"<h4>{esc(title)}</h4>"), table(french_table(rows), name, empty)]
        causes = return_causes(selected).rename(columns={"reason_code": "Code",
                                                         "label": "Motif", "returns": "Retours"})
        items += [w.HTML("<h4>Causes des retours au maître d'œuvre</h4>"),
                  table(causes, "retours", "Aucun retour au maître d'œuvre pour ces filtres.")]
        charts = w.VBox()
        show = w.Button(description="Afficher les graphiques", icon="bar-chart",
                        layout=w.Layout(width="auto"))

        def draw(_button=None):  # drawn on demand: the tables come first, and fast
            show.layout.display = "none"
            charts.children = self.charts(selected)
        show.on_click(draw)
        self.show_charts = draw
        self.body.children = [*items, w.HTML("<h4>Graphiques</h4>"), show, charts]

    @staticmethod
    def charts(selected: pd.DataFrame) -> list[w.Widget]:
        """Days per actor, and for paid situations the spread of delays and the interest."""
        out = [chart(delay_charts.days_per_actor(selected))]
        if selected["paid_at"].notna().any():
            out += [chart(delay_charts.payment_time_distribution(selected)),
                    chart(delay_charts.interest_exposure(selected))]
        return out

    def blocks(self, selected: pd.DataFrame):
        """(title, rows, export name, text when empty) of each table, most urgent first."""
        urgent = forecast(selected).sort_values(["deadline_on", "late_days"],
                                                ascending=[True, False])
        late = selected[(selected["late_days"] > 0) & selected["paid_at"].notna()]
        return [
            ("En attente de paiement (par échéance) : intérêts dus si le paiement "
             f"intervient le {format_date_fr(self.as_of)}", urgent, "en-attente",
             "Aucune situation en attente de paiement."),
            ("Paiements en retard", late, "retards", "Aucun paiement en retard."),
            ("Toutes les situations retenues", selected, "delais", ""),
        ]

    def widget(self) -> w.Widget:
        self.refresh()
        return w.VBox([w.HBox([self.lot, self.company]), w.HBox([self.period, self.only_late]),
                       self.body])
