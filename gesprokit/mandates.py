"""Delegated project ownership: the mandate of maîtrise d'ouvrage (CCP L2422-5 to L2422-13).

The owner (the MOA's own company) entrusts a company — a public developer, a SEM — on one
operation, for a period, with some of its powers: validating the états d'acompte, the payment
delay, the MOA's Chorus Pro pieces, the reception, the general account, the guarantees. The
mandataire's accounts hold the MOA role; they act **only within an active mandate** of their
company, in the owner's name, and each of their actions records the mandate it relies on.
The owner's own accounts (a company with no mandate on the operation) keep every power.

Granting and revoking a mandate are the owner's actions: one transaction, one chained event
sealing the mandate, a notice to the mandataire's accounts.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from gesprokit import inputs, schema
from gesprokit.audit import append_events, writing
from gesprokit.circuit import ACTION_LABELS
from gesprokit.months import format_date_fr
from gesprokit.notifications import inform
from gesprokit.workflow import Actor, out_of_scope
from gesprokit.workflow_errors import PermissionDenied, ValidationError

POWERS = {
    "validate": "valider et rectifier les états d'acompte",
    "delay": "interrompre et reprendre le délai de paiement",
    "chorus": "déposer et traiter dans Chorus Pro les pièces du maître d'ouvrage",
    "reception": "prononcer la réception, lever les réserves, prolonger le délai de garantie",
    "general": "signer le décompte général, notifier la révision du solde",
    "guarantees": "libérer les cautions et garanties",
}
# the MOA's actions and the power each needs
ACTION_POWER = {
    "validate": "validate", "interrupt": "delay", "resume": "delay",
    "chorus_deposit": "chorus", "chorus_receive": "chorus",
    "record_reception": "reception", "lift_reserves": "reception",
    "extend_guarantee": "reception", "sign_general": "general",
    "notify_final_revision": "general", "release_guarantee": "guarantees",
}
MAX_REFERENCE = 100


def _mandates(conn: Connection, operation: str, company: str) -> list[dict]:
    return [dict(r) for r in conn.execute(select(schema.MoaMandate).where(
        schema.MoaMandate.operation_code == operation,
        schema.MoaMandate.company_code == company).order_by(
        schema.MoaMandate.mandate_id)).mappings()]


def in_force(mandate: dict, on: date) -> bool:
    """Whether the mandate holds on that day (begun, not ended, not revoked)."""
    revoked = mandate["revoked_at"]
    return (mandate["starts_on"] <= on
            and (mandate["ends_on"] is None or on <= mandate["ends_on"])
            and (revoked is None or on < revoked.date()))


def owner_company(conn: Connection, operation: str) -> str | None:
    """The company that is the operation's buyer (its SIRET is the buyer's); None when the
    buyer has no company in the base (then every MOA account acts as the owner)."""
    return conn.execute(select(schema.Company.code).join(
        schema.Operation, schema.Operation.buyer_siret == schema.Company.siret).where(
        schema.Operation.code == operation)).scalar()


def acts_for_owner(conn: Connection, company: str, operation: str, on: date) -> bool:
    """Whether an MOA account of `company` acts for the owner of `operation` that day: the
    owner itself, or a mandataire whose mandate is in force."""
    owner = owner_company(conn, operation)
    if owner is None or owner == company:
        return True
    return any(in_force(m, on) for m in _mandates(conn, operation, company))


def acting_mandate(conn: Connection, actor: Actor, operation: str | None, action: str,
                   on: date) -> dict | None:
    """The mandate an MOA account acts under for `action` on `operation` (None: the owner's
    own account, or not an MOA action); raises PermissionDenied when its company is not
    the owner and holds no mandate in force that day covering the action."""
    if actor.role != "moa" or operation is None or action not in ACTION_POWER:
        return None
    label = ACTION_LABELS.get(action, action)
    mandates = _mandates(conn, operation, actor.company_code)
    if not mandates:
        owner = owner_company(conn, operation)
        if owner is None or owner == actor.company_code:
            return None
        raise PermissionDenied(f"Votre entreprise n'est pas le maître d'ouvrage de l'opération "
                               f"« {operation} » et n'en a reçu aucun mandat : « {label} » "
                               "revient au maître d'ouvrage.")
    current = [m for m in mandates if in_force(m, on)]
    if not current:
        raise PermissionDenied(f"Le mandat de maîtrise d'ouvrage de votre entreprise sur "
                               f"l'opération « {operation} » n'est pas en vigueur le "
                               f"{format_date_fr(on)} : « {label} » revient au maître "
                               "d'ouvrage.")
    power = ACTION_POWER[action]
    covering = [m for m in current if power in json.loads(m["powers"])]
    if not covering:
        raise PermissionDenied(f"Votre mandat de maîtrise d'ouvrage ({current[-1]['reference']}) "
                               f"ne couvre pas « {label} » : cette action revient au maître "
                               "d'ouvrage.")
    return covering[-1]


def mandate_refusal(conn: Connection, actor: Actor, operation: str | None, action: str,
                    on: date) -> PermissionDenied | None:
    """The refusal :func:`acting_mandate` would raise, or None (for pages' buttons)."""
    try:
        acting_mandate(conn, actor, operation, action, on)
    except PermissionDenied as refused:
        return refused
    return None


def mandate_record(mandate: dict | None) -> dict | None:
    """What an action's event and document say of the mandate it relies on."""
    if mandate is None:
        return None
    return {"mandate_id": mandate["mandate_id"], "reference": mandate["reference"],
            "company": mandate["company_code"]}


def _owner(conn: Connection, actor: Actor, operation: str) -> None:
    if actor.role != "moa":
        raise PermissionDenied("Seul le maître d'ouvrage confie ou retire un mandat de "
                               "maîtrise d'ouvrage.")
    scope = out_of_scope(actor, operation)
    if scope:
        raise scope
    owner = owner_company(conn, operation)
    if _mandates(conn, operation, actor.company_code) or owner not in (None,
                                                                       actor.company_code):
        raise PermissionDenied("Un mandataire ne confie ni ne retire de mandat : c'est au "
                               "maître d'ouvrage lui-même de le faire.")


def _tell(conn: Connection, operation: str, company: str, subject: str, body: str,
          now: datetime) -> None:
    from gesprokit.accounts import granted_accounts

    inform(conn, [a.email for a in granted_accounts(conn, operation, ["moa"], acting_only=False)
                  if a.company_code == company], subject, body, now)


def grant_mandate(engine: Engine, actor: Actor, operation: str, company_code: str,
                  powers: list[str], starts_on: date, ends_on: date | None, reference: str,
                  now: datetime | None = None) -> int:
    """The owner entrusts `company_code` with `powers` on `operation` from `starts_on` (to
    `ends_on`, or until revoked); returns the mandate's number."""
    reference = inputs.text(reference, "Référence de la convention de mandat")
    if len(reference) > MAX_REFERENCE:
        raise ValidationError(f"Référence de la convention de mandat : {MAX_REFERENCE} "
                              "caractères au plus.")
    chosen = sorted(set(powers or []))
    if not chosen:
        raise ValidationError("Pouvoirs confiés : cochez au moins un pouvoir.")
    unknown = [p for p in chosen if p not in POWERS]
    if unknown:
        raise ValidationError(f"Pouvoirs confiés : « {', '.join(unknown)} » inconnu(s).")
    if not isinstance(starts_on, date) or (ends_on is not None and not isinstance(ends_on, date)):
        raise ValidationError("Dates du mandat : dates attendues (début, et fin éventuelle).")
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError("Fin du mandat : elle ne peut précéder son début.")
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        # the operation's row is locked first: two owners granting at once are serialised,
        # so the overlap check below sees the other's mandate
        if conn.execute(select(schema.Operation.code).where(
                schema.Operation.code == operation).with_for_update()).first() is None:
            raise ValidationError(f"Opération « {operation} » inconnue.")
        _owner(conn, actor, operation)
        company = conn.execute(select(schema.Company.name).where(
            schema.Company.code == company_code)).scalar()
        if company is None:
            raise ValidationError(f"Mandataire : entreprise « {company_code} » inconnue.")
        if company_code == actor.company_code:
            raise ValidationError("Mandataire : le maître d'ouvrage ne se donne pas mandat "
                                  "à lui-même.")
        for other in _mandates(conn, operation, company_code):
            if other["revoked_at"] is None and (other["ends_on"] is None
                                                or other["ends_on"] >= starts_on) and (
                    ends_on is None or other["starts_on"] <= ends_on):
                raise ValidationError(f"{company} a déjà un mandat sur cette période "
                                      f"({other['reference']}) : retirez-le d'abord.")
        mandate_id = conn.execute(insert(schema.MoaMandate).values(
            operation_code=operation, company_code=company_code, reference=reference,
            powers=json.dumps(chosen), starts_on=starts_on, ends_on=ends_on,
            granted_by=actor.email, granted_at=now).returning(
            schema.MoaMandate.mandate_id)).scalar_one()
        append_events(conn, [{
            "at": now, "actor": actor.email, "role": actor.role, "action": "grant_mandate",
            "after": json.dumps({"mandate_id": mandate_id, "operation": operation,
                                 "company": company_code, "powers": chosen,
                                 "starts_on": starts_on.isoformat(),
                                 "ends_on": ends_on.isoformat() if ends_on else None,
                                 "reference": reference}, ensure_ascii=False)}],
            sealed=[("mandate", mandate_id)])
        period = (f"du {format_date_fr(starts_on)}"
                  + (f" au {format_date_fr(ends_on)}" if ends_on else ", sans terme"))
        _tell(conn, operation, company_code,
              f"[gesprokit] {operation} : mandat de maîtrise d'ouvrage {reference}",
              f"Bonjour,\n\nLe maître d'ouvrage confie à {company} un mandat de maîtrise "
              f"d'ouvrage sur l'opération {operation} ({reference}), {period}, pour :\n"
              + "".join(f"- {POWERS[p]}\n" for p in chosen) + "\n— gesprokit\n", now)
    return mandate_id


def revoke_mandate(engine: Engine, actor: Actor, mandate_id: int, reason: str,
                   now: datetime | None = None) -> None:
    """The owner ends a mandate now, with its reason."""
    reason = inputs.text(reason, "Motif du retrait")
    mandate_id = inputs.whole_number(mandate_id, "Mandat", 1, 10**9)
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        mandate = conn.execute(select(schema.MoaMandate).where(
            schema.MoaMandate.mandate_id == mandate_id)).mappings().first()
        if mandate is None:
            raise ValidationError(f"Mandat n°{mandate_id} inconnu.")
        _owner(conn, actor, mandate["operation_code"])
        if mandate["revoked_at"] is not None:
            raise ValidationError(f"Le mandat {mandate['reference']} est déjà retiré.")
        conn.execute(update(schema.MoaMandate).where(
            schema.MoaMandate.mandate_id == mandate_id).values(
            revoked_at=now, revoked_by=actor.email, revoke_reason=reason))
        append_events(conn, [{
            "at": now, "actor": actor.email, "role": actor.role, "action": "revoke_mandate",
            "comment": reason, "before": json.dumps({"revoked_at": None}),
            "after": json.dumps({"mandate_id": mandate_id, "revoked_at": now.isoformat()})}],
            sealed=[("mandate", mandate_id)])
        _tell(conn, mandate["operation_code"], mandate["company_code"],
              f"[gesprokit] {mandate['operation_code']} : mandat {mandate['reference']} retiré",
              f"Bonjour,\n\nLe maître d'ouvrage a retiré le mandat {mandate['reference']} le "
              f"{format_date_fr(now)}.\nMotif : {reason}\n\n— gesprokit\n", now)


def mandates_frame(engine: Engine, operations: frozenset[str] | None,
                   on: date | None = None) -> pd.DataFrame:
    """The mandates of the given operations (all when None), in French for a page: number,
    operation, mandataire, reference, powers, period, state."""
    on = on or date.today()
    m, c = schema.MoaMandate, schema.Company
    query = select(m, c.name.label("company_name")).join(c, c.code == m.company_code)
    if operations is not None:
        query = query.where(m.operation_code.in_(sorted(operations)))
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query.order_by(m.mandate_id)).mappings()]
    return pd.DataFrame([{
        "mandate_id": r["mandate_id"], "operation": r["operation_code"],
        "mandataire": r["company_name"], "reference": r["reference"],
        "powers": "; ".join(POWERS[p] for p in json.loads(r["powers"])),
        "period": f"du {format_date_fr(r['starts_on'])}" + (
            f" au {format_date_fr(r['ends_on'])}" if r["ends_on"] else ", sans terme"),
        "state": ("retiré le " + format_date_fr(r["revoked_at"]) if r["revoked_at"]
                  else "en vigueur" if in_force(r, on) else
                  "à venir" if r["starts_on"] > on else "échu"),
        "in_force": in_force(r, on)} for r in rows],
        columns=["mandate_id", "operation", "mandataire", "reference", "powers", "period",
                 "state", "in_force"])
