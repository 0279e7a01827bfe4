"""The benchmarks' synthetic portfolio with every rule at work: each rule really applies,
and what is written to a base computes to the same cents as the frames it came from."""

from __future__ import annotations

from datetime import datetime

from gesprokit.ledger import check_ledger, compute_ledger, ledger_from_frames
from gesprokit.portfolio import portfolio, with_every_rule, write_portfolio
from gesprokit.store import load_frames

AS_OF = datetime(2026, 1, 1)


def test_every_rule_applies_and_the_base_computes_the_same_cents(sqlite_engine):
    p = with_every_rule(portfolio(3_000))  # 6 contracts of 25 lines over 20 months
    ledger = compute_ledger(**p.ledger_kwargs(), as_of=AS_OF)
    s = ledger.situations
    assert check_ledger(ledger) == []
    assert set(p.contracts["price_form"]) == {"firm", "revisable"}
    assert s["revision_cum"].ne(0).any() and s["revision_provisional"].any()
    assert s["penalty_cum"].gt(0).any() and s["bonus_cum"].gt(0).any()
    assert s["direct_payment_cum"].gt(0).any()
    assert (ledger.lines["line_month"] < 0).any()  # a % corrected down
    assert (p.revision_terms.groupby("contract_id").size() == 2).any()  # two indices
    write_portfolio(sqlite_engine, p)
    stored = ledger_from_frames(load_frames(sqlite_engine), as_of=AS_OF).situations
    assert stored["net_month"].tolist() == s["net_month"].tolist()
    assert stored["due_cum"].tolist() == s["due_cum"].tolist()
