"""A logged-in session: every read and action goes through it, with the user's rights.

An account sees and acts only within the operations it is granted; within them a
contractor or co-contractor sees its company's contracts, a subcontractor the contracts it
is declared on, the other roles every contract. A situation still in draft is seen only by
its contractor; an auditor reads and writes nothing; an administrator manages accounts.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from functools import cache

import pandas as pd
from sqlalchemy import Engine, func, select

from gesprokit import schema, throttle, workflow
from gesprokit.accounts import check_password, hash_password, needs_rehash, record_rehash
from gesprokit.db import get_engine, reading
from gesprokit.ledger import Ledger, ledger_from_frames
from gesprokit.schema import OperationGrant, User
from gesprokit.store import Frames, load_frames
from gesprokit.workflow import Actor
from gesprokit.workflow_errors import AuthenticationFailed

ADMIN_ACTIONS = ("create_user", "grant", "revoke", "set_disabled", "start_password_reset")
ACTIONS = ("create_situation", "enter_progress", "submit", "verify", "issue", "accept",
           "return_to_moe", "record_guarantee", "declare_subcontract", "validate", "interrupt",
           "resume", "pay", "pay_advance")
DIRECT_PAYMENT_ACTIONS = ("request_direct_payment", "decide_direct_payment",
                          "pay_direct_payment", "pay_subcontract_advance")
END_OF_CONTRACT_ACTIONS = ("record_reception", "lift_reserves", "extend_guarantee",
                           "submit_final", "settle_final", "sign_general", "answer_general",
                           "notify_tacit", "pay_solde", "release_retention",
                           "release_guarantee", "notify_final_revision")
PROFILE_ACTIONS = ("update_profile",)


class Session:
    """The rights of one user over one database; actions are its methods."""

    def __init__(self, engine: Engine, actor: Actor, password_hash: str | None = None,
                 clock=time.monotonic):
        self.engine = engine
        self.actor = actor
        self._password_hash = password_hash
        self._clock = clock
        self.last_used = clock()
        self._read: tuple[int | None, Frames] | None = None  # (journal's newest event, frames)
        for name in ACTIONS:
            setattr(self, name, self._action(name, workflow))
        from gesprokit import company_profile, direct_payment, end_of_contract, messages

        for name in PROFILE_ACTIONS:
            setattr(self, name, self._action(name, company_profile))
        self.post_message = self._action("post_message", messages)
        for name in DIRECT_PAYMENT_ACTIONS:
            setattr(self, name, self._action(name, direct_payment))
        for name in END_OF_CONTRACT_ACTIONS:
            setattr(self, name, self._action(name, end_of_contract))

    def _action(self, name: str, module):
        def run(*args, **kwargs):
            self.check_account()
            return getattr(module, name)(self.engine, self.actor, *args, **kwargs)
        run.__name__ = name
        return run

    def administer(self, name: str, *args, **kwargs):
        """Run an account administration of gesprokit.accounts (grant, revoke, set_disabled,
        start_password_reset, create_user) as this administrator; refused to other roles."""
        from gesprokit import accounts
        from gesprokit.workflow_errors import PermissionDenied

        if name not in ADMIN_ACTIONS:
            raise PermissionDenied(f"Administration « {name} » inconnue.")
        self.check_account()
        if self.actor.role != "admin":
            raise PermissionDenied("Réservé à l'administrateur des comptes.")
        if name == "set_disabled" and args and str(args[0]).strip().lower() == self.actor.email:
            raise PermissionDenied("Un administrateur ne désactive pas son propre compte : "
                                   "demandez-le à un autre administrateur.")
        return getattr(accounts, name)(self.engine, *args, actor=self.actor.email, **kwargs)

    def touch(self) -> None:
        """Note that the user just did something (for the idle expiry)."""
        self.last_used = self._clock()

    def idle_seconds(self) -> float:
        return self._clock() - self.last_used

    def check_account(self) -> None:
        """Refuse at once when the account was removed, demoted, moved to another company or
        had its password changed since the login (every action calls this first)."""
        self.touch()
        found = account(self.engine, self.actor.email)
        if found is None or found[0] != self.actor or (
                self._password_hash is not None and found[1] != self._password_hash):
            raise AuthenticationFailed("Votre compte a changé depuis la connexion (rôle, "
                                       "entreprise, opérations ou mot de passe) : "
                                       "reconnectez-vous.")

    def visible_contracts(self, frames: Frames) -> list[str]:
        """The contracts this account may read (see the module docstring)."""
        contracts = frames.contracts
        if self.actor.operations is not None:
            contracts = contracts[contracts["operation_code"].isin(self.actor.operations)]
        if self.actor.role in ("contractor", "cocontractor"):
            contracts = contracts[contracts["company_code"] == self.actor.company_code]
        elif self.actor.role == "subcontractor":
            subs = frames.subcontracts
            mine = subs.loc[subs["company_code"] == self.actor.company_code, "contract_id"]
            contracts = contracts[contracts["contract_id"].isin(mine)]
        elif self.actor.role == "admin":
            contracts = contracts.iloc[0:0]
        return contracts["contract_id"].tolist()

    def frames(self) -> Frames:
        """The tables this user may read (drafts of others removed), only their contracts'
        rows read; refused at once, like an action, when the account changed since the
        login."""
        self.check_account()
        newest = self._newest_event()
        if self._read is not None and self._read[0] == newest:
            return _shallow(self._read[1])  # nothing written since: a page's several reads
        frames = self._read_frames()        # of one refresh read the base once
        self._read = (newest, frames)
        return _shallow(frames)

    def thread(self, contract_id: str, n: int):
        """The situation's messages this account may read (gesprokit.messages)."""
        from gesprokit.messages import thread

        self.check_account()
        return thread(self.engine, self.actor, contract_id, n)

    def profile(self) -> dict | None:
        """The account's company's profile (gesprokit.company_profile), or None."""
        from gesprokit.company_profile import profile

        self.check_account()
        with self.engine.connect() as conn:
            return profile(conn, self.actor.company_code)

    def bank_details(self) -> dict[str, dict]:
        """The profiles of the companies this account may pay or read: the titulaires and
        subcontractors of its contracts."""
        from gesprokit.company_profile import profiles

        frames = self.frames()
        codes = set(frames.contracts["company_code"]) | set(frames.subcontracts["company_code"])
        with self.engine.connect() as conn:
            return profiles(conn, codes)

    def _newest_event(self) -> int | None:
        """The journal's newest event: every change to the base appends one, so the same
        newest event means the same rows."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(schema.Event.event_id))).scalar()

    def _read_frames(self) -> Frames:
        # who may read what is known from two small tables: then only those contracts' rows
        # are read (a contractor's panel on a large base reads its own contracts only)
        head = load_frames(self.engine, tables={"contracts", "subcontracts"})
        keep = self.visible_contracts(head)
        own = set(keep) if self.actor.role == "contractor" else set()
        everything = len(keep) == len(head.contracts)  # read whole: the bulk path is faster
        frames = load_frames(self.engine, None if everything else keep)
        if everything:
            frames.events = frames.events[frames.events["contract_id"].isin(keep)
                                          ].reset_index(drop=True)
        if self.actor.operations is not None:
            ops = frames.operations
            frames.operations = ops[ops["code"].isin(self.actor.operations)
                                    ].reset_index(drop=True)
            frames.lots = frames.lots[frames.lots["operation_code"].isin(self.actor.operations)
                                      ].reset_index(drop=True)
        sits = frames.situations
        hidden = sits[(sits["status"] == "draft") & ~sits["contract_id"].isin(own)]
        if len(hidden):
            keys = pd.MultiIndex.from_frame(hidden[["contract_id", "n"]])
            for name in ("situations", "progress", "adjustments"):
                df = getattr(frames, name)
                shown = ~pd.MultiIndex.from_frame(df[["contract_id", "n"]]).isin(keys)
                setattr(frames, name, df[shown].reset_index(drop=True))
        return frames

    def situations(self) -> pd.DataFrame:
        return self.frames().situations

    def ledger(self, as_of: datetime | None = None) -> Ledger:
        return ledger_from_frames(self.frames(), as_of=as_of)

    def refusal(self, action: str, contract_id: str, n: int | None = None):
        """The error `action` would raise now (None: allowed), for a button's state."""
        frames = self.frames()
        contract = frames.contracts[frames.contracts["contract_id"] == contract_id]
        if contract.empty:
            from gesprokit.workflow_errors import PermissionDenied

            return PermissionDenied(f"Le marché « {contract_id} » n'est pas dans votre "
                                    "périmètre (opérations accordées à votre compte).")
        company = contract["company_code"].iloc[0]
        sit = frames.situations[(frames.situations["contract_id"] == contract_id)
                                & (frames.situations["n"] == n)]
        if sit.empty:
            return workflow.refusal(self.actor, action, "draft" if n is None else None, company,
                                    operation=contract["operation_code"].iloc[0]
                                    if len(contract) else None)
        row = sit.iloc[0]
        operation = contract["operation_code"].iloc[0] if len(contract) else None
        return workflow.refusal(self.actor, action, row["status"], company,
                                pd.notna(row["interrupted_at"]), pd.notna(row["resumed_at"]),
                                operation=operation) or self.mandate_refusal(operation, action)

    def mandate_refusal(self, operation: str | None, action: str):
        """Why an MOA account of a mandataire may not do `action` today (None: it may)."""
        if self.actor.role != "moa":
            return None
        from gesprokit.mandates import mandate_refusal

        with reading(self.engine).connect() as conn:
            return mandate_refusal(conn, self.actor, operation, action, datetime.now().date())


def _shallow(frames: Frames) -> Frames:
    """A copy of the frames the caller may change freely (copy-on-write: no data copied)."""
    return Frames(**{name: getattr(frames, name).copy(deep=False)
                     for name in frames.__dataclass_fields__})


def account(engine: Engine, email: str) -> tuple[Actor, str | None] | None:
    """The actor of the enabled account with this e-mail (case and spaces ignored), with the
    operations it is granted, and its password hash; None when unknown or disabled."""
    with reading(engine).connect() as conn:
        user = conn.execute(select(User).where(User.email == str(email).strip().lower())
                            ).mappings().first()
        if user is None or user["disabled_at"] is not None:
            return None
        operations = frozenset(conn.execute(select(OperationGrant.operation_code).where(
            OperationGrant.email == user["email"])).scalars())
    return (Actor(email=user["email"], role=user["role"], company_code=user["company_code"],
                  name=user["name"], operations=operations), user["password_hash"])


@cache
def _unknown_account_hash() -> str:
    return hash_password(secrets.token_hex(16))


def connect(db_url: str | Engine | None, email: str, password: str,
            now: datetime | None = None) -> Session:
    """Log in: a :class:`Session` if the password matches, AuthenticationFailed otherwise
    (also while too many wrong passwords were just typed for this e-mail)."""
    engine = db_url if isinstance(db_url, Engine) else get_engine(db_url)
    now = now or datetime.now()
    if not isinstance(password, str) or not isinstance(email, str):
        raise AuthenticationFailed("Adresse électronique ou mot de passe incorrect.")
    key = str(email).strip().lower()
    recent_failures = throttle.check_allowed(engine, key, now)
    found = account(engine, email)
    # an unknown e-mail costs the same scrypt as a known one: timing tells nothing
    stored = found[1] if found is not None else _unknown_account_hash()
    if not check_password(password, stored) or found is None:
        throttle.record_failure(engine, key, now)
        raise AuthenticationFailed("Adresse électronique ou mot de passe incorrect.")
    if recent_failures:
        throttle.clear_failures(engine, key)
    stored = found[1]
    if needs_rehash(stored):  # made at an older cost: redone now that the password is known
        stored = hash_password(password)
        record_rehash(engine, found[0].email, stored, now)
    return Session(engine, found[0], stored)
