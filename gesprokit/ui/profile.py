"""« Mon profil »: the company's postal address, administrative contact and bank details,
filled in by its own accounts; the demande d'acompte and the Chorus Pro deposit use them."""

from __future__ import annotations

import html

import ipywidgets as w

from gesprokit.company_profile import FIELDS, bank_details_line
from gesprokit.months import format_date_fr
from gesprokit.ui.common import STYLE, ReloadingPage, guarded

HINTS = {"iban": "FR76 …", "bic": "8 ou 11 caractères", "postal_code": "5 chiffres",
         "contact_phone": "01 23 45 67 89"}


class ProfilePage(ReloadingPage):
    """The profile's fields with their current values, and « Enregistrer »."""

    def _load(self) -> None:
        found = self.session.profile() or {}
        self.fields = {name: w.Text(value=_shown(name, found.get(name)), description=label,
                                    placeholder=HINTS.get(name, ""), style=STYLE,
                                    layout=w.Layout(width="620px"))
                       for name, label in FIELDS.items()}
        save = w.Button(description="Enregistrer le profil", button_style="primary",
                        layout=w.Layout(width="fit-content"))
        save.on_click(lambda _b: self.save())
        last = ""
        if found:
            last = (f"<p>Dernière mise à jour le {format_date_fr(found['updated_at'])} par "
                    f"{html.escape(found['updated_by'])}.</p>")
        bank = bank_details_line(found)
        self.body.children = [
            w.HTML("<h4>Profil de l'entreprise</h4><p>Ces informations figurent sur vos "
                   "demandes d'acompte ; le dépôt dans Chorus Pro demande des coordonnées "
                   "bancaires. Tout changement est tracé au journal.</p>" + last
                   + (f"<p>Coordonnées bancaires enregistrées : <b>{html.escape(bank)}</b>"
                      "</p>" if bank else "<p>Aucunes coordonnées bancaires enregistrées."
                      "</p>")),
            *self.fields.values(), save]

    def save(self):
        values = {name: field.value for name, field in self.fields.items()}
        return guarded(lambda: self.session.update_profile(values, now=self.now),
                       self.message, "Profil enregistré.", lambda _r: self._load())


def _shown(name: str, value) -> str:
    if value is None:
        return ""
    if name == "iban":
        from stdnum import iban

        return iban.format(value)
    return str(value)
