"""Inputs that could break the books are refused by the actions themselves, in French,
naming the field, and leave the database as it was."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import text
from test_workflow import L05, actor, engine, sample_base, situation  # noqa: F401 - fixture

from gesprokit import workflow
from gesprokit.workflow_errors import ValidationError

T = datetime(2026, 7, 1, 9)


def issued_state(engine):  # noqa: F811
    """Situation 7 of L05, transmitted and verified: the MOE may issue it."""
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T)
    workflow.submit(engine, actor("contractor"), L05, 7, now=T)
    workflow.verify(engine, actor("verifier"), L05, 7, now=T)


def dump(engine) -> list:  # noqa: F811
    with engine.connect() as conn:
        return [conn.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all()
                for t in ("adjustment", "situation", "event", "guarantee", "subcontract")]


@pytest.mark.parametrize(("adjustment", "message"), [
    ({"kind": "penalty", "days": 1.5}, "Jours de retard : nombre entier attendu, pas « 1.5 »"),
    ({"kind": "penalty", "days": 10**20}, "Jours de retard : 100000000000000000000 hors des "
                                          "bornes admises (1 à 3650)"),
    ({"kind": "penalty", "days": True}, "Jours de retard : nombre entier attendu, pas « True »"),
    ({"kind": "bonus", "amount_cents": 8 * 10**18}, "Montant de l'ajustement : montant "
                                                   "positif attendu, au plus"),
    ({"kind": "penalty", "days": 2, "reason": "   "}, "exige sa justification"),
])
def test_absurd_adjustments_are_refused(engine, adjustment, message):  # noqa: F811
    issued_state(engine)
    before = dump(engine)
    adjustment = {"reason": "Retard", **adjustment}
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        workflow.issue(engine, actor("moe"), L05, 7, adjustments=[adjustment], now=T)
    assert dump(engine) == before


def test_a_duplicate_subcontract_is_a_french_refusal(engine):  # noqa: F811
    amo = actor("amo")
    workflow.declare_subcontract(engine, amo, L05, "ST-1", "FPV", "Pose", 100_000,
                                 date(2026, 6, 1), now=T)
    before = dump(engine)
    with pytest.raises(ValidationError, match="« ST-1 » est déjà déclaré"):
        workflow.declare_subcontract(engine, amo, L05, "ST-1", "FPV", "Pose", 100_000,
                                     date(2026, 6, 1), now=T)
    with pytest.raises(ValidationError, match="Objet du sous-traité : texte obligatoire"):
        workflow.declare_subcontract(engine, amo, L05, "ST-2", "FPV", " ", 100_000,
                                     date(2026, 6, 1), now=T)
    with pytest.raises(ValidationError, match="Montant de la garantie : montant positif"):
        workflow.record_guarantee(engine, amo, L05, "G-1", "gapd", 0, date(2026, 6, 1),
                                  "Banque", now=T)
    assert dump(engine) == before


@pytest.mark.parametrize(("n", "message"), [
    (10**30, "Numéro de situation : 1{30} hors des bornes"),
    (1.0, "Numéro de situation : nombre entier attendu"),
    (True, "Numéro de situation : nombre entier attendu"),
])
def test_a_situation_number_out_of_reason_is_a_french_refusal(engine, n, message):  # noqa: F811
    before = dump(engine)
    with pytest.raises(ValidationError, match=message.replace("{30}", "0" * 30)):
        workflow.submit(engine, actor("contractor"), L05, n, now=T)
    assert dump(engine) == before
