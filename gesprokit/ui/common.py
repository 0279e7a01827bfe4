"""What every dashboard shares: the database it opens, the login form, messages, downloads,
and reading numbers typed the French way. No business rule lives here."""

from __future__ import annotations

import base64
import html
import logging
import os
import secrets
from collections.abc import Callable
from datetime import datetime

import ipywidgets as w
from sqlalchemy import Engine

from gesprokit.circuit import ROLE_LABELS
from gesprokit.errors import GesprokitError
from gesprokit.money import parse_cents, parse_percent_bp
from gesprokit.session import Session, connect

STYLE = {"description_width": "150px"}
LOG = logging.getLogger("gesprokit.ui")
esc = html.escape  # every text put into an HTML widget goes through this


def open_database() -> Engine:
    """``$GESPROKIT_DB`` when served (the shared base), else a fresh demonstration base with
    the sample operation, one account per role and a small library."""
    from gesprokit.db import get_engine
    from gesprokit.sample_operation import (
        open_sample_database,
        seed_demo_accounts,
        seed_demo_mandate,
        seed_demo_messages,
        seed_demo_profiles,
        seed_library,
    )

    url = os.environ.get("GESPROKIT_DB")
    if url:
        return get_engine(url)
    engine = open_sample_database()
    seed_demo_accounts(engine)
    seed_demo_profiles(engine)
    seed_demo_messages(engine)
    seed_demo_mandate(engine)
    seed_library(engine)
    return engine


class ReloadingPage:
    """A page rebuilt from the database after each action: `_load` fills `body`; the
    action's French message stays below it."""

    def __init__(self, session, now: datetime | None = None):
        self.session, self.now = session, now
        self.message = w.HTML()
        self.body = w.VBox()
        self._load()

    def _load(self) -> None:
        raise NotImplementedError

    def widget(self) -> w.Widget:
        return w.VBox([self.body, self.message])


def amount_input(field: str, text: str) -> int:
    """An amount typed the French way (``12 000,50``, ``12 000,50 €``) -> cents; a French
    error naming the field otherwise."""
    try:
        return parse_cents(text)
    except ValueError:
        raise GesprokitError(f"{field} : montant illisible « {text} » (attendu par exemple "
                             "12 000,50)") from None


def percent_input(text: str) -> int:
    """A percentage typed as ``12,5``, ``12.5`` or ``12,5 %`` -> basis points."""
    return parse_percent_bp(text)


def ok_html(text: str) -> str:
    return f"<span style='color:#2e7d32'>{html.escape(text)}</span>"


def error_html(exc: Exception | str) -> str:
    return f"<span style='color:#b03a2e'><b>Refusé :</b> {html.escape(str(exc))}</span>"


def download_link(name: str, content: bytes, label: str, mime: str = "application/pdf") -> str:
    """A plain link that downloads `content` (a data URI: no server route, no script)."""
    data = base64.b64encode(content).decode("ascii")
    return (f"<a download='{html.escape(name)}' href='data:{mime};base64,{data}'>"
            f"{html.escape(label)}</a>")


def uploaded_files(upload: w.FileUpload):
    """The files chosen in a FileUpload, as workflow Files."""
    from gesprokit.workflow import File

    return [File(item["name"], bytes(item["content"])) for item in upload.value]


def button_state(button: w.Button, reason_widget: w.HTML, refusal) -> None:
    """Disable a button and say why, from the workflow's own refusal."""
    button.disabled = refusal is not None
    reason_widget.value = "" if refusal is None else (
        f"<i style='color:#6c757d'>{html.escape(str(refusal))}</i>")


class LoginForm:
    """E-mail and password; on success the page's `on_login(session)` builds the panel.

    `engine` may be a callable that opens the database: nothing is read before the first
    attempt to log in (a preheated page holds no data). `roles` None: any role."""

    def __init__(self, engine: Engine | Callable[[], Engine],
                 on_login: Callable[[Session], None], roles: tuple[str, ...] | None = None):
        self._engine, self.on_login, self.roles = engine, on_login, roles
        self.email = w.Text(description="Adresse électronique", style=STYLE,
                            layout=w.Layout(width="420px"))
        self.password = w.Password(description="Mot de passe", style=STYLE,
                                   layout=w.Layout(width="420px"))
        self.button = w.Button(description="Se connecter", button_style="primary")
        self.message = w.HTML()
        self.button.on_click(self.login)
        # a password reset: the one-time code the administrator sent, a new password twice
        self.code = w.Text(description="Code reçu", style=STYLE, layout=w.Layout(width="420px"))
        self.new_password = w.Password(description="Nouveau mot de passe", style=STYLE,
                                       layout=w.Layout(width="420px"))
        self.new_password_again = w.Password(description="Confirmer", style=STYLE,
                                             layout=w.Layout(width="420px"))
        self.reset_button = w.Button(description="Changer le mot de passe",
                                     layout=w.Layout(width="fit-content"))
        self.reset_button.on_click(self.reset_password)
        self.reset_box = w.VBox([w.HTML("<p>Saisissez votre adresse électronique ci-dessus, le "
                                        "code reçu et votre nouveau mot de passe.</p>"),
                                 self.code, self.new_password, self.new_password_again,
                                 self.reset_button], layout=w.Layout(display="none"))
        self.reset_toggle = w.Button(description="J'ai reçu un code de réinitialisation",
                                     button_style="", layout=w.Layout(width="fit-content"))
        self.reset_toggle.on_click(self._toggle_reset)

    @property
    def engine(self) -> Engine:
        if callable(self._engine) and not isinstance(self._engine, Engine):
            self._engine = self._engine()
        return self._engine

    def login(self, _button=None) -> Session | None:
        session = guarded(lambda: connect(self.engine, self.email.value, self.password.value),
                          self.message, "")
        if session is None:
            return None
        if self.roles is not None and session.actor.role not in self.roles:
            labels = " / ".join(ROLE_LABELS.get(r, r) for r in self.roles)
            self.message.value = error_html(
                f"cette page est celle du rôle {labels} ; votre compte a le rôle "
                f"{ROLE_LABELS.get(session.actor.role, session.actor.role)}.")
            return None
        self.password.value = ""
        self.message.value = ""
        self.on_login(session)
        return session

    def _toggle_reset(self, _button=None) -> None:
        shown = self.reset_box.layout.display != "none"
        self.reset_box.layout.display = "none" if shown else "flex"

    def reset_password(self, _button=None) -> bool:
        """Set a new password with the code received; nothing is read before the click."""
        from gesprokit.accounts import finish_password_reset

        def run():
            if self.new_password.value != self.new_password_again.value:
                raise GesprokitError("Nouveau mot de passe : les deux saisies diffèrent.")
            finish_password_reset(self.engine, self.email.value, self.code.value,
                                  self.new_password.value)
        done = guarded(lambda: run() or True, self.message,
                       "Mot de passe changé : connectez-vous avec le nouveau.")
        for field in (self.code, self.new_password, self.new_password_again):
            field.value = ""
        if done:
            self.reset_box.layout.display = "none"
        return bool(done)

    def widget(self) -> w.Widget:
        return w.VBox([w.HTML("<h3>Connexion</h3>"), self.email, self.password, self.button,
                       self.message, self.reset_toggle, self.reset_box])


def who_html(session: Session) -> str:
    """« Connecté : name (role, company) » in French."""
    who = session.actor
    return (f"Connecté : <b>{esc(who.email)}</b> – {esc(who.name)} "
            f"({esc(ROLE_LABELS.get(who.role, who.role))}, {esc(who.company_code)})")


def guarded(action: Callable, message: w.HTML, success: str | Callable[[object], str],
            then: Callable[[object], None] | None = None):
    """Run a workflow call and `then` (e.g. refresh the page); show the French error, or the
    success message once everything is up to date. An unexpected error is logged with its
    traceback under a short reference; the page shows only that reference."""
    try:
        result = action()
        if then is not None:
            then(result)
    except GesprokitError as exc:
        message.value = error_html(exc)
        return None
    except Exception:  # noqa: BLE001 - a page must say what went wrong, not go silent
        message.value = error_html(internal_error())
        return None
    text = success(result) if callable(success) else success
    message.value = ok_html(text) if text else ""
    return result


def internal_error() -> str:
    """Log the exception being handled under a new reference; the French text to show."""
    reference = secrets.token_hex(4).upper()
    LOG.exception("erreur interne, référence %s", reference)
    return (f"erreur interne, référence {reference} : rien n'a été enregistré. "
            "Transmettez cette référence à l'administrateur.")
