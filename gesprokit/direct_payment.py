"""A directly paid subcontractor's own payments (R2193-11..21): its monthly request, the
titulaire's acceptance or refusal, the treasury's payment, and its advance.

The subcontractor deposits its request for a situation (the A10 piece); the titulaire has
15 days to accept or refuse it, with a reason, after which the request is deemed accepted
(R2193-12/13). The payment delay runs from the acceptance the buyer knows of: the express
one, or the 15th day (:func:`known_acceptance`). The amount is the ledger's: what the état
of that situation pays the subcontractor directly. Each action is a workflow action like
the others: permission, one transaction, one chained event sealing the contract.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from gesprokit import inputs, schema
from gesprokit.chorus.frames import SUBCONTRACTOR_VALIDATION_DAYS
from gesprokit.workflow import Actor, contract_action, record_advance_payment
from gesprokit.workflow_errors import (
    InvalidTransition,
    PermissionDenied,
    StaleState,
    ValidationError,
)

ACCEPTANCE_DAYS = SUBCONTRACTOR_VALIDATION_DAYS
PAYABLE_STATUSES = ("validated", "paid")  # the MOA validated the état that includes it


def deemed_accepted_at(deposited_at: datetime) -> datetime:
    """When a request nobody answered is deemed accepted (R2193-13): once the titulaire's
    15 days have expired, i.e. at the start of the day after the 15th day from the deposit
    (the titulaire may still answer on the 15th day)."""
    day = deposited_at.date() + timedelta(days=ACCEPTANCE_DAYS + 1)
    return datetime(day.year, day.month, day.day)


def known_acceptance(requests: pd.DataFrame, now: datetime) -> pd.Series:
    """When the buyer knows each request is accepted (NaT: not yet, or refused): the
    titulaire's express acceptance, else the tacit one (:func:`deemed_accepted_at`) once it
    is past."""
    deemed = pd.to_datetime(requests["deposited_at"]).map(
        lambda at: deemed_accepted_at(at.to_pydatetime()) if pd.notna(at) else pd.NaT)
    deemed = pd.to_datetime(deemed)
    express = pd.to_datetime(requests["decided_at"]).where(requests["decision"] == "accepted")
    silent = requests["decision"].isna() & (deemed <= pd.Timestamp(now))
    return express.where(express.notna(), deemed.where(silent)).astype("datetime64[us]")


def _subcontract(conn: Connection, subcontract_id: str):
    row = conn.execute(select(schema.Subcontract).where(
        schema.Subcontract.subcontract_id == subcontract_id)).first()
    if row is None:
        raise ValidationError(f"Sous-traité « {subcontract_id} » inconnu.")
    return row


def _contract_of(engine: Engine, subcontract_id: str) -> str:
    with engine.connect() as conn:
        return _subcontract(conn, subcontract_id).contract_id


def _request(conn: Connection, subcontract_id: str, n: int):
    return conn.execute(select(schema.DirectPaymentRequest).where(
        schema.DirectPaymentRequest.subcontract_id == subcontract_id,
        schema.DirectPaymentRequest.n == n)).first()


def request_direct_payment(engine: Engine, actor: Actor, subcontract_id: str, n: int, *,
                           comment: str | None = None, now: datetime | None = None) -> dict:
    """The subcontractor deposits its payment request for situation `n` (again after a
    refusal: the new deposit starts a new 15 days)."""
    now = (now or datetime.now()).replace(microsecond=0)
    comment = comment.strip() or None if isinstance(comment, str) else None

    def write(conn: Connection) -> dict:
        sub = _subcontract(conn, subcontract_id)
        if sub.company_code != actor.company_code:
            raise PermissionDenied(f"Le sous-traité « {subcontract_id} » n'est pas celui de "
                                   "votre entreprise.")
        if not sub.direct_payment:
            raise InvalidTransition(f"Le sous-traité « {subcontract_id} » n'est pas en "
                                    "paiement direct : la demande va au titulaire.")
        situation = conn.execute(select(schema.Situation.month).where(
            schema.Situation.contract_id == sub.contract_id,
            schema.Situation.n == n)).first()
        if situation is None:
            raise ValidationError(f"Le marché {sub.contract_id} n'a pas de situation n°{n}.")
        previous = _request(conn, subcontract_id, n)
        row = dict(deposited_at=now, deposited_by=actor.email, comment=comment,
                   decision=None, decided_at=None, decided_by=None, reason=None)
        if previous is None:
            conn.execute(insert(schema.DirectPaymentRequest).values(
                subcontract_id=subcontract_id, n=n, contract_id=sub.contract_id, **row))
        elif previous.decision == "refused":
            conn.execute(update(schema.DirectPaymentRequest).where(
                schema.DirectPaymentRequest.subcontract_id == subcontract_id,
                schema.DirectPaymentRequest.n == n,
                schema.DirectPaymentRequest.decided_at == previous.decided_at).values(**row))
        else:
            raise InvalidTransition(f"La demande de paiement de la situation n°{n} est déjà "
                                    f"déposée (le {previous.deposited_at:%d/%m/%Y}).")
        return {"subcontract_id": subcontract_id, "n": n, "deposited_at": now.isoformat()}
    return contract_action(engine, actor, _contract_of(engine, subcontract_id),
                           "subcontractor", "request_direct_payment", write, now)


def decide_direct_payment(engine: Engine, actor: Actor, subcontract_id: str, n: int,
                          accept: bool, *, reason: str | None = None,
                          now: datetime | None = None) -> dict:
    """The titulaire accepts or refuses (with its reason) its subcontractor's request, within
    15 days of the deposit (through the 15th day); after them the request is already deemed
    accepted."""
    now = (now or datetime.now()).replace(microsecond=0)
    if not accept:
        reason = inputs.text(reason, "Motif du refus")

    def write(conn: Connection) -> dict:
        sub = _subcontract(conn, subcontract_id)
        contract = conn.execute(select(schema.Contract.company_code).where(
            schema.Contract.contract_id == sub.contract_id)).one()
        if contract.company_code != actor.company_code:
            raise PermissionDenied("Seul le titulaire du marché accepte ou refuse les demandes "
                                   "de ses sous-traitants.")
        request = _request(conn, subcontract_id, n)
        if request is None:
            raise InvalidTransition(f"Aucune demande du sous-traitant pour la situation n°{n}.")
        if request.decision is not None:
            word = "acceptée" if request.decision == "accepted" else "refusée"
            raise InvalidTransition(f"La demande de la situation n°{n} est déjà {word}.")
        deemed = deemed_accepted_at(request.deposited_at)
        if now >= deemed:
            raise InvalidTransition(
                f"Le délai de {ACCEPTANCE_DAYS} jours est passé : la demande est réputée "
                f"acceptée depuis le {deemed:%d/%m/%Y} (R2193-13).")
        decision = "accepted" if accept else "refused"
        done = conn.execute(update(schema.DirectPaymentRequest).where(
            schema.DirectPaymentRequest.subcontract_id == subcontract_id,
            schema.DirectPaymentRequest.n == n,
            schema.DirectPaymentRequest.decision.is_(None),
            schema.DirectPaymentRequest.deposited_at == request.deposited_at).values(
            decision=decision, decided_at=now, decided_by=actor.email,
            reason=None if accept else reason))
        if done.rowcount != 1:
            raise StaleState("Cette demande vient d'être traitée par un autre utilisateur : "
                             "actualisez la page.")
        return {"subcontract_id": subcontract_id, "n": n, "decision": decision,
                **({} if accept else {"reason": reason})}
    return contract_action(engine, actor, _contract_of(engine, subcontract_id), "contractor",
                           "decide_direct_payment", write, now)


def pay_direct_payment(engine: Engine, actor: Actor, subcontract_id: str, n: int, *,
                       now: datetime | None = None) -> dict:
    """Treasury records the direct payment of an accepted request whose état is validated."""
    now = (now or datetime.now()).replace(microsecond=0)

    def write(conn: Connection) -> dict:
        sub = _subcontract(conn, subcontract_id)
        request = _request(conn, subcontract_id, n)
        if request is None:
            raise InvalidTransition(f"Aucune demande du sous-traitant pour la situation n°{n}.")
        if request.paid_at is not None:
            raise InvalidTransition(f"La demande de la situation n°{n} est déjà payée (le "
                                    f"{request.paid_at:%d/%m/%Y}).")
        if request.decision == "refused":
            raise InvalidTransition("Le titulaire a refusé cette demande : elle ne se paie pas.")
        if request.decision is None and now < deemed_accepted_at(request.deposited_at):
            raise InvalidTransition(
                "Le titulaire n'a pas encore accepté la demande (réputée acceptée le "
                f"{deemed_accepted_at(request.deposited_at):%d/%m/%Y}).")
        status = conn.execute(select(schema.Situation.status).where(
            schema.Situation.contract_id == sub.contract_id,
            schema.Situation.n == n)).scalar_one()
        if status not in PAYABLE_STATUSES:
            raise InvalidTransition(f"L'état d'acompte n°{n} n'est pas encore validé par le "
                                    "maître d'ouvrage.")
        done = conn.execute(update(schema.DirectPaymentRequest).where(
            schema.DirectPaymentRequest.subcontract_id == subcontract_id,
            schema.DirectPaymentRequest.n == n,
            schema.DirectPaymentRequest.paid_at.is_(None)).values(paid_at=now))
        if done.rowcount != 1:
            raise StaleState("Ce paiement vient d'être enregistré par un autre utilisateur : "
                             "actualisez la page.")
        return {"subcontract_id": subcontract_id, "n": n, "paid_at": now.isoformat()}
    return contract_action(engine, actor, _contract_of(engine, subcontract_id), "treasury",
                           "pay_direct_payment", write, now)


def pay_subcontract_advance(engine: Engine, actor: Actor, subcontract_id: str, *,
                            now: datetime | None = None) -> dict:
    """Treasury records the payment of a subcontractor's own advance (R2193-17..21): paid
    without a request, its deadline running from the acceptance."""
    now = (now or datetime.now()).replace(microsecond=0)

    def write(conn: Connection) -> dict:
        cents = record_advance_payment(conn, schema.Subcontract.subcontract_id,
                                       subcontract_id, f"sous-traité « {subcontract_id} »",
                                       now)
        return {"subcontract_id": subcontract_id, "advance_paid_at": now.isoformat(),
                "advance_cents": cents}
    return contract_action(engine, actor, _contract_of(engine, subcontract_id), "treasury",
                           "pay_subcontract_advance", write, now)
