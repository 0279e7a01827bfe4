"""``audit verify``: everything the journal proves, checked at once.

1. the chain: each event's SHA-256 and its link to the previous one;
2. the signatures: each event's HMAC under the journal's key (kept outside the base);
3. the checkpoint: the newest event recorded outside the base still exists (no truncation)
   and the journal is the one the checkpoints know (no replacement);
4. the seals: every group of state rows equals what its last event left (no change made
   outside an action, no row added or removed behind the journal's back);
5. the attachments: every stored file still has the SHA-256 it is filed under, and every
   file an event or a document refers to is there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from gesprokit import journal, schema, seals
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
    problems, bad_signatures = [], []
    expected_prev = GENESIS
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
    signed = sum(1 for ev in events if ev.get("mac"))
    if len(bad_signatures) > 1 and len(bad_signatures) == signed:
        return [*problems, f"aucune des {signed} signatures ne correspond : la clé du journal "
                           f"({journal.key_path()}) n'est pas celle de cette base"]
    return problems + bad_signatures


def check_checkpoint(engine: Engine, events: list[dict], key: bytes | None) -> list[str]:
    """The journal against the checkpoints recorded outside the base."""
    checkpoints = journal.read_checkpoints(engine)
    where = journal.checkpoint_path(engine)
    first = events[0]["hash"] if events else None
    problems = [f"point de contrôle disparu : l'événement n°{lost.get('event_id')} "
                f"(enregistré le {lost.get('at')}) manquait déjà lors d'une écriture "
                "suivante (journal tronqué)" for lost in checkpoints.pop("lost", [])
                if lost.get("first") == first]
    if "?" in checkpoints:
        return [*problems, f"fichier des points de contrôle illisible ({where})"]
    if not events:
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
            key, events[0]["hash"], entry.get("hash", "")):
        problems.append("point de contrôle falsifié (signature invalide)")
    if not any(ev["hash"] == entry.get("hash") for ev in events):
        problems.append(f"journal tronqué : l'événement n°{entry.get('event_id')} enregistré "
                        f"au point de contrôle du {entry.get('at')} n'existe plus")
    return problems


def last_seals(events: list[dict]) -> dict[str, str | None]:
    """The digest each group was last left with, by the events in order."""
    sealed: dict[str, str | None] = {}
    for ev in events:
        if ev.get("seal"):
            try:
                sealed.update(json.loads(ev["seal"]))
            except ValueError:
                continue  # its hash check already reports it
    return sealed


def check_seals(conn, events: list[dict]) -> tuple[int, list[str]]:
    """Every group of the base against its last seal."""
    sealed = last_seals(events)
    current = seals.digests(conn)
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
    return len(current), problems


def check_attachments(conn, events: list[dict]) -> tuple[int, list[str]]:
    """Re-hash every stored file; every referenced file must exist."""
    problems, stored = [], set()
    rows = conn.execute(select(schema.Attachment.sha256, schema.Attachment.name,
                               schema.Attachment.size, schema.Attachment.content))
    for sha, name, size, content in rows:
        stored.add(sha)
        if hashlib.sha256(content).hexdigest() != sha or len(content) != size:
            problems.append(f"pièce « {name} » : contenu remplacé (empreinte différente de "
                            "celle enregistrée)")
    referenced = {h for ev in events if ev.get("attachments")
                  for h in _hashes(ev["attachments"])}
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


def verify(engine: Engine) -> Verification:
    """Run every check on the base behind `engine` (read-only)."""
    key = journal.journal_key(create=False)
    result = Verification()
    if key is None:
        result.problems.append(f"clé du journal introuvable ({journal.key_path()}) : les "
                               "signatures ne peuvent pas être vérifiées")
    with reading(engine).connect() as conn:
        events = _event_rows(conn)
        result.events = len(events)
        result.problems += check_chain(events, key)
        result.problems += check_checkpoint(engine, events, key)
        result.groups, found = check_seals(conn, events)
        result.problems += found
        result.attachments, found = check_attachments(conn, events)
        result.problems += found
    return result
