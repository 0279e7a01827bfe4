"""The treasury's page: what is to be paid — validated états and contract advances — with
their payment deadline, and the recording of each payment in the treasurer's name."""

from __future__ import annotations

import html
from datetime import date, datetime

import ipywidgets as w
import pandas as pd

from gesprokit.money import format_eur
from gesprokit.months import format_date_fr, format_month_fr
from gesprokit.report_data import ledger_and_delays
from gesprokit.ui.common import STYLE, ReloadingPage, guarded
from gesprokit.ui.tables import table


def _to_pay(frames, delays: pd.DataFrame, today: date) -> tuple[pd.DataFrame, ...]:
    """(validated situations not paid, advances not paid, subcontractors' accepted requests
    of validated états not paid), each with its deadline."""
    sits = frames.situations[frames.situations["status"] == "validated"]
    due = delays[delays["payment"] == "acompte"].merge(
        sits[["contract_id", "n", "version"]], on=["contract_id", "n"])
    advances = delays[(delays["payment"] == "avance") & delays["paid_at"].isna()]
    payable = frames.situations[frames.situations["status"].isin(["validated", "paid"])]
    direct = delays[(delays["payment"] == "paiement direct") & delays["paid_at"].isna()].merge(
        payable[["contract_id", "n"]], on=["contract_id", "n"])
    out = []
    for df in (due, advances, direct):
        days = (df["deadline_on"] - pd.Timestamp(today)).dt.days
        out.append(df.assign(days_left=days).sort_values("deadline_on").reset_index(drop=True))
    return out[0], out[1], out[2]


RECENT_CHANGE_DAYS = 30  # bank details changed this recently are pointed out


def _view(df: pd.DataFrame, advance: bool, accounts: dict[str, str],
          amount: str = "Montant TTC") -> pd.DataFrame:
    return pd.DataFrame({
        "Marché": df["contract_id"] + df["subcontract_id"].map(_sub_label),
        "Paiement": "avance" if advance else df["n"].map(lambda n: f"situation n°{n}"),
        "Mois": df["month"].map(format_month_fr),
        amount: df["amount_due_ttc"].map(format_eur),
        "Virement au compte": df["payee"].map(
            lambda c: accounts.get(c, "coordonnées bancaires non renseignées")),
        "Date limite": df["deadline_on"].map(format_date_fr),
        "Jours restants": df["days_left"].map(
            lambda d: f"en retard de {-d} jour(s)" if d < 0 else str(d)),
    })


def _payees(frames, *tables: pd.DataFrame) -> list[pd.DataFrame]:
    """Each table with its payee's company: the subcontractor for a direct payment or its
    advance, else the titulaire."""
    titulaire = frames.contracts.set_index("contract_id")["company_code"]
    sub = frames.subcontracts.set_index("subcontract_id")["company_code"]
    return [t.assign(payee=[sub.get(s) if isinstance(s, str) else titulaire.get(c)
                            for c, s in zip(t["contract_id"], t["subcontract_id"],
                                            strict=True)]) for t in tables]


def _accounts(profiles: dict[str, dict], today: date) -> tuple[dict[str, str], list[str]]:
    """The account to pay of each company, and a warning for each whose bank details changed
    in the last RECENT_CHANGE_DAYS days (a classic fraud: check them before paying)."""
    from gesprokit.company_profile import bank_details_line

    accounts, warnings = {}, []
    for code, found in profiles.items():
        line = bank_details_line(found)
        if line is None:
            continue
        accounts[code] = line
        changed = found.get("bank_changed_at")
        if changed is not None and (today - changed.date()).days <= RECENT_CHANGE_DAYS:
            warnings.append(f"Coordonnées bancaires de {code} modifiées le "
                            f"{format_date_fr(changed)} : vérifiez-les auprès de "
                            "l'entreprise avant de payer.")
    return accounts, warnings


def _sub_label(subcontract_id) -> str:
    return f" – sous-traité {subcontract_id}" if isinstance(subcontract_id, str) else ""


class TreasuryPage(ReloadingPage):
    """Two lists (états validés, avances), a choice and one button each."""

    def _load(self) -> None:
        today = (self.now or datetime.now()).date()
        frames = self.session.frames()
        _, delays = ledger_and_delays(frames, pd.Timestamp(self.now or datetime.now()))
        self.due, self.advances, self.direct = _payees(frames, *_to_pay(frames, delays, today))
        accounts, warnings = _accounts(self.session.bank_details(), today)
        self.situation = w.Dropdown(description="État validé", style=STYLE,
                                    layout=w.Layout(width="520px"), options=[
            (f"{r.contract_id} – situation n°{r.n} – {format_eur(r.amount_due_ttc)}",
             (r.contract_id, int(r.n), int(r.version))) for r in self.due.itertuples()])
        self.advance = w.Dropdown(description="Avance", style=STYLE,
                                  layout=w.Layout(width="520px"), options=[
            (f"{r.contract_id}{_sub_label(r.subcontract_id)} – {format_eur(r.amount_due_ttc)}",
             (r.contract_id, r.subcontract_id if isinstance(r.subcontract_id, str) else None))
            for r in self.advances.itertuples()])
        self.direct_choice = w.Dropdown(description="Paiement direct", style=STYLE,
                                        layout=w.Layout(width="520px"), options=[
            (f"{r.contract_id}{_sub_label(r.subcontract_id)} – situation n°{r.n} – "
             f"{format_eur(r.amount_due_ttc)}", (r.subcontract_id, int(r.n)))
            for r in self.direct.itertuples()])
        pay_direct = w.Button(description="Enregistrer le paiement direct",
                              button_style="primary", layout=w.Layout(width="fit-content"),
                              disabled=self.direct.empty)
        pay_direct.on_click(lambda _b: self.pay_direct())
        pay = w.Button(description="Enregistrer la mise en paiement", button_style="primary",
                       layout=w.Layout(width="fit-content"), disabled=self.due.empty)
        pay_advance = w.Button(description="Enregistrer le paiement de l'avance",
                               button_style="primary", layout=w.Layout(width="fit-content"),
                               disabled=self.advances.empty)
        pay.on_click(lambda _b: self.pay())
        pay_advance.on_click(lambda _b: self.pay_advance())
        self.body.children = [
            *[w.HTML(f"<p style='color:#b03a2e'><b>{html.escape(x)}</b></p>")
              for x in warnings],
            w.HTML("<h4>États d'acompte validés à payer</h4>"),
            table(_view(self.due, False, accounts), "a-payer",
                  empty="Aucun état validé en attente de paiement."),
            w.HBox([self.situation, pay]),
            w.HTML("<h4>Avances à payer (sans demande de paiement)</h4>"),
            table(_view(self.advances, True, accounts), "avances",
                  empty="Aucune avance en attente de paiement."),
            w.HBox([self.advance, pay_advance]),
            w.HTML("<h4>Paiements directs des sous-traitants (demandes acceptées, états "
                   "validés)</h4>"),
            # a subcontractor is paid HT (autoliquidation: the titulaire pays the VAT)
            table(_view(self.direct, False, accounts, "Montant HT"), "paiements-directs",
                  empty="Aucun paiement direct en attente."),
            w.HBox([self.direct_choice, pay_direct])]

    def pay(self):
        """The mise en paiement of the chosen état, at the version shown."""
        if self.situation.value is None:
            return None
        cid, n, version = self.situation.value
        return guarded(lambda: self.session.pay(cid, n, expected_version=version,
                                                now=self.now), self.message,
                       f"Mise en paiement enregistrée : {cid}, situation n°{n}.",
                       lambda _r: self._load())

    def pay_advance(self):
        if self.advance.value is None:
            return None
        cid, sub = self.advance.value
        if sub is not None:
            return guarded(lambda: self.session.pay_subcontract_advance(sub, now=self.now),
                           self.message, f"Paiement de l'avance enregistré : sous-traité {sub}.",
                           lambda _r: self._load())
        return guarded(lambda: self.session.pay_advance(cid, now=self.now), self.message,
                       f"Paiement de l'avance enregistré : {cid}.", lambda _r: self._load())

    def pay_direct(self):
        if self.direct_choice.value is None:
            return None
        sub, n = self.direct_choice.value
        return guarded(lambda: self.session.pay_direct_payment(sub, n, now=self.now),
                       self.message, f"Paiement direct enregistré : {sub}, situation n°{n}.",
                       lambda _r: self._load())
