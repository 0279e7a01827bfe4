"""The MOA's mandates on its page: the owner entrusts a mandataire with some of its powers
or withdraws them; a mandataire's account reads the mandate it acts under. The rules are
gesprokit.mandates'; this page only shows them and calls them."""

from __future__ import annotations

from datetime import datetime

import ipywidgets as w
from sqlalchemy import select

from gesprokit import schema
from gesprokit.mandates import POWERS, mandates_frame
from gesprokit.session import Session
from gesprokit.ui.common import STYLE, guarded
from gesprokit.ui.tables import table_html
from gesprokit.workflow_errors import ValidationError

COLUMNS = {"reference": "Convention", "operation": "Opération", "mandataire": "Mandataire",
           "powers": "Pouvoirs confiés", "period": "Période", "state": "État"}


class MandateForm:
    """The mandates of the account's operations; for the owner, grant and withdraw."""

    def __init__(self, session: Session, now: datetime | None = None):
        self.session, self.now = session, now
        actor = session.actor
        with session.engine.connect() as conn:
            companies = conn.execute(select(schema.Company.code, schema.Company.name).where(
                schema.Company.code != actor.company_code).order_by(schema.Company.name)).all()
        self.listing = w.HTML()
        self.operation = w.Dropdown(options=sorted(actor.operations or []),
                                    description="Opération", style=STYLE)
        # a blank value, not None: None would show an empty box instead of the invitation
        self.company = w.Dropdown(options=[("(choisir le mandataire)", "")]
                                  + [(name, code) for code, name in companies], value="",
                                  description="Mandataire", style=STYLE,
                                  layout=w.Layout(width="720px"))
        self.powers = [w.Checkbox(description=label, value=False, indent=False,
                                  layout=w.Layout(width="720px")) for label in POWERS.values()]
        self.starts = w.DatePicker(description="Du", style=STYLE,
                                   value=(now or datetime.now()).date())
        self.ends = w.DatePicker(description="Au (facultatif)", style=STYLE)
        self.reference = w.Text(description="Convention", style=STYLE,
                                placeholder="référence de la convention de mandat",
                                layout=w.Layout(width="720px"))
        self.grant_button = w.Button(description="Confier le mandat", button_style="primary")
        self.revoked = w.Dropdown(description="Mandat", style=STYLE,
                                  layout=w.Layout(width="720px"))
        self.reason = w.Text(description="Motif du retrait", style=STYLE,
                             layout=w.Layout(width="720px"))
        self.revoke_button = w.Button(description="Retirer le mandat", button_style="danger")
        self.message = w.HTML()
        self.grant_button.on_click(self.on_grant)
        self.revoke_button.on_click(self.on_revoke)
        self.reload()

    def _frame(self):
        on = (self.now or datetime.now()).date()
        return mandates_frame(self.session.engine, self.session.actor.operations, on)

    def reload(self) -> None:
        frame = self._frame()
        own = self.session.actor.company_code
        with self.session.engine.connect() as conn:
            mine = set(conn.execute(select(schema.MoaMandate.mandate_id).where(
                schema.MoaMandate.company_code == own)).scalars())
        self.mandataire = bool(mine)
        shown = frame[frame["mandate_id"].isin(mine)] if mine else frame
        if shown.empty:
            self.listing.value = "<p><i>Aucun mandat de maîtrise d'ouvrage.</i></p>"
        else:
            self.listing.value = table_html(shown[list(COLUMNS)].rename(columns=COLUMNS))
        current = frame[frame["state"].isin(["en vigueur", "à venir"])]
        options = [(f"{r.reference} – {r.mandataire}", int(r.mandate_id))
                   for r in current.itertuples()] or [("(aucun mandat à retirer)", 0)]
        self.revoked.options = options
        self.revoked.value = options[0][1]
        self.revoke_button.disabled = not len(current)

    def on_grant(self, _button=None):
        def action():
            self.session.check_account()
            from gesprokit.mandates import grant_mandate

            if not self.company.value:
                raise ValidationError("Mandataire : choisissez l'entreprise mandataire.")
            if self.starts.value is None:
                raise ValidationError("Début du mandat : choisissez une date.")
            chosen = [code for code, box in zip(POWERS, self.powers, strict=True) if box.value]
            return grant_mandate(self.session.engine, self.session.actor, self.operation.value,
                                 self.company.value, chosen, self.starts.value, self.ends.value,
                                 self.reference.value, now=self.now)

        def done(_r) -> None:
            self.reference.value = ""
            self.reload()
        return guarded(action, self.message, "Mandat confié ; le mandataire en est informé.",
                       then=done)

    def on_revoke(self, _button=None):
        def action():
            self.session.check_account()
            from gesprokit.mandates import revoke_mandate

            return revoke_mandate(self.session.engine, self.session.actor, self.revoked.value,
                                  self.reason.value, now=self.now)

        def done(_r) -> None:
            self.reason.value = ""
            self.reload()
        return guarded(action, self.message, "Mandat retiré ; le mandataire en est informé.",
                       then=done)

    def widget(self) -> w.Widget:
        if self.mandataire:
            return w.VBox([w.HTML("<h4>Votre mandat de maîtrise d'ouvrage</h4><p>Vous agissez "
                                  "pour le maître d'ouvrage, dans les pouvoirs ci-dessous ; "
                                  "les autres actions lui reviennent.</p>"), self.listing])
        return w.VBox([
            w.HTML("<h4>Mandats de maîtrise d'ouvrage</h4>"), self.listing,
            w.HTML("<b>Confier un mandat</b>"), self.operation, self.company,
            w.HTML("<i>Pouvoirs confiés :</i>"), *self.powers, w.HBox([self.starts, self.ends]),
            self.reference, self.grant_button,
            w.HTML("<b>Retirer un mandat</b>"), self.revoked, self.reason, self.revoke_button,
            self.message])

