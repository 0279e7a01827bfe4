"""What proves the journal from outside the database: a secret key and checkpoints.

Every event carries, besides its SHA-256 chain hash, an HMAC of that hash made with a key
kept in a file outside the database (``journal.key`` in the secrets folder): whoever edits
the base alone cannot re-chain or forge events that verify. After each committed write the
newest event is recorded as a checkpoint in that same folder: deleting the last events of a
journal leaves the checkpoint pointing at an event that no longer exists.

The secrets folder is ``$GESPROKIT_SECRETS_DIR``, else ``$XDG_CONFIG_HOME/gesprokit``, else
``~/.config/gesprokit``. Whoever holds it can sign: it belongs on the application server,
readable by the service account only, never beside a copy of the base.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from gesprokit.errors import GesprokitError

KEY_FILE = "journal.key"


def secrets_dir() -> Path:
    """The folder holding the journal key and the checkpoints."""
    explicit = os.environ.get("GESPROKIT_SECRETS_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "gesprokit"


def _private_folder(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise GesprokitError(f"dossier des secrets du journal « {path} » impossible à créer "
                             f"({exc.strerror}) : définissez GESPROKIT_SECRETS_DIR") from None
    return path


def key_path() -> Path:
    return secrets_dir() / KEY_FILE


def journal_key(create: bool = True) -> bytes | None:
    """The journal's secret key (created, readable by its owner only, on first use); None
    when it does not exist and `create` is false."""
    path = key_path()
    if not path.exists():
        if not create:
            return None
        _private_folder(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
    text = path.read_text(encoding="ascii").strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise GesprokitError(f"clé du journal « {path} » illisible") from None


def mac(key: bytes, text: str) -> str:
    """HMAC-SHA256 of `text` under `key`, in hex."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def macs(key: bytes, texts: list[str]) -> list[str]:
    """:func:`mac` of each text, without a Python call per text (a journal's worth of
    signatures checked at once): HMAC written out, SHA-256 of the padded key and the text,
    then of the other padded key and that digest."""
    sha256 = hashlib.sha256
    block = sha256().block_size
    if len(key) > block:
        key = sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner, outer = bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)
    digest, hexdigest = type(sha256()).digest, type(sha256()).hexdigest
    firsts = map(digest, map(sha256, map(inner.__add__, map(str.encode, texts))))
    return list(map(hexdigest, map(sha256, map(outer.__add__, firsts))))


def database_identity(engine: Engine) -> str:
    """A stable name for the base behind `engine` (its URL, password left out, a relative
    SQLite path made absolute), so every process writes the same checkpoint file."""
    from gesprokit.db import absolute_database_url

    url = make_url(absolute_database_url(engine.url.render_as_string(hide_password=False)))
    url = url.set(password=None, drivername=url.get_backend_name())
    return hashlib.sha256(url.render_as_string().encode("utf-8")).hexdigest()[:24]


def checkpoint_path(engine: Engine) -> Path:
    return secrets_dir() / "checkpoints" / f"{database_identity(engine)}.json"


def read_checkpoints(engine: Engine) -> dict[str, dict]:
    """The checkpoints of this base: {first event hash: {"hash", "at", "mac"}}, one per
    journal it held (a base re-created at the same address starts a new journal)."""
    path = checkpoint_path(engine)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {"?": {"hash": "", "at": "", "mac": ""}}  # unreadable: verify says so
    return data if isinstance(data, dict) else {"?": {"hash": "", "at": "", "mac": ""}}


def checkpoint_mac(key: bytes, first: str, last: str) -> str:
    return mac(key, f"checkpoint|{first}|{last}")


def record_checkpoint(engine: Engine, first_hash: str, last_hash: str, event_id: int,
                      lost: dict | None = None) -> None:
    """Record event `event_id` (`last_hash`) as the newest committed event of the journal
    starting with `first_hash` (called after the commit; under a lock, never backwards).
    `lost` is the previous checkpoint when its event had vanished from the base: it is kept
    in the file's ``lost`` list, so that a later write does not erase the evidence."""
    key = journal_key()
    path = checkpoint_path(engine)
    _private_folder(path.parent)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = read_checkpoints(engine)
        data.pop("?", None)
        if lost is not None:
            data.setdefault("lost", []).append({**lost, "first": first_hash})
        if data.get(first_hash, {}).get("event_id", 0) > event_id and lost is None:
            return
        data[first_hash] = {"event_id": event_id, "hash": last_hash,
                            "at": datetime.now().isoformat(timespec="seconds"),
                            "mac": checkpoint_mac(key, first_hash, last_hash)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
