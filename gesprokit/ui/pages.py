"""The read-mostly pages of the served application, each built for one logged-in session
and one calculation date: overview, payment delays, audit, documents and visas.

Every page reads its data through the session (the user's own scope) when it is built;
the application rebuilds it after a refresh or a change of date. No rule lives here.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path

import ipywidgets as w

from gesprokit.circuit import ROLE_LABELS
from gesprokit.money import format_eur, format_number
from gesprokit.months import format_date_fr
from gesprokit.report_data import ledger_and_delays, report_data_from_frames
from gesprokit.session import Session
from gesprokit.statement_audit import statement_differences
from gesprokit.summary import french_view, plot_s_curve, s_curve
from gesprokit.ui.common import download_link, esc, guarded
from gesprokit.ui.delays_dashboard import DelaysDashboard, enrich
from gesprokit.ui.tables import XLSX, chart, table


def end_of_day(day: date) -> datetime:
    """The calculation instant of a chosen date (as ``--as-of`` does on the command line)."""
    return datetime.combine(day, datetime.max.time())


SUMMARY_COLUMNS = {
    "lot_code": "Lot", "company": "Entreprise", "contract_total_ht": "Marché HT",
    "works_cum": "Travaux cumulés HT", "pct_done_bp": "Réalisé",
    "retention_cum": "Retenue de garantie", "penalty_cum": "Pénalités",
    "due_cum": "Dû cumulé TTC", "paid_ttc": "Payé TTC", "late_interest": "Intérêts et indemnités",
}
SUMMARY_MONEY = ["contract_total_ht", "works_cum", "retention_cum", "penalty_cum", "due_cum",
                 "paid_ttc", "late_interest"]


class OverviewPage:
    """Per contract of the user's scope: amounts to date, paid, interest; the S-curve."""

    def __init__(self, session: Session, as_of: date):
        self.data = report_data_from_frames(session.frames(), end_of_day(as_of))

    def widget(self) -> w.Widget:
        data = self.data
        if data.frames.contracts.empty:
            return w.HTML("<p><i>Aucun marché dans votre périmètre.</i></p>")
        synthesis = data.synthesis
        view = french_view(synthesis[list(SUMMARY_COLUMNS)], money=SUMMARY_MONEY,
                           pct_bp=["pct_done_bp"], rename=SUMMARY_COLUMNS)
        total = {SUMMARY_COLUMNS[c]: format_eur(int(synthesis[c].sum())) for c in SUMMARY_MONEY}
        total = {"Total": f"{len(synthesis)} marché(s)", **total}
        ops = data.frames.operations
        intro = "<br>".join(f"<b>{esc(o.name)}</b> – maître d'ouvrage : {esc(o.buyer_name)}"
                            for o in ops.itertuples())
        situations = data.ledger.situations
        out = chart(plot_s_curve(s_curve(situations, data.frames.contracts,
                                         data.frames.amendments, data.frames.planned_progress),
                                 "Courbe en S – travaux prévus au planning et réalisés"))
        return w.VBox([
            w.HTML(f"<p>{intro}</p><p>{len(data.frames.contracts)} marché(s), "
                   f"{len(situations)} situation(s) au {format_date_fr(data.as_of)}.</p>"),
            table(view, "synthese", total=total), out])


class DelaysPage:
    """The payment delays of the user's scope: filters driving headline, tables, charts."""

    def __init__(self, session: Session, as_of: date):
        frames = session.frames()
        when = end_of_day(as_of)
        _ledger, delays = ledger_and_delays(frames, when)
        self.delays = enrich(delays, frames.contracts, frames.companies, frames.lots)
        self.as_of = when

    def widget(self) -> w.Widget:
        if self.delays.empty:
            return w.HTML("<p><i>Aucune situation transmise dans votre périmètre.</i></p>")
        return DelaysDashboard(self.delays, self.as_of).widget()


def recomputed_view(ledger_situations):
    """The recomputed états d'acompte as an auditor reads them (French headers, euros)."""
    money = ["works_cum", "revision_cum", "total_ttc_cum", "retention_cum",
             "advance_repaid_cum", "due_cum", "net_month"]
    return french_view(
        ledger_situations[["contract_id", "n", "month", *money]], money=money,
        rename={"contract_id": "Marché", "n": "N°", "month": "Mois",
                "works_cum": "Travaux cumulés HT", "revision_cum": "Révision cumulée",
                "total_ttc_cum": "Total TTC cumulé", "retention_cum": "Retenue de garantie",
                "advance_repaid_cum": "Avance remboursée", "due_cum": "Dû cumulé",
                "net_month": "Net du mois"})


def differences_view(differences):
    """Validated figures that differ from the recomputation, in French."""
    return french_view(differences, money=["recorded", "recomputed", "difference"],
                       rename={"contract_id": "Marché", "n": "N°", "column": "Montant",
                               "recorded": "Validé", "recomputed": "Recalculé",
                               "difference": "Écart"})


# problems of the journal as a whole or of shared reference data, which any auditor may read
SHARED_PROBLEMS = ("événement", "journal", "point de contrôle", "clé", "aucun", "indice",
                   "taux de la BCE", "fichier des points")


class AuditPage:
    """Recomputed états d'acompte against the validated figures, the journal's integrity,
    and the auditor's workbook, for one contract or all of the user's scope."""

    def __init__(self, session: Session, as_of: date):
        self.data = report_data_from_frames(session.frames(), end_of_day(as_of))
        contracts = self.data.frames.contracts
        self.contract = w.Dropdown(
            description="Marché", style={"description_width": "150px"},
            layout=w.Layout(width="720px"),
            options=[("Tous les marchés", "")]
            + [(f"{c.contract_id} – {c.title}", c.contract_id) for c in contracts.itertuples()])
        self.body = w.VBox()
        self.message = w.HTML()
        self.link = w.HTML()
        self.button = w.Button(description="Préparer le classeur Excel", button_style="primary",
                               layout=w.Layout(width="auto"))
        self.button.on_click(self.on_workbook)
        self.session = session
        self.verify_button = w.Button(description="Vérifier l'intégrité du journal",
                                      icon="shield", layout=w.Layout(width="fit-content"))
        self.verify_button.on_click(self.on_verify)
        self.verdict = w.HTML("<p>Chaîne d'empreintes, signatures, point de contrôle, état des "
                              "tables et pièces jointes, sur toute la base.</p>")
        self.contract.observe(lambda _c: self.show(), names="value")
        self.show()

    def on_verify(self, _button=None):
        """Everything the journal proves (gesprokit.integrity), on the whole base; problems
        naming a contract outside the user's scope are only counted."""
        import re

        from gesprokit.integrity import verify

        def run():
            self.session.check_account()
            return verify(self.session.engine)
        result = guarded(run, self.message, "")
        if result is None:
            return None
        visible = set(self.data.frames.contracts["contract_id"])
        shown, hidden = [], 0
        for problem in result.problems:
            named = re.findall(r"marché (\S+)", problem)
            if (set(named) <= visible) if named else problem.startswith(SHARED_PROBLEMS):
                shown.append(problem)
            else:  # an account, a document, a contract… outside the user's scope
                hidden += 1
        if result.intact:
            text = (f"<p><b>Journal intègre</b> : {result.events} événements signés et chaînés, "
                    f"point de contrôle retrouvé, {result.groups} ensembles de données "
                    f"conformes à leur dernier événement, {result.attachments} pièces "
                    "ré-empreintées.</p>")
        else:
            items = "".join(f"<li>{esc(p)}</li>" for p in shown)
            more = (f"<li>{hidden} anomalie(s) hors de votre périmètre (à examiner par "
                    "l'administrateur avec « gesprokit audit verify »)</li>" if hidden else "")
            text = (f"<p style='color:#b03a2e'><b>Journal altéré : {len(result.problems)} "
                    f"anomalie(s)</b></p><ul>{items}{more}</ul>")
        self.verdict.value = text
        return result

    def show(self) -> None:
        ledger = self.data.ledger.situations
        statements = self.data.frames.payment_statements
        if self.contract.value:
            ledger = ledger[ledger["contract_id"] == self.contract.value]
            statements = statements[statements["contract_id"] == self.contract.value]
        differences = statement_differences(ledger, statements)
        view = recomputed_view(ledger)
        if differences.empty:
            verdict = (f"Aucun écart : les {len(statements)} états validés sont retrouvés au "
                       "centime.")
        else:
            verdict = f"{len(differences)} écart(s) entre les montants validés et le recalcul."
        items = [w.HTML(f"<p>{len(ledger)} situations recalculées au "
                        f"{format_date_fr(self.data.as_of)}, {len(statements)} états validés "
                        "par le maître d'ouvrage.</p><h4>États d'acompte recalculés</h4>"),
                 table(view, "etats-recalcules"),
                 w.HTML(f"<h4>Écarts avec les montants validés</h4><p>{esc(verdict)}</p>")]
        if not differences.empty:
            items.append(table(differences_view(differences), "ecarts"))
        self.body.children = items

    def on_workbook(self, _button=None):
        from gesprokit.workbook import write_workbook

        def build():
            path = Path(tempfile.mkdtemp(prefix="gesprokit-")) / "audit.xlsx"
            write_workbook(self.data, path)
            return path.read_bytes()
        content = guarded(build, self.message, "Classeur prêt.")
        if content is not None:
            self.link.value = download_link("audit.xlsx", content,
                                            "Télécharger audit.xlsx", XLSX)
        return content

    def widget(self) -> w.Widget:
        return w.VBox([self.contract, self.body, w.HTML("<h4>Intégrité du journal</h4>"),
                       self.verdict, self.verify_button,
                       w.HTML("<h4>Classeur Excel de l'auditeur</h4>"),
                       w.HBox([self.button, self.link]), self.message])


class DocumentsPage:
    """The library as the logged-in user sees it: deposit (in their own name), the visas
    their role owes and the reports to acknowledge, documents they may read, visas awaited,
    reviewers' turnaround."""

    def __init__(self, session: Session, as_of: date, now: datetime | None = None):
        from gesprokit.ui.library_form import DepositForm

        self.session, self.as_of, self.now = session, as_of, now
        operations = session.frames().operations
        self.form = (DepositForm(session.engine, session.actor, list(operations["code"]),
                                 now=now, check_account=session.check_account)
                     if len(operations) else None)
        self.message = w.HTML()
        self.box = w.VBox()
        self.refresh()

    def refresh(self) -> None:
        """Read the library again and rebuild the lists and the review controls."""
        from gesprokit.library.reports import documents, visa_queue, visa_turnaround
        from gesprokit.ui.library_review import ReviewForms

        engine, actor = self.session.engine, self.session.actor
        self.documents = documents(engine, actor)
        self.queue = visa_queue(engine, end_of_day(self.as_of))
        self.turnaround = visa_turnaround(engine, actor.operations)
        self.review = ReviewForms(self.session, self.queue, self.documents, self.message,
                                  self.refresh, now=self.now)
        self.box.children = self._items()

    def widget(self) -> w.Widget:
        return w.VBox([self.box, self.message])

    def open_document(self, document_id: str):
        """Open a document this account may read (a link's), as « Ouvrir » does."""
        return self.review.open(document_id)

    def _items(self) -> list[w.Widget]:
        from gesprokit.library.actions import DEFAULT_FOLDERS

        folder = {code: label for code, (label, *_) in DEFAULT_FOLDERS.items()}
        docs = self.documents.assign(
            deposited_at=self.documents["deposited_at"].map(format_date_fr),
            folder_code=self.documents["folder_code"].map(lambda c: folder.get(c, c)))[
            ["document_id", "title", "folder_code", "revision_index", "deposited_at"]].rename(
            columns={"document_id": "Identifiant", "title": "Titre", "folder_code": "Dossier",
                     "revision_index": "Indice", "deposited_at": "Déposé le"})
        # the visas awaited on the documents this user may read, and no other
        readable = self.queue[self.queue["document_id"].isin(self.documents["document_id"])]
        queue = readable.assign(due_on=readable["due_on"].map(format_date_fr),
                                reviewer_role=readable["reviewer_role"].map(ROLE_LABELS))
        queue = queue.rename(columns={
            "document_id": "Identifiant", "title": "Titre", "issuer_code": "Émetteur",
            "revision_index": "Indice", "reviewer_role": "Relecteur", "due_on": "Échéance",
            "days_late": "Jours de retard"})
        turnaround = self.turnaround.assign(
            reviewer_role=self.turnaround["reviewer_role"].map(ROLE_LABELS),
            median_days=self.turnaround["median_days"].map(lambda d: format_number(d, 1))
        ).rename(columns={
                "reviewer_role": "Relecteur", "visas": "Visas rendus",
                "median_days": "Délai médian (jours)", "late": "Rendus en retard"})
        items = []
        if self.form is not None:
            items += [w.HTML(f"<h4>Déposer un document (au nom de "
                             f"{esc(self.session.actor.name or self.session.actor.email)})</h4>"),
                      self.form.widget()]
        items += [*self.review.items,
                  w.HTML("<h4>Documents que vous pouvez lire</h4>"),
                  table(docs, "documents", "Aucun document lisible."),
                  w.HTML(f"<h4>Visas attendus au {format_date_fr(self.as_of)}</h4>"),
                  table(queue, "visas-attendus", "Aucun visa attendu."),
                  w.HTML("<h4>Délais de visa par relecteur</h4>"),
                  table(turnaround, "delais-visa", "Aucun visa rendu.")]
        return items
