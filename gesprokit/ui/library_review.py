"""The reader's, the reviewer's and the recipient's controls on « Documents et visas »: open
a readable document (link, first pages, message thread), give the visa your role owes on a
version (VSO, VAO, REF, HM, observations required for VAO and REF) and acknowledge a meeting
report sent to you; each in your own name, one journaled action."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import ipywidgets as w
import pandas as pd
from sqlalchemy import select

from gesprokit import schema
from gesprokit.library.actions import VISA_STATUSES, acknowledge, give_visa
from gesprokit.links import MAX_VALUE
from gesprokit.session import Session
from gesprokit.ui.common import STYLE, error_html, guarded
from gesprokit.ui.document_viewer import DocumentViewer

WIDE = w.Layout(width="640px")


def awaited_acknowledgements(session: Session, readable: pd.DataFrame) -> pd.DataFrame:
    """The meeting reports sent to this account and not acknowledged yet (readable ones)."""
    with session.engine.connect() as conn:
        rows = conn.execute(select(
            schema.Distribution.document_id, schema.Distribution.revision_index,
            schema.Distribution.notified_at).where(
            schema.Distribution.recipient == session.actor.email,
            schema.Distribution.acknowledged_at.is_(None))).all()
    sent = pd.DataFrame(rows, columns=["document_id", "revision_index", "notified_at"])
    return sent.merge(readable[["document_id", "title"]], on="document_id")


class ReviewForms:
    """« Rendre un visa » and « Accuser réception », each listing only what this account
    owes; `done` refreshes the page after an action."""

    def __init__(self, session: Session, queue: pd.DataFrame, readable: pd.DataFrame,
                 message: w.HTML, done: Callable[[], None], now: datetime | None = None):
        self.session, self.message, self.done, self.now = session, message, done, now
        mine = queue[(queue["reviewer_role"] == session.actor.role)
                     & queue["document_id"].isin(readable["document_id"])]
        self.document = w.Dropdown(description="Version", style=STYLE, layout=WIDE, options=[
            (f"{r.document_id} – {r.title} – indice {r.revision_index}",
             (r.document_id, r.revision_index)) for r in mine.itertuples()])
        self.status = w.ToggleButtons(description="Visa", style=STYLE, options=[
            (f"{code} ({label})", code) for code, label in VISA_STATUSES.items()])
        self.observations = w.Textarea(description="Observations", style=STYLE, layout=WIDE,
                                       placeholder="obligatoires pour un VAO ou un refus")
        give = w.Button(description="Rendre le visa", button_style="primary",
                        disabled=mine.empty, layout=w.Layout(width="fit-content"))
        give.on_click(lambda _b: self.give())
        reports = awaited_acknowledgements(session, readable)
        self.report = w.Dropdown(description="Compte rendu", style=STYLE, layout=WIDE, options=[
            (f"{r.document_id} – {r.title} – indice {r.revision_index}",
             (r.document_id, r.revision_index)) for r in reports.itertuples()])
        ack = w.Button(description="Accuser réception", button_style="primary",
                       disabled=reports.empty, layout=w.Layout(width="fit-content"))
        ack.on_click(lambda _b: self.acknowledge())
        self.readable = w.Dropdown(description="Document", style=STYLE, layout=WIDE, options=[
            (f"{r.document_id} – {r.title} – indice {r.revision_index}", r.document_id)
            for r in readable.itertuples()])
        open_button = w.Button(description="Ouvrir", disabled=readable.empty,
                               layout=w.Layout(width="fit-content"))
        open_button.on_click(lambda _b: self.open())
        self.viewer = DocumentViewer(session, message, now=now)
        self.readable.observe(lambda _c: self.viewer.clear(), names="value")
        self.items = [
            w.HTML("<h4>Ouvrir un document</h4>"),
            w.HBox([self.readable, open_button]), self.viewer.widget(),
            w.HTML("<h4>Visas que vous devez rendre</h4>" + (
                "" if len(mine) else "<p><i>Aucun visa attendu de votre rôle.</i></p>")),
            *([self.document, self.status, self.observations, give] if len(mine) else []),
            w.HTML("<h4>Comptes rendus dont vous devez accuser réception</h4>" + (
                "" if len(reports) else "<p><i>Aucun compte rendu en attente.</i></p>")),
            *([self.report, ack] if len(reports) else [])]

    def open(self, document_id: str | None = None):
        """The last index of the chosen document (or of `document_id`, when one of the
        readable ones): its link, its first pages and its thread."""
        if document_id is not None:
            if document_id not in {v for _, v in self.readable.options}:
                self.viewer.clear()
                self.message.value = error_html(
                    f"le document « {document_id[:MAX_VALUE]} » n'existe pas ou votre compte ne "
                    "peut pas le lire.")
                return None
            self.readable.value = document_id
        if self.readable.value is None:
            return None
        return self.viewer.open(self.readable.value)

    def give(self):
        if self.document.value is None:
            return None
        document_id, index = self.document.value
        label = VISA_STATUSES[self.status.value]

        def act():
            self.session.check_account()
            return give_visa(self.session.engine, self.session.actor, document_id, index,
                             self.status.value, self.observations.value or None, now=self.now)
        return guarded(act, self.message, f"Visa rendu sur {document_id} indice {index} : "
                                          f"{label}.", lambda _r: self.done())

    def acknowledge(self):
        if self.report.value is None:
            return None
        document_id, index = self.report.value

        def act():
            self.session.check_account()
            acknowledge(self.session.engine, self.session.actor, document_id, index,
                        now=self.now)
            return True
        return guarded(act, self.message, f"Réception du compte rendu {document_id} indice "
                                          f"{index} accusée.", lambda _r: self.done())
