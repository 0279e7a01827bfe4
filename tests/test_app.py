"""The served application as a user meets it: nothing before the login, the role's pages
after it, live data, logout, idle expiry, a demoted account stopped at once, French errors."""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime, timedelta

import ipywidgets as w
import pandas as pd
import pytest
from sqlalchemy import text
from test_workflow import L05, PASSWORD, USERS, engine, sample_base  # noqa: F401 - fixture

from gesprokit.db import database_url
from gesprokit.ledger import ledger_from_frames
from gesprokit.report_data import ledger_and_delays
from gesprokit.store import load_frames
from gesprokit.ui.app import HOME, App
from gesprokit.ui.common import guarded
from gesprokit.workflow_errors import AuthenticationFailed

AS_OF = date(2026, 11, 23)


def texts(widget) -> list[str]:
    """Every text a person could read in a widget tree (values, labels, options)."""
    out = []
    if isinstance(widget, w.HTML | w.Label | w.HTMLMath):
        out.append(html.unescape(widget.value))
    if isinstance(widget, w.Text | w.Textarea):
        out.append(widget.value)
    if getattr(widget, "description", None):
        out.append(widget.description)
    if isinstance(widget, w.Dropdown | w.ToggleButtons | w.Select):
        out += [str(label) for label in widget._options_labels]
    dt_args = getattr(widget, "_dt_args", None)  # a table: its cells
    if isinstance(dt_args, dict) and "data_json" in dt_args:
        out += [str(cell) for row in json.loads(dt_args["data_json"]) for cell in row]
    for child in getattr(widget, "children", ()):
        out += texts(child)
    return out


def app_for(url: str) -> App:
    app = App(url, watch_idle=False)
    return app


def log_in(app: App, key: str, password: str = PASSWORD):
    app.login.email.value, app.login.password.value = USERS[key][0], password
    return app.login.login()


@pytest.fixture
def url(engine):  # noqa: F811
    return str(engine.url)


def test_nothing_is_read_before_the_login(tmp_path):
    db = tmp_path / "jamais-ouverte.db"
    app = App(f"sqlite:///{db}", watch_idle=False)
    shown = " ".join(texts(app.widget()))
    assert "Connexion" in shown and "Se connecter" in shown
    # no amount, no company, no demonstration password: and the database was not opened
    assert "€" not in shown and "demo-gesprokit" not in shown and "MAL" not in shown
    assert not db.exists()


def test_each_role_sees_its_own_pages(url):
    expected = {
        "contractor": ["accueil", "situations", "paiement-direct", "fin-de-marche", "chorus",
                       "synthese", "documents", "profil"],
        "subcontractor": ["accueil", "situations", "paiement-direct", "synthese", "documents",
                          "profil"],
        "verifier": ["accueil", "verification", "synthese", "documents"],
        "moe": ["accueil", "etats", "fin-de-marche", "chorus", "synthese", "documents"],
        "amo": ["accueil", "acceptation", "fin-de-marche", "delais", "synthese", "audit",
                "documents"],
        "moa": ["accueil", "validation", "fin-de-marche", "chorus", "delais", "synthese",
                "audit", "documents"],
        "treasury": ["accueil", "fin-de-marche", "paiements", "delais", "synthese",
                     "documents"],
        "auditor": ["accueil", "delais", "synthese", "audit", "documents"],
        "admin": ["accueil", "administration"],
    }
    for key, pages in expected.items():
        app = app_for(url)
        assert log_in(app, key) is not None
        assert [value for _, value in app.nav.options] == pages
        header = " ".join(texts(app.root.children[0]))
        # French role labels, never the codes
        assert re.search(r"\((Entreprise titulaire|OPC / BET|Maître d'œuvre|AMO|Maître "
                         r"d'ouvrage|Comptable|Auditeur|Administrateur|Sous-traitant),",
                         header), header
        for _, key_page in app.nav.options[1:]:
            app.nav.value = key_page
            assert app.message.value == "", (key, key_page, app.message.value)
            assert len(app.content.children) == 2


def test_a_single_page_notebook_refuses_other_roles(url):
    app = App(url, pages=("verification",), watch_idle=False)
    assert log_in(app, "contractor") is None
    assert "OPC / BET" in app.login.message.value
    assert "Entreprise titulaire" in app.login.message.value
    assert log_in(app, "verifier") is not None
    assert app.nav.value == "verification"  # the only page opens at once


def test_the_delays_page_shows_what_the_command_line_computes(url, engine):  # noqa: F811
    app = app_for(url)
    log_in(app, "amo")
    app.as_of.value = AS_OF
    app.nav.value = "delais"
    page_delays = app.content.children[1]
    frames = load_frames(engine)
    as_of = datetime(2026, 11, 23, 23, 59, 59, 999999)
    _, cli = ledger_and_delays(frames, as_of)
    shown = " ".join(texts(page_delays))
    situations = int((cli["payment"] == "acompte").sum())
    assert (f"{situations} situations reçues, 2 avance(s), 3 paiement(s) direct(s) de "
            "sous-traitants et 2 paiement(s) de fin de marché (solde, retenue)") in shown
    assert f"{len(cli)} lignes" in shown  # the whole table, not pandas' first and last rows
    page = app.page
    assert len(page.delays) == len(cli) == 98 and situations == 91
    assert int(page.delays["late_interest"].sum()) == int(cli["late_interest"].sum())
    assert int(page.delays["recovery_indemnity"].sum()) == int(
        cli["recovery_indemnity"].sum())


def test_the_contractor_sees_only_its_own_contracts(url, engine):  # noqa: F811
    from gesprokit.ui.pages import OverviewPage

    app = app_for(url)
    log_in(app, "contractor")
    page = OverviewPage(app.session, AS_OF)
    frames = load_frames(engine)
    own = frames.contracts[frames.contracts["company_code"] == "MAL"]["contract_id"]
    assert sorted(page.data.synthesis["contract_id"]) == sorted(own) == [L05]
    ledger = ledger_from_frames(frames)
    last = ledger.situations[ledger.situations["contract_id"] == L05].iloc[-1]
    assert int(page.data.synthesis["due_cum"].iloc[0]) == int(last["due_cum"])


def test_data_is_live_after_refresh(url, engine):  # noqa: F811
    from test_workflow import actor

    from gesprokit import workflow

    app = app_for(url)
    log_in(app, "contractor")
    app.nav.value = "situations"
    panel_before = app.content.children[1]
    before = len(texts(panel_before))
    # another tab (or another user) opens situation 7 after this page was built
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06",
                              now=datetime(2026, 6, 30, 9))
    assert not any("situation n°7" in t for t in texts(panel_before))
    app.refresh()
    assert any("situation n°7" in t for t in texts(app.content.children[1]))
    assert before > 0


def test_logout_forgets_everything(url):
    app = app_for(url)
    log_in(app, "amo")
    app.nav.value = "delais"
    app.logout()
    shown = " ".join(texts(app.widget()))
    assert app.session is None and "Vous êtes déconnecté" in shown and "€" not in shown


def test_an_idle_session_expires(url):
    app = App(url, idle_minutes=30, watch_idle=False)
    log_in(app, "amo")
    assert app.check_idle() is False
    app.session.last_used -= 31 * 60
    assert app.check_idle() is True
    shown = " ".join(texts(app.widget()))
    assert "Session expirée après 30 minutes d'inactivité" in shown and "€" not in shown
    app.nav.value = "delais"  # a click on the stale page does nothing
    assert app.session is None


def test_a_demoted_account_is_stopped_at_once(url, engine):  # noqa: F811
    app = app_for(url)
    session = log_in(app, "verifier")
    with engine.begin() as conn:
        conn.execute(text("UPDATE app_user SET role = 'auditor' WHERE email = 'opc@opc.fr'"))
    with pytest.raises(AuthenticationFailed, match="reconnectez-vous"):
        session.verify(L05, 6)
    app.nav.value = "verification"
    assert app.session is None
    assert "reconnectez-vous" in app.notice.value


def test_a_changed_password_ends_open_sessions(url, engine):  # noqa: F811
    from gesprokit.accounts import hash_password

    app = app_for(url)
    session = log_in(app, "contractor")
    with engine.begin() as conn:
        conn.execute(text("UPDATE app_user SET password_hash = :h WHERE email = 'alu@mal.fr'"),
                     {"h": hash_password("un-autre-mot-de-passe")})
    with pytest.raises(AuthenticationFailed):
        session.create_situation(L05, "2026-06")


def test_an_unexpected_error_shows_a_reference_not_its_text(caplog):
    message = w.HTML()

    def broken():
        return {}["clé-absente"]
    assert guarded(broken, message, "jamais") is None
    assert "erreur interne, référence" in message.value
    assert "KeyError" not in message.value and "clé-absente" not in message.value
    reference = re.search(r"référence ([0-9A-F]{8})", message.value).group(1)
    assert reference in caplog.text and "KeyError" in caplog.text  # the log keeps it all


@pytest.mark.parametrize("typed", ["nov. 2026", "2026-13", "2027-ZZ", ""])
def test_a_bad_month_gets_a_french_message_and_changes_nothing(url, engine, typed):  # noqa: F811
    app = app_for(url)
    log_in(app, "contractor")
    app.nav.value = "situations"
    contractor_panel = app.page
    contractor_panel.month.value = typed
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM situation")).scalar()
    contractor_panel.on_create()
    shown = contractor_panel.message.value
    assert "Mois" in shown and "AAAA-MM" in shown, shown
    for technical in ("Error", "SQL", "CHECK", "Traceback", "constraint"):
        assert technical not in shown
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM situation")).scalar() == before


def test_the_home_lists_the_role_pages(url):
    app = app_for(url)
    log_in(app, "auditor")
    assert app.current == HOME
    home = " ".join(texts(app.content))
    for title in ("Délais de paiement", "Synthèse", "Audit", "Documents et visas"):
        assert title in home
    assert "Mes situations" not in home


def test_default_database_is_the_file_of_the_current_folder(tmp_path, monkeypatch):
    from gesprokit.db import absolute_database_url

    monkeypatch.delenv("GESPROKIT_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert database_url() == "sqlite:///gesprokit.db"
    assert absolute_database_url() == f"sqlite:///{tmp_path.resolve() / 'gesprokit.db'}"


def test_a_negative_net_is_flagged_before_the_click_and_in_the_pdf(url, engine, tmp_path):  # noqa: F811
    """The contractor lowers a line (justified): the month becomes a credit. The statement
    says so while typing, the confirmation says so, and so does the état's PDF."""
    import shutil
    import subprocess

    from gesprokit.documents import render
    from gesprokit.ledger import ledger_from_frames

    app = app_for(url)
    log_in(app, "contractor")
    app.nav.value = "situations"
    panel = app.page
    panel.month.value = "06/2026"  # the French way is accepted too
    assert panel.on_create() == 7, panel.message.value
    assert panel.selected == (L05, 7)
    # 05.01 was at 100 %: 248 640,00 € HT; back to 60 % is a credit of 99 456,00 € HT
    panel.grid.inputs["05.01"].value = "60"
    assert "-40,00\xa0% (-99\u202f456,00\xa0€)" in panel.grid.diffs["05.01"].value
    shown = html.unescape(panel.statement.value)
    assert "avec les valeurs saisies" in shown
    assert "Net du mois négatif : solde en faveur du maître d'ouvrage" in shown
    panel.grid.comments["05.01"].value = "Menuiseries du R+1 déposées (sinistre du 12/06)"
    panel.submit.click()
    question = html.unescape(panel.confirm.children[0].value)
    assert "net du mois <b>-" in question and "solde en faveur du maître d'ouvrage" in question
    panel.confirm.children[1].children[0].click()  # « Confirmer »
    assert "Projet de décompte transmis" in panel.message.value
    frames = load_frames(engine)
    ledger = ledger_from_frames(frames)
    row = ledger.situations.query("contract_id == @L05 and n == 7").iloc[0]
    assert row["works_month"] == -9_945_600  # 248 640,00 € × 40 %, by hand
    assert row["net_month"] < 0
    pdf = tmp_path / "etat.pdf"
    pdf.write_bytes(render("etat", frames, ledger, L05, 7, datetime(2026, 7, 1)))
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext absent : apt-get install poppler-utils")
    words = " ".join(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                                    capture_output=True, text=True).stdout.split())
    assert "solde en faveur du maître d'ouvrage" in words
    assert "Menuiseries du R+1 déposées (sinistre du 12/06)" in words  # the reason travels


TECHNICAL = ("Error", "Exception", "Traceback", "SQL", "CHECK", "constraint", "invalid literal",
             "int()", "NaN", "None", "True", "contractor", "verifier")


def _page(url, key: str, page: str):
    app = app_for(url)
    log_in(app, key)
    app.nav.value = page
    return app.page


def _typed_into_guarantee(url, typed):
    desk = _page(url, "amo", "acceptation")
    form = desk.guarantees
    form.reference.value, form.amount.value = "GAPD-TEST", typed
    form.on_record()
    return form.message.value


def _typed_into_subcontract(url, typed):
    form = _page(url, "amo", "acceptation").subcontracts
    form.reference.value, form.scope.value, form.amount.value = "ST-TEST", "Pose", typed
    form.on_declare()
    return form.message.value


def _typed_into_penalty_days(url, typed):
    moe = _page(url, "moe", "etats")
    moe.days.value, moe.reason_text.value = typed, "Retard"
    moe.on_add()
    return moe.message.value


def _typed_into_penalty_amount(url, typed):
    moe = _page(url, "moe", "etats")
    moe.amount.value, moe.reason_text.value = typed, "Retard"
    moe.on_add()
    return moe.message.value


def _typed_into_month(url, typed):
    panel = _page(url, "contractor", "situations")
    panel.month.value = typed
    panel.on_create()
    return panel.message.value


@pytest.mark.parametrize(("where", "typed", "field"), [
    (_typed_into_guarantee, "12 000 euros", "Montant de la garantie"),
    (_typed_into_subcontract, "trois", "Montant HT du sous-traité"),
    (_typed_into_penalty_days, "trois", "Jours de retard"),
    (_typed_into_penalty_days, "1,5", "Jours de retard"),
    (_typed_into_penalty_amount, "12 000 euros", "Montant de la pénalité ou de la prime"),
    (_typed_into_month, "nov. 2026", "Mois"),
    (_typed_into_month, "2026-13", "Mois"),
])
def test_bad_input_gets_a_french_message_naming_the_field(url, engine, where, typed,  # noqa: F811
                                                          field):
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM event")).scalar()
    shown = html.unescape(where(url, typed))
    assert shown.startswith("<span style='color:#b03a2e'><b>Refusé :</b> " + field), shown
    assert typed in shown
    for technical in TECHNICAL:
        assert technical not in shown, (technical, shown)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM event")).scalar() == before


def test_the_audit_page_gives_the_auditors_workbook(url, tmp_path):
    import io

    from openpyxl import load_workbook

    page = _page(url, "auditor", "audit")
    content = page.on_workbook()
    assert "Télécharger audit.xlsx" in page.link.value
    book = load_workbook(io.BytesIO(content), read_only=True)
    assert {"Synthèse", "Situations", "Délais", "Journal"} <= set(book.sheetnames)
    roles = {row[3] for row in book["Journal"].iter_rows(min_row=2, values_only=True)}
    assert "Entreprise titulaire" in roles and "contractor" not in roles
    page.contract.value = L05  # one contract: its 6 situations recomputed
    shown = " ".join(texts(page.body))
    assert "6 situations recalculées" in shown and "Aucun écart : les 6 états validés" in shown


def test_login_is_throttled_after_five_wrong_passwords(url, engine):  # noqa: F811
    from gesprokit.session import connect

    t0 = datetime(2026, 11, 30, 9, 0)
    for i in range(5):
        with pytest.raises(AuthenticationFailed, match="mot de passe incorrect"):
            connect(engine, "amo@amo.fr", f"essai-{i}", now=t0)
    # the sixth attempt waits, even with the right password, and says for how long
    with pytest.raises(AuthenticationFailed, match="réessayez dans 15 minute"):
        connect(engine, "amo@amo.fr", PASSWORD, now=t0)
    # another account is not affected; an unknown e-mail is throttled the same way
    assert connect(engine, "opc@opc.fr", PASSWORD, now=t0).actor.role == "verifier"
    for i in range(5):
        with pytest.raises(AuthenticationFailed, match="mot de passe incorrect"):
            connect(engine, "inconnu@nulle-part.fr", f"essai-{i}", now=t0)
    with pytest.raises(AuthenticationFailed, match="Trop d'essais"):
        connect(engine, "inconnu@nulle-part.fr", "x", now=t0)
    # once the window has passed the right password works, and clears the count
    later = t0 + timedelta(minutes=16)
    assert connect(engine, "AMO@amo.fr ", PASSWORD, now=later).actor.email == "amo@amo.fr"
    with pytest.raises(AuthenticationFailed, match="mot de passe incorrect"):
        connect(engine, "amo@amo.fr", "encore-faux", now=later)


def test_accounts_hash_at_owasp_cost_and_old_hashes_are_redone(engine, monkeypatch):  # noqa: F811
    from gesprokit import accounts
    from gesprokit.session import connect

    monkeypatch.setattr(accounts, "SCRYPT", dict(accounts.DEFAULT_SCRYPT))
    assert accounts.DEFAULT_SCRYPT == {"n": 2**17, "r": 8, "p": 1}
    strong = accounts.hash_password("un mot de passe")
    assert strong.startswith("scrypt$131072$8$1$")
    assert accounts.check_password("un mot de passe", strong)
    # an account hashed at the old cost (2^14) still logs in, and its hash is redone
    old = accounts.hash_password(PASSWORD, {"n": 2**14, "r": 8, "p": 1})
    with engine.begin() as conn:
        conn.execute(text("UPDATE app_user SET password_hash = :h WHERE email = 'amo@amo.fr'"),
                     {"h": old})
    connect(engine, "amo@amo.fr", PASSWORD)
    with engine.connect() as conn:
        redone = conn.execute(text("SELECT password_hash FROM app_user WHERE email = "
                                   "'amo@amo.fr'")).scalar()
    assert redone.startswith("scrypt$131072$8$1$") and accounts.check_password(PASSWORD, redone)


def exported(table_widget) -> list[tuple]:
    """The rows of a table's « Exporter en Excel » file, read back with openpyxl."""
    import base64
    import io

    from openpyxl import load_workbook

    link = table_widget.children[0].value
    data = base64.b64decode(re.search(r"base64,([^']+)'", link).group(1))
    return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


def test_the_documents_page_speaks_french_and_keeps_to_what_the_user_may_read(tmp_path):
    from gesprokit.serve import prepare_demo

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    prepare_demo(url)  # the sample, its library and the demonstration accounts
    app = App(url, watch_idle=False)
    app.login.email.value, app.login.password.value = "alu@mal.fr", "demo-gesprokit"
    assert app.login.login() is not None
    app.nav.value = "documents"
    page = app.page
    assert page.form.lot.label == "(aucun)"  # the empty choice is named, not blank
    shown = html.unescape(" ".join(texts(app.content)))
    assert "plans-execution" not in shown and "comptes-rendus" not in shown
    tables = [c for c in page.box.children if isinstance(c, w.VBox) and c.children
              and "Exporter en Excel" in c.children[0].value]
    documents, visas, turnaround = (exported(t) for t in tables)
    assert documents[0] == ("Identifiant", "Titre", "Dossier", "Indice", "Déposé le")
    assert {r[2] for r in documents[1:]} >= {"Plans et notes d'exécution des entreprises"}
    readable = {r[0] for r in documents[1:]}
    assert {r[0] for r in visas[1:]} <= readable  # no visa on a document it may not read
    # medians in French (5,5 days), never « 5.5 »
    assert {r[2] for r in turnaround[1:]} == {"5,5", "14,5"}


def test_the_audit_page_verifies_the_whole_journal(url, engine):  # noqa: F811
    page = _page(url, "auditor", "audit")
    result = page.on_verify()
    assert result.intact and "Journal intègre" in page.verdict.value
    with engine.begin() as conn:  # a validated figure changed behind the application
        conn.execute(text("UPDATE payment_statement SET net_month = net_month + 1 "
                          "WHERE contract_id = :c AND n = 2"), {"c": L05})
    page.on_verify()
    shown = html.unescape(page.verdict.value)
    assert "Journal altéré : 1 anomalie(s)" in shown
    assert f"situation n°2 du marché {L05} : modifié hors de l'application" in shown


def test_the_admin_page_acts_in_the_administrators_name(url, engine):  # noqa: F811
    verifier = app_for(url)
    log_in(verifier, "verifier")
    page = _page(url, "admin", "administration")
    shown = " ".join(texts(page.widget()))
    assert "OPC / BET" in shown and "CHMV-EHPAD" in shown
    from gesprokit.ui.admin import accounts_view

    # the roles in French, never their codes (the test accounts are named after them)
    roles = set(accounts_view(page.accounts)["Rôle"])
    assert "OPC / BET" in roles and not roles & set(USERS)
    page.account.value, page.operation.value = USERS["verifier"][0], "CHMV-EHPAD"
    page.act("revoke")
    assert "Opération CHMV-EHPAD retirée à opc@opc.fr" in page.message.value
    verifier.nav.value = "verification"  # the open session is refused at once
    assert verifier.session is None and "reconnectez-vous" in html.unescape(
        verifier.notice.value)
    page.act("revoke")
    assert "Rien à changer" in html.unescape(page.message.value)
    page.act("grant")
    page.act("reset")
    code = html.unescape(page.message.value).rsplit(" ", 1)[-1].split("<")[0]
    login = app_for(url).login
    login.email.value, login.code.value = USERS["verifier"][0], code
    login.new_password.value, login.new_password_again.value = "nouveau-secret", "autre"
    assert login.reset_password() is False and "diffèrent" in html.unescape(login.message.value)
    login.code.value = code
    login.new_password.value = login.new_password_again.value = "nouveau-secret"
    assert login.reset_password() is True
    assert log_in(app_for(url), "verifier", "nouveau-secret") is not None
    page.new_email.value, page.new_name.value = "nouvelle@opc.fr", "Nouvelle"
    page.new_company.value, page.new_role.value = "OPC", "verifier"
    page.new_operations.value = ("CHMV-EHPAD",)
    page.create()
    assert "Compte créé. Code de réinitialisation de nouvelle@opc.fr" in html.unescape(
        page.message.value)
    with engine.connect() as conn:
        actors = conn.execute(text("SELECT action, actor FROM event WHERE action IN ("
                                   "'grant', 'revoke', 'reset_password', 'create_user', "
                                   "'set_password') AND actor != 'admin' ORDER BY event_id")
                              ).all()
    assert actors == [("revoke", "admin@chmv.fr"), ("grant", "admin@chmv.fr"),
                      ("reset_password", "admin@chmv.fr"), ("set_password", "opc@opc.fr"),
                      ("create_user", "admin@chmv.fr"), ("reset_password", "admin@chmv.fr")]
    other = app_for(url)
    log_in(other, "moa")
    with pytest.raises(Exception, match="administrateur"):
        other.session.administer("grant", "opc@opc.fr", "CHMV-EHPAD")


def test_the_treasury_pays_from_its_page(url, engine):  # noqa: F811
    """The validated état of L11 n°9 and L09's advance (its payment date cleared) are listed
    with their deadline; each payment is recorded in the treasurer's name, once."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE contract SET advance_paid_at = NULL "
                          "WHERE contract_id = 'CHMV-EHPAD-L09'"))
    page = _page(url, "treasury", "paiements")
    assert [v[:2] for _, v in page.situation.options] == [("CHMV-EHPAD-L11", 9)]
    assert [v for _, v in page.advance.options] == [("CHMV-EHPAD-L09", None)]
    shown = " ".join(texts(page.widget()))
    assert "situation n°9" in shown and "101\u202f856,00\xa0€" in shown  # the advance, TTC
    assert page.advances["deadline_on"].iloc[0] == pd.Timestamp("2025-04-22")
    assert page.advances["days_left"].iloc[0] < 0  # shown « en retard de … jour(s) »
    page.pay()
    assert "Mise en paiement enregistrée : CHMV-EHPAD-L11, situation n°9." in html.unescape(
        page.message.value)
    page.pay_advance()
    assert "Paiement de l'avance enregistré : CHMV-EHPAD-L09." in html.unescape(
        page.message.value)
    assert page.situation.options == () and page.advance.options == ()
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM situation WHERE contract_id = "
                                   "'CHMV-EHPAD-L11' AND n = 9")).scalar()
        actors = conn.execute(text("SELECT action, actor FROM event WHERE action IN "
                                   "('pay', 'pay_advance') AND actor != 'import'")).all()
    assert status == "paid"
    assert sorted(actors) == [("pay", "comptable@treso.fr"), ("pay_advance",
                                                              "comptable@treso.fr")]


def test_the_treasury_sees_the_account_to_pay_and_a_recent_change_of_it(url, engine):  # noqa: F811
    """L11's titulaire changed its bank details three days ago: the page shows the account
    to pay on the état's line and asks to check it; a change two months old is not flagged;
    a company without bank details says so."""
    from datetime import timedelta

    from gesprokit.company_profile import update_profile
    from gesprokit.workflow import Actor

    with engine.connect() as conn:
        l11 = conn.execute(text("SELECT company_code FROM contract "
                                "WHERE contract_id = 'CHMV-EHPAD-L11'")).scalar()
    today = datetime.now()
    update_profile(engine, Actor(f"compta@{l11.lower()}.fr", "contractor", l11),
                   {"iban": "FR76 3000 4008 2000 0123 4567 864", "bic": "BNPAFRPP"},
                   now=today - timedelta(days=3))
    update_profile(engine, Actor("alu@mal.fr", "contractor", "MAL"),
                   {"iban": "FR76 1027 8078 0000 0201 2345 654", "bic": "CMCIFR2A"},
                   now=today - timedelta(days=60))
    with engine.begin() as conn:
        conn.execute(text("UPDATE contract SET advance_paid_at = NULL "
                          "WHERE contract_id = 'CHMV-EHPAD-L09'"))
    page = _page(url, "treasury", "paiements")
    shown = html.unescape(" ".join(texts(page.widget())))
    assert "IBAN FR76 3000 4008 2000 0123 4567 864 – BIC BNPAFRPP" in shown, shown
    warnings = [t for t in texts(page.widget()) if "modifiées le" in t]
    assert len(warnings) == 1 and l11 in warnings[0] and "vérifiez-les" in warnings[0]
    assert "coordonnées bancaires non renseignées" in shown  # L09's titulaire has none
