"""User accounts: scrypt password hashes (never the password itself), and their administration
(creation, operations granted, disabling, password reset by a one-time code), each an event
of the journal sealing the account as it leaves it."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, update

from gesprokit.audit import append_events, writing
from gesprokit.errors import GesprokitError
from gesprokit.schema import ROLES, Company, Operation, OperationGrant, PasswordReset, User

# OWASP's recommendation for scrypt (2^17, 8, 1): ~0.6 s and 128 MiB per hash on a 2-core
# machine. Hashes made with other parameters still verify and are redone at the next login.
DEFAULT_SCRYPT = {"n": 2**17, "r": 8, "p": 1}
SCRYPT = dict(DEFAULT_SCRYPT)
SCRYPT_MAXMEM = 2**28  # 256 MiB: above the 128 × r × n bytes scrypt needs


def hash_password(password: str, params: dict | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` with a random 16-byte salt."""
    params = params or SCRYPT
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32,
                            maxmem=SCRYPT_MAXMEM, **params)
    return f"scrypt${params['n']}${params['r']}${params['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    """Constant-time comparison of `password` with a stored scrypt hash."""
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    computed = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), dklen=32,
                              n=int(n), r=int(r), p=int(p), maxmem=SCRYPT_MAXMEM)
    return hmac.compare_digest(computed.hex(), digest)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash was made with other parameters than today's."""
    _, n, r, p, *_ = stored.split("$")
    return (int(n), int(r), int(p)) != (SCRYPT["n"], SCRYPT["r"], SCRYPT["p"])


MIN_PASSWORD = 8
RESET_VALIDITY = timedelta(hours=24)


def _check_new_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise GesprokitError(f"mot de passe trop court ({MIN_PASSWORD} caractères au moins)")


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _valid_email(email) -> str:
    """The e-mail in lower case, or a French error: an account is reached by e-mail."""
    text = str(email or "").strip().lower()
    if not EMAIL.fullmatch(text) or len(text) > 200:
        raise GesprokitError(f"adresse électronique invalide « {text} » (attendu par exemple "
                             "prenom.nom@entreprise.fr)")
    return text


def _audited(conn: Connection, email: str, action: str, actor: str, now: datetime,
             after: dict) -> None:
    append_events(conn, [{"at": now, "actor": actor, "role": "admin", "action": action,
                          "after": json.dumps({"email": email, **after}, ensure_ascii=False,
                                              sort_keys=True)}],
                  sealed=[("account", email)])


def _account(conn: Connection, email: str) -> dict:
    row = conn.execute(select(User).where(User.email == email.strip().lower())
                       ).mappings().first()
    if row is None:
        raise GesprokitError(f"compte « {email} » inconnu")
    return dict(row)


def _operations(conn: Connection, codes: Iterable[str]) -> list[str]:
    codes = sorted({str(c).strip() for c in codes})
    known = set(conn.execute(select(Operation.code)).scalars())
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise GesprokitError(f"opération « {unknown[0]} » inconnue (opérations : "
                             f"{', '.join(sorted(known)) or 'aucune'})")
    return codes


def create_user(engine: Engine, email: str, name: str, company_code: str, role: str,
                password: str, now: datetime | None = None, actor: str = "admin",
                operations: Iterable[str] = ()) -> None:
    """Create an account granted `operations` (one event in the audit log); refuses unknown
    roles, companies and operations."""
    if role not in ROLES:
        raise GesprokitError(f"rôle « {role} » inconnu (rôles : {', '.join(ROLES)})")
    _check_new_password(password)
    email = _valid_email(email)
    if not isinstance(name, str) or not name.strip():
        raise GesprokitError("nom de la personne obligatoire")
    name = name.strip()
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        if conn.execute(select(Company.code).where(Company.code == company_code)).first() is None:
            raise GesprokitError(f"entreprise « {company_code} » inconnue")
        if conn.execute(select(User.email).where(User.email == email)).first():
            raise GesprokitError(f"le compte « {email} » existe déjà")
        codes = _operations(conn, operations)
        conn.execute(insert(User).values(email=email, name=name, company_code=company_code,
                                         role=role, password_hash=hash_password(password)))
        if codes:
            conn.execute(insert(OperationGrant), [
                dict(email=email, operation_code=c, granted_at=now, granted_by=actor)
                for c in codes])
        _audited(conn, email, "create_user", actor, now, {"role": role, "operations": codes})


def grant(engine: Engine, email: str, operation: str, actor: str = "admin",
          now: datetime | None = None) -> bool:
    """Let the account act in `operation`; False when it already could."""
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        email = _account(conn, email)["email"]
        [code] = _operations(conn, [operation])
        if conn.execute(select(OperationGrant.email).where(
                OperationGrant.email == email, OperationGrant.operation_code == code)).first():
            return False
        conn.execute(insert(OperationGrant).values(email=email, operation_code=code,
                                                   granted_at=now, granted_by=actor))
        _audited(conn, email, "grant", actor, now, {"operation": code})
    return True


def revoke(engine: Engine, email: str, operation: str, actor: str = "admin",
           now: datetime | None = None) -> bool:
    """Withdraw `operation` from the account (its open sessions are refused at their next
    action); False when it had no such right."""
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        email = _account(conn, email)["email"]
        gone = conn.execute(delete(OperationGrant).where(
            OperationGrant.email == email, OperationGrant.operation_code == operation.strip()))
        if gone.rowcount == 0:
            return False
        _audited(conn, email, "revoke", actor, now, {"operation": operation.strip()})
    return True


def set_disabled(engine: Engine, email: str, disabled: bool, actor: str = "admin",
                 now: datetime | None = None) -> bool:
    """Disable (no login, every open session refused at once) or re-enable an account;
    False when it already was in that state."""
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        account = _account(conn, email)
        if (account["disabled_at"] is not None) == disabled:
            return False
        conn.execute(update(User).where(User.email == account["email"]).values(
            disabled_at=now if disabled else None))
        _audited(conn, account["email"], "disable_user" if disabled else "enable_user",
                 actor, now, {})
    return True


def start_password_reset(engine: Engine, email: str, actor: str = "admin",
                         now: datetime | None = None) -> str:
    """A one-time code (valid RESET_VALIDITY) letting the account choose a new password; only
    its SHA-256 is stored. The caller sends it to the account's e-mail address."""
    now = (now or datetime.now()).replace(microsecond=0)
    code = secrets.token_urlsafe(12)
    with writing(engine) as conn:
        account = _account(conn, email)
        conn.execute(delete(PasswordReset).where(PasswordReset.email == account["email"]))
        conn.execute(insert(PasswordReset).values(
            token_sha256=hashlib.sha256(code.encode()).hexdigest(), email=account["email"],
            created_at=now, expires_at=now + RESET_VALIDITY))
        _audited(conn, account["email"], "reset_password", actor, now, {})
    return code


def finish_password_reset(engine: Engine, email: str, code: str, password: str,
                          now: datetime | None = None) -> None:
    """Set a new password with a reset code: once, before it expires, for its own account.
    Every session opened with the old password is refused at its next action."""
    _check_new_password(password)
    now = (now or datetime.now()).replace(microsecond=0)
    digest = hashlib.sha256(str(code).strip().encode()).hexdigest()
    with writing(engine) as conn:
        row = conn.execute(select(PasswordReset).where(
            PasswordReset.token_sha256 == digest)).mappings().first()
        if (row is None or row["email"] != email.strip().lower() or row["used_at"] is not None
                or row["expires_at"] < now):
            raise GesprokitError("code de réinitialisation invalide, déjà utilisé ou expiré : "
                                 "demandez-en un nouveau à l'administrateur")
        conn.execute(update(PasswordReset).where(PasswordReset.token_sha256 == digest).values(
            used_at=now))
        conn.execute(update(User).where(User.email == row["email"]).values(
            password_hash=hash_password(password)))
        _audited(conn, row["email"], "set_password", row["email"], now, {})


def record_rehash(engine: Engine, email: str, new_hash: str, now: datetime | None = None) -> None:
    """Store a password hash redone at today's cost (at login), sealed like any change."""
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        conn.execute(update(User).where(User.email == email).values(password_hash=new_hash))
        _audited(conn, email, "rehash_password", email, now, {})


def accounts_frame(engine: Engine):
    """Every account with its operations, for the administration page (no hash)."""
    import pandas as pd

    from gesprokit.db import reading

    with reading(engine).connect() as conn:
        users = conn.execute(select(User.email, User.name, User.company_code, User.role,
                                    User.disabled_at).order_by(User.email)).mappings().all()
        grants = conn.execute(select(OperationGrant.email, OperationGrant.operation_code)).all()
    codes: dict[str, list[str]] = {}
    for email, code in grants:
        codes.setdefault(email, []).append(code)
    return pd.DataFrame([{**u, "operations": sorted(codes.get(u["email"], []))}
                         for u in users],
                        columns=["email", "name", "company_code", "role", "disabled_at",
                                 "operations"])


def granted_accounts(conn: Connection, operation_code: str, roles: Iterable[str] | None = None,
                     acting_only: bool = True) -> list:
    """The enabled accounts granted the operation (email, role, company_code), of `roles`
    only when given: who may be told of what happens in it. With `acting_only`, an MOA
    account counts only when its company acts for the owner today (the owner itself or a
    mandataire in force, gesprokit.mandates)."""
    query = select(User.email, User.role, User.company_code).join(
        OperationGrant, OperationGrant.email == User.email).where(
        OperationGrant.operation_code == operation_code, User.disabled_at.is_(None))
    if roles is not None:
        query = query.where(User.role.in_(list(roles)))
    accounts = conn.execute(query.order_by(User.email)).all()
    if not acting_only or not any(a.role == "moa" for a in accounts):
        return accounts
    from datetime import date

    from gesprokit.mandates import acts_for_owner

    today = date.today()
    acting = {c: acts_for_owner(conn, c, operation_code, today)
              for c in {a.company_code for a in accounts if a.role == "moa"}}
    return [a for a in accounts if a.role != "moa" or acting[a.company_code]]
