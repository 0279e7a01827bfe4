"""E-mails that say where to go: the link to the served page of a document (opened after
the login, with the account's rights) or of the situation's page, when the service's address
is configured; the page and identifier in words when it is not."""

from __future__ import annotations

import html
from email import message_from_string, policy
from urllib.parse import quote

import pytest
from sqlalchemy import text
from test_library import OP, plan, when
from test_notifications import smtp  # noqa: F401 - fixture
from test_workflow import L05, PASSWORD, PDF, T0, USERS, actor, at, engine, sample_base  # noqa: F401

from gesprokit import workflow
from gesprokit.cli import main
from gesprokit.errors import GesprokitError
from gesprokit.library.actions import deposit
from gesprokit.links import (
    SITUATION_PAGES,
    check_base_url,
    configured_base_url,
    page_link,
    where_to_find,
)
from gesprokit.notifications import email_body, send_notifications
from gesprokit.ui.app import PAGES, App

BASE = "https://suivi.chmv.fr/gesprokit"


def notice(engine, recipient: str, document_id: str) -> dict:  # noqa: F811
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT * FROM notification WHERE recipient = :r AND document_id = :d "
            "ORDER BY notification_id"), {"r": recipient, "d": document_id}).mappings().first())


def test_the_visa_request_links_to_its_document_or_names_it(engine):  # noqa: F811
    doc, _ = plan(engine, now=when(1))
    item = notice(engine, "archi@arc.fr", doc)
    assert item["subject"] == ("[gesprokit] Visa attendu : Carnet de détails des menuiseries "
                               "du patio (A)")
    linked = email_body(item, BASE, "moe")
    assert (f"Ouvrir le document {doc} (après connexion) : {BASE}/?page=documents&document="
            f"{quote(doc, safe='')}\n\n— gesprokit\n") in linked
    assert linked.startswith(item["body"][:-len("— gesprokit\n")])  # the notice is kept
    words = email_body(item, None, "moe")
    assert "http" not in words
    assert (f"Où le trouver : dans gesprokit, page « Documents et visas », « Ouvrir un "
            f"document », document {doc}.") in words


def test_every_value_of_a_link_is_url_encoded():
    assert page_link("https://x.fr", "documents", "OP 1&page=audit/é") == (
        "https://x.fr/?page=documents&document=OP%201%26page%3Daudit%2F%C3%A9")


@pytest.mark.parametrize("bad", ["suivi.chmv.fr", "javascript:alert(1)", "ftp://suivi.chmv.fr",
                                 "https://suivi.chmv.fr/?page=audit", "https://",
                                 "https://suivi chmv.fr", "https://x.fr/#a"])
def test_only_an_http_address_is_a_base_url(bad, monkeypatch):
    with pytest.raises(GesprokitError, match="adresse du service"):
        check_base_url(bad)
    assert check_base_url(" https://suivi.chmv.fr/ ") == "https://suivi.chmv.fr"
    monkeypatch.setenv("GESPROKIT_BASE_URL", "https://suivi.chmv.fr/gesprokit/")
    assert configured_base_url() == BASE
    assert configured_base_url("http://127.0.0.1:8866") == "http://127.0.0.1:8866"
    monkeypatch.setenv("GESPROKIT_BASE_URL", "  ")
    assert configured_base_url() is None


def test_the_situation_pages_are_the_applications():
    pages = {p.key: p for p in PAGES}
    for role, (key, title) in SITUATION_PAGES.items():
        assert pages[key].title == title and role in pages[key].roles


def test_sent_mails_carry_their_link(engine, smtp):  # noqa: F811
    host, port, handler = smtp
    doc, _ = plan(engine, now=when(1))
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    assert send_notifications(engine, host, port, "gesprokit@chmv.fr", now=when(1, 11),
                              base_url=BASE) == 3
    mails = {(rcpt[0], message_from_string(content, policy=policy.default)["Subject"]):
             message_from_string(content, policy=policy.default).get_content()
             for rcpt, content in handler.messages}
    visa = mails["archi@arc.fr", "[gesprokit] Visa attendu : Carnet de détails des "
                                 "menuiseries du patio (A)"]
    assert f"{BASE}/?page=documents&document={doc}" in visa
    situation = next(body for (r, s), body in mails.items() if r == "opc@opc.fr" and L05 in s)
    assert (f"Ouvrir la page « Vérification » (marché {L05}, situation n°7, après connexion) : "
            f"{BASE}/?page=verification&contract={L05}&n=7") in situation


def test_notify_takes_the_address_from_its_option_or_refuses_a_bad_one(engine, smtp, capsys,  # noqa: F811
                                                                       monkeypatch):
    host, port, handler = smtp
    doc, _ = plan(engine, now=when(1))
    monkeypatch.setenv("GESPROKIT_BASE_URL", "ftp://suivi.chmv.fr")
    assert main(["notify", "--db", str(engine.url), "--smtp", f"{host}:{port}"]) == 2
    assert "rien n'a été envoyé" in capsys.readouterr().err and handler.messages == []
    assert main(["notify", "--db", str(engine.url), "--smtp", f"{host}:{port}",
                 "--base-url", "https://suivi.chmv.fr"]) == 0
    bodies = [message_from_string(c, policy=policy.default).get_content()
              for _, c in handler.messages]
    assert sum(f"https://suivi.chmv.fr/?page=documents&document={doc}" in b
               for b in bodies) == 2  # the MOE and the OPC


def test_where_to_find_without_an_address_names_the_page_and_the_situation():
    assert where_to_find(None, contract_id=L05, n=7, role="moa") == (
        f"Où la trouver : dans gesprokit, page « Validation », marché {L05}, situation n°7.")
    assert where_to_find(None, contract_id=L05, n=7, role="gone") == (
        f"Où la trouver : dans gesprokit, marché {L05}, situation n°7.")
    assert where_to_find(BASE, contract_id=L05, role=None) == (
        f"Ouvrir gesprokit (marché {L05}, après connexion) : {BASE}/")
    assert where_to_find(None) == ""


# --- the served application follows the link after the login, with the account's rights ---

def texts(widget) -> str:
    from test_app import texts as all_texts

    return html.unescape(" ".join(all_texts(widget)))


def app_with(url: str, query: str) -> App:
    return App(url, watch_idle=False, query=lambda: query)


def log_in(app: App, key: str) -> None:
    app.login.email.value, app.login.password.value = USERS[key][0], PASSWORD
    assert app.login.login() is not None


def test_a_link_opens_its_document_after_the_login_only(engine):  # noqa: F811
    doc, _ = plan(engine, now=when(1))
    app = app_with(str(engine.url), f"page=documents&document={quote(doc, safe='')}")
    assert doc not in texts(app.widget())  # before the login: the form and nothing else
    assert app.session is None and app.page is None
    log_in(app, "contractor")
    assert app.current == "documents" and app.nav.value == "documents"
    viewer = app.page.review.viewer
    assert viewer.document_id == doc and "<img " in viewer.opened.value
    assert "Messages sur ce document" in viewer.thread.value
    # read once: a logout and another login land on the home page
    app.logout()
    log_in(app, "moe")
    assert app.current == "accueil"


def test_a_link_to_what_the_account_may_not_open_shows_nothing_of_it(engine):  # noqa: F811
    own, _ = deposit(engine, actor("moa"), operation_code=OP,
                     title="Rapport d'analyse des offres", folder_code="marche",
                     discipline="ADM", file=PDF, now=when(1))
    app = app_with(str(engine.url), f"document={own}")
    log_in(app, "contractor")
    assert app.current == "documents"
    assert "ne peut pas le lire" in html.unescape(app.page.message.value)
    assert app.page.review.viewer.opened.value == ""
    shown = texts(app.content)
    assert "Rapport d'analyse des offres" not in shown  # only the refusal names the link's id
    assert shown.count(own) == 1
    refused = app_with(str(engine.url), "page=validation")
    log_in(refused, "contractor")
    assert refused.current == "accueil"
    assert "n'est pas ouverte à votre rôle" in html.unescape(refused.message.value)


@pytest.mark.parametrize("query", ["document=" + "X" * 5000, "page=documents&" * 400,
                                   "page=%00%ff&document=", "document=%E9t%C3", "&&==&"])
def test_an_absurd_link_is_ignored_or_refused_in_french(engine, query):  # noqa: F811
    app = app_with(str(engine.url), query)
    log_in(app, "moe")
    assert app.session is not None
    if app.current == "documents":
        assert app.page.review.viewer.document_id is None


def test_a_link_to_a_situation_selects_it_in_the_queue(engine):  # noqa: F811
    """The OPC's link opens « Vérification » on the situation it names; once verified, the
    same link says in French that it no longer waits for the OPC."""
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    app = app_with(str(engine.url), f"page=verification&contract={L05}&n=7")
    log_in(app, "verifier")
    assert app.current == "verification" and app.page.queue.value == (L05, 7)
    workflow.verify(engine, actor("verifier"), L05, 7, now=at(2))
    later = app_with(str(engine.url), f"page=verification&contract={L05}&n=7")
    log_in(later, "verifier")
    assert later.current == "verification"
    assert "n'attend plus d'action de votre part" in html.unescape(later.page.message.value)
