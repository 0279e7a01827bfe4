"""The end-of-contract page: every contract in scope with where its end stands and the
next legal deadline (réceptions without projet de décompte final, décomptes généraux to
sign, DGD awaited, soldes and retentions to pay), and the actions of the user's role."""

from __future__ import annotations

import html
import json
from datetime import date, datetime, timedelta

import ipywidgets as w
import pandas as pd

from gesprokit.chorus.frames import TACIT_MOA_DAYS, TACIT_NOTICE_DAYS
from gesprokit.delays import deadline_days
from gesprokit.end_of_contract import (
    ANSWER_DAYS,
    final_state,
    general_figures,
    retention_parts,
)
from gesprokit.money import format_eur, format_pct_bp
from gesprokit.months import format_date_fr
from gesprokit.ui.common import (
    STYLE,
    ReloadingPage,
    amount_input,
    download_link,
    error_html,
    guarded,
    percent_input,
)
from gesprokit.ui.tables import table

PDF_DAYS = 30  # CCAG-T 12.3: the projet de décompte final within 30 days of the réception


def _row(frame: pd.DataFrame, contract_id: str) -> dict | None:
    found = frame[frame["contract_id"] == contract_id]
    return found.iloc[0].to_dict() if len(found) else None


def next_deadline(record: dict | None, reception: dict | None, state, buyer_days: int,
                  held: int = 0, guarantee_open: bool = False, solde: int | None = None
                  ) -> tuple[str, date | None]:
    """What is awaited next and by when (the legal deadline), from the state; `held`: the
    retention withheld at the end (cents); `guarantee_open`: a caution or GAPD replacing the
    retention awaits its mainlevée; `solde`: the definitive solde (nothing to pay when it is
    zero or owed back)."""
    if reception is None:
        return "", None
    if record is None:
        return ("projet de décompte final du titulaire",
                pd.Timestamp(reception["received_on"]).date() + timedelta(days=PDF_DAYS))
    if state.dgd_on is None:
        if pd.notna(record.get("tacit_at")):
            return ("décompte général du maître d'ouvrage (procédure tacite)",
                    pd.Timestamp(record["tacit_at"]).date() + timedelta(
                        days=TACIT_NOTICE_DAYS))
        if pd.isna(record.get("signed_at")):
            return ("décompte général du maître d'ouvrage",
                    pd.Timestamp(record["claimed_at"]).date() + timedelta(days=TACIT_MOA_DAYS))
        return ("signature du titulaire",
                pd.Timestamp(record["signed_at"]).date() + timedelta(days=ANSWER_DAYS))
    if pd.isna(record.get("solde_paid_at")) and (solde is None or solde > 0):
        return "paiement du solde", state.solde_from + timedelta(days=buyer_days)
    if pd.isna(record.get("solde_paid_at")) and solde is not None and solde < 0:
        return "reversement du solde par le titulaire", None
    signed = record.get("figures")
    if isinstance(signed, str) and json.loads(signed).get("provisional") and \
            pd.isna(record.get("revision_notified_at")):
        return "révision du solde (à la publication des index)", None
    if pd.notna(record.get("revision_notified_at")) and pd.isna(record.get("revision_paid_at")):
        return ("paiement de la révision du solde", pd.Timestamp(
            record["revision_notified_at"]).date() + timedelta(days=buyer_days))
    for part in retention_parts(held, reception):
        if pd.isna(record.get(part.column)):
            label = {"retenue": "remboursement de la retenue de garantie"}.get(
                part.payment, "remboursement de la retenue conservée pour réserves")
            return label, part.due_on
    if guarantee_open and state.guarantee_release_by is not None:
        return "mainlevée de la garantie (caution ou GAPD)", state.guarantee_release_by
    if pd.notna(reception.get("reserves")) and pd.isna(reception.get("reserves_lifted_on")):
        return "levée des réserves", None
    return "", None


def overview(frames, today: date) -> pd.DataFrame:
    """One row per contract in scope whose end has begun: its stage and next deadline."""
    out = []
    buyer = frames.operations.set_index("code")
    for c in frames.contracts.itertuples():
        reception = _row(frames.receptions, c.contract_id)
        if reception is None:
            continue
        record = _row(frames.final_accounts, c.contract_id)
        state = final_state(record, reception, today)
        op = buyer.loc[c.operation_code] if c.operation_code in buyer.index else None
        days = deadline_days(op["buyer_kind"], op["deadline_days_override"]) if op is not \
            None else 30
        guarantees = frames.guarantees[frames.guarantees["contract_id"] == c.contract_id]
        figures = general_figures(record, state)
        held = int(figures.get("retention_cum", 0)) if figures else 0
        what, by = next_deadline(record, reception, state, days, held,
                                 bool(guarantees["released_at"].isna().any()),
                                 figures["solde"] if figures else None)
        out.append({
            "contract_id": c.contract_id, "stage": state.stage,
            "received_on": reception["received_on"],
            "reserves": reception["reserves"] if isinstance(reception["reserves"], str) and
            pd.isna(reception["reserves_lifted_on"]) else "",
            "guarantee_until": reception["guarantee_until"], "awaited": what, "by": by,
            "late": by is not None and by < today,
            "solde": figures["solde"] if figures else None})
    return pd.DataFrame(out, columns=["contract_id", "stage", "received_on", "reserves",
                                      "guarantee_until", "awaited", "by", "late", "solde"])


def view(df: pd.DataFrame) -> pd.DataFrame:
    """The table as users read it: what is awaited and by when first, then the facts."""
    return pd.DataFrame({
        "Marché": df["contract_id"], "Étape": df["stage"],
        "Attendu": df["awaited"],
        "Échéance": [("" if pd.isna(b) or b is None else format_date_fr(b))
                     + (" (dépassée)" if late else "") for b, late in zip(
            df["by"], df["late"], strict=True)],
        "Solde TTC": df["solde"].map(lambda v: "" if v is None or pd.isna(v)
                                     else format_eur(int(v))),
        "Réception": df["received_on"].map(format_date_fr),
        "Réserves non levées": df["reserves"],
        "Fin du délai de garantie": df["guarantee_until"].map(format_date_fr),
    })


class EndOfContractPage(ReloadingPage):
    """The table of contracts whose end has begun, then the role's actions."""

    def _load(self) -> None:
        today = (self.now or datetime.now()).date()
        frames = self.session.frames()
        self.frames = frames
        self.rows = overview(frames, today)
        chosen = getattr(getattr(self, "contract", None), "value", None)
        self.contract = w.Dropdown(description="Marché", style=STYLE,
                                   layout=w.Layout(width="620px"), options=[
            (f"{c.contract_id} – {c.title}", c.contract_id)
            for c in frames.contracts.itertuples()])
        if chosen in set(frames.contracts["contract_id"]):  # the contract acted on stays
            self.contract.value = chosen
        elif len(self.rows):  # else the first contract whose end has begun
            self.contract.value = self.rows["contract_id"].iloc[0]
        role = self.session.actor.role
        controls = {"moa": self._moa, "contractor": self._contractor, "moe": self._moe,
                    "treasury": self._treasury}.get(role, lambda: [])()
        self.document = w.HTML()
        pdf = self._button("Document du décompte (PDF)", self.prepare_pdf, "")
        self.body.children = [
            w.HTML("<h4>Marchés en fin d'exécution</h4>"),
            table(view(self.rows), "fin-de-marche",
                  empty="Aucune réception prononcée sur vos marchés."),
            self.contract, w.HBox([pdf, self.document]), *controls]

    def _button(self, label: str, action, style: str = "primary") -> w.Button:
        button = w.Button(description=label, button_style=style,
                          layout=w.Layout(width="fit-content"))
        button.on_click(lambda _b: action())
        return button

    def _moa(self) -> list[w.Widget]:
        self.received_on = w.DatePicker(description="Date de réception", style=STYLE)
        self.reserves = w.Text(description="Réserves", style=STYLE,
                               placeholder="vide : réception sans réserves",
                               layout=w.Layout(width="620px"))
        self.reserves_cost = w.Text(description="Coût des réserves (€)", style=STYLE,
                                    placeholder="facultatif : part de la retenue conservée",
                                    layout=w.Layout(width="420px"))
        self.lifted_on = w.DatePicker(description="Levée des réserves", style=STYLE)
        open_guarantees = self.frames.guarantees[self.frames.guarantees["released_at"].isna()]
        self.guarantee = w.Dropdown(description="Garantie", style=STYLE,
                                    layout=w.Layout(width="520px"), options=[
            (f"{g.guarantee_id} – {g.contract_id} ({format_eur(int(g.amount_cents))})",
             g.guarantee_id) for g in open_guarantees.itertuples()])
        return [w.HBox([self.received_on, self._button("Prononcer la réception",
                                                       self.receive)]),
                self.reserves, self.reserves_cost,
                w.HBox([self.lifted_on, self._button("Lever les réserves", self.lift)]),
                self._button("Signer et notifier le décompte général", self.sign, "success"),
                self._button("Notifier la révision du solde (index publiés)",
                             self.notify_revision),
                w.HBox([self.guarantee, self._button("Donner mainlevée de la garantie",
                                                     self.release_guarantee)])]

    def _contractor(self) -> list[w.Widget]:
        self.end_month = w.Text(description="Mois de fin (AAAA-MM)", style=STYLE)
        self.final_basis = w.Dropdown(description="Avancement final", style=STYLE, options=[
            ("100 % de chaque ligne", "full"),
            ("dernier avancement de chaque ligne", "last")])
        self.claim = w.Textarea(description="Mémoire en réclamation", style=STYLE,
                                layout=w.Layout(width="620px"))
        self.disputed = w.Text(description="Montant réclamé (€)", style=STYLE)
        return [w.HBox([self.end_month, self.final_basis]),
                self._button("Transmettre le projet de décompte final", self.submit_final),
                w.HTML("<h4>Décompte général notifié</h4>"),
                self._button("Signer sans réserves", lambda: self.answer(True), "success"),
                self.claim, self.disputed,
                self._button("Signer avec réserves", lambda: self.answer(False), "warning"),
                self._button("Notifier mon projet de décompte général (procédure tacite)",
                             self.tacit)]

    def _moe(self) -> list[w.Widget]:
        self.corrections: dict[str, tuple[int, str]] = {}
        cid = self.contract.value
        lines = self.frames.price_lines[self.frames.price_lines["contract_id"] == cid]
        self.line = w.Dropdown(description="Ligne", style=STYLE, layout=w.Layout(
            width="620px"), options=[(f"{r.line_no} – {r.label}", r.line_no)
                                     for r in lines.itertuples()])
        self.admitted = w.Text(description="Avancement admis", style=STYLE,
                               placeholder="en %, par ex. 97,5")
        self.reason = w.Text(description="Justification", style=STYLE,
                             layout=w.Layout(width="620px"))
        self.pending = w.HTML()
        self.contract.observe(lambda _c: self._load(), names="value")
        return [w.HTML("<h4>Rectifier le projet de décompte final</h4>"), self.line,
                w.HBox([self.admitted, self._button("Rectifier cette ligne", self.rectify,
                                                    "")]),
                self.reason, self.pending,
                self._button("Établir le décompte final et le projet de décompte général",
                             self.settle, "success")]

    def rectify(self):
        """Keep one line's admitted % with its justification, for the décompte final."""
        from gesprokit.errors import GesprokitError
        from gesprokit.inputs import text

        def keep():
            field = f"Avancement admis de la ligne {self.line.value}"
            if self.line.value is None:
                raise GesprokitError("Ligne : aucune ligne choisie.")
            try:
                pct = percent_input(self.admitted.value)
            except ValueError:
                raise GesprokitError(f"{field} : pourcentage illisible « "
                                     f"{self.admitted.value} » (attendu par exemple 97,5)"
                                     ) from None
            self.corrections[self.line.value] = (pct, text(self.reason.value, "Justification"))
            self.pending.value = "<br>".join(
                f"Ligne {html.escape(k)} : {format_pct_bp(v)} – {html.escape(r)}" for k, (v, r) in
                sorted(self.corrections.items()))
        return guarded(keep, self.message, "Rectification notée : elle s'applique à "
                       "l'établissement du décompte final.")

    def _treasury(self) -> list[w.Widget]:
        return [self._button("Enregistrer le paiement (ou le reversement) du solde",
                             self.pay_solde),
                self._button("Enregistrer le remboursement de la retenue",
                             self.release_retention)]

    def _contract_act(self, action: str, done: str):
        """The session's `action` on the chosen contract, as of the page's date; `done` is
        said with the contract's id."""
        cid = self.contract.value
        return self._run(lambda: getattr(self.session, action)(cid, now=self.now),
                         f"{done} : {cid}.")

    def _run(self, action, success: str):
        if self.contract.value is None:
            return None
        return guarded(action, self.message, success, lambda _r: self._load())

    def prepare_pdf(self):
        """A download link to the document signed at the contract's end, as stored with its
        act (its hash is in the journal); before any, the décompte as it stands."""
        from gesprokit.db import reading
        from gesprokit.end_of_contract import account_from_frames, signed_document
        from gesprokit.final_documents import document_kind, render_final

        cid = self.contract.value
        records = self.frames.final_accounts
        record = records[records["contract_id"] == cid]
        if record.empty:
            self.message.value = error_html(f"Le marché {cid} n'a pas de projet de décompte "
                                            "final.")
            return None
        now = self.now or datetime.now()
        record = record.iloc[0].to_dict()
        stage = self.rows.set_index("contract_id").loc[cid, "stage"]

        def build():
            with reading(self.session.engine).connect() as conn:
                stored = signed_document(conn, cid)
            if stored is not None:
                return stored.name, stored.content, "Télécharger le document signé"
            account = account_from_frames(self.frames, cid, now)
            kind = document_kind(record)
            return (f"{kind}-{cid}.pdf", render_final(kind, self.frames, account, now, stage),
                    "Télécharger le PDF")
        return guarded(build, self.message, "", lambda r: setattr(
            self.document, "value", download_link(r[0], r[1], r[2])))

    def receive(self):
        cid = self.contract.value
        if self.received_on.value is None:
            self.message.value = error_html("Date de réception : date obligatoire.")
            return None
        def act():
            cost = (amount_input("Coût estimé des réserves", self.reserves_cost.value)
                    if self.reserves_cost.value.strip() else None)
            return self.session.record_reception(cid, self.received_on.value,
                                                 self.reserves.value,
                                                 reserves_cost_cents=cost, now=self.now)
        return self._run(act, f"Réception prononcée : {cid}.")

    def lift(self):
        cid = self.contract.value
        if self.lifted_on.value is None:
            self.message.value = error_html("Levée des réserves : date obligatoire.")
            return None
        return self._run(lambda: self.session.lift_reserves(cid, self.lifted_on.value,
                                                            now=self.now),
                         f"Réserves levées : {cid}.")

    def sign(self):
        return self._contract_act("sign_general", "Décompte général signé et notifié")

    def submit_final(self):
        cid = self.contract.value
        lines = self.frames.price_lines[self.frames.price_lines["contract_id"] == cid]
        if self.final_basis.value == "full":
            pcts = {line: 10_000 for line in lines["line_no"]}
        else:
            pcts = {}  # every line keeps its last %
        return self._run(lambda: self.session.submit_final(
            cid, self.end_month.value.strip(), pcts, now=self.now),
            f"Projet de décompte final transmis : {cid}.")

    def answer(self, accept: bool):
        cid = self.contract.value

        def act():
            disputed = None if accept else amount_input("Montant réclamé",
                                                        self.disputed.value)
            return self.session.answer_general(cid, accept, claim=self.claim.value,
                                               disputed_cents=disputed, now=self.now)
        word = "sans réserves" if accept else "avec réserves"
        return self._run(act, f"Décompte général signé {word} : {cid}.")

    def tacit(self):
        return self._contract_act("notify_tacit", "Projet de décompte général notifié")

    def settle(self):
        cid = self.contract.value
        corrections = {k: v for k, (v, _r) in self.corrections.items()}
        reasons = {k: r for k, (_v, r) in self.corrections.items()}
        return self._run(lambda: self.session.settle_final(cid, corrections, reasons,
                                                           now=self.now),
                         f"Décompte final établi : {cid}.")

    def notify_revision(self):
        return self._contract_act("notify_final_revision", "Révision du solde notifiée")

    def release_guarantee(self):
        gid = self.guarantee.value
        if gid is None:
            self.message.value = error_html("Aucune garantie à libérer.")
            return None
        g = self.frames.guarantees.set_index("guarantee_id").loc[gid]
        return guarded(lambda: self.session.release_guarantee(g["contract_id"], gid,
                                                              now=self.now),
                       self.message, f"Mainlevée donnée : garantie {gid}.",
                       lambda _r: self._load())

    def pay_solde(self):
        return self._contract_act("pay_solde", "Paiement du solde enregistré")

    def release_retention(self):
        return self._contract_act("release_retention", "Remboursement de la retenue enregistré")
