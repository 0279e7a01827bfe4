"""The role panels of the situation circuit (ipywidgets).

Each button calls one workflow action through the user's session and shows
its French message; whether a button is enabled comes from the workflow's own
refusal. Grids accept percentages typed as ``12,5``.
"""

from __future__ import annotations

import html
from datetime import date, datetime

import ipywidgets as w
import pandas as pd

from gesprokit.circuit import RETURN_REASONS, STATE_LABELS
from gesprokit.errors import GesprokitError
from gesprokit.ledger import line_cum
from gesprokit.money import format_eur, format_pct_bp
from gesprokit.months import format_date_fr, format_month_fr
from gesprokit.notifications import inbox
from gesprokit.report_data import ledger_and_delays
from gesprokit.session import Session
from gesprokit.situation_documents import produced_document
from gesprokit.statement import creditor_sentence, preview, statement_rows
from gesprokit.timeline import situation_timeline
from gesprokit.ui.common import (
    STYLE,
    amount_input,
    button_state,
    download_link,
    error_html,
    esc,
    guarded,
    percent_input,
    uploaded_files,
)
from gesprokit.ui.tables import table
from gesprokit.workflow import joined


def _label(row) -> str:
    text = (f"{row.contract_id} – situation n°{row.n} – {format_month_fr(row.month)} – "
            f"{STATE_LABELS[row.status]}")
    if row.status not in ("draft", "paid") and pd.notna(getattr(row, "deadline_on", None)):
        text += f" – paiement dû le {format_date_fr(row.deadline_on)}"
        if getattr(row, "late_days", 0) > 0:
            text += f" ({int(row.late_days)} j de retard)"
    return text


def _last_document(session: Session, contract_id: str, n: int, action: str):
    """(name, bytes) of the PDF the last `action` on the situation produced."""
    with session.engine.connect() as conn:
        document = produced_document(conn, contract_id, n, action)
    return None if document is None else (document.name, document.content)


def _full_labels(widgets) -> None:
    """Buttons as wide as their label (a truncated « Valider l'état d'aco… » hides what it
    does)."""
    for item in widgets:
        if isinstance(item, w.Button):
            item.layout.width = "auto"
        _full_labels(getattr(item, "children", ()))


class SituationPanel:
    """A queue of the situations a role acts on, the selected one's detail, and actions."""

    statuses: tuple[str, ...] = ()
    title = ""

    def __init__(self, session: Session, now: datetime | None = None):
        self.session, self.now = session, now
        self.queue = w.Dropdown(description="Situation", style=STYLE,
                                layout=w.Layout(width="720px"))
        self.detail = w.VBox()
        self.message = w.HTML()
        self.confirm = w.VBox()
        self.statement = w.HTML()
        self.shown_version: int | None = None
        self._frames = self._ledger = None
        self._loading = False
        self.queue.observe(lambda _c: None if self._loading else self.show(), names="value")
        self.reload()

    def situations(self) -> pd.DataFrame:
        """The role's queue with each payment deadline and late days, most urgent first."""
        frames = self._frames = self.session.frames()
        self._ledger = None
        s = frames.situations
        s = s[s["status"].isin(self.statuses)]
        if s.empty:
            return s
        # the statement shown next reuses this ledger (one computation per refresh)
        self._ledger, delays = ledger_and_delays(frames, self.now or datetime.now())
        s = s.merge(delays[["contract_id", "n", "deadline_on", "late_days"]],
                    on=["contract_id", "n"], how="left")
        return self.order(s)

    def order(self, s: pd.DataFrame) -> pd.DataFrame:
        """Earliest payment deadline first."""
        return s.sort_values(["deadline_on", "contract_id", "n"], na_position="last")

    def reload(self, keep: tuple | None = None) -> None:
        rows = self.situations()
        options = [(_label(r), (r.contract_id, int(r.n))) for r in rows.itertuples()]
        values = [v for _, v in options]
        # Build the detail once: replacing a box's children twice in a row can leave the
        # browser showing the first set (its views are created asynchronously).
        self._loading = True
        try:
            if options:
                self.queue.options = options
                self.queue.value = keep if keep in values else values[0]
            else:
                self.queue.options = [("(aucune situation à traiter)", None)]
                self.queue.index = 0
        finally:
            self._loading = False
        self.show(reuse=True)  # the frames the queue was just built from

    @property
    def selected(self) -> tuple[str, int] | None:
        return self.queue.value

    def open_situation(self, contract_id: str, n: str) -> None:
        """Select the situation a link asks for when it waits in this role's queue; say so
        in French otherwise (treated since, or not the account's to see)."""
        wanted = (contract_id, int(n)) if str(n).isdigit() else None
        if wanted in [v for _, v in self.queue.options]:
            self.queue.value = wanted
            return
        self.message.value = error_html(f"la situation n°{n} du marché {contract_id} n'attend "
                                        "plus d'action de votre part (ou n'est pas dans votre "
                                        "périmètre).")

    def frames(self):
        """The session's frames, read once per displayed situation."""
        if self._frames is None:
            self._frames = self.session.frames()
        return self._frames

    def situation_month(self) -> str:
        """The selected situation's month as it stands (AAAA-MM)."""
        cid, n = self.selected
        sits = self.frames().situations
        return str(sits.loc[(sits["contract_id"] == cid) & (sits["n"] == n), "month"].iloc[0])

    def lines(self) -> pd.DataFrame:
        """The selected situation's lines: label, amount, % entered now and before."""
        cid, n = self.selected
        frames = self.frames()
        lines = frames.price_lines[frames.price_lines["contract_id"] == cid]
        progress = frames.progress[frames.progress["contract_id"] == cid]
        before = progress[progress["n"] < n].sort_values("n").groupby("line_no")["pct_bp"].last()
        now = progress[progress["n"] == n].set_index("line_no")["pct_bp"]
        out = lines[["line_no", "label", "amount_cents"]].copy()
        out["previous_bp"] = out["line_no"].map(before).fillna(0).astype("int64")
        out["current_bp"] = out["line_no"].map(now).fillna(out["previous_bp"]).astype("int64")
        return out.sort_values("line_no").reset_index(drop=True)

    def show(self, reuse: bool = False) -> None:
        if not reuse:
            self._frames = self._ledger = None
        self.confirm.children = []
        self.on_selection()
        if self.selected is None:
            self.detail.children = []
            return
        cid, n = self.selected
        shown = self.frames().situations
        row = shown[(shown["contract_id"] == cid) & (shown["n"] == n)]
        # the version the user is looking at: an action on an older one is refused
        self.shown_version = int(row["version"].iloc[0]) if len(row) else None
        items = self.build_detail()
        _full_labels(items)
        self.statement.value = self.statement_html()
        self.detail.children = [w.HTML("<b>État d'acompte</b>"), self.statement, *items,
                                self.confirm, *self.history(), *self.thread_items()]

    def thread_items(self) -> list[w.Widget]:
        """The situation's messages, and a box to write one (everyone who reads the
        situation reads them and is told of a new one)."""
        cid, n = self.selected
        try:
            messages = self.session.thread(cid, n)
        except GesprokitError:  # not this account's to read (a draft of another company)
            return []
        shown = "".join(
            f"<p style='margin:4px 0'><b>{esc(r.author)}</b> ({esc(r.role)}), le "
            f"{format_date_fr(r.at)} à {pd.Timestamp(r.at):%H:%M} :<br>"
            f"{esc(r.body).replace(chr(10), '<br>')}</p>" for r in messages.itertuples())
        self.message_text = w.Textarea(description="Votre message", style=STYLE,
                                       layout=w.Layout(width="720px", height="70px"))
        send = w.Button(description="Envoyer le message", layout=w.Layout(width="fit-content"))
        send.on_click(lambda _b: self.on_post())
        return [w.HTML("<b>Messages de la situation</b>"
                       + (shown or "<p><i>Aucun message.</i></p>")), self.message_text, send]

    def on_post(self, _button=None):
        cid, n = self.selected
        return guarded(lambda: self.session.post_message(cid, n, self.message_text.value,
                                                         now=self.now),
                       self.message, "Message envoyé ; les participants en sont informés.",
                       then=lambda _r: self.reload(keep=(cid, n)))

    def on_selection(self) -> None:
        """What a panel forgets when another situation is chosen."""

    def statement_html(self, pcts: dict[str, int] | None = None,
                       adjustments: list[dict] | None = None) -> str:
        """The statement of the selected situation, with what is typed but not saved."""
        cid, n = self.selected
        if self._ledger is not None and not pcts and not adjustments:
            rows = self._ledger.situations[self._ledger.situations["contract_id"] == cid]
        else:
            rows = preview(self.frames(), cid, n, pcts, adjustments)
        mine = rows[rows["n"] == n]
        if mine.empty:
            return "<i>Aucun montant pour cette situation.</i>"
        row = mine.iloc[0]
        prov = " (provisoire)" if bool(row["revision_provisional"]) else ""
        lines = statement_rows(rows, row, prov)
        cells = "<td style='padding:1px 8px'>{}</td>" + "<td style='text-align:right;" \
            "padding:1px 8px'>{}</td>" * 3
        body = "".join(
            ("<tr style='font-weight:bold'>" if i == len(lines) - 1 else "<tr>")
            + cells.format(esc(label), format_eur(cum), format_eur(old), format_eur(month))
            + "</tr>" for i, (label, cum, old, month) in enumerate(lines))
        warning = creditor_sentence(int(row["net_month"]))
        flag = (f"<p style='color:#b03a2e;font-weight:bold'>⚠ {esc(warning)}</p>"
                if warning else "")
        typed = " (avec les valeurs saisies, non encore enregistrées)" if (
            pcts or adjustments) else ""
        return ("<table style='border-collapse:collapse;font-size:13px'>"
                "<tr style='background:#f3f5f7'><th style='text-align:left;padding:2px 8px'>"
                f"Situation n°{n}{esc(typed)}</th><th>Cumul</th><th>Précédent</th>"
                f"<th>Du mois</th></tr>{body}</table>{flag}")

    def live(self) -> None:
        """Recompute the statement with what the grid holds now."""
        self.statement.value = self.statement_html(self.grid.typed())

    def net_month(self, pcts=None, adjustments=None) -> int:
        cid, n = self.selected
        rows = preview(self.frames(), cid, n, pcts, adjustments)
        return int(rows.loc[rows["n"] == n, "net_month"].iloc[0])

    def history(self) -> list[w.Widget]:
        """Who did what on the situation, with every comment and reason."""
        cid, n = self.selected
        frames = self.frames()
        timeline = situation_timeline(frames.events, cid, n, frames.price_lines)
        return [w.HTML("<b>Suivi de la situation</b>"),
                table(timeline, f"suivi-{cid}-{n}", "Aucune action enregistrée.",
                      interactive=False)]

    def ask(self, what: str, action, pcts=None, adjustments=None,
            rectification: int = 0) -> None:
        """Show the net of the statement about to be signed (with the MOA's rectification,
        if any) and wait for « Confirmer »."""
        try:
            net = self.net_month(pcts() if callable(pcts) else pcts,
                                 adjustments() if callable(adjustments) else adjustments)
        except GesprokitError as exc:
            self.message.value = error_html(exc)
            return
        cid, n = self.selected
        net += rectification
        warning = creditor_sentence(net)
        rectified = (f" (dont rectification {format_eur(rectification)} TTC)"
                     if rectification else "")
        text = (f"<p>Vous allez <b>{esc(what)}</b> la situation n°{n} de {esc(cid)} : net du "
                f"mois <b>{format_eur(net)} TTC</b>{esc(rectified)}.</p>")
        if warning:
            text += f"<p style='color:#b03a2e;font-weight:bold'>⚠ {esc(warning)}</p>"
        yes = w.Button(description="Confirmer", button_style="danger" if warning else "success")
        no = w.Button(description="Annuler")

        def go(_b):
            yes.disabled = no.disabled = True  # one click, one action
            self.message.value = "<i>Enregistrement en cours…</i>"
            self.confirm.children = []
            action()
        yes.on_click(go)
        no.on_click(lambda _b: setattr(self.confirm, "children", []))
        self.confirm.children = [w.HTML(text), w.HBox([yes, no])]

    def build_detail(self) -> list[w.Widget]:
        return []

    def widget(self) -> w.Widget:
        return w.VBox([w.HTML(f"<h4>{self.title}</h4>"), self.queue, self.message,
                       self.detail])


class PercentGrid:
    """One row per price line with an editable cumulative % (and a justification if asked);
    the difference with the reference is shown in % and in euros as the user types.

    A long schedule is shown a page at a time (search, « lignes modifiées », page buttons);
    typed values live outside the widgets, so they survive paging and filtering. The totals
    (works to date and difference) stay above the lines."""

    PAGE = 40

    def __init__(self, lines: pd.DataFrame, reference: str, with_comment: bool,
                 on_change=None):
        self.lines = lines.reset_index(drop=True)
        self.reference, self.with_comment, self.on_change = reference, with_comment, on_change
        self.texts = {r.line_no: format_pct_bp(r.current_bp).replace("\xa0%", "")
                      for r in self.lines.itertuples()}
        self.notes = {r.line_no: "" for r in self.lines.itertuples()}
        self.by_line = {r.line_no: r for r in self.lines.itertuples()}
        self.inputs, self.comments, self.diffs = {}, {}, {}
        self.search = w.Text(placeholder="rechercher un poste ou une désignation",
                             layout=w.Layout(width="320px"))
        self.only_changed = w.Checkbox(description="Lignes modifiées seulement", value=False,
                                       indent=False)
        self.previous_page = w.Button(description="◀", layout=w.Layout(width="40px"))
        self.next_page = w.Button(description="▶", layout=w.Layout(width="40px"))
        self.page_label = w.HTML()
        self.totals = w.HTML()
        self.page = 0
        self.search.observe(lambda _c: self._goto(0), names="value")
        self.only_changed.observe(lambda _c: self._goto(0), names="value")
        self.previous_page.on_click(lambda _b: self._goto(self.page - 1))
        self.next_page.on_click(lambda _b: self._goto(self.page + 1))
        self.rows = w.GridBox(layout=w.Layout(
            grid_template_columns="60px 320px 120px 110px 100px 200px"
            + (" 270px" if with_comment else ""), grid_gap="2px 8px"))
        bar = [self.search, self.only_changed] if len(self.lines) > self.PAGE else []
        self.grid = w.VBox([w.HBox(bar), self.totals, self.rows,
                            w.HBox([self.previous_page, self.page_label, self.next_page])
                            if len(self.lines) > self.PAGE else w.HBox()])
        self._goto(0)

    def _value(self, line: str) -> int | None:
        try:
            return percent_input(self.texts[line])
        except ValueError:
            return None

    def _selected(self) -> list[str]:
        words = self.search.value.strip().lower()
        out = []
        for r in self.lines.itertuples():
            if words and words not in f"{r.line_no} {r.label}".lower():
                continue
            if self.only_changed.value and self._value(r.line_no) == r.reference_bp:
                continue
            out.append(r.line_no)
        return out

    def _goto(self, page: int) -> None:
        selected = self._selected()
        pages = max(1, -(-len(selected) // self.PAGE))
        self.page = min(max(page, 0), pages - 1)
        shown = selected[self.page * self.PAGE:(self.page + 1) * self.PAGE]
        cells = [w.HTML("<b>Poste</b>"), w.HTML("<b>Désignation</b>"),
                 w.HTML("<b>Montant HT</b>"), w.HTML(f"<b>{self.reference}</b>"),
                 w.HTML("<b>Avancement cumulé</b>"), w.HTML("<b>Écart</b>")]
        if self.with_comment:
            cells.append(w.HTML("<b>Justification</b>"))
        self.inputs, self.comments, self.diffs = {}, {}, {}
        for line in shown:
            r = self.by_line[line]
            box = w.Text(value=self.texts[line], placeholder=line,
                         layout=w.Layout(width="90px"))
            self.inputs[line] = box
            self.diffs[line] = w.HTML(self._diff_html(line))
            cells += [w.HTML(line), w.HTML(esc(r.label)), w.HTML(format_eur(r.amount_cents)),
                      w.HTML(format_pct_bp(r.reference_bp)), box, self.diffs[line]]
            box.observe(lambda c, line=line: self._typed(line, c["new"]), names="value")
            if self.with_comment:
                note = w.Text(value=self.notes[line], placeholder=f"justification {line}",
                              layout=w.Layout(width="260px"))
                note.observe(lambda c, line=line: self.notes.__setitem__(line, c["new"]),
                             names="value")
                self.comments[line] = note
                cells.append(note)
        self.rows.children = cells
        self.page_label.value = (f"&nbsp;page {self.page + 1} / {pages} "
                                 f"({len(selected)} ligne(s))&nbsp;")
        self._totals()

    def _diff_html(self, line: str) -> str:
        r = self.by_line[line]
        value = self._value(line)
        if value is None:
            return "<span style='color:#b03a2e'>illisible</span>"
        delta = value - r.reference_bp
        sign = "+" if delta > 0 else ""
        # the money difference is the ledger's: each % gives its own rounded line amount
        money = line_cum(r.amount_cents, value) - line_cum(r.amount_cents, r.reference_bp)
        return "" if delta == 0 else (
            f"<b style='color:#b03a2e'>{sign}{format_pct_bp(delta)} "
            f"({'+' if money > 0 else ''}{format_eur(money)})</b>")

    def _typed(self, line: str, text: str) -> None:
        self.texts[line] = text
        self.diffs[line].value = self._diff_html(line)
        self._totals()
        if self.on_change is not None:
            self.on_change()

    def _totals(self) -> None:
        cum = delta = 0
        for r in self.lines.itertuples():
            value = self._value(r.line_no)
            value = r.reference_bp if value is None else value
            cum += line_cum(r.amount_cents, value)
            delta += line_cum(r.amount_cents, value) - line_cum(r.amount_cents, r.reference_bp)
        self.totals.value = (f"<p><b>{len(self.lines)} postes – travaux cumulés saisis : "
                             f"{format_eur(cum)} HT – écart avec « {esc(self.reference)} » : "
                             f"{format_eur(delta)} HT</b></p>")

    def typed(self) -> dict[str, int]:
        """Every readable typed % (unreadable ones left out): for the live statement."""
        return {line: v for line in self.texts if (v := self._value(line)) is not None}

    def justifications(self) -> dict[str, str]:
        return {line: text for line, text in self.notes.items() if text.strip()}

    def changed(self, against: str = "current_bp") -> dict[str, int]:
        """Lines whose typed % differs from `against`; an unreadable one is refused with
        the line it is on."""
        out = {}
        for r in self.lines.itertuples():
            text = self.texts[r.line_no]
            try:
                value = percent_input(text)
            except ValueError as exc:
                raise GesprokitError(f"Avancement du poste {r.line_no} : {exc}") from None
            if value != getattr(r, against):
                out[r.line_no] = value
        return out


class ContractorPanel(SituationPanel):
    """The contractor: opens a situation, enters cumulative % per line, submits."""

    statuses = tuple(STATE_LABELS)
    title = "Mes situations de travaux"

    def order(self, s: pd.DataFrame) -> pd.DataFrame:
        """Drafts first, then the latest situations."""
        return s.assign(_done=s["status"] != "draft").sort_values(
            ["_done", "contract_id", "n"], ascending=[True, True, False]).drop(columns="_done")

    def __init__(self, session: Session, now: datetime | None = None):
        frames = session.frames()
        self.contracts = frames.contracts
        self.month = w.Text(description="Mois (AAAA-MM)", style=STYLE)
        self.contract = w.Dropdown(description="Marché", style=STYLE,
                                   layout=w.Layout(width="720px"),
                                   options=[(f"{c.contract_id} – {c.title}", c.contract_id)
                                            for c in self.contracts.itertuples()])
        self.create = w.Button(description="Nouvelle situation")
        self.create.on_click(self.on_create)
        super().__init__(session, now)

    def widget(self) -> w.Widget:
        return w.VBox([w.HTML(f"<h4>{self.title}</h4>"), self.contract,
                       w.HBox([self.month, self.create]), self.queue, self.message,
                       self.detail])

    def on_create(self, _button=None):
        return guarded(lambda: self.session.create_situation(
            self.contract.value, self.month.value.strip(), now=self.now), self.message,
            lambda n: f"Situation n°{n} ouverte en brouillon.",
            then=lambda n: self.reload(keep=(self.contract.value, n)))

    def build_detail(self) -> list[w.Widget]:
        cid, n = self.selected
        lines = self.lines().assign(reference_bp=lambda d: d["previous_bp"])
        self.grid = PercentGrid(lines, "Précédent", with_comment=True, on_change=self.live)
        self.save = w.Button(description="Enregistrer l'avancement")
        self.submit = w.Button(description="Valider et transmettre", button_style="success")
        self.save_reason, self.submit_reason = w.HTML(), w.HTML()
        button_state(self.save, self.save_reason,
                     self.session.refusal("enter_progress", cid, n))
        button_state(self.submit, self.submit_reason, self.session.refusal("submit", cid, n))
        self.save.on_click(self.on_save)
        self.submit.on_click(lambda _b: self.ask("valider et transmettre", self.on_submit,
                                                 pcts=self.grid.typed))
        self.request_comment = w.Textarea(description="Commentaire de la demande",
                                          style=STYLE, layout=w.Layout(width="720px"))
        self.upload = w.FileUpload(description="Pièces jointes (factures de sous-traitants…)",
                                   accept=".pdf", multiple=True,
                                   layout=w.Layout(width="auto"))
        items = [self.grid.grid, w.HBox([self.save, self.save_reason]),
                 self.request_comment, self.upload, w.HBox([self.submit, self.submit_reason])]
        doc = _last_document(self.session, cid, n, "submit")
        if doc:
            items.append(w.HTML(download_link(*doc, "Télécharger la demande d'acompte (PDF)")))
        return items

    def on_save(self, _button=None):
        cid, n = self.selected

        def action():
            pcts = self.grid.changed()
            comments = self.grid.justifications()
            return self.session.enter_progress(cid, n, pcts, comments, now=self.now,
                                               expected_version=self.shown_version)
        done = guarded(action, self.message, lambda r: "Avancement enregistré : "
                       f"{len(r.get('pct_bp', {}))} poste(s) modifié(s).",
                       then=lambda _r: self.reload(keep=(cid, n)))
        return done

    def on_submit(self, _button=None):
        cid, n = self.selected
        try:
            unsaved = self.grid.changed()
        except GesprokitError as exc:
            self.message.value = error_html(exc)
            return None
        if unsaved and self.on_save() is None:
            return None
        return guarded(lambda: self.session.submit(
            cid, n, files=uploaded_files(self.upload) or None,
            comment=self.request_comment.value, now=self.now,
            expected_version=self.shown_version), self.message,
                       "Projet de décompte transmis : le délai de paiement court.",
                       then=lambda _r: self.reload(keep=(cid, n)))


def month_field(month: str) -> w.Text:
    """The situation's month, editable (a change is justified by a comment and a PDF)."""
    return w.Text(value=month, description="Mois (AAAA-MM)", style=STYLE)


class VerifierPanel(SituationPanel):
    """OPC/BET: claimed vs admitted per line; a correction needs a comment and a PDF."""

    statuses = ("submitted",)
    title = "Situations à vérifier"

    def build_detail(self) -> list[w.Widget]:
        cid, n = self.selected
        lines = self.lines().assign(reference_bp=lambda d: d["current_bp"])
        self.grid = PercentGrid(lines, "Demandé", with_comment=False, on_change=self.live)
        self.month = month_field(self.situation_month())
        self.comment = w.Textarea(description="Commentaire", style=STYLE,
                                  layout=w.Layout(width="720px"))
        self.upload = w.FileUpload(description="Pièce jointe PDF", accept=".pdf", multiple=False)
        self.button = w.Button(description="Valider la vérification", button_style="success")
        self.reason = w.HTML()
        button_state(self.button, self.reason, self.session.refusal("verify", cid, n))
        self.button.on_click(lambda _b: self.ask("valider la vérification de", self.on_verify,
                                                 pcts=self.grid.typed))
        return [*self.request_from_contractor(), self.grid.grid, self.month, self.comment,
                self.upload, w.HBox([self.button, self.reason])]

    def request_from_contractor(self) -> list[w.Widget]:
        """The contractor's comment on its request and the files it joined, to open."""
        cid, n = self.selected
        with self.session.engine.connect() as conn:
            comment, files = joined(conn, cid, n, "submit")
        if not files and not comment:
            return []
        parts = ["<b>Demande de l'entreprise</b>"]
        if comment:
            parts.append(f"Commentaire : {html.escape(comment)}")
        widgets = [w.HTML("<br>".join(parts))]
        widgets += [w.HTML(download_link(f.name, f.content, f"Ouvrir « {f.name} »"))
                    for f in files]
        return widgets

    def on_verify(self, _button=None):
        cid, n = self.selected

        def action():
            return self.session.verify(cid, n, corrections=self.grid.changed() or None,
                                       month=self.month.value.strip() or None,
                                       comment=self.comment.value or None,
                                       files=uploaded_files(self.upload), now=self.now,
                                       expected_version=self.shown_version)
        done = guarded(action, self.message, f"Situation n°{n} vérifiée, transmise au maître "
                                             "d'œuvre.",
                       then=lambda _r: self.reload())
        return done


class MoePanel(SituationPanel):
    """MOE: penalties and bonuses with their reasons, then the état d'acompte (PDF)."""

    statuses = ("verified", "issued")
    title = "États d'acompte"

    def __init__(self, session: Session, now: datetime | None = None):
        self.pending: list[dict] = []
        super().__init__(session, now)

    def on_selection(self) -> None:
        self.pending = []  # penalties typed for one situation never go to another

    def build_detail(self) -> list[w.Widget]:
        cid, n = self.selected
        self.kind = w.Dropdown(options=[("Pénalité", "penalty"), ("Prime", "bonus")],
                               description="Nature", style=STYLE)
        self.days = w.Text(description="Jours de retard", style=STYLE)
        self.amount = w.Text(description="ou montant (€)", style=STYLE)
        self.reason_text = w.Text(description="Justification", style=STYLE,
                                  layout=w.Layout(width="720px"))
        self.add = w.Button(description="Ajouter")
        self.add.on_click(self.on_add)
        self.remove = w.Button(description="Retirer la dernière")
        self.remove.on_click(self.on_remove)
        self.listing = w.HTML(self._listing())
        self.button = w.Button(description="Émettre l'état d'acompte", button_style="success")
        self.reason = w.HTML()
        button_state(self.button, self.reason, self.session.refusal("issue", cid, n))
        self.button.on_click(lambda _b: self.ask("émettre l'état d'acompte de", self.on_issue,
                                                 adjustments=lambda: self.pending))
        self.month = month_field(self.situation_month())
        self.comment = w.Textarea(description="Commentaire", style=STYLE,
                                  placeholder="obligatoire pour changer le mois",
                                  layout=w.Layout(width="720px"))
        self.upload = w.FileUpload(description="Pièce jointe PDF", accept=".pdf", multiple=False)
        items = [w.HTML("<b>Pénalités et primes</b>"), self.kind, self.days, self.amount,
                 self.reason_text, w.HBox([self.add, self.remove]), self.listing,
                 w.HTML("<b>Mois de la situation</b>"), self.month, self.comment, self.upload,
                 w.HBox([self.button, self.reason])]
        doc = _last_document(self.session, cid, n, "issue")
        self.document = w.HTML(download_link(*doc, "Télécharger l'état d'acompte (PDF)")
                               if doc else "")
        return [*items, self.document]

    def _listing(self) -> str:
        return "<br>".join(f"{'Pénalité' if a['kind'] == 'penalty' else 'Prime'} : "
                           f"{a['days'] or ''}{' jours' if a['days'] else ''}"
                           f"{format_eur(a['amount_cents']) if a['amount_cents'] else ''} – "
                           f"{html.escape(a['reason'])}" for a in self.pending)

    def on_add(self, _button=None):
        days_text, amount_text = self.days.value.strip(), self.amount.value.strip()
        if not days_text.isdigit() and days_text:
            self.message.value = error_html(f"Jours de retard : « {days_text} » n'est pas un "
                                            "nombre entier de jours.")
            return
        try:
            amount = amount_input("Montant de la pénalité ou de la prime", amount_text) \
                if amount_text else None
        except GesprokitError as exc:
            self.message.value = error_html(exc)
            return
        if not self.reason_text.value.strip():
            self.message.value = error_html("Justification : obligatoire pour une pénalité "
                                            "ou une prime.")
            return
        self.message.value = ""
        self.pending.append({"kind": self.kind.value, "days": int(days_text) if days_text
                             else None, "amount_cents": amount,
                             "reason": self.reason_text.value.strip()})
        self._pending_changed()

    def on_remove(self, _button=None):
        if self.pending:
            self.pending.pop()
        self._pending_changed()

    def _pending_changed(self) -> None:
        self.listing.value = self._listing()
        try:
            self.statement.value = self.statement_html(adjustments=self.pending)
        except (GesprokitError, ValueError, TypeError) as exc:
            self.message.value = error_html(f"pénalité ou prime illisible ({exc})")

    def on_issue(self, _button=None):
        cid, n = self.selected
        done = guarded(lambda: self.session.issue(
            cid, n, adjustments=self.pending, month=self.month.value.strip() or None,
            comment=self.comment.value or None, files=uploaded_files(self.upload),
            now=self.now, expected_version=self.shown_version), self.message,
                       "État d'acompte provisoire émis.",
                       then=lambda _r: (self.pending.clear(), self.reload(keep=(cid, n))))
        return done


class AmoPanel(SituationPanel):
    """AMO: accepts or returns (reason code, comment, PDF); records guarantees."""

    statuses = ("issued",)
    title = "États d'acompte à accepter"

    def build_detail(self) -> list[w.Widget]:
        cid, n = self.selected
        self.accept = w.Button(description="Accepter", button_style="success")
        self.accept_reason = w.HTML()
        button_state(self.accept, self.accept_reason, self.session.refusal("accept", cid, n))
        self.accept.on_click(lambda _b: self.ask("accepter l'état d'acompte de",
                                                 self.on_accept))
        self.return_code = w.Dropdown(description="Motif du retour", style=STYLE,
                                      options=[(v, k) for k, v in RETURN_REASONS.items()],
                                      layout=w.Layout(width="720px"))
        self.comment = w.Textarea(description="Commentaire", style=STYLE,
                                  layout=w.Layout(width="720px"))
        self.upload = w.FileUpload(description="Pièce jointe PDF", accept=".pdf", multiple=False)
        self.send_back = w.Button(description="Retourner au maître d'œuvre",
                                  button_style="warning")
        self.send_back.on_click(self.on_return)
        doc = _last_document(self.session, cid, n, "issue")
        items = [w.HBox([self.accept, self.accept_reason]), w.HTML("<b>Ou retourner</b>"),
                 self.return_code, self.comment, self.upload, self.send_back]
        if doc:
            items.insert(0, w.HTML(download_link(*doc, "Lire l'état d'acompte (PDF)")))
        return items

    def on_accept(self, _button=None):
        cid, n = self.selected
        done = guarded(lambda: self.session.accept(
            cid, n, now=self.now, expected_version=self.shown_version), self.message,
                       "État d'acompte accepté, transmis au maître d'ouvrage.",
                       then=lambda _r: self.reload())
        return done

    def on_return(self, _button=None):
        cid, n = self.selected
        done = guarded(lambda: self.session.return_to_moe(
            cid, n, self.return_code.value, self.comment.value,
            uploaded_files(self.upload), now=self.now, expected_version=self.shown_version),
            self.message,
            "Retourné au maître d'œuvre.",
                       then=lambda _r: self.reload())
        return done


class GuaranteeForm:
    """AMO: record a garantie à première demande or a caution on a contract."""

    def __init__(self, session: Session, now: datetime | None = None):
        self.session, self.now = session, now
        contracts = session.frames().contracts
        self.contract = w.Dropdown(description="Marché", style=STYLE,
                                   options=list(contracts["contract_id"]),
                                   layout=w.Layout(width="480px"))
        self.reference = w.Text(description="Référence", style=STYLE)
        self.kind = w.Dropdown(description="Nature", style=STYLE,
                               options=[("Garantie à première demande", "gapd"),
                                        ("Caution", "caution")])
        self.amount = w.Text(description="Montant (€)", style=STYLE)
        self.received = w.DatePicker(description="Reçue le", style=STYLE)
        self.issuer = w.Text(description="Garant", style=STYLE)
        self.button = w.Button(description="Enregistrer la garantie")
        self.message = w.HTML()
        self.button.on_click(self.on_record)

    def on_record(self, _button=None):
        def action():
            received = self.received.value or date.today()
            return self.session.record_guarantee(
                self.contract.value, self.reference.value.strip(), self.kind.value,
                amount_input("Montant de la garantie", self.amount.value), received,
                self.issuer.value, now=self.now)
        return guarded(action, self.message, "Garantie enregistrée : la retenue de garantie "
                                             "correspondante sera libérée.")

    def widget(self) -> w.Widget:
        return w.VBox([w.HTML("<h4>Garanties</h4>"), self.contract, self.reference, self.kind,
                       self.amount, self.received, self.issuer, self.button, self.message])


class SubcontractForm:
    """AMO: declare an accepted subcontractor (DC4) and whether it is paid directly."""

    def __init__(self, session: Session, now: datetime | None = None):
        self.session, self.now = session, now
        frames = session.frames()
        self.contract = w.Dropdown(description="Marché", style=STYLE,
                                   options=list(frames.contracts["contract_id"]),
                                   layout=w.Layout(width="480px"))
        self.reference = w.Text(description="Référence du sous-traité", style=STYLE)
        self.company = w.Dropdown(description="Sous-traitant", style=STYLE,
                                  options=[(f"{r.name} ({r.code})", r.code)
                                           for r in frames.companies.itertuples()],
                                  layout=w.Layout(width="480px"))
        self.scope = w.Text(description="Prestations", style=STYLE,
                            layout=w.Layout(width="480px"))
        self.amount = w.Text(description="Montant HT (€)", style=STYLE)
        self.accepted = w.DatePicker(description="Accepté le", style=STYLE)
        self.direct = w.Checkbox(value=True, description="Paiement direct")
        self.button = w.Button(description="Déclarer le sous-traitant")
        self.message = w.HTML()
        self.button.on_click(self.on_declare)

    def on_declare(self, _button=None):
        def action():
            return self.session.declare_subcontract(
                self.contract.value, self.reference.value.strip(), self.company.value,
                self.scope.value, amount_input("Montant HT du sous-traité", self.amount.value),
                self.accepted.value or date.today(), self.direct.value, now=self.now)
        return guarded(action, self.message, lambda r: (
            f"Sous-traitant déclaré : {r['subcontract_id']}, "
            f"{format_eur(r['amount_cents'])} HT"
            + (", payé directement." if r["direct_payment"] else ".")))

    def widget(self) -> w.Widget:
        return w.VBox([w.HTML("<h4>Sous-traitants (DC4)</h4>"), self.contract, self.reference,
                       self.company, self.scope, self.amount, self.accepted, self.direct,
                       self.button, self.message])


class MoaPanel(SituationPanel):
    """MOA: validates, interrupts the deadline once (listing missing pieces) or resumes it."""

    statuses = ("submitted", "verified", "issued", "accepted")
    title = "Validation et délais de paiement"

    def build_detail(self) -> list[w.Widget]:
        cid, n = self.selected
        self.validate = w.Button(description="Valider l'état d'acompte", button_style="success")
        self.validate_reason = w.HTML()
        button_state(self.validate, self.validate_reason,
                     self.session.refusal("validate", cid, n))
        self.validate.on_click(lambda _b: self.ask_validation())
        self.rectification = w.Text(description="Rectification TTC", style=STYLE,
                                    placeholder="facultative ; ex. -1 250,00, ajoutée au net "
                                                "du mois", layout=w.Layout(width="520px"))
        self.justification = w.Textarea(description="Motif", style=STYLE,
                                        placeholder="obligatoire avec une rectification",
                                        layout=w.Layout(width="720px"))
        self.pieces = w.Textarea(description="Pièces manquantes", style=STYLE,
                                 placeholder="une pièce par ligne",
                                 layout=w.Layout(width="720px"))
        self.interrupt = w.Button(description="Interrompre le délai")
        self.interrupt_reason = w.HTML()
        button_state(self.interrupt, self.interrupt_reason,
                     self.session.refusal("interrupt", cid, n))
        self.interrupt.on_click(self.on_interrupt)
        self.resume = w.Button(description="Pièces reçues : reprendre le délai")
        self.resume_reason = w.HTML()
        button_state(self.resume, self.resume_reason, self.session.refusal("resume", cid, n))
        self.resume.on_click(self.on_resume)
        return [self.rectification, self.justification,
                w.HBox([self.validate, self.validate_reason]), self.pieces,
                w.HBox([self.interrupt, self.interrupt_reason]),
                w.HBox([self.resume, self.resume_reason])]

    def rectification_cents(self) -> int | None:
        """The rectification typed (None when blank); a French error naming the field."""
        text = self.rectification.value.strip()
        return amount_input("Rectification TTC", text) if text else None

    def ask_validation(self) -> None:
        """Check the rectification first, then ask for confirmation as for any signature."""
        try:
            rectification = self.rectification_cents() or 0
        except GesprokitError as exc:
            self.message.value = error_html(exc)
            return
        self.ask("valider l'état d'acompte de", self.on_validate, rectification=rectification)

    def on_validate(self, _button=None):
        cid, n = self.selected

        def said(r: dict) -> str:
            text = f"Validé : net à payer {format_eur(r['net_month'])} TTC"
            if r.get("rectification"):
                text += (f" (rectification de {format_eur(r['rectification']['amount_cents'])}"
                         " TTC notifiée à l'entreprise)")
            return text + ", transmis au comptable."
        done = guarded(lambda: self.session.validate(
            cid, n, now=self.now, expected_version=self.shown_version,
            rectification_cents=self.rectification_cents(),
            justification=self.justification.value), self.message, said,
                       then=lambda _r: self.reload())
        return done

    def on_interrupt(self, _button=None):
        cid, n = self.selected
        pieces = [p for p in self.pieces.value.splitlines() if p.strip()]
        done = guarded(lambda: self.session.interrupt(
            cid, n, pieces, now=self.now, expected_version=self.shown_version),
                       self.message, "Délai interrompu ; l'entreprise est informée.",
                       then=lambda _r: self.reload(keep=(cid, n)))
        return done

    def on_resume(self, _button=None):
        cid, n = self.selected
        done = guarded(lambda: self.session.resume(
            cid, n, now=self.now, expected_version=self.shown_version), self.message,
                       "Délai repris : un nouveau délai court.",
                       then=lambda _r: self.reload(keep=(cid, n)))
        return done

    def widget(self) -> w.Widget:
        from gesprokit.ui.mandates import MandateForm

        items = inbox(self.session.engine, self.session.actor.email)
        listing = "".join(f"<li>{html.escape(i['subject'])}</li>" for i in items)
        self.mandates = MandateForm(self.session, self.now)
        return w.VBox([super().widget(), w.HTML("<h4>Situations à traiter</h4><ul>"
                                                f"{listing or '<li>(rien)</li>'}</ul>"),
                       self.mandates.widget()])


class AmoDesk:
    """The AMO's desk: états d'acompte to accept or return, guarantees and subcontractors."""

    def __init__(self, session: Session, now: datetime | None = None):
        self.panel = AmoPanel(session, now)
        self.open_situation = self.panel.open_situation
        self.guarantees = GuaranteeForm(session, now)
        self.subcontracts = SubcontractForm(session, now)

    def widget(self) -> w.Widget:
        return w.VBox([self.panel.widget(), self.guarantees.widget(),
                       self.subcontracts.widget()])


class MoaDesk:
    """The MOA's desk: validation and deadlines, then the A19's deposit in Chorus Pro."""

    def __init__(self, session: Session, now: datetime | None = None):
        from gesprokit.ui.chorus_panel import ChorusPanel

        self.panel = MoaPanel(session, now)
        self.chorus = ChorusPanel(session, now)

    def widget(self) -> w.Widget:
        return w.VBox([self.panel.widget(), self.chorus.widget()])
