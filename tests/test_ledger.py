"""The décompte, checked against amounts computed by hand (Decimal) from DOMAIN Part A."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pandas as pd
import pytest
from conftest import contract_row, frame, situations

from gesprokit.ledger import check_ledger, compute_ledger
from gesprokit.revision import scaled_coefficients


def cents(euros: str | Decimal) -> int:
    return int((Decimal(euros) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def half_up(value: Decimal, places: str = "1") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def lines(contract_id: str, amounts: dict[str, int], **extra) -> pd.DataFrame:
    return frame([dict(contract_id=contract_id, line_no=k, amount_cents=v,
                       subcontract_id=extra.get(k)) for k, v in amounts.items()])


def progress(contract_id: str, entries: list[tuple[int, str, int]]) -> pd.DataFrame:
    return frame([dict(contract_id=contract_id, n=n, line_no=line, pct_bp=pct)
                  for n, line, pct in entries])


def row(ledger, n: int, contract_id: str = "C1") -> pd.Series:
    s = ledger.situations
    return s[(s["contract_id"] == contract_id) & (s["n"] == n)].iloc[0]


def test_per_line_rounding_then_sum():
    # 12 345,67 € at 33,33 % and 9,99 € at 50 % — each line rounded half-up, then summed.
    c = frame([contract_row(total=1_234_567 + 999, retention_rate_bp=0)])
    led = compute_ledger(c, lines("C1", {"1": 1_234_567, "2": 999}),
                         frame(situations("C1", ["2025-01"])),
                         progress("C1", [(1, "1", 3333), (1, "2", 5000)]))
    line1 = half_up(Decimal("12345.67") * Decimal("0.3333"), "0.01")  # 4 114,812 -> 4 114,81
    line2 = half_up(Decimal("9.99") * Decimal("0.5"), "0.01")  # 4,995 -> 5,00
    r = row(led, 1)
    assert r["works_cum"] == cents(line1 + line2) == 411_981
    vat = half_up((line1 + line2) * Decimal("0.20"), "0.01")  # 823,96
    assert r["vat_cum"] == cents(vat)
    assert r["net_month"] == cents(line1 + line2 + vat)
    assert check_ledger(led) == []


def test_progress_correction_downwards_is_a_credit():
    c = frame([contract_row(total=10_000_000, retention_rate_bp=500)])
    led = compute_ledger(c, lines("C1", {"1": 10_000_000}),
                         frame(situations("C1", ["2025-01", "2025-02"])),
                         progress("C1", [(1, "1", 5000), (2, "1", 4000)]))
    first, second = row(led, 1), row(led, 2)
    # 50 000 € then 40 000 € HT: the month is -10 000 € HT, -12 000 € TTC, RG -600 €.
    assert second["works_month"] == -1_000_000
    due1 = Decimal("50000") * Decimal("1.2") * Decimal("0.95")
    due2 = Decimal("40000") * Decimal("1.2") * Decimal("0.95")
    assert first["due_cum"] == cents(due1)
    assert second["net_month"] == cents(due2 - due1) == -1_140_000
    assert check_ledger(led) == []


def test_line_left_out_keeps_its_previous_progress():
    c = frame([contract_row(total=3_000_000)])
    led = compute_ledger(c, lines("C1", {"1": 1_000_000, "2": 2_000_000}),
                         frame(situations("C1", ["2025-01", "2025-02"])),
                         progress("C1", [(1, "1", 5000), (1, "2", 1000), (2, "2", 2000)]))
    # situation 2 says nothing of line 1: it stays at 50 %.
    assert row(led, 2)["works_cum"] == 500_000 + 400_000
    assert row(led, 2)["works_month"] == 200_000


def index_rows(values: dict[str, tuple[str, str]], code: str = "BT01") -> pd.DataFrame:
    return frame([dict(index_code=code, month=m, value_e4=int(Decimal(v) * 10_000),
                       published_on=pd.Timestamp(p)) for m, (v, p) in values.items()])


REVISABLE = dict(total=20_000_000, price_form="revisable", revision_fixed_bp=1250,
                 revision_base_month="2024-10", retention_rate_bp=0)
BT01_TERM = [dict(contract_id="C1", index_code="BT01", weight_bp=8750)]
THREE_MONTHS = (["2025-01", "2025-02", "2025-03"], ["2025-02-05", "2025-03-20", "2025-05-01"])
THREE_ENTRIES = [(1, "1", 5000), (2, "1", 7500), (3, "1", 8500)]


def bt01_coef(i: str) -> Decimal:
    """Cn = 0,125 + 0,875 × I / 100,0, four decimals, half up (by hand)."""
    return half_up(Decimal("0.125") + Decimal("0.875") * Decimal(i) / Decimal("100"), "0.0001")


def test_revision_provisional_then_definitive():
    """Cn = 0,125 + 0,875 × I(m)/I(m0); provisional with the last published index, healed later."""
    c = frame([contract_row(**REVISABLE)])
    terms = frame(BT01_TERM)
    idx = index_rows({
        "2024-10": ("100.0", "2024-12-15"), "2024-11": ("101.0", "2025-01-15"),
        "2024-12": ("102.0", "2025-02-14"), "2025-01": ("104.0", "2025-03-15"),
        "2025-02": ("103.0", "2025-04-15"), "2025-03": ("105.0", "2025-05-15"),
    })
    sits = frame(situations("C1", *THREE_MONTHS))
    prog = progress("C1", THREE_ENTRIES)
    led = compute_ledger(c, lines("C1", {"1": 20_000_000}), sits, prog, revision_terms=terms,
                         price_index=idx)

    coef = bt01_coef
    w1, w2, w3 = Decimal("100000"), Decimal("50000"), Decimal("20000")
    # n=1 (5 Feb 2025): I(2025-01) unknown, last published is 2024-12 = 102,0 — wait, it was
    # published 14 Feb: on 5 Feb the last published is 2024-11 = 101,0.
    rev1 = half_up(w1 * (coef("101.0") - 1), "0.01")  # 1,00875 -> 1,0088
    assert coef("101.0") == Decimal("1.0088")
    # n=2 (20 Mar): 2025-01 published (104,0) -> definitive; 2025-02 provisional on 104,0.
    rev2 = half_up(w1 * (coef("104.0") - 1), "0.01") + half_up(w2 * (coef("104.0") - 1), "0.01")
    # n=3 (1 May): 2025-02 definitive (103,0); 2025-03 provisional on 103,0.
    rev3 = (half_up(w1 * (coef("104.0") - 1), "0.01") + half_up(w2 * (coef("103.0") - 1), "0.01")
            + half_up(w3 * (coef("103.0") - 1), "0.01"))
    assert [row(led, n)["revision_cum"] for n in (1, 2, 3)] == [cents(rev1), cents(rev2),
                                                                 cents(rev3)]
    assert cents(rev3) == 350_000 + 131_500 + 52_600
    assert row(led, 2)["revision_month"] == cents(rev2 - rev1)
    assert row(led, 3)["revision_provisional"]
    # VAT applies to works + revision.
    assert row(led, 3)["vat_cum"] == cents(half_up((w1 + w2 + w3 + rev3) * Decimal("0.2"),
                                                   "0.01"))
    # Once every index is known, recomputing gives definitive values only.
    late = frame(situations("C1", ["2025-01", "2025-02", "2025-03"],
                            ["2025-06-01", "2025-06-01", "2025-06-01"]))
    final = compute_ledger(c, lines("C1", {"1": 20_000_000}), late, prog, revision_terms=terms,
                           price_index=idx)
    definitive = (half_up(w1 * (coef("104.0") - 1), "0.01")
                  + half_up(w2 * (coef("103.0") - 1), "0.01")
                  + half_up(w3 * (coef("105.0") - 1), "0.01"))
    assert row(final, 3)["revision_cum"] == cents(definitive)
    assert not row(final, 3)["revision_provisional"]
    assert check_ledger(led) == [] and check_ledger(final) == []


def test_a_corrected_index_is_a_new_publication_followed_by_later_situations():
    """I(2025-01) first published 104,0 on 15 March, corrected to 104,8 on 10 April.
    n=2 (20 March) used 104,0 and stays as it was; n=3 (1 May) recomputes January with the
    corrected 104,8 (provisional → corrected → definitive)."""
    c = frame([contract_row(**REVISABLE)])
    terms = frame(BT01_TERM)
    first = index_rows({
        "2024-10": ("100.0", "2024-12-15"), "2024-11": ("101.0", "2025-01-15"),
        "2024-12": ("102.0", "2025-02-14"), "2025-01": ("104.0", "2025-03-15"),
        "2025-02": ("103.0", "2025-04-15")})
    correction = index_rows({"2025-01": ("104.8", "2025-04-10")})
    idx = pd.concat([first, correction], ignore_index=True)
    sits = frame(situations("C1", *THREE_MONTHS))
    prog = progress("C1", THREE_ENTRIES)
    led = compute_ledger(c, lines("C1", {"1": 20_000_000}), sits, prog, revision_terms=terms,
                         price_index=idx)

    coef = bt01_coef
    w1, w2, w3 = Decimal("100000"), Decimal("50000"), Decimal("20000")
    rev2 = half_up(w1 * (coef("104.0") - 1), "0.01") + half_up(w2 * (coef("104.0") - 1), "0.01")
    rev3 = (half_up(w1 * (coef("104.8") - 1), "0.01") + half_up(w2 * (coef("103.0") - 1), "0.01")
            + half_up(w3 * (coef("103.0") - 1), "0.01"))
    assert coef("104.8") == Decimal("1.0420")
    assert row(led, 2)["revision_cum"] == cents(rev2) == 350_000 + 175_000
    assert row(led, 3)["revision_cum"] == cents(rev3) == 420_000 + 131_500 + 52_600
    assert row(led, 3)["revision_month"] == cents(rev3 - rev2)
    # the same base before the correction gives the first value everywhere
    before = compute_ledger(c, lines("C1", {"1": 20_000_000}), sits, prog,
                            revision_terms=terms, price_index=first)
    assert row(before, 2)["revision_cum"] == cents(rev2)
    assert row(before, 3)["revision_cum"] == 350_000 + 131_500 + 52_600
    assert check_ledger(led) == []


def test_multi_index_coefficient_is_exact():
    # C = 0,15 + 0,5 × BT01/BT01₀ + 0,35 × BT40/BT40₀, 4 decimals, half-up.
    rows = frame([
        dict(key=1, term_rank=0, fixed_bp=1500, coef_decimals=4, weight_bp=5000,
             base_e4=1_000_000, value_e4=1_031_000),
        dict(key=1, term_rank=1, fixed_bp=1500, coef_decimals=4, weight_bp=3500,
             base_e4=1_200_000, value_e4=1_230_000),
    ])
    exact = Fraction(15, 100) + Fraction(1, 2) * Fraction(1031, 1000) \
        + Fraction(35, 100) * Fraction(1230, 1200)
    expected = half_up(Decimal(exact.numerator) / Decimal(exact.denominator) * 10_000)
    got = scaled_coefficients(rows, ["key"])
    assert got["coef_scaled"].iloc[0] == int(expected) == 10_243


def test_advance_repayment_between_65_and_80_percent():
    c = frame([contract_row(total=100_000_000, advance_cents=6_000_000, retention_rate_bp=0)])
    pcts = [6000, 7000, 7500, 8500, 10000]
    sits = frame(situations("C1", ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]))
    led = compute_ledger(c, lines("C1", {"1": 100_000_000}), sits,
                         progress("C1", [(i, "1", p) for i, p in enumerate(pcts, start=1)]))
    advance = Decimal("60000")

    def repaid(x: Decimal) -> int:
        share = min(max((x - Decimal("0.65")) / Decimal("0.15"), Decimal(0)), Decimal(1))
        return cents(half_up(advance * share, "0.01"))

    got = [row(led, n)["advance_repaid_cum"] for n in range(1, 6)]
    assert got == [repaid(Decimal(p) / 10000) for p in pcts]
    assert got == [0, 2_000_000, 4_000_000, 6_000_000, 6_000_000]
    # repaid through the décompte: the due amount is reduced by it
    r = row(led, 3)
    assert r["due_cum"] == r["total_ttc_cum"] - 4_000_000


def test_retention_released_when_a_guarantee_arrives():
    c = frame([contract_row(total=100_000_000)])  # 1 000 000 € HT, RG 5 % TTC
    sits = frame(situations("C1", ["2025-01", "2025-02", "2025-03"],
                            ["2025-02-03", "2025-03-03", "2025-04-03"]))
    guarantee = frame([dict(contract_id="C1", amount_cents=6_000_000,
                            received_on=pd.Timestamp("2025-03-01"))])
    led = compute_ledger(c, lines("C1", {"1": 100_000_000}), sits,
                         progress("C1", [(1, "1", 1000), (2, "1", 2000), (3, "1", 3000)]),
                         guarantees=guarantee)
    ttc1 = Decimal("100000") * Decimal("1.2")
    assert row(led, 1)["retention_cum"] == cents(ttc1 * Decimal("0.05")) == 600_000
    assert row(led, 2)["retention_cum"] == 0  # GAPD of 60 000 € covers 5 % of 1,2 M€ TTC
    # released through the cumulative difference: month 2 pays 120 000 € TTC + the 6 000 € held
    assert row(led, 2)["net_month"] == cents(Decimal("120000") + Decimal("6000"))
    assert row(led, 3)["retention_cum"] == 0


def test_partial_guarantee_covers_only_its_amount():
    c = frame([contract_row(total=100_000_000)])
    guarantee = frame([dict(contract_id="C1", amount_cents=1_000_000,
                            received_on=pd.Timestamp("2025-01-01"))])
    led = compute_ledger(c, lines("C1", {"1": 100_000_000}), frame(situations("C1", ["2025-01"])),
                         progress("C1", [(1, "1", 5000)]), guarantees=guarantee)
    # 5 % of 600 000 € TTC = 30 000 €, guarantee 10 000 € -> 20 000 € still withheld
    assert row(led, 1)["retention_cum"] == 2_000_000


def test_retention_on_ht_base_option():
    c = frame([contract_row(total=100_000_000, retention_base="ht")])
    led = compute_ledger(c, lines("C1", {"1": 100_000_000}), frame(situations("C1", ["2025-01"])),
                         progress("C1", [(1, "1", 5000)]))
    assert row(led, 1)["retention_cum"] == cents(Decimal("500000") * Decimal("0.05"))


def adjustments(entries: list[dict]) -> pd.DataFrame:
    rows = [{"contract_id": "C1", "kind": "penalty", "days": None, "amount_cents": None, **e}
            for e in entries]
    df = frame(rows)
    df["days"] = df["days"].astype("Int64")
    df["amount_cents"] = df["amount_cents"].astype("Int64")
    return df


def test_penalty_waived_up_to_1000_then_all_due():
    c = frame([contract_row(total=30_000_000, retention_rate_bp=0)])  # 300 000 € HT
    sits = frame(situations("C1", ["2025-01", "2025-02"]))
    adj = adjustments([dict(n=1, days=5), dict(n=2, days=8)])
    led = compute_ledger(c, lines("C1", {"1": 30_000_000}), sits,
                         progress("C1", [(1, "1", 1000), (2, "1", 2000)]), adjustments=adj)
    per_day = Decimal("300000") / 3000  # 100 € per day
    assert 5 * per_day <= 1000 and row(led, 1)["penalty_cum"] == 0
    assert row(led, 2)["penalty_cum"] == cents(13 * per_day) == 130_000
    # penalties are not subject to VAT: they come off the TTC total
    r = row(led, 2)
    assert r["vat_cum"] == cents(Decimal("60000") * Decimal("0.2"))
    assert r["due_cum"] == r["total_ttc_cum"] - 130_000


def test_penalty_capped_at_10_percent():
    c = frame([contract_row(total=3_000_000, retention_rate_bp=0)])  # 30 000 € HT
    sits = frame(situations("C1", ["2025-01", "2025-02"]))
    adj = adjustments([dict(n=1, days=150), dict(n=2, days=250)])
    led = compute_ledger(c, lines("C1", {"1": 3_000_000}), sits,
                         progress("C1", [(1, "1", 9000), (2, "1", 10000)]), adjustments=adj)
    assert row(led, 1)["penalty_cum"] == cents(150 * Decimal("30000") / 3000)  # 1 500 €
    assert row(led, 2)["penalty_cum"] == cents(Decimal("30000") * Decimal("0.10"))  # not 4 000 €


def test_bonus_is_subject_to_vat_and_fixed_penalty_amount():
    c = frame([contract_row(total=100_000_000, retention_rate_bp=0)])
    adj = adjustments([dict(n=1, kind="bonus", amount_cents=150_000),
                       dict(n=1, kind="penalty", amount_cents=250_000)])
    led = compute_ledger(c, lines("C1", {"1": 100_000_000}), frame(situations("C1", ["2025-01"])),
                         progress("C1", [(1, "1", 1000)]), adjustments=adj)
    r = row(led, 1)
    assert r["total_ht_cum"] == 10_000_000 + 150_000
    assert r["vat_cum"] == cents(Decimal("101500") * Decimal("0.2"))
    assert r["penalty_cum"] == 250_000  # 2 500 € > 1 000 €: due


def test_direct_payment_to_subcontractor_capped_by_declaration():
    c = frame([contract_row(total=30_000_000)])
    subs = frame([dict(subcontract_id="ST1", contract_id="C1", amount_cents=9_000_000,
                       direct_payment=True)])
    lns = lines("C1", {"1": 20_000_000, "2": 10_000_000}, **{"2": "ST1"})
    sits = frame(situations("C1", ["2025-01", "2025-02"]))
    led = compute_ledger(c, lns, sits, progress("C1", [(1, "1", 1000), (1, "2", 5000),
                                                      (2, "2", 10000)]), subcontracts=subs)
    # 50 % of the sub's 100 000 € line, less the 5 % retention on its share (2 500 €)
    assert row(led, 1)["direct_payment_cum"] == 5_000_000 - 250_000
    # never above the DC4's 90 000 €, less its retention (4 500 €)
    assert row(led, 2)["direct_payment_cum"] == 9_000_000 - 450_000
    # the retention withheld on the whole is unchanged: 5 % of the TTC
    assert row(led, 2)["retention_cum"] == cents(Decimal("120000") * Decimal("1.2")
                                                 * Decimal("0.05"))


def test_amendment_raises_the_penalty_base_from_its_signature():
    c = frame([contract_row(total=30_000_000, retention_rate_bp=0)])
    amend = frame([dict(contract_id="C1", amount_cents=6_000_000,
                        signed_on=pd.Timestamp("2025-02-10"))])
    sits = frame(situations("C1", ["2025-01", "2025-02"], ["2025-02-01", "2025-03-01"]))
    adj = adjustments([dict(n=2, days=15)])
    led = compute_ledger(c, lines("C1", {"1": 30_000_000}), sits,
                         progress("C1", [(1, "1", 1000), (2, "1", 2000)]), adjustments=adj,
                         amendments=amend)
    assert row(led, 2)["penalty_cum"] == cents(15 * Decimal("360000") / 3000)  # 1 800 €


def test_reconciliation_catches_a_broken_identity():
    c = frame([contract_row()])
    led = compute_ledger(c, lines("C1", {"1": 100_000_000}),
                         frame(situations("C1", ["2025-01", "2025-02"])),
                         progress("C1", [(1, "1", 1000), (2, "1", 2000)]))
    led.situations.loc[1, "net_month"] += 1
    problems = check_ledger(led)
    assert problems == ["C1 n°2 : net du mois ≠ dû cumulé − acomptes précédents"]


@pytest.mark.parametrize("contracts", [1, 7])
def test_many_contracts_at_once_equal_one_by_one(contracts):
    rows, lns, sits, prog = [], [], [], []
    for k in range(contracts):
        cid = f"C{k}"
        rows.append(contract_row(cid, total=1_000_000 * (k + 1), advance_cents=10_000 * k))
        lns.append(lines(cid, {"1": 600_000 * (k + 1), "2": 400_000 * (k + 1)}))
        sits += situations(cid, ["2025-01", "2025-02", "2025-03"])
        prog.append(progress(cid, [(1, "1", 3000 + k), (2, "1", 7000), (3, "2", 9000 - k)]))
    together = compute_ledger(frame(rows), pd.concat(lns), frame(sits), pd.concat(prog))
    for k in range(contracts):
        cid = f"C{k}"
        alone = compute_ledger(frame([rows[k]]), lns[k], frame([s for s in sits
                                                                 if s["contract_id"] == cid]),
                               prog[k])
        got = together.situations[together.situations["contract_id"] == cid]
        pd.testing.assert_frame_equal(got.reset_index(drop=True), alone.situations)


def test_s_curve_planned_against_actual():
    from gesprokit.summary import s_curve

    contracts = frame([contract_row("C1", total=10_000_000), contract_row("C2", total=5_000_000)])
    ledger = frame([dict(contract_id="C1", n=1, month="2025-01", works_cum=1_000_000),
                    dict(contract_id="C1", n=2, month="2025-03", works_cum=4_000_000),
                    dict(contract_id="C2", n=1, month="2025-02", works_cum=250_000)])
    planned = frame([dict(contract_id="C1", month="2025-01", pct_bp=2000),
                     dict(contract_id="C1", month="2025-02", pct_bp=5000),
                     dict(contract_id="C2", month="2025-02", pct_bp=1000)])
    amendments = frame([dict(contract_id="C2", amount_cents=1_000_000)])
    curve = s_curve(ledger, contracts, amendments, planned)
    assert curve["month"].tolist() == ["2025-01", "2025-02", "2025-03"]
    # a contract keeps its last figure in the months without a situation
    assert curve["works_cum"].tolist() == [1_000_000, 1_250_000, 4_250_000]
    # planned: 20 % of 100 000 €; then 50 % of 100 000 € + 10 % of (50 000 + 10 000) €
    assert curve["planned_cum"].tolist() == [2_000_000, 5_600_000, 5_600_000]
    assert curve["contract_total_ht"].iloc[0] == 16_000_000


def test_direct_payment_starts_with_the_subcontractors_acceptance():
    """A 100 000 € line subcontracted (60 000 € declared, direct payment) to a subcontractor
    accepted on 10 February 2025. January's 20 000 € of work came before the acceptance: the
    contractor's. February adds 30 000 € (direct); March 40 000 € more, capped at the
    60 000 € declared."""
    c = frame([contract_row(total=20_000_000)])
    subs = frame([dict(subcontract_id="ST1", contract_id="C1", amount_cents=6_000_000,
                       direct_payment=True, accepted_on=pd.Timestamp("2025-02-10"))])
    led = compute_ledger(c, lines("C1", {"1": 10_000_000, "2": 10_000_000}, **{"1": "ST1"}),
                         frame(situations("C1", ["2025-01", "2025-02", "2025-03"])),
                         progress("C1", [(1, "1", 2000), (2, "1", 5000), (3, "1", 9000)]),
                         subcontracts=subs)
    assert [row(led, n)["direct_payment_cum"] for n in (1, 2, 3)] == [
        0, 3_000_000 - 150_000, 6_000_000 - 300_000]  # less the 5 % retention on the share
    accepted_earlier = subs.assign(accepted_on=pd.Timestamp("2024-12-20"))
    led = compute_ledger(c, lines("C1", {"1": 10_000_000, "2": 10_000_000}, **{"1": "ST1"}),
                         frame(situations("C1", ["2025-01", "2025-02", "2025-03"])),
                         progress("C1", [(1, "1", 2000), (2, "1", 5000), (3, "1", 9000)]),
                         subcontracts=accepted_earlier)
    assert [row(led, n)["direct_payment_cum"] for n in (1, 2, 3)] == [
        2_000_000 - 100_000, 5_000_000 - 250_000, 6_000_000 - 300_000]


def test_direct_payment_revised_with_the_contracts_formula():
    """A revisable contract (Cn = 0,125 + 0,875 × BT01(m)/100,0) with a 100 000 € line of which
    60 000 € are subcontracted (direct payment, accepted before the works). The sub's works
    are revised month by month like the contract's, provisional then healed: situation 1 on
    the last published index (101,0), situation 2 with January definitive (104,0) and
    February provisional on 104,0. Its retention is 5 % of its revised HT."""
    c = frame([contract_row(**{**REVISABLE, "retention_rate_bp": 500})])
    idx = index_rows({
        "2024-10": ("100.0", "2024-12-15"), "2024-11": ("101.0", "2025-01-15"),
        "2024-12": ("102.0", "2025-02-14"), "2025-01": ("104.0", "2025-03-15")})
    subs = frame([dict(subcontract_id="ST1", contract_id="C1", amount_cents=6_000_000,
                       direct_payment=True, accepted_on=pd.Timestamp("2024-12-01"))])
    led = compute_ledger(
        c, lines("C1", {"1": 14_000_000, "2": 6_000_000}, **{"2": "ST1"}),
        frame(situations("C1", ["2025-01", "2025-02"], ["2025-02-05", "2025-03-20"])),
        progress("C1", [(1, "1", 5000), (1, "2", 2500), (2, "2", 7500)]),
        subcontracts=subs, revision_terms=frame(BT01_TERM), price_index=idx)
    coef = bt01_coef
    sub1, sub2 = Decimal("15000"), Decimal("30000")  # 25 % then 75 % of 60 000 €
    rev1 = half_up(sub1 * (coef("101.0") - 1), "0.01")
    rev2 = half_up(sub1 * (coef("104.0") - 1), "0.01") + half_up(sub2 * (coef("104.0") - 1),
                                                                  "0.01")
    paid1 = (sub1 + rev1) - half_up((sub1 + rev1) * Decimal("0.05"), "0.01")
    paid2 = (sub1 + sub2 + rev2) - half_up((sub1 + sub2 + rev2) * Decimal("0.05"), "0.01")
    dp = led.direct_payments.set_index("n")
    assert dp.loc[1, "revision_cum"] == cents(rev1) == 13_200
    assert dp.loc[2, "revision_cum"] == cents(rev2) == 52_500 + 105_000
    assert [row(led, n)["direct_payment_cum"] for n in (1, 2)] == [cents(paid1), cents(paid2)]
    assert dp.loc[2, "paid_month"] == cents(paid2) - cents(paid1)
    assert check_ledger(led) == []


def test_subcontractor_retention_share_follows_a_guarantee_and_its_advance_is_repaid():
    """Retention 5 % TTC on a 200 000 € contract; a caution of 3 000 € received on 15 Feb
    covers part of it; the subcontractor (80 000 € declared, 8 000 € advance, repaid between
    65 % and 80 % of its own works) keeps its share of what is still withheld."""
    c = frame([contract_row(total=20_000_000)])
    subs = frame([dict(subcontract_id="ST1", contract_id="C1", amount_cents=8_000_000,
                       direct_payment=True, accepted_on=pd.Timestamp("2024-12-01"),
                       advance_cents=800_000)])
    caution = frame([dict(contract_id="C1", amount_cents=300_000,
                          received_on=pd.Timestamp("2025-02-15"))])
    led = compute_ledger(
        c, lines("C1", {"1": 12_000_000, "2": 8_000_000}, **{"2": "ST1"}),
        frame(situations("C1", ["2025-01", "2025-02"])),
        progress("C1", [(1, "1", 5000), (1, "2", 5000), (2, "2", 7500)]),
        subcontracts=subs, guarantees=caution)
    dp = led.direct_payments.set_index("n")
    # situation 1: no guarantee yet; sub works 40 000 € (50 %): no repayment before 65 %
    assert dp.loc[1, "retention_cum"] == 200_000  # 5 % of 40 000 €
    assert dp.loc[1, "advance_repaid_cum"] == 0
    # situation 2: works 60 000 + 60 000 = 120 000 € HT, 144 000 € TTC: gross 7 200 €,
    # withheld 7 200 − 3 000 = 4 200 €; the sub's 5 % of 60 000 € = 3 000 € shrinks to
    # 3 000 × 4 200 / 7 200 = 1 750 €
    assert row(led, 2)["retention_cum"] == 420_000
    assert dp.loc[2, "retention_cum"] == cents(Decimal("3000") * 4200 / 7200) == 175_000
    # its advance: x = 75 %, (75 − 65) / (80 − 65) of 8 000 € = 5 333,33 €
    repaid = cents(Decimal("8000") * Decimal("10") / Decimal("15"))
    assert dp.loc[2, "advance_repaid_cum"] == repaid == 533_333
    assert dp.loc[2, "paid_cum"] == 6_000_000 - 175_000 - repaid
    # the contract's own advance is 0: the repayment in the ledger is the sub's
    assert row(led, 2)["advance_repaid_cum"] == repaid
    assert row(led, 2)["due_cum"] == 14_400_000 - 420_000 - repaid
    assert check_ledger(led) == []


def test_direct_payment_revised_with_the_subcontracts_own_formula():
    """The subcontract has its own formula: Cn = 0,20 + 0,80 × BT01(m) / BT01(2024-11 = 101,0);
    January 2025's 15 000 € of subcontracted works, issued on 20 March (104,0 published):
    C = 0,20 + 0,80 × 104 / 101 = 1,023762… → 1,0238, a revision of 357,00 €; the contract's
    own works keep the contract's formula (0,125 + 0,875 × 104 / 100 = 1,035)."""
    c = frame([contract_row(**{**REVISABLE, "retention_rate_bp": 0})])
    idx = index_rows({"2024-10": ("100.0", "2024-12-15"), "2024-11": ("101.0", "2025-01-15"),
                      "2025-01": ("104.0", "2025-03-15")})
    subs = frame([dict(subcontract_id="ST1", contract_id="C1", amount_cents=6_000_000,
                       direct_payment=True, accepted_on=pd.Timestamp("2024-12-01"),
                       revision_fixed_bp=2000, revision_base_month="2024-11")])
    own = frame([dict(subcontract_id="ST1", contract_id="C1", index_code="BT01",
                      weight_bp=8000)])
    led = compute_ledger(
        c, lines("C1", {"1": 14_000_000, "2": 6_000_000}, **{"2": "ST1"}),
        frame(situations("C1", ["2025-01"], ["2025-03-20"])),
        progress("C1", [(1, "1", 5000), (1, "2", 2500)]),
        subcontracts=subs, revision_terms=frame(BT01_TERM), price_index=idx,
        subcontract_revision_terms=own)
    sub_coef = (Decimal("0.2") + Decimal("0.8") * Decimal("104") / Decimal("101")).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP)
    assert sub_coef == Decimal("1.0238")
    dp = led.direct_payments.iloc[0]
    assert dp["revision_cum"] == cents(Decimal("15000") * (sub_coef - 1)) == 35_700
    assert dp["paid_cum"] == 1_500_000 + 35_700  # no retention on this contract
    # the whole contract's revision is still the contract's formula on all its works
    assert row(led, 1)["revision_cum"] == cents(Decimal("85000") * (bt01_coef("104.0") - 1))


def test_revision_coefficients_never_share_a_hash_by_mistake(monkeypatch):
    """Distinct coefficient rows are found by a 64-bit hash; were two different rows to share
    one, each must still get its own coefficient (the rows themselves are then compared).
    Forced here by a hash that answers the same for every row."""
    import numpy as np

    from gesprokit import revision

    fixed = np.array([1500, 1500, 1000])
    decimals = np.array([4, 4, 4])
    weight = np.array([[8500], [8500], [9000]])
    base = np.array([[1000000.0], [1000000.0], [1000000.0]])
    value = np.array([[1020000.0], [1010000.0], [1020000.0]])
    present = np.array([[True], [True], [True]])
    # by hand: 0.15 + 0.85 × 102/100 = 1.017 ; 0.15 + 0.85 × 101/100 = 1.0085 ;
    # 0.10 + 0.90 × 102/100 = 1.018 (× 10^4)
    expected = [10170, 10085, 10180]
    assert revision._coefficients(fixed, decimals, weight, base, value, present).tolist() == \
        expected
    monkeypatch.setattr(revision.pd.util, "hash_pandas_object",
                        lambda frame, index=False: pd.Series(np.zeros(len(frame), "uint64")))
    assert revision._coefficients(fixed, decimals, weight, base, value, present).tolist() == \
        expected


def _without_contract(kwargs: dict, cid: str, keep_terms: bool) -> dict:
    """The ledger's arguments without contract `cid`'s situations and progress (a lot
    notified, not started); its formula, penalties and the rest kept with `keep_terms`,
    else the contract gone altogether."""
    out = {}
    for name, f in kwargs.items():
        if f is None or "contract_id" not in f:
            out[name] = f
        elif name in ("situations", "progress") or not keep_terms:
            out[name] = f[f["contract_id"] != cid].reset_index(drop=True)
        else:
            out[name] = f
    return out


def test_a_revisable_contract_without_situations_lends_its_formula_to_no_one():
    """A revisable lot notified but not started (its formula known, no situation yet), whose
    id sorts last: every other contract's revision is the one computed without that lot at
    all (its terms once landed in the previous contract's formula), and a penalty already
    recorded on it changes nothing and breaks nothing."""
    from gesprokit.portfolio import portfolio, with_every_rule

    kwargs = with_every_rule(portfolio(12_000, lines=10, months=12)).ledger_kwargs()
    last = kwargs["contracts"]["contract_id"].max()
    assert (kwargs["revision_terms"]["contract_id"] == last).any()
    kwargs["adjustments"] = pd.concat([kwargs["adjustments"], pd.DataFrame({
        "contract_id": [last], "n": [1], "kind": ["penalty"], "days": [3],
        "amount_cents": [pd.NA], "reason": ["retard"]}).astype(
        kwargs["adjustments"].dtypes.to_dict())], ignore_index=True)
    not_started = compute_ledger(**_without_contract(kwargs, last, keep_terms=True))
    absent = compute_ledger(**_without_contract(kwargs, last, keep_terms=False))
    pd.testing.assert_frame_equal(not_started.situations, absent.situations)
    assert absent.situations["revision_cum"].ne(0).sum() > 50
    assert last not in set(not_started.situations["contract_id"])
