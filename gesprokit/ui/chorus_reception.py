"""Chorus Pro, the recipient's and the depositor's side: the MOE or MOA refuses or suspends
a piece it received (reason and comment compulsory); the depositor completes its suspended
piece. The rules and the calls are gesprokit.chorus.reception's; this page shows them."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime

import ipywidgets as w

from gesprokit.chorus import reception
from gesprokit.chorus.billing import billing_files
from gesprokit.chorus.frames import SUSPENDED, status_label
from gesprokit.chorus.piste import PisteClient
from gesprokit.errors import GesprokitError
from gesprokit.money import format_eur
from gesprokit.session import Session
from gesprokit.ui.common import STYLE, guarded, uploaded_files


def _client(factory: Callable[[], PisteClient]) -> PisteClient:
    try:
        return factory()
    except GesprokitError as exc:
        raise GesprokitError(f"Chorus Pro non configuré : {exc}") from exc


class ReceivedPieces:
    """The pieces the MOE or MOA received and has not answered: refuse or suspend one."""

    def __init__(self, session: Session, client_factory: Callable[[], PisteClient],
                 now: datetime | None = None, on_change: Callable[[], None] | None = None):
        self.session, self.client_factory, self.now = session, client_factory, now
        self.on_change = on_change
        self.piece = w.Dropdown(description="Pièce reçue", style=STYLE,
                                layout=w.Layout(width="720px"))
        self.decision = w.ToggleButtons(options=[("Suspendre (à compléter)", "suspend"),
                                                 ("Refuser", "refuse")], value="suspend",
                                        description="Décision", style=STYLE)
        self.reason = w.Dropdown(options=[("(choisir le motif)", "")] + [
            (label, code) for code, label in reception.REASONS.items()], value="",
            description="Motif", style=STYLE, layout=w.Layout(width="720px"))
        self.comment = w.Textarea(description="Commentaire", style=STYLE,
                                  placeholder="ce qui manque ou ce qui est à corriger",
                                  layout=w.Layout(width="720px", height="70px"))
        self.button = w.Button(description="Enregistrer dans Chorus Pro",
                               button_style="warning", layout=w.Layout(width="320px"))
        self.effect = w.HTML()
        self.message = w.HTML()
        self.decision.observe(lambda _c: self._explain(), names="value")
        self.button.on_click(self.on_treat)
        self.reload()

    def reload(self) -> None:
        pieces = reception.received_pieces(self.session.engine, self.session.actor)
        options = [(f"{p.contract_id} – {p.frame} n°{p.number} ({p.frame_label}) – "
                    f"{format_eur(p.amount_to_pay)} – {p.status_label}", int(p.piece_id))
                   for p in pieces.itertuples()]
        keep = self.piece.value
        self.piece.options = options or [("(aucune pièce reçue à traiter)", None)]
        values = [v for _, v in self.piece.options]
        self.piece.value = keep if keep in values else values[0]
        self.button.disabled = not options
        self._explain()

    def _explain(self) -> None:
        if self.decision.value == "refuse":
            text = ("Un refus arrête le dossier : il repart de sa première pièce, sous un "
                    "nouveau numéro, et un nouveau délai de paiement court.")
        else:
            text = ("Une suspension demande au déposant de compléter sa pièce ; le délai de "
                    "paiement n'est pas interrompu (seule l'interruption notifiée par "
                    "l'ordonnateur l'arrête).")
        self.effect.value = f"<i style='color:#6c757d'>{html.escape(text)}</i>"

    def on_treat(self, _button=None):
        def action():
            self.session.check_account()
            with _client(self.client_factory) as client:
                return reception.treat(self.session.engine, client, self.session.actor,
                                       self.piece.value, self.decision.value,
                                       self.reason.value, self.comment.value, now=self.now)

        def done(_result) -> None:
            self.comment.value = ""
            self.reload()
            if self.on_change:
                self.on_change()
        return guarded(action, self.message,
                       lambda r: f"Enregistré dans Chorus Pro : pièce {status_label(r['status'])}"
                                 f" le {r['at']:%d/%m/%Y à %H:%M}.", then=done)

    def widget(self) -> w.Widget:
        return w.VBox([w.HTML("<h4>Chorus Pro – pièces reçues</h4>"), self.piece,
                       self.decision, self.reason, self.comment, self.effect, self.button,
                       self.message])


class SuspendedPiece:
    """The depositor's suspended piece of the chosen file: complete it."""

    def __init__(self, session: Session, client_factory: Callable[[], PisteClient],
                 now: datetime | None = None, on_change: Callable[[], None] | None = None):
        self.session, self.client_factory, self.now = session, client_factory, now
        self.on_change = on_change
        self.piece_id: int | None = None
        self.notice = w.HTML()
        self.comment = w.Textarea(description="Complément", style=STYLE,
                                  layout=w.Layout(width="720px", height="70px"))
        self.upload = w.FileUpload(description="Pièces jointes", multiple=True,
                                   layout=w.Layout(width="320px"))
        self.button = w.Button(description="Compléter la pièce dans Chorus Pro",
                               button_style="primary", layout=w.Layout(width="320px"))
        self.message = w.HTML()
        self.box = w.VBox([self.notice, self.comment, self.upload, self.button, self.message])
        self.button.on_click(self.on_complete)
        self.box.layout.display = "none"

    def show(self, contract_id: str, file_key: str, frame: str) -> None:
        """Show the form when the actor's own piece of this file is suspended."""
        pieces = billing_files(self.session.engine, contract_id, file_key)
        mine = pieces[(pieces["frame"] == frame) & pieces["status"].isin(SUSPENDED)]
        if mine.empty:
            self.piece_id, self.box.layout.display = None, "none"
            return
        piece = mine.iloc[-1]
        self.piece_id = int(piece["piece_id"])
        self.notice.value = (f"<b style='color:#b03a2e'>Pièce {piece['frame']} "
                             f"n°{html.escape(piece['number'])} suspendue</b> : "
                             f"{html.escape(piece['reason'] or '')}")
        self.box.layout.display = None

    def on_complete(self, _button=None):
        def action():
            self.session.check_account()
            with _client(self.client_factory) as client:
                return reception.complete(self.session.engine, client, self.session.actor,
                                          self.piece_id, self.comment.value,
                                          uploaded_files(self.upload), now=self.now)

        def done(_result) -> None:
            self.comment.value = ""
            if self.on_change:
                self.on_change()
        return guarded(action, self.message,
                       lambda r: "Pièce complétée dans Chorus Pro le "
                                 + format(r["at"], "%d/%m/%Y à %H:%M") + ".", then=done)

    def widget(self) -> w.Widget:
        return self.box
