"""``audit verify``: everything the journal proves, checked at once.

1. the chain: each event's SHA-256 and its link to the previous one;
2. the signatures: each event's HMAC under the journal's key (kept outside the base);
3. the checkpoint: the newest event recorded outside the base still exists (no truncation)
   and the journal is the one the checkpoints know (no replacement);
4. the seals: every group of state rows equals what its last event left (no change made
   outside an action, no row added or removed behind the journal's back);
5. the attachments: every stored file still has the SHA-256 it is filed under, and every
   file an event or a document refers to is there.

The journal and the state are read in bulk when ADBC opens the base (gesprokit.bulk_audit),
else row by row: the same checks, the same problems.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import compress
from operator import ne, not_

import numpy as np
from sqlalchemy import Connection, Engine, func, literal, select

from gesprokit import bulk_audit, journal, schema, seals
from gesprokit.audit import GENESIS, event_hash
from gesprokit.db import reading


@dataclass
class Verification:
    """What ``audit verify`` found: French problems (empty: the journal proves the base)."""

    events: int = 0
    groups: int = 0
    attachments: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def _event_rows(conn) -> list[dict]:
    return [dict(r) for r in conn.execute(
        select(schema.Event).order_by(schema.Event.event_id)).mappings()]


def check_chain(events: list[dict], key: bytes | None) -> list[str]:
    """Hash, link and signature of every event, in order."""
    return chain_problems([ev["event_id"] for ev in events],
                          [ev["prev_hash"] for ev in events], [ev["hash"] for ev in events],
                          [event_hash(ev) for ev in events], [ev.get("mac") for ev in events],
                          key)


def _positions(flags, n: int) -> set[int]:
    """The positions of the true values among `n` flags."""
    return set(np.flatnonzero(np.fromiter(flags, dtype=bool, count=n)).tolist())


def chain_problems(ids: list, prev: list, hashes: list, computed: list, macs: list,
                   key: bytes | None) -> list[str]:
    """The chain's problems, event by event (a broken link, a content that no longer
    matches its hash, a missing signature), then the invalid signatures, or a single line
    when none matches (the key is another base's). `computed` is each event's hash
    recomputed from its content; `hashes`, `prev` and `macs` are as stored."""
    n = len(ids)
    broken = _positions(map(ne, prev, [GENESIS, *hashes[:-1]]), n)
    changed = _positions(map(ne, computed, hashes), n)
    signed = list(compress(range(n), macs))
    unsigned, forged = set(), []
    if key is not None:
        unsigned = set(compress(range(n), map(not_, macs)))
        stored = macs if len(signed) == n else [macs[i] for i in signed]
        expected = journal.macs(key, [hashes[i] for i in signed])
        forged = [signed[i] for i in sorted(_positions(map(ne, stored, expected),
                                                       len(signed)))]
    problems = []
    for i in sorted(broken | changed | unsigned):
        label = f"événement n°{ids[i]}"
        if i in broken:
            problems.append(f"{label} : lien rompu avec l'événement précédent (supprimé ou "
                            "inséré)")
        if i in changed:
            problems.append(f"{label} : contenu modifié après coup (empreinte différente)")
        if i in unsigned:
            problems.append(f"{label} : non signé (écrit hors de l'application)")
    if len(forged) > 1 and len(forged) == len(signed):
        return [*problems, f"aucune des {len(signed)} signatures ne correspond : la clé du "
                           f"journal ({journal.key_path()}) n'est pas celle de cette base"]
    return problems + [f"événement n°{ids[i]} : signature invalide (événement forgé ou "
                       "réécrit sans la clé du journal)" for i in forged]


def check_checkpoint(engine: Engine, hashes: list[str], key: bytes | None) -> list[str]:
    """The journal (its events' hashes, in order) against the checkpoints recorded outside
    the base."""
    checkpoints = journal.read_checkpoints(engine)
    where = journal.checkpoint_path(engine)
    first = hashes[0] if hashes else None
    problems = [f"point de contrôle disparu : l'événement n°{lost.get('event_id')} "
                f"(enregistré le {lost.get('at')}) manquait déjà lors d'une écriture "
                "suivante (journal tronqué)" for lost in checkpoints.pop("lost", [])
                if lost.get("first") == first]
    if "?" in checkpoints:
        return [*problems, f"fichier des points de contrôle illisible ({where})"]
    if not hashes:
        if checkpoints:
            problems.append("journal vidé : les points de contrôle mentionnent des événements "
                            "qui n'existent plus")
        return problems
    entry = checkpoints.get(first)
    if entry is None:
        problems.append("aucun point de contrôle pour ce journal" + (
            " : la base a été remplacée par un autre journal" if checkpoints else
            f" (cherché dans {where})"))
        return problems
    if key is not None and entry.get("mac") != journal.checkpoint_mac(
            key, first, entry.get("hash", "")):
        problems.append("point de contrôle falsifié (signature invalide)")
    if entry.get("hash") not in hashes:
        problems.append(f"journal tronqué : l'événement n°{entry.get('event_id')} enregistré "
                        f"au point de contrôle du {entry.get('at')} n'existe plus")
    return problems


def last_seals(texts: list) -> dict[str, str | None]:
    """The digest each group was last left with, by the events' seals in order."""
    sealed: dict[str, str | None] = {}
    for text in texts:
        if text:
            try:
                sealed.update(json.loads(text))
            except ValueError:
                continue  # its hash check already reports it
    return sealed


def check_seals(sealed: dict[str, str | None], current: dict[str, str]) -> list[str]:
    """Every group of the base (`current`: its digests now) against its last seal."""
    problems = []
    for key in sorted(set(sealed) | set(current)):
        now, then = current.get(key), sealed.get(key, "absent")
        if now == then:
            continue
        label = seals.key_label(key)
        if then == "absent":
            problems.append(f"{label} : lignes présentes sans aucun événement du journal "
                            "(ajoutées hors de l'application)")
        elif now is None:
            problems.append(f"{label} : lignes supprimées hors de l'application")
        else:
            problems.append(f"{label} : modifié hors de l'application (l'état ne correspond "
                            "plus au dernier événement qui l'a écrit)")
    return problems


def check_attachments(conn, cited: list) -> tuple[int, list[str]]:
    """Re-hash every stored file; every file cited (the events' attachment lists, in
    `cited`) or filed as a document version must exist."""
    problems, stored = [], set()
    rows = conn.execute(select(schema.Attachment.sha256, schema.Attachment.name,
                               schema.Attachment.size, schema.Attachment.content))
    for sha, name, size, content in rows:
        stored.add(sha)
        if hashlib.sha256(content).hexdigest() != sha or len(content) != size:
            problems.append(f"pièce « {name} » : contenu remplacé (empreinte différente de "
                            "celle enregistrée)")
    referenced = {h for text in cited if text for h in _hashes(text)}
    referenced |= set(conn.execute(select(schema.DocumentVersion.sha256)).scalars())
    for sha in sorted(referenced - stored):
        problems.append(f"pièce {sha[:12]}… citée par le journal ou un document : introuvable")
    return len(stored), problems


def _hashes(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [h for h in value if isinstance(h, str)] if isinstance(value, list) else []


@dataclass
class Reading:
    """What the checks read of the base: the chain's problems, the events' hashes, seals
    and cited files in order, and the digest of every group of state rows now."""

    chain: list[str]
    hashes: list[str]
    sealed: dict[str, str | None]
    cited: list
    current: dict[str, str]


def read_by_rows(conn: Connection, key: bytes | None) -> Reading:
    """Every event as a dict and every state row through SQLAlchemy (a base ADBC cannot
    open, a journal whose chain holds values of another type than the schema's)."""
    events = _event_rows(conn)
    return Reading(check_chain(events, key), [ev["hash"] for ev in events],
                   last_seals([ev.get("seal") for ev in events]),
                   [ev["attachments"] for ev in events if ev.get("attachments")],
                   seals.digests(conn))


def read_in_bulk(conn: Connection, bulk: bulk_audit.Reader, side: bulk_audit.Reader,
                 key: bytes | None) -> Reading | None:
    """The same reading in bulk (gesprokit.bulk_audit), None when the database does not
    quote JSON as Python does or the journal holds values of another type than the
    schema's. The state rows are read and digested on the `side` connection, in a second
    thread, while the events are hashed; when a write came between the two connections'
    snapshots, after the events on the first one."""
    if not bulk_audit.quotes_like_python(bulk):
        return None
    newest = "SELECT max(event_id) FROM event"
    same = bulk.value(newest) == side.value(newest)
    with ThreadPoolExecutor(max_workers=1) as pool:
        state = pool.submit(bulk_audit.scan_state, side) if same else None
        log = bulk_audit.read_journal(bulk)
        if log is None:
            return None
        chain, sealed, cited = _check_journal(conn, log, key)
        found = state.result() if state is not None else bulk_audit.scan_state(bulk)
    return Reading(chain, log.hashes, sealed, cited, _digests(conn, found))


def _check_journal(conn: Connection, log: bulk_audit.Journal, key: bytes | None
                   ) -> tuple[list[str], dict[str, str | None], list[str]]:
    """The chain's problems, the last seals and the cited files of a journal read in bulk;
    the events left to the row code are read and hashed by it."""
    computed = bulk_audit.content_hashes(log.texts)
    if not log.odd:
        return (chain_problems(log.ids, log.prev, log.hashes, computed, log.macs, key),
                bulk_audit.last_seals(log.seals),
                [text for text in log.attachments.drop_null().to_pylist() if text])
    rows = _events_by_id(conn, [log.ids[i] for i in log.odd])
    seal_texts, cited = log.seals.to_pylist(), log.attachments.to_pylist()
    for i in log.odd:
        row = rows[log.ids[i]]
        computed[i] = event_hash(row)
        seal_texts[i], cited[i] = row.get("seal"), row.get("attachments")
    return (chain_problems(log.ids, log.prev, log.hashes, computed, log.macs, key),
            last_seals(seal_texts), [text for text in cited if text])


def _digests(conn: Connection, state: bulk_audit.State) -> dict[str, str]:
    """The groups' digests; those with rows in a table left to the row code are digested
    whole by it."""
    if state.digests is not None:
        return state.digests
    digests = bulk_audit.digest_lines(state.parts)
    left = set()
    for name in state.left:
        columns = seals.SEALED[name][1]
        table = schema.Base.metadata.tables[name]
        rows = conn.execute(select(*([table.c[c] for c in columns] or [literal(1)]))
                            .select_from(table).distinct()).mappings()
        left |= seals.keys_of_rows(name, rows)
    digests.update(seals.digests(conn, left))
    return digests


def _events_by_id(conn: Connection, ids: list[int], chunk: int = 10_000) -> dict[int, dict]:
    """The events `ids` as the row code reads them, by id."""
    event = schema.Event
    rows = {}
    for start in range(0, len(ids), chunk):
        for row in conn.execute(select(event).where(
                event.event_id.in_(ids[start:start + chunk]))).mappings():
            rows[row["event_id"]] = dict(row)
    return rows


def verify(engine: Engine) -> Verification:
    """Run every check on the base behind `engine` (read-only)."""
    key = journal.journal_key(create=False)
    result = Verification()
    if key is None:
        result.problems.append(f"clé du journal introuvable ({journal.key_path()}) : les "
                               "signatures ne peuvent pas être vérifiées")
    with reading(engine).connect() as conn:
        # the first read opens the snapshot: on SQLite no other process commits until the
        # end, so the connections reading in bulk see the same base
        conn.execute(select(func.max(schema.Event.event_id))).scalar()
        with bulk_audit.reader(engine) as bulk, bulk_audit.reader(engine) as side:
            found = read_in_bulk(conn, bulk, side, key) if bulk is not None else None
            found = found or read_by_rows(conn, key)
            result.events = len(found.hashes)
            result.problems += found.chain
            result.problems += check_checkpoint(engine, found.hashes, key)
            result.problems += check_seals(found.sealed, found.current)
            result.groups = len(found.current)
            result.attachments, problems = check_attachments(conn, found.cited)
            result.problems += problems
    return result
