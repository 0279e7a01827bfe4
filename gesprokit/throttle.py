"""Login throttling: after a few wrong passwords for an e-mail, every attempt on it waits,
the right password included, so that guessing a password by trying is too slow to work.

The failures are rows of the database (every served page is its own process, so they must
be shared); a successful login clears those of its e-mail. Unknown e-mails are counted
like known ones: the answer says nothing of whether an account exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, insert, select

from gesprokit.db import reading
from gesprokit.schema import LoginFailure
from gesprokit.workflow_errors import AuthenticationFailed

MAX_FAILURES = 5  # wrong passwords allowed within WINDOW before the account waits
WINDOW = timedelta(minutes=15)


def check_allowed(engine: Engine, email: str, now: datetime) -> int:
    """Refuse at once (French message with the wait) while `email` is locked out; else the
    number of recent failures (a login with none writes nothing)."""
    with reading(engine).connect() as conn:
        count, last = conn.execute(
            select(func.count(), func.max(LoginFailure.at)).where(
                LoginFailure.email == email, LoginFailure.at > now - WINDOW)).one()
    if count >= MAX_FAILURES:
        seconds = int(((last + WINDOW) - now).total_seconds())
        wait = max(1, -(-seconds // 60))  # whole minutes, rounded up
        raise AuthenticationFailed(
            f"Trop d'essais de connexion pour ce compte : réessayez dans {wait} minute(s).")
    return int(count)


def record_failure(engine: Engine, email: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(insert(LoginFailure).values(email=email, at=now))
        # the table only needs the recent past
        conn.execute(delete(LoginFailure).where(LoginFailure.at <= now - 2 * WINDOW))


def clear_failures(engine: Engine, email: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(LoginFailure).where(LoginFailure.email == email))
