"""``audit verify`` (integrity.verify) on journals of 24 000 to 240 000 real events,
against the former row-by-row verification (kept below as the reference) and the 1 s
target."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import defaultdict
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from common import median_time
from sqlalchemy import func, select

from gesprokit import journal, schema, seals
from gesprokit.audit import append_events, event_hash, writing
from gesprokit.db import get_engine, reading
from gesprokit.integrity import check_attachments, check_checkpoint, check_seals, last_seals, verify
from gesprokit.portfolio import portfolio, write_portfolio
from gesprokit.store import load_frames

LINES, MONTHS = 25, 20  # the portfolio's defaults: 6 events a situation, 120 a contract
CHUNK = 20_000  # events appended per transaction
TARGET_S = 1.0


def history(frames) -> list[dict]:
    """The events a real history leaves (as bench_history.journal): each month the
    contractor enters every line's cumulative %, the OPC corrects a tenth of the lines
    three days later, then the circuit's steps; each event seals its situation."""
    progress = frames.progress.sort_values(["contract_id", "n", "line_no"])
    sits = frames.situations
    submitted = dict(zip(zip(sits["contract_id"], sits["n"], strict=True),
                         sits["submitted_at"], strict=True))
    rows, previous = [], {}
    for (cid, n), month in progress.groupby(["contract_id", "n"], sort=True):
        at = submitted[(cid, n)].to_pydatetime()
        lines, pcts = list(month["line_no"]), [int(v) for v in month["pct_bp"]]
        entered = {line: max(pct - 50, previous.get((cid, line), 0))
                   for line, pct in zip(lines, pcts, strict=True)}
        fixed = dict(zip(lines[::10], pcts[::10], strict=True))
        steps = [(at - timedelta(hours=2), "enter_progress", "contractor",
                  {line: previous.get((cid, line)) for line in lines}, entered),
                 (at + timedelta(days=3), "verify", "verifier",
                  {line: entered[line] for line in fixed}, fixed)]
        steps += [(at + timedelta(days=k), action, role, None, None) for k, (action, role)
                  in enumerate((("issue", "moe"), ("accept", "amo"), ("validate", "moa"),
                                ("pay", "treasury")), start=4)]
        for when, action, role, before, after in steps:
            rows.append({"at": when, "actor": f"{role}@bench.fr", "role": role,
                         "action": action, "contract_id": cid, "n": int(n),
                         "before": json.dumps({"pct_bp": before}) if before else "{}",
                         "after": json.dumps({"pct_bp": after}) if after else "{}",
                         "seal": f"situation|{cid}|{n}"})
        previous.update({(cid, line): pct for line, pct in zip(lines, pcts, strict=True)})
    rows.sort(key=lambda ev: ev["at"])
    return rows


def base(folder: Path, events: int):
    """A SQLite base whose journal holds about `events` real events (chained, signed,
    sealed, checkpointed) over the portfolio they record: contracts of LINES lines over
    MONTHS months. Each event seals its situation as the base leaves it."""
    contracts = max(1, round(events / (6 * MONTHS)))
    engine = get_engine(f"sqlite:///{folder / f'audit-{events}.db'}")
    write_portfolio(engine, portfolio(contracts * LINES * MONTHS, lines=LINES, months=MONTHS))
    rows = history(load_frames(engine))
    with reading(engine).connect() as conn:
        digests = seals.digests(conn)
    for ev in rows:
        ev["seal"] = json.dumps({ev["seal"]: digests[ev["seal"]]})
    for start in range(0, len(rows), CHUNK):
        with writing(engine) as conn:
            append_events(conn, rows[start:start + CHUNK])
    return engine


# --- the reference: the former verification, row by row ----------------------------------

def _former_canonical(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return repr(value)
    return value


def _former_digests(conn) -> dict[str, str]:
    """Every group's digest, each state row read through SQLAlchemy and written by
    json.dumps (gesprokit.seals.digests as it was)."""
    lines = defaultdict(list)
    for name, (group, columns, excluded) in seals.SEALED.items():
        table = schema.Base.metadata.tables[name]
        kept = [c for c in table.columns if c.name not in excluded]
        positions = [kept.index(table.c[c]) for c in columns]
        for row in conn.execute(select(*kept)):
            key = (group, *(row[p] for p in positions))
            lines[key].append(json.dumps([name, [_former_canonical(v) for v in row]],
                                         ensure_ascii=False, default=str))
    out = {}
    for key, rows in lines.items():
        rows.sort()
        out[seals.key_text(key)] = hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()
    return out


def _former_chain(events: list[dict], key: bytes | None) -> list[str]:
    """Hash, link and signature of every event, one event at a time."""
    problems, bad_signatures = [], []
    expected_prev = "0" * 64
    for ev in events:
        label = f"événement n°{ev['event_id']}"
        if ev["prev_hash"] != expected_prev:
            problems.append(f"{label} : lien rompu avec l'événement précédent (supprimé ou "
                            "inséré)")
        if event_hash(ev) != ev["hash"]:
            problems.append(f"{label} : contenu modifié après coup (empreinte différente)")
        if key is not None:
            if not ev.get("mac"):
                problems.append(f"{label} : non signé (écrit hors de l'application)")
            elif ev["mac"] != journal.mac(key, ev["hash"]):
                bad_signatures.append(f"{label} : signature invalide (événement forgé ou "
                                      "réécrit sans la clé du journal)")
        expected_prev = ev["hash"]
    return problems + bad_signatures


def former_verify(engine) -> list[str]:
    """The problems the former ``audit verify`` found: every event as a dict through
    SQLAlchemy, hashed and signed one by one, every state row written by json.dumps."""
    key = journal.journal_key(create=False)
    with reading(engine).connect() as conn:
        events = [dict(r) for r in conn.execute(
            select(schema.Event).order_by(schema.Event.event_id)).mappings()]
        problems = _former_chain(events, key)
        problems += check_checkpoint(engine, [ev["hash"] for ev in events], key)
        sealed = last_seals([ev.get("seal") for ev in events])
        problems += check_seals(sealed, _former_digests(conn))
        problems += check_attachments(conn, [ev.get("attachments") for ev in events])[1]
    return problems


@contextmanager
def _secrets_folder():
    """A journal key and checkpoints of the benchmark's own, unless a folder is given."""
    given = os.environ.get("GESPROKIT_SECRETS_DIR")
    with tempfile.TemporaryDirectory(prefix="bench-audit-secrets-") as folder:
        os.environ["GESPROKIT_SECRETS_DIR"] = given or folder
        try:
            yield
        finally:
            if given is None:
                del os.environ["GESPROKIT_SECRETS_DIR"]


def run(sizes: list[int], runs: int) -> None:
    """For each journal size: verify's median time, the former verification's (fewer runs:
    it is slow) and the ratio of verify's time to the 1 s target; both must find the
    journal intact."""
    print("\naudit verify (integrity.verify) : journal réel (saisies, corrections, circuit) "
          f"sur un portefeuille de marchés de {LINES} lignes × {MONTHS} mois")
    print(f"{'événements':>11} {'lignes d’état':>14} {'verify (s)':>11} "
          f"{'ancienne (s)':>13} {'gain':>7} {'verify / 1 s':>13}")
    with _secrets_folder(), tempfile.TemporaryDirectory(prefix="bench-audit-") as folder:
        for size in sizes:
            engine = base(Path(folder), size)
            with engine.connect() as conn:
                state = sum(conn.execute(select(func.count()).select_from(
                    schema.Base.metadata.tables[name])).scalar() for name in seals.SEALED)
            result = verify(engine)
            assert result.intact and former_verify(engine) == [], result.problems[:3]
            fast = median_time(lambda e=engine: verify(e), runs)
            former = median_time(lambda e=engine: former_verify(e), max(1, runs // 3))
            print(f"{result.events:>11} {state:>14} {fast:>11.3f} {former:>13.3f} "
                  f"{former / fast:>6.1f}× {fast / TARGET_S:>12.2f}×")
            engine.dispose()
            Path(engine.url.database).unlink()
