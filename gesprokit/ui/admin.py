"""The administrator's page: accounts, the operations each may act in, disabling, and
password resets by a one-time code. Every change is an event of the journal, made in the
administrator's name."""

from __future__ import annotations

import os
import secrets
from datetime import datetime

import ipywidgets as w
import pandas as pd
from sqlalchemy import select

from gesprokit import schema
from gesprokit.accounts import accounts_frame
from gesprokit.circuit import ROLE_LABELS
from gesprokit.db import reading
from gesprokit.session import Session
from gesprokit.ui.common import STYLE, guarded
from gesprokit.ui.tables import table

COLUMNS = {"email": "Adresse électronique", "name": "Nom", "company_code": "Entreprise",
           "role": "Rôle", "operations": "Opérations accordées", "state": "État"}


def accounts_view(accounts: pd.DataFrame) -> pd.DataFrame:
    """The accounts as the page shows them, in French."""
    view = accounts.assign(
        role=accounts["role"].map(lambda r: ROLE_LABELS.get(r, r)),
        operations=accounts["operations"].map(lambda ops: ", ".join(ops) or "aucune"),
        state=accounts["disabled_at"].map(
            lambda d: "actif" if pd.isna(d) else f"désactivé le {d:%d/%m/%Y}"))
    return view[list(COLUMNS)].rename(columns=COLUMNS)


class AdminPage:
    """Accounts table, then one form acting on the chosen account."""

    def __init__(self, session: Session, now: datetime | None = None):
        self.session, self.now = session, now
        with reading(session.engine).connect() as conn:
            self.operations = conn.execute(select(schema.Operation.code).order_by(
                schema.Operation.code)).scalars().all()
            self.companies = conn.execute(select(schema.Company.code).order_by(
                schema.Company.code)).scalars().all()
        self.accounts = accounts_frame(session.engine)
        self.account = w.Dropdown(description="Compte", style=STYLE,
                                  options=list(self.accounts["email"]),
                                  layout=w.Layout(width="420px"))
        self.operation = w.Dropdown(description="Opération", options=self.operations,
                                    style=STYLE)
        self.buttons = {
            "grant": w.Button(description="Accorder l'opération", icon="plus"),
            "revoke": w.Button(description="Retirer l'opération", icon="minus"),
            "disable": w.Button(description="Désactiver le compte", button_style="warning"),
            "enable": w.Button(description="Réactiver le compte"),
            "reset": w.Button(description="Réinitialiser le mot de passe", icon="key"),
        }
        for name, button in self.buttons.items():
            button.layout = w.Layout(width="fit-content")  # the whole label, never cut
            button.on_click(lambda _b, name=name: self.act(name))
        self.new_email = w.Text(description="Adresse électronique", style=STYLE,
                                layout=w.Layout(width="420px"))
        self.new_name = w.Text(description="Nom", style=STYLE, layout=w.Layout(width="420px"))
        self.new_company = w.Dropdown(description="Entreprise", options=self.companies,
                                      style=STYLE)
        self.new_role = w.Dropdown(description="Rôle", style=STYLE, options=[
            (label, role) for role, label in ROLE_LABELS.items()])
        self.new_operations = w.SelectMultiple(description="Opérations", style=STYLE,
                                               options=self.operations)
        self.create_button = w.Button(description="Créer le compte", button_style="primary")
        self.create_button.on_click(lambda _b: self.create())
        self.message = w.HTML()
        self.table_box = w.VBox([table(accounts_view(self.accounts), "comptes")])

    def _reload(self) -> None:
        self.accounts = accounts_frame(self.session.engine)
        chosen = self.account.value
        self.account.options = list(self.accounts["email"])
        if chosen in self.account.options:
            self.account.value = chosen
        self.table_box.children = [table(accounts_view(self.accounts), "comptes")]

    def act(self, name: str) -> object:
        """One change of the chosen account, then the table read again."""
        email, operation = self.account.value, self.operation.value
        calls = {
            "grant": (lambda: self.session.administer("grant", email, operation, now=self.now),
                      f"Opération {operation} accordée à {email}."),
            "revoke": (lambda: self.session.administer("revoke", email, operation,
                                                       now=self.now),
                       f"Opération {operation} retirée à {email}."),
            "disable": (lambda: self.session.administer("set_disabled", email, True,
                                                        now=self.now),
                        f"Compte {email} désactivé : ses sessions sont refusées."),
            "enable": (lambda: self.session.administer("set_disabled", email, False,
                                                       now=self.now),
                       f"Compte {email} réactivé."),
        }
        if name == "reset":
            return guarded(lambda: self._reset(email), self.message, lambda text: text,
                           lambda _r: self._reload())
        call, text = calls[name]
        return guarded(call, self.message,
                       lambda done: text if done else "Rien à changer : c'était déjà le cas.",
                       lambda _r: self._reload())

    def _reset(self, email: str) -> str:
        """Make a reset code and e-mail it ($GESPROKIT_SMTP); shown to transmit by hand when
        no server is set or the e-mail could not leave."""
        from gesprokit.errors import GesprokitError
        from gesprokit.password_reset import send_reset_code

        code = self.session.administer("start_password_reset", email, now=self.now)
        by_hand = (f"Code de réinitialisation de {email}, valable 24 heures, à transmettre par "
                   f"un canal sûr : {code}")
        smtp = os.environ.get("GESPROKIT_SMTP")
        if not smtp:
            return by_hand
        host, _, port = smtp.partition(":")
        try:
            send_reset_code(email, code, host, int(port or 25),
                            os.environ.get("GESPROKIT_SENDER", "gesprokit@localhost"))
        except (GesprokitError, ValueError):
            return f"Courriel non envoyé (serveur {smtp} injoignable). " + by_hand
        return f"Code de réinitialisation envoyé à {email} (valable 24 heures)."

    def create(self) -> object:
        """A new account with the operations chosen; its first password is set by the person
        with a reset code (the administrator never knows it)."""
        def run() -> str:
            email = self.new_email.value.strip().lower()
            self.session.administer("create_user", email, self.new_name.value.strip(),
                                    self.new_company.value, self.new_role.value,
                                    secrets.token_urlsafe(24), now=self.now,
                                    operations=list(self.new_operations.value))
            return "Compte créé. " + self._reset(email)
        return guarded(run, self.message, lambda text: text, lambda _r: self._reload())

    def widget(self) -> w.Widget:
        b = self.buttons
        return w.VBox([
            self.table_box,
            w.HTML("<h4>Modifier un compte</h4>"), self.account,
            w.HBox([self.operation, b["grant"], b["revoke"]]),
            w.HBox([b["disable"], b["enable"], b["reset"]]),
            w.HTML("<h4>Créer un compte</h4>"), self.new_email, self.new_name,
            self.new_company, self.new_role, self.new_operations, self.create_button,
            self.message])

