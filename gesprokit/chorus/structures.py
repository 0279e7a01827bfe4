"""Chorus Pro structures: SIRET, the MOA mode and the references a structure requires.

A public structure says whether it acts as maître d'ouvrage for works invoices
(``avec_moa``: MOA and paying service; ``exclusivement_moa``: MOA only, never the paying
service; ``sans_moa``: paying service only) and which references every invoice must carry:
a code service, a legal-commitment number (engagement juridique), or one of the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siret as stdnum_siret

MOA_MODE_LABELS = {"avec_moa": "avec MOA", "exclusivement_moa": "exclusivement MOA",
                   "sans_moa": "sans MOA"}
ENGAGEMENT_MAX_LEN = 50
NUMBER_MAX_LEN = 20  # safest model of the invoice-number limit (DOMAIN §5.6, unconfirmed)


@dataclass(frozen=True)
class Structure:
    """A Chorus Pro structure and its parameters."""

    siret: str
    name: str
    moa_mode: str
    service_required: bool = False
    engagement_required: bool = False
    service_or_engagement: bool = False
    services: frozenset[str] = field(default_factory=frozenset)


def siret_problem(value: str | None, whose: str) -> str | None:
    """Why `value` is not a valid SIRET (python-stdnum: 14 digits, Luhn, La Poste), or None."""
    if not value:
        return f"SIRET {whose} manquant"
    try:
        stdnum_siret.validate(value)
    except StdnumError:
        return f"SIRET {whose} invalide « {value} » (14 chiffres, clé de Luhn)"
    return None


def reference_problems(structure: Structure, service_code: str | None,
                       engagement_number: str | None) -> list[str]:
    """Which references the structure requires and the invoice lacks or gets wrong."""
    problems = []
    service = (service_code or "").strip()
    engagement = (engagement_number or "").strip()
    if structure.service_required and not service:
        problems.append(f"code service obligatoire pour {structure.name}")
    if structure.engagement_required and not engagement:
        problems.append(f"numéro d'engagement juridique obligatoire pour {structure.name}")
    if structure.service_or_engagement and not (service or engagement):
        problems.append(f"{structure.name} exige un code service ou un numéro d'engagement "
                        "juridique")
    if service and service not in structure.services:
        known = ", ".join(sorted(structure.services)) or "aucun"
        problems.append(f"code service « {service} » inconnu ou inactif chez {structure.name} "
                        f"(services : {known})")
    if len(engagement) > ENGAGEMENT_MAX_LEN:
        problems.append(f"numéro d'engagement juridique trop long ({len(engagement)} "
                        f"caractères, {ENGAGEMENT_MAX_LEN} au plus)")
    return problems


def role_problems(moa: Structure, payer: Structure) -> list[str]:
    """Whether the MOA structure may act as MOA and the payer may receive the payment."""
    problems = []
    if moa.moa_mode == "sans_moa":
        problems.append(f"{moa.name} est paramétrée « sans MOA » : elle ne peut pas valider "
                        "d'état d'acompte en maître d'ouvrage")
    if payer.moa_mode == "exclusivement_moa":
        problems.append(f"{payer.name} est paramétrée « exclusivement MOA » : elle ne peut pas "
                        "être le service financier destinataire du paiement")
    return problems
