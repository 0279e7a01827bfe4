"""User accounts: scrypt password hashes (never the password itself) and account creation."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from sqlalchemy import Engine, insert, select

from gesprokit.audit import append_events
from gesprokit.errors import GesprokitError
from gesprokit.schema import ROLES, Company, User

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


def create_user(engine: Engine, email: str, name: str, company_code: str, role: str,
                password: str, now=None, actor: str = "admin") -> None:
    """Create an account (one event in the audit log); refuses unknown roles and companies."""
    from datetime import datetime

    if role not in ROLES:
        raise GesprokitError(f"rôle « {role} » inconnu (rôles : {', '.join(ROLES)})")
    if len(password) < 8:
        raise GesprokitError("mot de passe trop court (8 caractères au moins)")
    with engine.begin() as conn:
        if conn.execute(select(Company.code).where(Company.code == company_code)).first() is None:
            raise GesprokitError(f"entreprise « {company_code} » inconnue")
        if conn.execute(select(User.email).where(User.email == email.lower())).first():
            raise GesprokitError(f"le compte « {email} » existe déjà")
        conn.execute(insert(User).values(email=email.lower(), name=name,
                                         company_code=company_code, role=role,
                                         password_hash=hash_password(password)))
        append_events(conn, [{"at": now or datetime.now(), "actor": actor, "role": "admin",
                              "action": "create_user",
                              "after": json.dumps({"email": email.lower(), "role": role})}])
