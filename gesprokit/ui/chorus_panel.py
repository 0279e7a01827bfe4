"""The Chorus Pro panel: check the user's piece of a situation's billing file, deposit it,
and see the file's pieces with their statuses (ipywidgets). The checks, the deposit and
what a status means all come from gesprokit.chorus; this page only shows them."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime

import ipywidgets as w

from gesprokit.chorus import billing
from gesprokit.chorus.frames import FRAMES, SUSPENDED, status_label
from gesprokit.chorus.piste import PisteClient, PisteConfig
from gesprokit.errors import GesprokitError
from gesprokit.money import format_eur
from gesprokit.months import format_month_fr
from gesprokit.session import Session
from gesprokit.ui.common import STYLE, guarded, uploaded_files

# The piece each role deposits for a monthly situation, the step it needs, a number prefix.
ROLE_PIECES = {"contractor": ("A4", "submitted_at", "PD"), "moe": ("A15", "moe_at", "EA"),
               "moa": ("A19", "moa_at", "EAV")}


def _default_client() -> PisteClient:
    return PisteClient(PisteConfig.from_env())


class ChorusPanel:
    """One situation at a time: the piece's problems, the deposit button, the file."""

    def __init__(self, session: Session, now: datetime | None = None,
                 client_factory: Callable[[], PisteClient] = _default_client):
        self.session, self.now, self.client_factory = session, now, client_factory
        self.frame, self.step, self.prefix = ROLE_PIECES[session.actor.role]
        self.queue = w.Dropdown(description="Situation", style=STYLE,
                                layout=w.Layout(width="720px"))
        # checked when typing ends (Enter or leaving the field), not at every key
        self.number = w.Text(description="N° de la pièce", style=STYLE,
                             continuous_update=False, layout=w.Layout(width="420px"))
        self.upload = w.FileUpload(description="Pièces jointes", multiple=True,
                                   layout=w.Layout(width="320px"))
        self.problems = w.HTML()
        self.file = w.HTML()
        self.deposit_button = w.Button(description=f"Déposer le {self.frame} dans Chorus Pro",
                                       button_style="primary", layout=w.Layout(width="320px"))
        self.button_reason = w.HTML()
        self.message = w.HTML()
        self.pending = w.HTML()
        self.queue.observe(lambda _c: self.show(), names="value")
        self.number.observe(lambda _c: self.check(), names="value")
        self.upload.observe(lambda _c: self.check(), names="value")
        self.deposit_button.on_click(self.on_deposit)
        from gesprokit.ui.chorus_reception import ReceivedPieces, SuspendedPiece

        self.received = (ReceivedPieces(session, client_factory, now, on_change=self.check)
                         if session.actor.role in ("moe", "moa") else None)
        self.suspended = SuspendedPiece(session, client_factory, now, on_change=self.check)
        self.reload()

    def reload(self, keep: tuple | None = None) -> None:
        s = self.session.situations()
        s = s[s[self.step].notna()].sort_values(self.step)  # the latest step comes last
        options = [(f"{r.contract_id} – situation n°{r.n} – {format_month_fr(r.month)}",
                    (r.contract_id, int(r.n))) for r in s.itertuples()]
        if not options:
            self.queue.options = [("(aucune situation à déposer)", None)]
            return
        self.queue.options = options
        values = [v for _, v in options]
        waiting = self._suspended(values)
        self.pending.value = "" if not waiting else (
            "<p style='color:#b03a2e'><b>À compléter :</b> " + " ; ".join(
                f"{html.escape(frame)} n°{html.escape(number)} ({html.escape(cid)}, situation "
                f"n°{n}), suspendue" for cid, n, frame, number in waiting) + "</p>")
        first_waiting = (waiting[0][0], waiting[0][1]) if waiting else None
        self.queue.value = keep if keep in values else first_waiting or values[-1]

    def _suspended(self, shown: list[tuple[str, int]]) -> list[tuple[str, int, str, str]]:
        """The actor's own pieces (its frame) of the situations shown, suspended in Chorus
        Pro and waiting for it to complete them."""
        pieces = billing.billing_files(self.session.engine)
        pieces = pieces[(pieces["frame"] == self.frame) & pieces["status"].isin(SUSPENDED)]
        keys = {(cid, billing.file_key(n)): (cid, n) for cid, n in shown}
        return [(*keys[(p.contract_id, p.file_key)], p.frame, p.number)
                for p in pieces.itertuples() if (p.contract_id, p.file_key) in keys]

    @property
    def selected(self) -> tuple[str, int] | None:
        return self.queue.value

    def show(self) -> None:
        if self.selected is None:
            return
        cid, n = self.selected
        number = f"{self.prefix}-{cid.rsplit('-', 1)[-1]}-{n:02d}"
        if self.number.value != number:
            self.number.value = number  # its observer checks the piece
        else:
            self.check()

    def check(self) -> list[str]:
        """The piece's problems, shown as a list; the button follows them."""
        if self.selected is None:
            return []
        cid, n = self.selected
        self.session.check_account()
        problems = billing.check(self.session.engine, self.session.actor, cid, self.frame,
                                 self.number.value, n=n, files=uploaded_files(self.upload),
                                 on=(self.now or datetime.now()).date())
        label = FRAMES[self.frame].label
        if problems:
            items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            self.problems.value = (f"<b>{self.frame} ({html.escape(label)}) : {len(problems)} "
                                   f"problème(s) à régler avant le dépôt</b><ul>{items}</ul>")
        else:
            self.problems.value = (f"<span style='color:#2e7d32'><b>{self.frame} "
                                   f"({html.escape(label)}) : prêt pour le dépôt.</b></span>")
        self.deposit_button.disabled = bool(problems)
        self.button_reason.value = ("<i style='color:#6c757d'>dépôt possible une fois ces "
                                    "problèmes réglés</i>" if problems else "")
        self.file.value = self._file_table(cid, n)
        self.suspended.show(cid, billing.file_key(n), self.frame)
        return problems

    def _file_table(self, cid: str, n: int) -> str:
        pieces = billing.billing_files(self.session.engine, cid, billing.file_key(n))
        if pieces.empty:
            return "<p><i>Aucune pièce de ce dossier n'est encore déposée.</i></p>"
        rows = "".join(
            f"<tr><td>{p.frame}</td><td>{html.escape(p.frame_label)}</td>"
            f"<td>{html.escape(p.number)}</td><td style='text-align:right'>"
            f"{format_eur(p.amount_to_pay)}</td><td>{html.escape(p.status_label)}</td>"
            f"<td>{p.status_at:%d/%m/%Y}</td><td>{html.escape(p.reason)}</td>"
            f"<td>{html.escape(p.effect)}</td></tr>"
            for p in pieces.itertuples())
        return ("<table><tr><th>Cadre</th><th>Pièce</th><th>N°</th><th>Net à payer</th>"
                "<th>Statut</th><th>Depuis le</th><th>Motif</th><th>Effet</th></tr>"
                f"{rows}</table>")

    def on_deposit(self, _button=None):
        cid, n = self.selected

        def action():
            self.session.check_account()
            try:
                client = self.client_factory()
            except GesprokitError as exc:
                raise GesprokitError(f"Dépôt Chorus Pro non configuré : {exc}") from exc
            with client:
                return billing.deposit(self.session.engine, client, self.session.actor, cid,
                                       self.frame, self.number.value, n=n,
                                       files=uploaded_files(self.upload), now=self.now)
        return guarded(action, self.message,
                       lambda r: f"Déposé : pièce Chorus Pro {r['chorus_id']} "
                                 f"({status_label(r['status'])}).",
                       then=lambda _r: self.check())

    def widget(self) -> w.Widget:
        deposit = w.VBox([w.HTML("<h4>Chorus Pro – dépôt de la pièce du dossier de "
                                 "facturation</h4>"), self.pending, self.queue, self.number,
                          w.HBox([self.upload, w.HTML("<i style='color:#6c757d'>pièces "
                                  "complémentaires ; pour une situation importée, le PDF "
                                  "signé d'abord</i>")]), self.problems,
                          w.HBox([self.deposit_button, self.button_reason]), self.message,
                          self.file, self.suspended.widget()])
        return w.VBox([self.received.widget(), deposit] if self.received else [deposit])
