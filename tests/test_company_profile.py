"""« Mon profil »: a company's address, contact and bank details, kept by its own accounts,
each change journaled, shown on its demande d'acompte."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime

import pytest
from sqlalchemy import text

from gesprokit import workflow
from gesprokit.company_profile import check_profile, profile, update_profile
from gesprokit.integrity import verify
from gesprokit.workflow import Actor
from gesprokit.workflow_errors import PermissionDenied, ValidationError

MAL = Actor("alu@mal.fr", "contractor", "MAL")
L05 = "CHMV-EHPAD-L05"
NOW = datetime(2026, 6, 2, 9)
GOOD = {"address": "14 rue des Tanneurs", "postal_code": "42600", "city": "Montbrison",
        "contact_name": "Karim Benali", "contact_email": "compta@mal.fr",
        "contact_phone": "04 77 58 12 30", "iban": "fr76 3000 4008 2000 0123 4567 864",
        "bic": "bnpafrpp"}


def test_every_bad_field_is_named_at_once():
    _, problems = check_profile({
        "postal_code": "4260", "contact_email": "compta.mal.fr", "contact_phone": "12 34",
        "iban": "FR76 3000 4008 2000 0123 4567 865", "bic": "BNPAFRP"})
    assert problems == [
        "Code postal « 4260 » : cinq chiffres attendus",
        "Courriel du contact « compta.mal.fr » : adresse illisible (attendu par exemple "
        "compta@entreprise.fr)",
        "Téléphone du contact « 12 34 » : numéro français attendu (10 chiffres, ou +33 et 9 "
        "chiffres)",
        "IBAN « FR76 3000 4008 2000 0123 4567 865 » : clé de contrôle fausse (un chiffre mal "
        "recopié ?)",
        "BIC « BNPAFRP » : longueur incorrecte"]
    _, alone = check_profile({"iban": "FR7630004008200001234567864"})
    assert alone == ["Coordonnées bancaires : l'IBAN et le BIC vont ensemble (donnez les deux, "
                     "ou aucun)"]


def test_a_profile_is_kept_by_its_company_and_each_change_journaled(sample_engine):
    before = workflow.count_events(sample_engine)
    saved = update_profile(sample_engine, MAL, GOOD, now=NOW)
    # IBAN and BIC kept in their compact, upper-case form
    assert saved["iban"] == "FR7630004008200001234567864" and saved["bic"] == "BNPAFRPP"
    assert update_profile(sample_engine, MAL, GOOD, now=NOW) == saved  # nothing changed
    assert workflow.count_events(sample_engine) == before + 1
    changed = dict(GOOD, iban="FR76 1027 8078 0000 0201 2345 654", bic="CMCIFR2A")
    update_profile(sample_engine, MAL, changed, now=NOW.replace(hour=10))
    with sample_engine.connect() as conn:
        event = conn.execute(text("SELECT actor, before, after FROM event "
                                  "ORDER BY event_id DESC LIMIT 1")).one()
        kept = profile(conn, "MAL")
    # the former bank details stay in the journal, only what changed is recorded
    assert event.actor == "alu@mal.fr"
    assert json.loads(event.before) == {"iban": "FR7630004008200001234567864",
                                        "bic": "BNPAFRPP"}
    assert json.loads(event.after) == {"iban": "FR7610278078000002012345654",
                                       "bic": "CMCIFR2A"}
    assert kept["updated_by"] == "alu@mal.fr" and kept["city"] == "Montbrison"
    assert verify(sample_engine).intact


def test_others_may_not_write_it_and_a_refusal_changes_nothing(sample_engine):
    with pytest.raises(PermissionDenied, match="comptes de l'entreprise"):
        update_profile(sample_engine, Actor("archi@arc.fr", "moe", "ARC"), GOOD, now=NOW)
    with pytest.raises(ValidationError, match="Code postal « 426 »"):
        update_profile(sample_engine, MAL, dict(GOOD, postal_code="426"), now=NOW)
    with sample_engine.connect() as conn:
        assert profile(conn, "MAL") is None


def test_the_demande_states_the_address_and_the_account_to_pay(sample_engine, tmp_path):
    from gesprokit.situation_documents import produced_document

    update_profile(sample_engine, MAL, GOOD, now=NOW)
    workflow.create_situation(sample_engine, MAL, L05, "2026-06", now=NOW)
    workflow.submit(sample_engine, MAL, L05, 7, now=NOW.replace(hour=11))
    with sample_engine.connect() as conn:
        pdf = produced_document(conn, L05, 7, "submit")
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext absent : apt-get install poppler-utils")
    path = tmp_path / pdf.name
    path.write_bytes(pdf.content)
    words = " ".join(subprocess.run(["pdftotext", str(path), "-"], check=True,
                                    capture_output=True, text=True).stdout.split())
    assert "14 rue des Tanneurs, 42600 Montbrison" in words
    assert "IBAN FR76 3000 4008 2000 0123 4567 864 – BIC BNPAFRPP" in words


def test_the_profile_page_saves_and_names_the_bad_field(sample_engine):
    from gesprokit.accounts import create_user
    from gesprokit.session import connect
    from gesprokit.ui.profile import ProfilePage

    create_user(sample_engine, MAL.email, "Karim Benali", "MAL", "contractor",
                "mot-de-passe-solide", now=NOW, operations=["CHMV-EHPAD"])
    page = ProfilePage(connect(sample_engine, MAL.email, "mot-de-passe-solide"), NOW)
    assert "Aucunes coordonnées bancaires" in page.body.children[0].value
    for name, value in GOOD.items():
        page.fields[name].value = value
    page.fields["bic"].value = "BNPAFR"
    assert page.save() is None
    assert "BIC « BNPAFR » : longueur incorrecte" in page.message.value
    page.fields["bic"].value = "BNPAFRPP"
    assert page.save() is not None and "Profil enregistré" in page.message.value
    shown = page.body.children[0].value
    assert "IBAN FR76 3000 4008 2000 0123 4567 864 – BIC BNPAFRPP" in shown
    assert page.fields["iban"].value == "FR76 3000 4008 2000 0123 4567 864"


def test_bank_details_changed_outside_the_application_show_in_the_audit(sample_engine):
    """The classic fraud: the IBAN rewritten in the base. `audit verify` names the company."""
    update_profile(sample_engine, MAL, GOOD, now=NOW)
    assert verify(sample_engine).intact
    with sample_engine.begin() as conn:
        conn.execute(text("UPDATE company_profile SET iban = 'FR7610278078000002012345654' "
                          "WHERE company_code = 'MAL'"))
    problems = verify(sample_engine).problems
    assert any("entreprise MAL" in p for p in problems), problems
