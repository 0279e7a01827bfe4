"""`--known-at`: the operation as it was known at a past date, replayed from the journal
(`history.frames_as_of`), against the ledger of the same base; and the whole Chorus check of
an A4/A15 piece (`billing.check`), which replays its contract's journal at the piece's date,
on a SQLite base holding that journal."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pandas as pd
from common import median_time
from sqlalchemy import Engine, insert

from gesprokit import schema
from gesprokit.audit import append_events, writing
from gesprokit.chorus import billing
from gesprokit.db import get_engine
from gesprokit.history import frames_as_of
from gesprokit.ledger import ledger_from_frames
from gesprokit.portfolio import portfolio, write_portfolio
from gesprokit.store import load_frames
from gesprokit.workflow import Actor, File

CHECK_TARGET_S = 0.3  # issue 16: the Chorus check of any situation


def journal(frames) -> pd.DataFrame:
    """The events a real history leaves: each month the contractor enters every line's
    cumulative % (before/after in the event) and submits, the OPC corrects a tenth of the
    lines a few days later, then the circuit's steps."""
    rows = []
    progress = frames.progress.sort_values(["contract_id", "n", "line_no"])
    previous: dict[tuple, int] = {}
    for (cid, n), month in progress.groupby(["contract_id", "n"], sort=True):
        sit = frames.situations[(frames.situations["contract_id"] == cid)
                                & (frames.situations["n"] == n)].iloc[0]
        at = pd.Timestamp(sit["submitted_at"])
        lines = list(month["line_no"])
        pcts = [int(v) for v in month["pct_bp"]]
        entered = {line: max(pct - 50, previous.get((cid, line), 0))
                   for line, pct in zip(lines, pcts, strict=True)}
        rows.append((at - pd.Timedelta(hours=2), "enter_progress", cid, n,
                     {"pct_bp": {line: previous.get((cid, line)) for line in lines}},
                     {"pct_bp": entered}))
        rows.append((at, "submit", cid, n, {}, {}))
        fixed = {line: pct for line, pct in zip(lines[::10], pcts[::10], strict=True)}
        rows.append((at + pd.Timedelta(days=3), "verify", cid, n,
                     {"pct_bp": {line: entered[line] for line in fixed}}, {"pct_bp": fixed}))
        for line, pct in zip(lines, pcts, strict=True):
            entered[line] = pct
            previous[(cid, line)] = pct
        for k, action in enumerate(("issue", "accept", "validate", "pay"), start=4):
            rows.append((at + pd.Timedelta(days=k), action, cid, n, {}, {}))
    events = pd.DataFrame(rows, columns=["at", "action", "contract_id", "n", "before",
                                         "after"]).sort_values("at", kind="stable")
    events["before"] = events["before"].map(json.dumps)
    events["after"] = events["after"].map(json.dumps)
    events.insert(0, "event_id", range(1, len(events) + 1))
    events["at"] = events["at"].astype("datetime64[us]")
    return events.assign(actor="bench", role="contractor", comment=None, attachments=None,
                         seal=None, prev_hash="", hash=events["event_id"].astype(str), mac=None)


def base(lines: int, months: int, contracts: int):
    """A base of `contracts` contracts of `lines` lines over `months` months, with the
    journal of its history; returns its frames."""
    folder = Path(tempfile.mkdtemp(prefix="bench-history-"))
    engine = get_engine(f"sqlite:///{folder / 'base.db'}")
    write_portfolio(engine, portfolio(lines * months * contracts, lines=lines, months=months))
    frames = load_frames(engine)
    engine.dispose()
    return replace(frames, events=journal(frames))


def run(runs: int) -> None:
    print("\n--known-at (frames_as_of) contre le décompte de la même base")
    print(f"{'marchés × lignes × mois':>24} {'événements':>11} {'--known-at (s)':>15} "
          f"{'décompte (s)':>13} {'rapport':>8} {'1er mois (s)':>13}")
    for lines, months, contracts in ((500, 6, 1), (500, 12, 1), (500, 24, 1), (500, 12, 4)):
        frames = base(lines, months, contracts)
        middle = frames.situations["submitted_at"].sort_values().iloc[
            len(frames.situations) // 2]
        first = frames.situations["moa_at"].min()  # the Chorus check of situation 1
        replay = median_time(lambda f=frames, m=middle: frames_as_of(f, m), runs)
        ledger = median_time(lambda f=frames: ledger_from_frames(f), runs)
        early = median_time(lambda f=frames, w=first: frames_as_of(f, w), runs)
        print(f"{f'{contracts} × {lines} × {months}':>24} {len(frames.events):>11} "
              f"{replay:>15.3f} {ledger:>13.3f} {replay / ledger:>7.1f}× {early:>13.3f}")
    run_chorus_check(max(runs, 5))


def chorus_base(lines: int, months: int) -> tuple[Engine, str, dict[str, Actor]]:
    """A SQLite base of one contract of `lines` lines over `months` months whose journal
    (:func:`journal`) is in its event table, with the contract's Chorus identity and the
    contractor's bank details; returns its engine, the contract and who deposits A4/A15."""
    folder = Path(tempfile.mkdtemp(prefix="bench-chorus-check-"))
    engine = get_engine(f"sqlite:///{folder / 'base.db'}")
    write_portfolio(engine, portfolio(lines * months, lines=lines, months=months))
    frames = load_frames(engine)
    contract = frames.contracts.iloc[0]
    buyer = frames.operations["buyer_siret"].iloc[0]
    events = journal(frames).drop(columns=["event_id", "prev_hash", "hash", "mac", "seal"])
    events["at"] = [at.to_pydatetime() for at in events["at"]]
    events["n"] = [int(n) for n in events["n"]]
    with writing(engine) as conn:
        append_events(conn, events.astype(object).where(events.notna(), None)
                      .to_dict("records"))
        conn.execute(insert(schema.ChorusStructure).values(
            siret=buyer, name="Maître d'ouvrage", moa_mode="avec_moa", service_required=True))
        conn.execute(insert(schema.ChorusService).values(siret=buyer, code="SERVICE-TRAVAUX"))
        conn.execute(insert(schema.BillingIdentity).values(
            contract_id=contract["contract_id"], market_number="2024-001",
            moe_siret="44306184100047", moa_siret=buyer, payer_siret=buyer,
            service_code="SERVICE-TRAVAUX", engagement_number="EJ-1"))
        conn.execute(insert(schema.CompanyProfile).values(
            company_code=contract["company_code"], iban="FR7630004008200001234567864",
            bic="BNPAFRPP", updated_at=datetime(2024, 1, 1), updated_by="titulaire@bench.fr"))
    return engine, contract["contract_id"], {
        "A4": Actor("titulaire@bench.fr", "contractor", contract["company_code"]),
        "A15": Actor("moe@bench.fr", "moe", "MOE")}


def deposit_a4s(engine: Engine, contract_id: str) -> None:
    """Record every situation's A4 as deposited (an A15 comes after its A4)."""
    frames = load_frames(engine, [contract_id], ["companies", "contracts", "situations"])
    company = frames.contracts["company_code"].iloc[0]
    supplier = frames.companies.set_index("code").loc[company, "siret"]
    with engine.begin() as conn:
        conn.execute(insert(schema.ChorusPiece), [{
            "contract_id": contract_id, "file_key": billing.file_key(int(n)), "frame": "A4",
            "number": f"A4-{n}", "depositor_siret": supplier, "deposited_at": at,
            "deposited_by": "titulaire@bench.fr", "chorus_id": f"{n}", "amount_ht": 0,
            "amount_vat": 0, "amount_ttc": 0, "amount_to_pay": 0, "status": "DEPOSEE",
            "status_at": at} for n, at in zip(
                frames.situations["n"], frames.situations["submitted_at"].dt.to_pydatetime(),
                strict=True)])


def run_chorus_check(runs: int, lines: int = 500, months: int = 24) -> None:
    """The whole check of the A4 and A15 of situations 1, 12 and 24 (what the Chorus page
    does before a deposit), each against the target."""
    engine, contract_id, depositors = chorus_base(lines, months)
    print(f"\nContrôle Chorus avant dépôt (billing.check) : 1 marché × {lines} lignes × "
          f"{months} mois, journal dans une base SQLite")
    print(f"{'cadre':>6} {'situation':>10} {'contrôle (s)':>13} {'objectif (s)':>13} "
          f"{'tenu':>5}")
    pdf = File("piece.pdf", b"%PDF-1.4\n")
    for frame in ("A4", "A15"):
        if frame == "A15":
            deposit_a4s(engine, contract_id)
        for n in (1, 12, months):
            def check(f: str = frame, k: int = n) -> list[str]:
                return billing.check(engine, depositors[f], contract_id, f, f"{f}-{k}",
                                     n=k, files=[pdf])
            problems = check()
            assert not problems, problems  # a whole check, down to its last rule
            took = median_time(check, runs)
            print(f"{frame:>6} {n:>10} {took:>13.3f} {CHECK_TARGET_S:>13.1f} "
                  f"{'oui' if took <= CHECK_TARGET_S else 'non':>5}")
    engine.dispose()
