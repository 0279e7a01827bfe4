"""The MOA's rectification of an état d'acompte at its validation: what the validated état,
its PDF, the A19 sent to Chorus Pro and the payment delays follow, and what the next acompte
makes due again. Expected figures computed by hand from L05's sample figures."""

from __future__ import annotations

import html
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from conftest import pdf_words
from sqlalchemy import text
from test_chorus_client import (  # noqa: F401 - fixtures
    BONUS,
    L05,
    MOA,
    MOE,
    at,
    client,
    engine,
    month_with_bonus,
    server,
)

from gesprokit import workflow
from gesprokit.chorus import billing
from gesprokit.report_data import ledger_and_delays
from gesprokit.store import load_frames
from gesprokit.workflow import Actor
from gesprokit.workflow_errors import ValidationError

CONTRACTOR = Actor("alu@mal.fr", "contractor", "MAL")
WHY = "Prime contestée : brise-soleil du patio non réceptionnés"
RECT = -50_000  # − 500,00 € TTC
# L05 after its sixth acompte (sample): TTC 812 952,00 €, penalties 2 709,84 €, no retention
# left (the GAPD covers it), due 810 242,16 €. The MOE's seventh état: the 1 500 € HT bonus,
# 1 800 € TTC, less 90 € of retention beyond the GAPD: 1 710,00 € (as the Chorus test says).
MOE_NET = BONUS * 6 // 5 - 9_000
PREVIOUS_DUE = 81_024_216


def test_the_rectification_is_what_the_etat_the_a19_and_the_delays_pay(
        engine, server, client):  # noqa: F811
    month_with_bonus(engine, validate=False)
    with pytest.raises(ValidationError, match="justification est obligatoire"):
        workflow.validate(engine, MOA, L05, 7, now=at(12), rectification_cents=RECT,
                          justification="   ")
    with pytest.raises(ValidationError, match="plus grande que le total TTC cumulé"):
        workflow.validate(engine, MOA, L05, 7, now=at(12), rectification_cents=-10**11,
                          justification=WHY)
    after = workflow.validate(engine, MOA, L05, 7, now=at(12), rectification_cents=RECT,
                              justification=WHY)
    assert after["net_month"] == MOE_NET + RECT == 121_000  # 1 210,00 € TTC
    assert after["rectification"] == {"amount_cents": RECT, "reason": WHY,
                                      "moe_net_month": MOE_NET}
    with engine.connect() as conn:
        statement = conn.execute(text("SELECT net_month, due_cum FROM payment_statement "
                                      "WHERE contract_id = :c AND n = 7"), {"c": L05}).one()
    assert tuple(statement) == (121_000, PREVIOUS_DUE + MOE_NET + RECT)  # 811 452,16 €

    # the validated état's PDF states it, with its reason
    from gesprokit.situation_documents import produced_document

    with engine.connect() as conn:
        pdf = produced_document(conn, L05, 7, "validate")
    words = pdf_words(pdf.content)
    assert f"Rectification du maître d'ouvrage : -500,00 € TTC. Motif : {WHY}" in words
    assert "net à payer 1 210,00 € TTC" in words

    # the A19 pays the rectified amount and says why it pays less than its TTC total
    billing.deposit(engine, client, CONTRACTOR, L05, "A4", "PD-L05-07", n=7, now=at(12, 14))
    billing.deposit(engine, client, MOE, L05, "A15", "EA-L05-07", n=7, now=at(12, 15))
    result = billing.deposit(engine, client, MOA, L05, "A19", "EAV-L05-07", n=7,
                             now=at(12, 16))
    total = server.state.invoices[result["chorus_id"]].payload["montantTotal"]
    assert (total["montantTtcAvantRemiseGlobalTTC"], total["montantRemiseGlobaleTTC"],
            total["montantAPayer"]) == (1800.0, 590.0, 1210.0)
    assert total["motifRemiseGlobaleTTC"].endswith(f"rectification du maître d'ouvrage : {WHY}")

    # the delays: the rectified amount is due, and late interest runs on it
    frames = load_frames(engine)
    as_of = datetime(2026, 9, 30)
    _, delays = ledger_and_delays(frames, pd.Timestamp(as_of))
    row = delays[(delays["contract_id"] == L05) & (delays["n"] == 7)
                 & (delays["payment"] == "acompte")].iloc[0]
    assert row["amount_due_ttc"] == 121_000
    late = (pd.Timestamp(as_of) - row["deadline_on"]).days
    rates = frames.ecb_rates.sort_values("effective_on")
    half_year = pd.Timestamp(row["deadline_on"]) + pd.Timedelta(days=1)
    half_year = pd.Timestamp(half_year.year, 1 if half_year.month <= 6 else 7, 1)
    ecb = int(rates[rates["effective_on"] <= half_year]["rate_bp"].iloc[-1])
    expected = Decimal(121_000) * Decimal(ecb + 800) / 10_000 * late / 365
    assert late > 0 and row["late_interest"] == int(
        expected.to_integral_value(rounding=ROUND_HALF_UP))


def test_the_next_acompte_makes_the_withheld_amount_due_again(engine):  # noqa: F811
    """Acomptes are cumulative: the eighth état, with nothing new, pays the 500 € the MOA
    held back from the seventh, unless the MOA rectifies again."""
    from gesprokit.ledger import ledger_from_frames

    month_with_bonus(engine, validate=False)
    workflow.validate(engine, MOA, L05, 7, now=at(12), rectification_cents=RECT,
                      justification=WHY)
    workflow.pay(engine, Actor("comptable@treso.fr", "treasury", "TRESO"), L05, 7, now=at(20))
    workflow.create_situation(engine, CONTRACTOR, L05, "2026-07", now=at(31, 8))
    ledger = ledger_from_frames(load_frames(engine, [L05]), as_of=at(31, 9))
    eighth = ledger.situations.set_index("n").loc[8]
    assert eighth["rectification_month"] == 0
    assert eighth["net_month"] == -RECT == 50_000
    assert eighth["due_cum"] == PREVIOUS_DUE + MOE_NET  # the MOE's cumulative figure again


def test_the_contractor_sees_the_rectification_in_the_situation_history(engine):  # noqa: F811
    from gesprokit.store import load_frames as frames_of
    from gesprokit.timeline import situation_timeline

    month_with_bonus(engine, validate=False)
    workflow.validate(engine, MOA, L05, 7, now=at(12), rectification_cents=RECT,
                      justification=WHY)
    frames = frames_of(engine, [L05])
    details = " ".join(situation_timeline(frames.events, L05, 7)["Détail"])
    assert html.unescape(details).replace("\u202f", " ").replace("\xa0", " ").count(
        f"rectification du maître d'ouvrage : -500,00 € TTC ({WHY}) ; net proposé par le "
        "maître d'œuvre 1 710,00 €, net arrêté 1 210,00 €") == 1
