"""A company's own profile: its postal address, administrative contact and bank details.

Kept by the company's own accounts (titulaire, cotraitant, sous-traitant), one journal event
per change; read by the pieces the company sends: its demande d'acompte shows where to pay,
and the Chorus Pro check refuses a deposit without bank details. IBAN and BIC are checked
with python-stdnum (check digits, length, country); a change of bank details is journaled
with the former ones, as a buyer checking a payment would want to see it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, select
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import InvalidChecksum, InvalidLength
from stdnum.exceptions import ValidationError as NumberError

from gesprokit import schema
from gesprokit.audit import append_events, writing
from gesprokit.workflow import Actor
from gesprokit.workflow_errors import PermissionDenied, ValidationError

FIELDS = {  # column -> the field's label on the page
    "address": "Adresse", "postal_code": "Code postal", "city": "Commune",
    "contact_name": "Contact administratif", "contact_email": "Courriel du contact",
    "contact_phone": "Téléphone du contact", "iban": "IBAN", "bic": "BIC"}
PROFILE_ROLES = ("contractor", "cocontractor", "subcontractor")
MAX_LENGTHS = {"address": 200, "city": 100, "contact_name": 200, "contact_email": 200}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^(?:\+33|0)[1-9]\d{8}$")


def _number_problem(label: str, text: str, module) -> tuple[str | None, str | None]:
    """(the number in its compact form, None) or (None, the French problem)."""
    try:
        return module.validate(text), None
    except InvalidChecksum:
        why = "clé de contrôle fausse (un chiffre mal recopié ?)"
    except InvalidLength:
        why = "longueur incorrecte"
    except NumberError:
        why = "format incorrect"
    return None, f"{label} « {text} » : {why}"


def check_profile(values: dict) -> tuple[dict, list[str]]:
    """The profile's values cleaned (blank: None; IBAN and BIC in compact form), and every
    problem, each naming its field."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValidationError(f"champ(s) inconnu(s) : {', '.join(sorted(unknown))}")
    clean, problems = {}, []
    for name in FIELDS:
        raw = values.get(name)
        text = " ".join(str(raw).split()) if raw is not None else ""
        clean[name] = text or None
    for name, limit in MAX_LENGTHS.items():
        if clean[name] and len(clean[name]) > limit:
            problems.append(f"{FIELDS[name]} : {limit} caractères au plus")
    if clean["postal_code"] and not re.fullmatch(r"\d{5}", clean["postal_code"]):
        problems.append(f"Code postal « {clean['postal_code']} » : cinq chiffres attendus")
    if clean["contact_email"] and not _EMAIL.match(clean["contact_email"]):
        problems.append(f"Courriel du contact « {clean['contact_email']} » : adresse "
                        "illisible (attendu par exemple compta@entreprise.fr)")
    if clean["contact_phone"]:
        digits = re.sub(r"[ .\-]", "", clean["contact_phone"])
        if not _PHONE.match(digits):
            problems.append(f"Téléphone du contact « {clean['contact_phone']} » : numéro "
                            "français attendu (10 chiffres, ou +33 et 9 chiffres)")
    given = {name: clean[name] is not None for name in ("iban", "bic")}
    for name, module in (("iban", stdnum_iban), ("bic", stdnum_bic)):
        if clean[name]:
            number, problem = _number_problem(FIELDS[name], clean[name], module)
            clean[name] = number
            if problem:
                problems.append(problem)
    if given["iban"] != given["bic"]:
        problems.append("Coordonnées bancaires : l'IBAN et le BIC vont ensemble (donnez les "
                        "deux, ou aucun)")
    return clean, problems


def profile(conn: Connection, company_code: str) -> dict | None:
    """The company's profile (the FIELDS and when and by whom it was last changed), or None."""
    return profiles(conn, [company_code]).get(company_code)


def update_profile(engine: Engine, actor: Actor, values: dict,
                   now: datetime | None = None) -> dict:
    """Replace the actor's company's profile with `values` (the FIELDS; blank clears one), in
    one transaction with one event recording what changed, before and after."""
    if actor.role not in PROFILE_ROLES:
        raise PermissionDenied("Le profil d'une entreprise est tenu par les comptes de "
                               "l'entreprise elle-même.")
    clean, problems = check_profile(values)
    if problems:
        raise ValidationError("Profil non enregistré : " + " ; ".join(problems))
    now = (now or datetime.now()).replace(microsecond=0)
    code = actor.company_code
    with writing(engine) as conn:
        if conn.execute(select(schema.Company.code).where(
                schema.Company.code == code)).first() is None:
            raise ValidationError(f"Entreprise « {code} » inconnue.")
        old = profile(conn, code) or {}
        changed = {k: v for k, v in clean.items() if old.get(k) != v}
        if not changed:
            return clean
        conn.execute(delete(schema.CompanyProfile).where(
            schema.CompanyProfile.company_code == code))
        bank_changed = now if {"iban", "bic"} & changed.keys() else old.get("bank_changed_at")
        conn.execute(insert(schema.CompanyProfile).values(
            company_code=code, updated_at=now, updated_by=actor.email,
            bank_changed_at=bank_changed, **clean))
        append_events(conn, [{
            "at": now, "actor": actor.email, "role": actor.role, "action": "update_profile",
            "before": json.dumps({k: old.get(k) for k in changed}, ensure_ascii=False),
            "after": json.dumps(changed, ensure_ascii=False)}], sealed=[("company", code)])
    return clean


def profiles(conn: Connection, company_codes) -> dict[str, dict]:
    """The profiles of these companies, by company code (those that have one)."""
    rows = conn.execute(select(schema.CompanyProfile).where(
        schema.CompanyProfile.company_code.in_(list(company_codes)))).mappings()
    return {r["company_code"]: dict(r) for r in rows}


def bank_details_line(found: dict | None) -> str | None:
    """« IBAN FR76 3000 … – BIC AGRIFRPP » for a document, or None without bank details."""
    if not found or not found.get("iban"):
        return None
    return f"IBAN {stdnum_iban.format(found['iban'])} – BIC {found['bic']}"


def postal_address(found: dict | None) -> str | None:
    """« 12 rue …, 42600 Montbrison » for a document, or None without an address."""
    if not found or not found.get("address"):
        return None
    place = " ".join(v for v in (found.get("postal_code"), found.get("city")) if v)
    return ", ".join(v for v in (found["address"], place) if v)
