"""The décompte final, the état du solde and the definitive revision, computed by hand from
the rules (CCAG-T 2021 art. 12.3–12.4; CCP R2191-11)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
from conftest import contract_row, frame, situations

from gesprokit.final_account import compute_final_account
from gesprokit.store import Frames


def cents(euros) -> int:
    return int((Decimal(euros) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def coef(index: str) -> Decimal:
    """Cn = 0,125 + 0,875 × I / 100,0, four decimals, half up."""
    return (Decimal("0.125") + Decimal("0.875") * Decimal(index) / 100).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP)


def rev(works: str, index: str) -> Decimal:
    return (Decimal(works) * (coef(index) - 1)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def sample_frames(**contract) -> Frames:
    """A revisable 200 000 € contract (one line), 20 000 € advance repaid from 65 % to 80 %,
    5 % retention on the TTC; acomptes of January (50 %) and February (75 %) 2025."""
    c = frame([contract_row(total=20_000_000, price_form="revisable", revision_fixed_bp=1250,
                            revision_base_month="2024-10", advance_cents=2_000_000,
                            **contract)])
    published = {"2024-10": ("100.0", "2024-12-15"), "2024-11": ("101.0", "2025-01-15"),
                 "2024-12": ("102.0", "2025-02-14"), "2025-01": ("104.0", "2025-03-15"),
                 "2025-02": ("103.0", "2025-04-15"), "2025-03": ("105.0", "2025-05-15")}
    index = frame([dict(index_code="BT01", month=m, value_e4=int(Decimal(v) * 10_000),
                        published_on=p) for m, (v, p) in published.items()])
    empty = pd.DataFrame({"contract_id": pd.Series([], dtype=str)})
    return Frames(
        operations=empty, companies=empty, lots=empty, contracts=c,
        revision_terms=frame([dict(contract_id="C1", index_code="BT01", weight_bp=8750)]),
        amendments=pd.DataFrame({"contract_id": pd.Series([], dtype=str),
                                 "amount_cents": pd.Series([], dtype="int64"),
                                 "signed_on": pd.Series([], dtype="datetime64[us]")}),
        subcontract_revision_terms=empty,
        subcontracts=pd.DataFrame({"subcontract_id": pd.Series([], dtype=str),
                                   "contract_id": pd.Series([], dtype=str),
                                   "amount_cents": pd.Series([], dtype="int64"),
                                   "direct_payment": pd.Series([], dtype=bool)}),
        price_lines=frame([dict(contract_id="C1", line_no="1", amount_cents=20_000_000,
                                subcontract_id=None)]),
        situations=frame(situations("C1", ["2025-01", "2025-02"],
                                    ["2025-02-05", "2025-03-20"])),
        progress=frame([dict(contract_id="C1", n=1, line_no="1", pct_bp=5000),
                        dict(contract_id="C1", n=2, line_no="1", pct_bp=7500)]),
        adjustments=pd.DataFrame({"contract_id": pd.Series([], dtype=str),
                                  "n": pd.Series([], dtype="int64"),
                                  "kind": pd.Series([], dtype=str),
                                  "days": pd.Series([], dtype="Int64"),
                                  "amount_cents": pd.Series([], dtype="Int64")}),
        guarantees=pd.DataFrame({"contract_id": pd.Series([], dtype=str),
                                 "amount_cents": pd.Series([], dtype="int64"),
                                 "received_on": pd.Series([], dtype="datetime64[us]")}),
        planned_progress=empty, price_index=index, ecb_rates=empty,
        payment_statements=empty, direct_payment_requests=empty, receptions=empty,
        final_accounts=empty, final_progress=empty, events=empty)


def test_solde_with_definitive_revision_penalties_and_a_bonus():
    """March 2025 brings the works to 100 %; the décompte final is established on 1 June
    2025, every index published: January stays at 104,0, February is revised definitively
    with 103,0 (paid on 104,0 provisionally), March with 105,0. Final penalties of 20 days
    (1 333,33 € > 1 000 €: due) and a 500 € bonus; the advance is repaid in full."""
    account = compute_final_account(
        sample_frames(), "C1", {"1": 10_000}, "2025-03", datetime(2025, 6, 1),
        adjustments=[{"kind": "penalty", "days": 20, "amount_cents": None,
                      "reason": "Retard de livraison"},
                     {"kind": "bonus", "days": None, "amount_cents": 50_000,
                      "reason": "Prime d'avance"}])
    # the last acompte (20 March): January definitive (104,0), February on 104,0
    paid_rev = rev("100000", "104.0") + rev("50000", "104.0")
    ht2 = Decimal("150000") + paid_rev
    ttc2 = ht2 * Decimal("1.2")
    advance2 = (Decimal("20000") * 10 / 15).quantize(Decimal("0.01"), ROUND_HALF_UP)
    due2 = ttc2 - advance2 - (ttc2 * Decimal("0.05")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    # the décompte final
    final_rev = rev("100000", "104.0") + rev("50000", "103.0") + rev("50000", "105.0")
    ht = Decimal("200000") + final_rev + Decimal("500")
    vat = (ht * Decimal("0.2")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    ttc = ht + vat
    penalty = (Decimal(20) * Decimal("200000") / 3000).quantize(Decimal("0.01"), ROUND_HALF_UP)
    retention = (ttc * Decimal("0.05")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    due = ttc - penalty - Decimal("20000") - retention
    f = account.final
    assert f["revision_cum"] == cents(final_rev) == 700_500
    assert not account.provisional
    assert (f["total_ttc_cum"], f["penalty_cum"], f["advance_repaid_cum"],
            f["retention_cum"]) == (cents(ttc), cents(penalty), 2_000_000, cents(retention))
    assert f["due_cum"] == cents(due) and account.acomptes == cents(due2)
    assert account.solde == cents(due - due2) == 5_157_070
    # récapitulation: the acomptes and the solde add up to the amount due
    assert account.recap["kind"].tolist() == ["acompte", "acompte", "solde"]
    assert int(account.recap["net"].sum()) == f["due_cum"]
    heads = account.headings().set_index("key")["amount"]
    assert heads["solde"] == account.solde and heads["acomptes"] == cents(due2)
    # the definitive revision, month by month, against what the acomptes paid
    r = account.revision.set_index("month")
    assert r.loc["2025-01", "difference"] == 0
    assert r.loc["2025-02", "paid"] == cents(rev("50000", "104.0")) == 175_000
    assert r.loc["2025-02", "definitive"] == cents(rev("50000", "103.0")) == 131_500
    assert r.loc["2025-02", "paid_coef"] == 1.035 and r.loc["2025-02", "definitive_coef"] \
        == 1.0263
    assert r.loc["2025-03", "paid"] == 0 and r.loc["2025-03", "definitive"] == 219_000
    assert int(r["difference"].sum()) == f["revision_cum"] - cents(paid_rev)


def test_solde_stays_provisional_while_an_index_is_unpublished():
    """Established on 1 May 2025, before March's index (published 15 May): March is revised
    on the last published month (February, 103,0) and the solde says so."""
    account = compute_final_account(sample_frames(), "C1", {"1": 10_000}, "2025-03",
                                    datetime(2025, 5, 1))
    assert account.provisional
    r = account.revision.set_index("month")
    assert r.loc["2025-03", "definitive"] == cents(rev("50000", "103.0"))
    assert r.loc["2025-03", "definitive_coef"] == 1.0263
