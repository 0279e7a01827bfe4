"""Many actors at once on PostgreSQL: no lost update, no half-applied action, an intact chain."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from conftest import SAMPLE
from sqlalchemy import text
from test_workflow import actor

from gesprokit import workflow
from gesprokit.audit import verify_chain
from gesprokit.importer import import_folder
from gesprokit.store import load_frames
from gesprokit.workflow import Actor
from gesprokit.workflow_errors import InvalidTransition, StaleState, ValidationError

THREADS = 8
# contracts whose last situation is paid and whose end has not begun, so that a new one can
# be opened
CONTRACTS = {"CHMV-EHPAD-L06": "PLA", "CHMV-EHPAD-L08": "SOL", "CHMV-EHPAD-L09": "CVA",
             "CHMV-EHPAD-L12": "ASC"}
CIRCUIT = [("submit", "contractor"), ("verify", "verifier"), ("issue", "moe"),
           ("accept", "amo"), ("validate", "moa"), ("pay", "treasury")]


def race(fn, count: int) -> list:
    """Start `count` calls of fn at the same instant; returns results or exceptions."""
    barrier = threading.Barrier(count)

    def one(i):
        barrier.wait()
        try:
            return fn(i)
        except (StaleState, InvalidTransition, ValidationError) as exc:  # French refusals
            return exc
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_concurrent_actions_on_the_same_situations(postgres_engine):
    engine = postgres_engine
    import_folder(SAMPLE, engine, now=datetime(2026, 6, 1))
    situations = {}
    for cid, company in CONTRACTS.items():
        who = Actor(email=f"saisie@{company.lower()}.fr", role="contractor", company_code=company)
        situations[cid] = workflow.create_situation(engine, who, cid, "2026-10",
                                                    now=datetime(2026, 10, 30))
    events = load_frames(engine).events
    events_before, documents_before = len(events), (events["action"] == "document").sum()
    applied = 0
    for step, (action, role) in enumerate(CIRCUIT, start=1):
        for cid, n in situations.items():
            company = CONTRACTS[cid]
            who = (Actor(email=f"saisie@{company.lower()}.fr", role="contractor",
                         company_code=company) if role == "contractor" else actor(role))
            fn = {"submit": workflow.submit, "verify": workflow.verify,
                  "issue": workflow.issue, "accept": workflow.accept,
                  "validate": workflow.validate, "pay": workflow.pay}[action]
            results = race(lambda i, fn=fn, who=who, cid=cid, n=n, step=step: fn(
                engine, who, cid, n, now=datetime(2026, 11, step, 9, i)), THREADS)
            wins = [r for r in results if not isinstance(r, Exception)]
            losses = [r for r in results if isinstance(r, Exception)]
            assert len(wins) == 1, (action, cid, results)  # exactly one actor gets through
            assert len(losses) == THREADS - 1
            applied += 1
    # and, meanwhile, records on different contracts all go through
    results = race(lambda i: workflow.record_guarantee(
        engine, actor("amo"), list(CONTRACTS)[i % 4], f"G-{i}", "caution", 1000 + i,
        datetime(2026, 11, 20).date(), "Banque", now=datetime(2026, 11, 20, 10, i)), THREADS)
    assert not any(isinstance(r, Exception) for r in results)
    frames = load_frames(engine)
    # no lost, no extra event: one per applied action, one per PDF bound (submit, issue and
    # validate of each situation), one per guarantee
    bound = 3 * len(situations)
    assert len(frames.events) == events_before + applied + bound + THREADS
    assert (frames.events["action"] == "document").sum() - documents_before == bound
    assert verify_chain(frames.events) == []
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT status, version, paid_at IS NOT NULL FROM situation WHERE month = '2026-10'"
        )).all()
    assert rows and all(r == ("paid", 1 + len(CIRCUIT), True) for r in rows)
    statements = frames.payment_statements
    assert len(statements[statements["validated_at"] >= datetime(2026, 11, 1)]) == len(CONTRACTS)


def test_concurrent_creation_ends_in_french_not_in_a_driver_error(postgres_engine):
    """Eight tabs open the same month at the same instant: one situation, seven French
    refusals, no raw IntegrityError (the read-then-insert of create_situation)."""
    engine = postgres_engine
    import_folder(SAMPLE, engine, now=datetime(2026, 6, 1))
    who = Actor(email="saisie@pla.fr", role="contractor", company_code="PLA")
    results = race(lambda i: workflow.create_situation(
        engine, who, "CHMV-EHPAD-L06", "2026-10", now=datetime(2026, 10, 30, 9, i)), THREADS)
    wins = [r for r in results if not isinstance(r, Exception)]
    assert wins == [8]
    assert all(isinstance(r, (StaleState, InvalidTransition)) for r in results if r != 8)
    # the same guarantee recorded twice at once: one row, one French refusal
    results = race(lambda i: workflow.record_guarantee(
        engine, actor("amo"), "CHMV-EHPAD-L06", "G-MEME", "caution", 1000,
        datetime(2026, 11, 20).date(), "Banque", now=datetime(2026, 11, 20, 10, i)), THREADS)
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM situation WHERE month = '2026-10'")
                            ).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM guarantee WHERE guarantee_id = "
                                 "'G-MEME'")).scalar() == 1
    # an advance paid by several treasurers at once: one payment, one event, French refusals
    with engine.begin() as conn:
        conn.execute(text("UPDATE contract SET advance_paid_at = NULL "
                          "WHERE contract_id = 'CHMV-EHPAD-L09'"))
    results = race(lambda i: workflow.pay_advance(
        engine, actor("treasury"), "CHMV-EHPAD-L09", now=datetime(2026, 11, 21, 10, i)),
        THREADS)
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(isinstance(r, (StaleState, InvalidTransition)) for r in results
               if isinstance(r, Exception)), results
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM event WHERE action = 'pay_advance'")
                            ).scalar() == 1


def test_the_end_of_a_contract_at_once(postgres_engine):
    """A contract's end acted on from several tabs at once: the décompte général signed
    once, a monthly situation and the projet de décompte final never both, the solde paid
    once; every loser refused in French and the chain intact."""
    from datetime import date

    from gesprokit import end_of_contract as eoc

    engine = postgres_engine
    import_folder(SAMPLE, engine, now=datetime(2026, 6, 1))
    asc = Actor(email="saisie@asc.fr", role="contractor", company_code="ASC")
    eoc.submit_final(engine, asc, "CHMV-EHPAD-L12", "2026-10", {},
                     now=datetime(2026, 11, 2, 9))
    eoc.settle_final(engine, actor("moe"), "CHMV-EHPAD-L12", now=datetime(2026, 11, 5, 9))
    results = race(lambda i: eoc.sign_general(engine, actor("moa"), "CHMV-EHPAD-L12",
                                              now=datetime(2026, 11, 9, 9, i)), THREADS)
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(isinstance(r, (StaleState, InvalidTransition)) for r in results
               if isinstance(r, Exception)), results
    # the titulaire opens a month and sends its projet de décompte final from two tabs
    pla = Actor(email="saisie@pla.fr", role="contractor", company_code="PLA")
    eoc.record_reception(engine, actor("moa"), "CHMV-EHPAD-L06", date(2026, 10, 20),
                         now=datetime(2026, 10, 20, 17))
    results = race(lambda i: workflow.create_situation(
        engine, pla, "CHMV-EHPAD-L06", "2026-10", now=datetime(2026, 11, 3, 9, i))
        if i % 2 else eoc.submit_final(engine, pla, "CHMV-EHPAD-L06", "2026-10", {},
                                       now=datetime(2026, 11, 3, 9, i)), THREADS)
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    with engine.connect() as conn:
        opened = conn.execute(text("SELECT count(*) FROM situation WHERE contract_id = "
                                   "'CHMV-EHPAD-L06' AND month = '2026-10'")).scalar()
        finals = conn.execute(text("SELECT count(*) FROM final_account WHERE contract_id = "
                                   "'CHMV-EHPAD-L06'")).scalar()
        signed = conn.execute(text("SELECT count(*) FROM event WHERE action = "
                                   "'sign_general' AND contract_id = 'CHMV-EHPAD-L12'")
                              ).scalar()
    assert opened + finals == 1 and signed == 1
    assert verify_chain(load_frames(engine).events) == []


def test_two_owners_granting_overlapping_mandates_at_once(postgres_engine):
    """Two tabs of the owner entrust SPL with overlapping mandates at the same instant: one
    is granted, the other refused in French; the chain intact."""
    from datetime import date

    from gesprokit.mandates import grant_mandate

    engine = postgres_engine
    import_folder(SAMPLE, engine, now=datetime(2026, 6, 1))
    owner = Actor(email="direction@ch.fr", role="moa", company_code="CHMV")
    results = race(lambda i: grant_mandate(
        engine, owner, "CHMV-EHPAD", "SPL", ["validate"], date(2026, 7, 1 + i), None,
        f"Convention n°{i}", now=datetime(2026, 6, 24, 15, i)), THREADS)
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all("a déjà un mandat sur cette période" in str(r) for r in results
               if isinstance(r, Exception)), results
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM moa_mandate")).scalar() == 1
    assert verify_chain(load_frames(engine).events) == []
