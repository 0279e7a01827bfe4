"""The served application: one gate (the login), then the pages the user's role may open.

Before a successful login the application holds no data and has not opened the database
(a preheated kernel only imports and builds this empty form). After it, every page reads
through the user's session, at the chosen calculation date, and is read again after each
refresh or change of date; every action runs as the logged-in account. An idle session
expires and the page returns to the login form.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import ipywidgets as w

from gesprokit.errors import GesprokitError
from gesprokit.session import Session
from gesprokit.ui.common import LoginForm, error_html, esc, guarded, who_html
from gesprokit.ui.request_query import ask_for_request, requested, voila_query_string

COMPANY_ROLES = ("contractor", "cocontractor", "subcontractor")
EVERY_ROLE = (*COMPANY_ROLES, "verifier", "moe", "amo", "moa", "treasury", "auditor")
DEFAULT_IDLE_MINUTES = 30.0


def _page(path: str, takes: str):
    """A page builder importing its class when first needed (the served application imports
    them beforehand, see :class:`App`): `takes` says what the class is
    given besides the session — the clock of the actions (« now »), the calculation date
    (« date ») or both."""
    module, name = path.rsplit(".", 1)

    def build(session: Session, as_of: date, now: datetime | None):
        cls = getattr(importlib.import_module(f"gesprokit.ui.{module}"), name)
        args = {"now": (now,), "date": (as_of,), "both": (as_of, now)}[takes]
        return cls(session, *args)
    build.module = f"gesprokit.ui.{module}"
    return build


def _import_modules(names: list[str]) -> None:
    """Import the pages' code before anyone arrives (a preheated kernel; imports only:
    nothing is read), so that the first page opened does not wait for it."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the page's own opening reports it in French
            return


@dataclass(frozen=True)
class PageSpec:
    """A page of the application: who may open it and how it is built for a session."""

    key: str
    title: str
    summary: str
    roles: tuple[str, ...]
    build: Callable[[Session, date, datetime | None], object]


PAGES: tuple[PageSpec, ...] = (
    PageSpec("situations", "Mes situations",
             "ouvrir la situation du mois, saisir l'avancement cumulé, transmettre",
             COMPANY_ROLES, _page("circuit_panels.ContractorPanel", "now")),
    PageSpec("verification", "Vérification",
             "avancement demandé et admis, corrections justifiées", ("verifier",),
             _page("circuit_panels.VerifierPanel", "now")),
    PageSpec("etats", "États d'acompte",
             "pénalités et primes, émission de l'état d'acompte provisoire", ("moe",),
             _page("circuit_panels.MoePanel", "now")),
    PageSpec("acceptation", "Acceptation et garanties",
             "accepter ou retourner les états d'acompte, garanties, sous-traitants",
             ("amo",), _page("circuit_panels.AmoDesk", "now")),
    PageSpec("validation", "Validation",
             "valider l'état d'acompte, interrompre ou reprendre le délai de paiement",
             ("moa",), _page("circuit_panels.MoaPanel", "now")),
    PageSpec("paiement-direct", "Paiements directs",
             "demandes de paiement des sous-traitants : dépôt, acceptation ou refus du "
             "titulaire sous 15 jours", ("subcontractor", "contractor"),
             _page("direct_payments.DirectPaymentPage", "now")),
    PageSpec("fin-de-marche", "Fin de marché",
             "réception, décompte final et général, solde et retenue de garantie, avec leurs "
             "échéances", ("contractor", "moe", "amo", "moa", "treasury"),
             _page("end_of_contract.EndOfContractPage", "now")),
    PageSpec("paiements", "Paiements",
             "états validés et avances à payer, avec leur date limite ; mise en paiement",
             ("treasury",), _page("treasury.TreasuryPage", "now")),
    PageSpec("chorus", "Chorus Pro",
             "contrôler et déposer votre pièce du dossier de facturation",
             ("contractor", "moe", "moa"), _page("chorus_panel.ChorusPanel", "now")),
    PageSpec("delais", "Délais de paiement",
             "délais, retards, intérêts moratoires, jours consommés par acteur",
             ("amo", "moa", "treasury", "auditor"), _page("pages.DelaysPage", "date")),
    PageSpec("synthese", "Synthèse", "montants par marché et courbe en S", EVERY_ROLE,
             _page("pages.OverviewPage", "date")),
    PageSpec("audit", "Audit",
             "recalcul des états d'acompte, intégrité du journal, classeur Excel",
             ("auditor", "moa", "amo"), _page("pages.AuditPage", "date")),
    PageSpec("documents", "Documents et visas",
             "déposer un document, documents lisibles, visas attendus", EVERY_ROLE,
             _page("pages.DocumentsPage", "both")),
    PageSpec("profil", "Mon profil",
             "adresse, contact administratif et coordonnées bancaires de l'entreprise",
             COMPANY_ROLES, _page("profile.ProfilePage", "now")),
    PageSpec("administration", "Administration",
             "comptes, opérations accordées, désactivation, codes de réinitialisation",
             ("admin",), _page("admin.AdminPage", "now")),
)
HOME = "accueil"


def idle_minutes_setting() -> float:
    """``$GESPROKIT_IDLE_MINUTES`` (minutes of inactivity before logout), else 30."""
    try:
        return float(os.environ.get("GESPROKIT_IDLE_MINUTES", DEFAULT_IDLE_MINUTES))
    except ValueError:
        return DEFAULT_IDLE_MINUTES


class App:
    """Login, then a home listing the role's pages, a date, « Actualiser » and logout."""

    def __init__(self, db_url: str | None = None, pages: tuple[str, ...] | None = None,
                 now: datetime | None = None, idle_minutes: float | None = None,
                 watch_idle: bool = True, query: Callable[[], str] | None = None):
        self.db_url, self.now = db_url, now
        # the page's address (an e-mail's link), read once, after the first login only
        self._query: Callable[[], str] | None = query or voila_query_string
        self.specs = [p for p in PAGES if pages is None or p.key in pages]
        if query is None:  # served: what can be done before anyone arrives is done now
            ask_for_request()  # answered as soon as a person's request takes the kernel
            _import_modules(list(dict.fromkeys(p.build.module for p in self.specs)))
        roles = tuple(sorted({r for p in self.specs for r in p.roles}))
        self.idle_seconds = 60 * (idle_minutes if idle_minutes is not None
                                  else idle_minutes_setting())
        self.watch_idle = watch_idle
        self.session: Session | None = None
        self.current = HOME
        self.page = None
        self.login = LoginForm(self._open_engine, self._opened, roles)
        self.notice = w.HTML()
        self.root = w.VBox([self._login_box()])
        self._timer: threading.Timer | None = None

    def _open_engine(self):
        from gesprokit.db import get_engine

        return get_engine(self.db_url)

    def _login_box(self) -> w.Widget:
        return w.VBox([self.notice, self.login.widget()])

    # -- after login -------------------------------------------------------------------

    def allowed(self, session: Session) -> list[PageSpec]:
        return [p for p in self.specs if session.actor.role in p.roles]

    def _opened(self, session: Session) -> None:
        self.session = session
        self.notice.value = ""
        self.as_of = w.DatePicker(description="Date de calcul", value=date.today(),
                                  style={"description_width": "110px"})
        self.refresh_button = w.Button(description="Actualiser", icon="refresh")
        self.logout_button = w.Button(description="Se déconnecter", icon="sign-out")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.logout_button.on_click(lambda _b: self.logout())
        self.as_of.observe(lambda _c: self.refresh(), names="value")
        pages = self.allowed(session)
        options = [("Accueil", HOME)] + [(p.title, p.key) for p in pages]
        self.nav = w.ToggleButtons(options=options, value=HOME,
                                   style={"button_width": "auto"})
        self.nav.observe(lambda c: self.open_page(c["new"]), names="value")
        self.content = w.VBox()
        self.message = w.HTML()
        header = w.HBox([w.HTML(who_html(session)), self.as_of, self.refresh_button,
                         self.logout_button], layout=w.Layout(
            justify_content="space-between", align_items="center", flex_flow="row wrap"))
        self.root.children = [header, self.nav, self.message, self.content]
        self.open_page(HOME if len(pages) != 1 else pages[0].key)
        if len(pages) == 1:
            self.nav.value = pages[0].key
        self._follow_link(pages)
        self._watch()

    def _follow_link(self, pages: list[PageSpec]) -> None:
        """Open what the page's address asks for (``?page=…&document=…``), once, with this
        account's rights: a page its role may not open, or a document it may not read, is
        refused in French and nothing of it is shown."""
        if self._query is None:
            return
        wish = requested(self._query())
        self._query = None
        key = wish.get("page") or ("documents" if "document" in wish else None)
        if key is None:
            return
        if key not in {p.key for p in pages}:
            self.message.value = error_html("la page demandée par le lien n'est pas ouverte à "
                                            "votre rôle.")
            return
        if self.nav.value != key:
            self.nav.value = key  # opens it
        if "document" in wish and hasattr(self.page, "open_document"):
            self.page.open_document(wish["document"])
        if "contract" in wish and "n" in wish and hasattr(self.page, "open_situation"):
            self.page.open_situation(wish["contract"], wish["n"])

    def home(self) -> w.Widget:
        items = "".join(f"<li><b>{esc(p.title)}</b> : {esc(p.summary)}</li>"
                        for p in self.allowed(self.session))
        return w.HTML("<h3>Accueil</h3><p>Les pages ouvertes à votre rôle :</p>"
                      f"<ul>{items}</ul><p>Les montants sont calculés à la date de calcul "
                      "choisie ; « Actualiser » relit la base.</p>")

    def open_page(self, key: str) -> None:
        """Build `key` for the session now (busy text while it reads and computes)."""
        if self.session is None or self._expired():
            return
        try:
            self.session.check_account()
        except GesprokitError as exc:
            self.logout(str(exc))
            return
        self.current = key
        if key == HOME:
            self.content.children = [self.home()]
            return
        spec = next(p for p in self.allowed(self.session) if p.key == key)
        self.message.value = ""
        self.content.children = [w.HTML("<p><i>Chargement…</i></p>")]
        for control in (self.nav, self.refresh_button, self.as_of):
            control.disabled = True
        try:
            page = guarded(lambda: spec.build(self.session, self.as_of.value or date.today(),
                                              self.now), self.message, "")
            self.page = page
            self.content.children = [] if page is None else [
                w.HTML(f"<h3>{esc(spec.title)}</h3>"), page.widget()]
        finally:
            for control in (self.nav, self.refresh_button, self.as_of):
                control.disabled = False

    def refresh(self) -> None:
        """Read the database again and rebuild the open page."""
        self.open_page(self.current)

    def logout(self, reason: str | None = None) -> None:
        """Forget the session and every figure shown; back to the login form."""
        self.session = None
        self.current = HOME
        self.page = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.notice.value = error_html(reason) if reason else (
            "<p>Vous êtes déconnecté.</p>")
        self.root.children = [self._login_box()]

    # -- idle expiry -------------------------------------------------------------------

    def _expired(self) -> bool:
        if self.session is not None and self.session.idle_seconds() > self.idle_seconds:
            self.logout(f"Session expirée après {self.idle_seconds / 60:g} minutes "
                        "d'inactivité : reconnectez-vous.")
            return True
        return False

    def check_idle(self) -> bool:
        """Log out an idle session (called by the watch timer); whether it did."""
        return self._expired()

    def _watch(self) -> None:
        if not self.watch_idle:
            return
        period = max(5.0, min(60.0, self.idle_seconds / 4))

        def tick():
            if self.session is None:
                return
            if not self.check_idle():
                self._timer = threading.Timer(period, tick)
                self._timer.daemon = True
                self._timer.start()
        self._timer = threading.Timer(period, tick)
        self._timer.daemon = True
        self._timer.start()

    def widget(self) -> w.Widget:
        return self.root

