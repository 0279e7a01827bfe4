"""The subcontractors' direct payments page: the subcontractor deposits its request for a
situation; the titulaire accepts or refuses it (with its reason) within 15 days. Both see
each request with the amount the état pays directly and its state."""

from __future__ import annotations

from datetime import datetime

import ipywidgets as w
import pandas as pd

from gesprokit.direct_payment import deemed_accepted_at
from gesprokit.money import format_eur
from gesprokit.months import format_date_fr, format_month_fr
from gesprokit.ui.common import STYLE, ReloadingPage, guarded
from gesprokit.ui.tables import table


def request_rows(frames, ledger, company: str, role: str) -> pd.DataFrame:
    """One row per situation of each directly paid subcontract the user is party to (as the
    subcontractor, or as the titulaire), with the direct payment and its request, if any."""
    subs = frames.subcontracts[frames.subcontracts["direct_payment"]]
    if role == "subcontractor":
        subs = subs[subs["company_code"] == company]
    else:
        own = frames.contracts.loc[frames.contracts["company_code"] == company, "contract_id"]
        subs = subs[subs["contract_id"].isin(own)]
    rows = frames.situations[["contract_id", "n", "month", "status"]].merge(
        subs[["subcontract_id", "contract_id", "company_code"]], on="contract_id")
    rows = rows.merge(ledger.direct_payments[["subcontract_id", "n", "paid_month"]],
                      on=["subcontract_id", "n"], how="left")
    rows = rows.merge(frames.direct_payment_requests.drop(columns="contract_id"),
                      on=["subcontract_id", "n"], how="left")
    rows["paid_month"] = rows["paid_month"].fillna(0).astype("int64")
    return rows.sort_values(["contract_id", "subcontract_id", "n"], ascending=[True, True, False]
                            ).reset_index(drop=True)


def _state(r, now: datetime) -> str:
    if pd.isna(r.deposited_at):
        return "pas de demande"
    if pd.notna(r.paid_at):
        return f"payée le {format_date_fr(r.paid_at)}"
    if r.decision == "refused":
        return f"refusée le {format_date_fr(r.decided_at)} : {r.reason}"
    if r.decision == "accepted":
        return f"acceptée le {format_date_fr(r.decided_at)}"
    deemed = deemed_accepted_at(r.deposited_at.to_pydatetime())
    if now >= deemed:
        return f"réputée acceptée le {format_date_fr(deemed)}"
    last = deemed - pd.Timedelta(days=1)
    return f"en attente du titulaire (réponse jusqu'au {format_date_fr(last)})"


def view(rows: pd.DataFrame, now: datetime) -> pd.DataFrame:
    return pd.DataFrame({
        "Marché": rows["contract_id"], "Sous-traité": rows["subcontract_id"],
        "Situation": rows["n"].map(lambda n: f"n°{n}"),
        "Mois": rows["month"].map(format_month_fr),
        "Paiement direct HT": rows["paid_month"].map(format_eur),
        "Déposée le": rows["deposited_at"].map(format_date_fr),
        "État": [_state(r, now) for r in rows.itertuples()],
    })


class DirectPaymentPage(ReloadingPage):
    """The requests table, then the subcontractor's deposit or the titulaire's answer."""

    def _load(self) -> None:
        from gesprokit.ledger import ledger_from_frames

        now = self.now or datetime.now()
        frames = self.session.frames()
        actor = self.session.actor
        self.rows = request_rows(frames, ledger_from_frames(frames, as_of=now),
                                 actor.company_code, actor.role)
        items = [w.HTML("<h4>Demandes de paiement direct</h4>"),
                 table(view(self.rows, now), "paiements-directs",
                       empty="Aucun sous-traité en paiement direct.")]
        if actor.role == "subcontractor":
            items += self._deposit_controls()
        else:
            items += self._answer_controls(now)
        self.body.children = items

    def _choice(self, rows: pd.DataFrame, label: str) -> w.Dropdown:
        return w.Dropdown(description=label, style=STYLE, layout=w.Layout(width="620px"),
                          options=[(f"{r.contract_id} – {r.subcontract_id} – situation n°{r.n}"
                                    f" ({format_month_fr(r.month)}) – {format_eur(r.paid_month)}",
                                    (r.subcontract_id, int(r.n))) for r in rows.itertuples()])

    def _deposit_controls(self) -> list[w.Widget]:
        open_rows = self.rows[self.rows["deposited_at"].isna()
                              | (self.rows["decision"] == "refused")]
        self.to_request = self._choice(open_rows, "Situation")
        self.comment = w.Textarea(description="Commentaire", style=STYLE,
                                  layout=w.Layout(width="620px"))
        deposit = w.Button(description="Déposer ma demande de paiement", button_style="primary",
                           layout=w.Layout(width="fit-content"), disabled=open_rows.empty)
        deposit.on_click(lambda _b: self.deposit())
        return [w.HTML("<h4>Déposer une demande</h4><p>Le titulaire a 15 jours pour "
                       "l'accepter ou la refuser ; sans réponse, elle est réputée "
                       "acceptée.</p>"), self.to_request, self.comment, deposit]

    def _answer_controls(self, now: datetime) -> list[w.Widget]:
        pending = self.rows[self.rows["deposited_at"].notna() & self.rows["decision"].isna()]
        pending = pending[[now < deemed_accepted_at(d.to_pydatetime())
                           for d in pending["deposited_at"]]]
        self.to_answer = self._choice(pending, "Demande")
        self.reason = w.Text(description="Motif du refus", style=STYLE,
                             layout=w.Layout(width="620px"))
        accept = w.Button(description="Accepter", button_style="success",
                          disabled=pending.empty)
        refuse = w.Button(description="Refuser", button_style="danger", disabled=pending.empty)
        accept.on_click(lambda _b: self.answer(True))
        refuse.on_click(lambda _b: self.answer(False))
        return [w.HTML("<h4>Demandes de vos sous-traitants à accepter ou refuser</h4>"),
                self.to_answer, self.reason, w.HBox([accept, refuse])]

    def deposit(self):
        if self.to_request.value is None:
            return None
        sub, n = self.to_request.value
        return guarded(lambda: self.session.request_direct_payment(
            sub, n, comment=self.comment.value, now=self.now), self.message,
            f"Demande de paiement déposée : {sub}, situation n°{n}.", lambda _r: self._load())

    def answer(self, accept: bool):
        if self.to_answer.value is None:
            return None
        sub, n = self.to_answer.value
        word = "acceptée" if accept else "refusée"
        return guarded(lambda: self.session.decide_direct_payment(
            sub, n, accept, reason=self.reason.value, now=self.now), self.message,
            f"Demande {word} : {sub}, situation n°{n}.", lambda _r: self._load())
