# ruff: noqa: F811 - the fixtures imported from test_chorus_client are parameters here
"""A delegated MOA: the owner entrusts SPL Forez with validating the états d'acompte and the
payment delay from 1 July 2026; SPL's MOA account validates in the owner's name (the event
and the PDF say under which mandate), is refused what the mandate does not cover, before it
begins and once it is withdrawn; every refusal leaves the base as it was."""

from __future__ import annotations

import html
import json
from datetime import date, datetime

import pytest
from conftest import pdf_words
from sqlalchemy import func, select, text
from test_chorus_client import L05, at, month_with_bonus

from gesprokit import schema, workflow
from gesprokit.integrity import verify
from gesprokit.mandates import grant_mandate, mandates_frame, revoke_mandate
from gesprokit.sample_operation import DEMO_PASSWORD, OPERATION_CODE
from gesprokit.workflow import Actor
from gesprokit.workflow_errors import PermissionDenied, ValidationError

OWNER = Actor("direction@chmv.fr", "moa", "CHMV", name="Pierre Garnier",
              operations=frozenset({OPERATION_CODE}))
SPL = Actor("mandat@spl-forez.fr", "moa", "SPL", name="Sophie Roche",
            operations=frozenset({OPERATION_CODE}))
REFERENCE = "Convention de mandat n°2026-04"


@pytest.fixture
def engine(sample_engine):
    from gesprokit.sample_operation import seed_demo_accounts, seed_demo_profiles

    seed_demo_profiles(sample_engine)
    seed_demo_accounts(sample_engine)
    return sample_engine


def _grant(engine, **over) -> int:
    values = dict(powers=["validate", "delay"], starts_on=date(2026, 7, 1), ends_on=None,
                  reference=REFERENCE, now=datetime(2026, 6, 24, 15))
    values.update(over)
    return grant_mandate(engine, OWNER, OPERATION_CODE, "SPL", values["powers"],
                         values["starts_on"], values["ends_on"], values["reference"],
                         now=values["now"])


def _counts(engine) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar()
                     for t in (schema.MoaMandate, schema.Event, schema.Notification,
                               schema.Situation, schema.PaymentStatement))


def test_the_mandataire_validates_in_the_owners_name(engine):
    mandate_id = _grant(engine)
    with engine.connect() as conn:
        notice = conn.execute(text("SELECT recipient, subject, body FROM notification "
                                   "ORDER BY notification_id DESC LIMIT 1")).one()
    assert notice.recipient == "mandat@spl-forez.fr"
    assert notice.subject == f"[gesprokit] {OPERATION_CODE} : mandat de maîtrise d'ouvrage " \
                             f"{REFERENCE}"
    assert "du 01/07/2026, sans terme" in notice.body
    assert "- valider et rectifier les états d'acompte" in notice.body

    month_with_bonus(engine, validate=False)
    # the mandate does not cover the Chorus Pro pieces: the A19's deposit is refused
    from gesprokit.chorus import billing

    with pytest.raises(PermissionDenied, match="ne couvre pas « déposer dans Chorus Pro »"):
        billing.check(engine, SPL, L05, "A19", "EAV-L05-07", n=7, on=date(2026, 7, 12))

    after = workflow.validate(engine, SPL, L05, 7, now=at(12))
    assert after["status"] == "validated"
    with engine.connect() as conn:
        event = conn.execute(text("SELECT actor, role, after FROM event WHERE action = "
                                  "'validate' AND contract_id = :c AND n = 7"), {"c": L05}).one()
    assert (event.actor, event.role) == ("mandat@spl-forez.fr", "moa")
    assert json.loads(event.after)["mandate"] == {"mandate_id": mandate_id,
                                                  "reference": REFERENCE, "company": "SPL"}

    from gesprokit.situation_documents import produced_document

    with engine.connect() as conn:
        pdf = produced_document(conn, L05, 7, "validate")
    assert ("Validé pour le maître d'ouvrage par Sophie Roche (SPL Forez Équipements "
            "Publics), mandataire (Convention de mandat n°2026-04) le 12/07/2026 : net à payer "
            "1 710,00 € TTC.") in pdf_words(pdf.content)
    assert verify(engine).problems == []


def test_what_the_mandate_does_not_cover_is_refused(engine):
    _grant(engine, powers=["delay"], ends_on=date(2026, 7, 31))
    month_with_bonus(engine, validate=False)
    before = _counts(engine)
    with pytest.raises(PermissionDenied, match="ne couvre pas « valider l'état d'acompte »"):
        workflow.validate(engine, SPL, L05, 7, now=at(12))
    # before it begins and after it ends, nothing is allowed
    with pytest.raises(PermissionDenied, match="pas en vigueur le 30/06/2026"):
        workflow.interrupt(engine, SPL, L05, 7, ["Attestation URSSAF"],
                           now=datetime(2026, 6, 30, 10))
    with pytest.raises(PermissionDenied, match="pas en vigueur le 01/08/2026"):
        workflow.interrupt(engine, SPL, L05, 7, ["Attestation URSSAF"],
                           now=datetime(2026, 8, 1, 10))
    assert _counts(engine) == before
    # within it, the delay is its own
    workflow.interrupt(engine, SPL, L05, 7, ["Attestation URSSAF"], now=at(13))
    # the owner keeps every power
    workflow.resume(engine, OWNER, L05, 7, now=at(15))
    workflow.validate(engine, OWNER, L05, 7, now=at(16))


def test_withdrawn_the_mandate_no_longer_acts(engine):
    mandate_id = _grant(engine)
    month_with_bonus(engine, validate=False)
    with pytest.raises(PermissionDenied, match="Un mandataire ne confie ni ne retire"):
        revoke_mandate(engine, SPL, mandate_id, "fin", now=at(9))
    with pytest.raises(ValidationError, match="Motif du retrait"):
        revoke_mandate(engine, OWNER, mandate_id, "  ", now=at(9))
    revoke_mandate(engine, OWNER, mandate_id, "Fin de la convention", now=at(10, 9))
    with pytest.raises(PermissionDenied, match="pas en vigueur le 12/07/2026"):
        workflow.validate(engine, SPL, L05, 7, now=at(12))
    frame = mandates_frame(engine, frozenset({OPERATION_CODE}), date(2026, 7, 12))
    assert frame[["reference", "state"]].values.tolist() == [[REFERENCE,
                                                              "retiré le 10/07/2026"]]
    # a new mandate may then be granted for the period
    _grant(engine, reference="Convention n°2026-05", now=at(11))
    assert verify(engine).problems == []


@pytest.mark.parametrize(("who", "over", "match"), [
    (SPL, {}, "Un mandataire ne confie"),  # (once SPL holds a mandate: see below)
    (Actor("amo@amo.fr", "amo", "AMO", operations=frozenset({OPERATION_CODE})), {},
     "Seul le maître d'ouvrage"),
    (Actor("direction@chmv.fr", "moa", "CHMV", operations=frozenset({"AUTRE"})), {},
     OPERATION_CODE),
    (OWNER, {"powers": []}, "cochez au moins un pouvoir"),
    (OWNER, {"powers": ["validate", "tout"]}, "« tout » inconnu"),
    (OWNER, {"reference": "  "}, "Référence de la convention"),
    (OWNER, {"ends_on": date(2026, 6, 30)}, "ne peut précéder son début"),
    (OWNER, {"company": "XXX"}, "entreprise « XXX » inconnue"),
    (OWNER, {"company": "CHMV"}, "ne se donne pas mandat"),
    (OWNER, {"starts_on": date(2026, 12, 1)}, "déjà un mandat sur cette période"),
])
def test_refused_grants_change_nothing(engine, who, over, match):
    _grant(engine, ends_on=date(2027, 6, 30))  # SPL holds a mandate from here on
    before = _counts(engine)
    values = dict(powers=["validate"], starts_on=date(2026, 7, 1), ends_on=None,
                  reference="Autre convention", company="SPL")
    values.update(over)
    with pytest.raises((PermissionDenied, ValidationError), match=match):
        grant_mandate(engine, who, OPERATION_CODE, values["company"], values["powers"],
                      values["starts_on"], values["ends_on"], values["reference"],
                      now=at(1))
    assert _counts(engine) == before


def test_the_pages_of_the_owner_and_of_the_mandataire(engine):
    """The owner grants the mandate from its validation page; the mandataire's page shows it
    and its validate button is refused outside it."""
    from gesprokit.session import connect
    from gesprokit.ui.circuit_panels import MoaPanel

    owner = MoaPanel(connect(engine, "direction@chmv.fr", DEMO_PASSWORD), at(1))
    owner.widget()
    form = owner.mandates
    form.company.value = "SPL"
    form.powers[1].value = True  # the payment delay only
    form.on_grant()
    assert "Référence de la convention de mandat : texte obligatoire." in form.message.value
    form.reference.value = REFERENCE
    form.on_grant()
    assert "Mandat confié ; le mandataire en est informé." in form.message.value
    assert "interrompre et reprendre le délai de paiement" in form.listing.value
    assert "en vigueur" in form.listing.value

    month_with_bonus(engine, validate=False)
    spl = MoaPanel(connect(engine, "mandat@spl-forez.fr", DEMO_PASSWORD), at(12))
    box = spl.widget()
    assert "Votre mandat de maîtrise d'ouvrage" in box.children[-1].children[0].value
    spl.queue.value = (L05, 7)
    assert spl.validate.disabled
    assert "ne couvre pas « valider l'état d'acompte »" in html.unescape(
        spl.validate_reason.value)


def test_the_auditor_reads_who_acted_under_which_mandate(engine, tmp_path):
    """The situation's history and the workbook's journal name the mandataire's mandate."""
    from openpyxl import load_workbook

    from gesprokit.report_data import build_report_data
    from gesprokit.store import load_frames
    from gesprokit.timeline import situation_timeline
    from gesprokit.workbook import write_workbook

    _grant(engine)
    month_with_bonus(engine, validate=False)
    workflow.validate(engine, SPL, L05, 7, now=at(12))
    frames = load_frames(engine, [L05])
    history = situation_timeline(frames.events, L05, 7)
    validated = history[history.iloc[:, 3] == "valider l'état d'acompte"].iloc[0]
    assert validated.iloc[1:3].tolist() == [
        "mandat@spl-forez.fr", f"Maître d'ouvrage – mandataire ({REFERENCE})"]

    path = write_workbook(build_report_data(engine, as_of=datetime(2026, 7, 31)),
                          tmp_path / "audit.xlsx")
    rows = list(load_workbook(path, read_only=True)["Journal"].values)
    header = rows[0]
    found = [dict(zip(header, r, strict=True)) for r in rows[1:]
             if r[header.index("Action")] == "valider l'état d'acompte"
             and r[header.index("Marché")] == L05 and r[header.index("Situation")] == 7]
    assert [(f["Acteur"], f["Rôle"]) for f in found] == [
        ("mandat@spl-forez.fr", f"Maître d'ouvrage – mandataire ({REFERENCE})")]
    granted = [r for r in rows[1:] if r[header.index("Action")] ==
               "confier un mandat de maîtrise d'ouvrage"]
    assert [r[header.index("Acteur")] for r in granted] == ["direction@chmv.fr"]


def test_without_a_mandate_another_companys_moa_account_acts_for_nobody(engine):
    """SPL's MOA account, granted the operation by the administrator but with no mandate,
    may not validate, is not told of what the MOA must do, and may not grant a mandate."""
    month_with_bonus(engine, validate=False)
    before = _counts(engine)
    with pytest.raises(PermissionDenied, match="n'est pas le maître d'ouvrage de l'opération "
                                               "« CHMV-EHPAD » et n'en a reçu aucun mandat"):
        workflow.validate(engine, SPL, L05, 7, now=at(12))
    with pytest.raises(PermissionDenied, match="Un mandataire ne confie"):
        grant_mandate(engine, SPL, OPERATION_CODE, "AMO", ["validate"], date(2026, 7, 1), None,
                      "Convention", now=at(12))
    assert _counts(engine) == before
    with engine.connect() as conn:
        told = set(conn.execute(text("SELECT recipient FROM notification WHERE subject LIKE "
                                     "'%valider l''état d''acompte'")).scalars())
    assert told == {"direction@chmv.fr"}
