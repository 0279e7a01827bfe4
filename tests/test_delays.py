"""Payment delays against hand-computed values (DOMAIN.md §8 and R2192-27..31)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from conftest import SAMPLE, frame

from gesprokit.db import get_engine
from gesprokit.delays import actor_shares, compute_delays, forecast, portfolio_summary
from gesprokit.importer import import_folder
from gesprokit.ledger import ledger_from_frames
from gesprokit.store import load_frames

ECB = frame([dict(effective_on="2023-09-20", rate_bp=450),
             dict(effective_on="2024-06-19", rate_bp=425),
             dict(effective_on="2024-09-18", rate_bp=365),
             dict(effective_on="2024-12-18", rate_bp=315),
             dict(effective_on="2025-06-11", rate_bp=215)])


def delays_for(steps: dict, amount_cents: int, kind: str = "health", override=None,
               as_of: str = "2026-01-01") -> pd.Series:
    sit = {"contract_id": "C1", "n": 1, "month": "2024-09", "submitted_at": None,
           "verified_at": None, "moe_at": None, "amo_at": None, "moa_at": None,
           "paid_at": None, "interrupted_at": None, "resumed_at": None}
    sit.update(steps)
    sits = frame([sit])
    contracts = frame([dict(contract_id="C1", operation_code="OP")])
    ops = frame([dict(code="OP", buyer_kind=kind, deadline_days_override=override)])
    ledger = frame([dict(contract_id="C1", n=1, net_month=amount_cents)])
    return compute_delays(sits, contracts, ops, ledger, ECB, as_of=pd.Timestamp(as_of)).iloc[0]


def interest(amount: str, rate: str, days: int) -> int:
    value = Decimal(amount) * Decimal(rate) / 100 * days / 365
    return int((value * 100).to_integral_value(rounding=ROUND_HALF_UP))


def test_domain_worked_example():
    d = delays_for({"submitted_at": "2024-10-03 10:00", "paid_at": "2024-12-12 09:00"},
                   10_000_000)
    assert d["deadline_days"] == 50
    assert d["deadline_on"] == pd.Timestamp("2024-11-22")
    assert d["late_days"] == 20
    assert d["late_rate_bp"] == 1225  # 4,25 % on 1 July 2024 + 8 points
    assert d["late_interest"] == interest("100000", "12.25", 20) == 67_123  # 671,23 €
    assert d["recovery_indemnity"] == 4_000


def test_interruption_on_day_12_keeps_the_remaining_38_days():
    d = delays_for({"submitted_at": "2025-01-10 09:00", "interrupted_at": "2025-01-22 11:00",
                    "resumed_at": "2025-02-05 15:00", "paid_at": "2025-03-14 09:00"}, 1_000_000)
    assert d["deadline_on"] == pd.Timestamp("2025-02-05") + pd.Timedelta(days=38)
    assert d["interrupted_days"] == 14
    assert d["late_days"] == 0 and d["late_interest"] == 0


def test_interruption_on_day_35_gives_a_new_30_day_delay():
    d = delays_for({"submitted_at": "2025-01-10 09:00", "interrupted_at": "2025-02-14 11:00",
                    "resumed_at": "2025-02-20 15:00", "paid_at": "2025-03-25 09:00"}, 1_000_000)
    assert d["deadline_on"] == pd.Timestamp("2025-03-22")  # 20 Feb + 30 days
    assert d["late_days"] == 3


def test_rate_frozen_on_the_half_year_in_which_interest_starts():
    # deadline 9 June 2025, paid 9 July: interest starts in the 1st half -> ECB on 1 Jan 2025
    d = delays_for({"submitted_at": "2025-04-20 17:00", "paid_at": "2025-07-09 10:00"},
                   5_000_000)
    assert d["deadline_on"] == pd.Timestamp("2025-06-09")
    assert d["late_days"] == 30
    assert d["late_rate_bp"] == 315 + 800  # not the 2,15 % in force in July
    assert d["late_interest"] == interest("50000", "11.15", 30) == 45_822


def test_paid_on_time_owes_nothing_and_days_per_actor():
    d = delays_for({"submitted_at": "2025-03-31 16:00", "verified_at": "2025-04-03 09:00",
                    "moe_at": "2025-04-05 10:00", "amo_at": "2025-04-10 10:00",
                    "moa_at": "2025-04-18 10:00", "paid_at": "2025-05-06 10:00"}, 2_000_000,
                   kind="local")
    assert d["deadline_on"] == pd.Timestamp("2025-04-30")
    assert d["deadline_days"] == 30
    assert d["elapsed_days"] == 36 and d["late_days"] == 6  # 30-day buyer: late after all
    assert [d[c] for c in ("days_verifier", "days_moe", "days_amo", "days_moa",
                           "days_treasury")] == [3, 2, 5, 8, 18]
    assert not d["moe_limit_breached"]  # 5 days <= 7
    on_time = delays_for({"submitted_at": "2025-03-31 16:00", "paid_at": "2025-04-29 10:00"},
                         2_000_000, kind="local")
    assert on_time["late_days"] == 0
    assert on_time["late_interest"] == 0 and on_time["recovery_indemnity"] == 0


def test_operation_override_and_unpaid_forecast():
    d = delays_for({"submitted_at": "2025-01-02 09:00", "verified_at": "2025-01-20 09:00"},
                   3_650_000, override=40, as_of="2025-02-21")
    assert d["deadline_on"] == pd.Timestamp("2025-02-11")
    assert d["late_days"] == 10
    assert d["late_interest"] == interest("36500", "11.15", 10)  # 111,50 €
    assert d["days_moe"] == 32  # the MOE holds the file since 20 January
    assert d["moe_limit_breached"]


@pytest.fixture(scope="module")
def sample_delays(imported_sample):
    """The sample's acomptes' delays on 23 November 2026 (read-only, built once)."""
    engine = get_engine(f"sqlite:///{imported_sample}")
    frames = load_frames(engine)
    engine.dispose()
    as_of = pd.Timestamp("2026-11-23")
    ledger = ledger_from_frames(frames, as_of=as_of)
    return compute_delays(frames.situations, frames.contracts, frames.operations,
                          ledger.situations, frames.ecb_rates, frames.events, as_of=as_of)


def test_sample_has_late_payments_an_interruption_and_open_items(sample_delays):
    d = sample_delays
    late = d[d["late_days"] > 0]
    assert len(late) >= 2 and (late["late_interest"] > 0).all()
    assert (d["interrupted_days"] > 0).sum() == 1
    open_items = forecast(d)
    assert len(open_items) == 3 and open_items["paid_at"].isna().all()
    summary = portfolio_summary(d)
    assert summary["late"] == len(late[late["paid_at"].notna()])
    assert summary["late_interest"] == int(d["late_interest"].sum())
    shares = actor_shares(d)
    assert list(shares.index) == ["days_verifier", "days_moe", "days_amo", "days_moa",
                                  "days_treasury"]
    assert 0 < shares.sum() < 20_000


def test_top_causes_of_returns_come_from_the_workflow(tmp_path):
    from datetime import datetime

    from test_workflow import L05, PDF, T0, actor, at

    from gesprokit import workflow
    from gesprokit.db import get_engine
    from gesprokit.delays import return_causes

    engine = get_engine(f"sqlite:///{tmp_path / 'r.db'}")
    import_folder(SAMPLE, engine, now=datetime(2026, 6, 1))
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    workflow.verify(engine, actor("verifier"), L05, 7, now=at(2))
    for day, reason in ((3, "PIECE_MANQUANTE"), (5, "SOUS_TRAITANT"), (7, "PIECE_MANQUANTE")):
        workflow.issue(engine, actor("moe"), L05, 7, now=at(day))
        workflow.return_to_moe(engine, actor("amo"), L05, 7, reason, "À compléter", [PDF],
                               now=at(day, 15))
    frames = load_frames(engine)
    ledger = ledger_from_frames(frames, as_of=at(10))
    d = compute_delays(frames.situations, frames.contracts, frames.operations,
                       ledger.situations, frames.ecb_rates, frames.events, as_of=at(10))
    row = d[(d["contract_id"] == L05) & (d["n"] == 7)].iloc[0]
    assert row["returns_count"] == 3
    causes = return_causes(d)
    assert causes.to_dict("records") == [
        {"reason_code": "PIECE_MANQUANTE", "label": "pièce justificative manquante",
         "returns": 2},
        {"reason_code": "SOUS_TRAITANT",
         "label": "déclaration de sous-traitant ou paiement direct à régulariser", "returns": 1}]
    engine.dispose()


def test_an_interruption_after_the_deadline_does_not_erase_the_lateness():
    """Health buyer, 50 days: received 10 January 2025, deadline 1 March. Interrupted on day
    58 (9 March), resumed 20 March, paid 2 April: the interruption came too late and is
    ignored, so 32 days are late (2 March → 2 April), at 3,15 % + 8 = 11,15 %."""
    steps = {"submitted_at": "2025-01-10 09:00", "interrupted_at": "2025-03-09 10:00",
             "resumed_at": "2025-03-20 10:00", "paid_at": "2025-04-02 09:00"}
    d = delays_for(steps, 1_000_000)
    assert d["deadline_on"] == pd.Timestamp("2025-03-01")
    assert d["interrupted_days"] == 0
    assert d["late_days"] == 32
    assert d["late_interest"] == interest("10000", "11.15", 32) == 9_775  # 97,75 €
    assert d["recovery_indemnity"] == 4_000
    # on the deadline day itself the delay still runs: the interruption counts
    on_time = delays_for({**steps, "interrupted_at": "2025-03-01 18:00"}, 1_000_000)
    assert on_time["deadline_on"] == pd.Timestamp("2025-03-20") + pd.Timedelta(days=30)
    assert on_time["late_days"] == 0


def test_a_longer_contractual_deadline_is_never_applied():
    """A State buyer (30 days) whose operation says 45: 30 days apply."""
    d = delays_for({"submitted_at": "2025-01-02 09:00", "paid_at": "2025-02-22 09:00"},
                   1_000_000, kind="state", override=45)
    assert d["deadline_days"] == 30 and d["deadline_on"] == pd.Timestamp("2025-02-01")
    assert d["late_days"] == 21


@pytest.mark.parametrize("net", [0, -815_000])
def test_no_interest_nor_indemnity_without_an_amount_due(net):
    d = delays_for({"submitted_at": "2025-01-02 09:00", "paid_at": "2025-03-15 09:00"}, net,
                   kind="state")
    assert d["late_days"] == 42
    assert d["late_interest"] == 0 and d["recovery_indemnity"] == 0


def test_the_advance_has_its_own_deadline_from_the_notification(sample_delays):
    """L09's advance (10 % of 848 800 € HT × 1,2 = 101 856,00 €), notified on 3 March 2025,
    health buyer: due by 22 April, paid on 5 May: 13 days late. Interest starts on 23 April:
    ECB rate on 1 January 2025 (3,15 %) + 8 = 11,15 %."""
    advance = sample_delays[(sample_delays["contract_id"] == "CHMV-EHPAD-L09")
                            & (sample_delays["payment"] == "avance")].iloc[0]
    assert advance["n"] == 0 and advance["amount_due_ttc"] == 10_185_600
    assert advance["deadline_on"] == pd.Timestamp("2025-04-22")
    assert advance["late_days"] == 13 and advance["late_rate_bp"] == 1115
    assert advance["late_interest"] == interest("101856", "11.15", 13) == 40_449  # 404,49 €
    assert advance["recovery_indemnity"] == 4_000
    on_time = sample_delays[(sample_delays["contract_id"] == "CHMV-EHPAD-L02")
                            & (sample_delays["payment"] == "avance")].iloc[0]
    assert on_time["late_days"] == 0 and on_time["late_interest"] == 0
    # the advance passes through no actor: the shares are those of the situations alone
    shares = actor_shares(sample_delays)
    assert shares.equals(actor_shares(sample_delays[sample_delays["payment"] == "acompte"]))
