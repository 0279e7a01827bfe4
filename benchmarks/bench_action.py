"""One workflow action on a contract of 500 lines with 12, 36 and 120 months of history, on
SQLite and PostgreSQL: each action of the circuit, median of several runs (the three lengths
show what grows with the history). An action that produces a
PDF commits its figures (the document's content) and its event; the layout runs after the
commit and is measured apart (what the person waits for in all: both)."""

from __future__ import annotations

import tempfile
from datetime import datetime

from common import median_time, postgres_schema, postgres_url
from sqlalchemy import delete, select, update

from gesprokit import schema, workflow
from gesprokit.db import get_engine
from gesprokit.portfolio import portfolio, with_every_rule, write_portfolio
from gesprokit.situation_documents import produce_documents
from gesprokit.workflow import Actor

TARGETS = {"sqlite": 0.050, "postgresql": 0.100}
NOW = datetime(2026, 11, 23, 10)
STEPS = [("submit", "contractor", "draft"), ("verify", "verifier", "submitted"),
         ("issue", "moe", "verified"), ("accept", "amo", "issued"),
         ("validate", "moa", "accepted"), ("pay", "treasury", "validated")]
PRODUCES = {"submit", "issue", "validate"}


def _prepare(engine, lines: int, months: int) -> tuple[str, str, dict]:
    p = with_every_rule(portfolio(lines * months, lines=lines, months=months, pace_bp=500))
    write_portfolio(engine, p)
    with engine.begin() as conn:
        conn.execute(update(schema.Situation).where(schema.Situation.n == months).values(
            status="draft", submitted_at=None, verified_at=None, moe_at=None, amo_at=None,
            moa_at=None, paid_at=None))
        previous = dict(conn.execute(select(schema.Progress.line_no, schema.Progress.pct_bp)
                                     .where(schema.Progress.n == months - 1)).all())
        conn.execute(delete(schema.Progress).where(schema.Progress.n == months))
    return p.contracts["contract_id"].iloc[0], p.contracts["company_code"].iloc[0], previous


def _measure(engine, backend: str, runs: int, lines: int = 500, months: int = 120) -> None:
    cid, company, previous = _prepare(engine, lines, months)

    def actor(role: str) -> Actor:
        return Actor(f"{role}@bench.fr", role, company)

    entries = iter([{k: min(10_000, v + 10 * i) for k, v in previous.items()}
                    for i in range(1, runs + 1)])
    entry = median_time(lambda: workflow.enter_progress(
        engine, actor("contractor"), cid, months, next(entries), now=NOW), runs)
    target = TARGETS[backend]
    print(f"{backend:<11} {months:>5} {'enter_progress (500 lignes)':<28} "
          f"{entry * 1000:>9.1f} {entry / target:>8.2f}×")
    laid_out = workflow.after_commit
    workflow.after_commit = lambda engine: None  # the layout is timed on its own below
    try:
        for action, role, state in STEPS:
            def reset(state=state):
                produce_documents(engine)
                with engine.begin() as conn:
                    conn.execute(update(schema.Situation).where(
                        schema.Situation.contract_id == cid, schema.Situation.n == months)
                        .values(status=state, paid_at=None))
            t = median_time(lambda action=action, role=role: getattr(workflow, action)(
                engine, actor(role), cid, months, now=NOW), runs, setup=reset)
            layout = ""
            if action in PRODUCES:
                def one_more(action=action, role=role, reset=reset):
                    reset()
                    getattr(workflow, action)(engine, actor(role), cid, months, now=NOW)
                lay = median_time(lambda: produce_documents(engine), runs, setup=one_more)
                layout = f"   + PDF après validation de l'action : {lay * 1000:.0f} ms"
            print(f"{backend:<11} {months:>5} {action:<28} {t * 1000:>9.1f} "
                  f"{t / target:>8.2f}×{layout}")
    finally:
        workflow.after_commit = laid_out


def run(runs: int, histories: tuple[int, ...] = (12, 36, 120)) -> None:
    print(f"\n{'base':<11} {'mois':>5} {'action (500 lignes)':<28} {'ms':>9} {'vs cible':>9}")
    for months in histories:
        engine = get_engine(f"sqlite:///{tempfile.mkdtemp()}/action.db")
        _measure(engine, "sqlite", runs, months=months)
        engine.dispose()
    pg = postgres_url()
    if pg:
        for months in histories:
            with postgres_schema(pg) as engine:
                _measure(engine, "postgresql", runs, months=months)
    else:
        print("PostgreSQL injoignable : chiffres PostgreSQL non mesurés.")
    print("cible : 50 ms (SQLite), 100 ms (PostgreSQL) ; « mois » : l'historique du marché ; "
          "submit, issue et validate\nproduisent leur PDF (demande, état d'acompte et annexes, "
          "état validé), mis en page après la validation de l'action.")
