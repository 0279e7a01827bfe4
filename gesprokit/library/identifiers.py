"""Document identifiers and revision indices, with python-stdnum's uniform interface
(``compact``, ``validate``, ``is_valid``, ``format``).

A revision index counts A, B … Z, then AA, AB … AZ, BA … (bijective base 26).
A document identifier is ``<operation>-<issuer>-<discipline>-<sequence>``, e.g.
``CHMV-EHPAD-MAL-ARC-0003``; the operation code may itself contain dashes.
"""

from __future__ import annotations

import re

from gesprokit.errors import GesprokitError

DISCIPLINES = {
    "ARC": "Architecture", "STR": "Structure", "CVC": "Chauffage, ventilation, climatisation",
    "PLB": "Plomberie", "ELE": "Électricité", "VRD": "Voirie et réseaux divers",
    "SSI": "Sécurité incendie", "MEN": "Menuiseries", "GEN": "Généralités",
    "CR": "Comptes rendus", "ADM": "Administratif",
}


class InvalidIdentifier(GesprokitError):
    """A revision index or document identifier that is not well formed."""


# --- revision indices ---------------------------------------------------------------------

def compact(index: str) -> str:
    """Remove spaces and put in upper case: `` ab `` -> ``AB``."""
    return str(index).strip().replace(" ", "").upper()


def validate(index: str) -> str:
    """The compact index if well formed (letters only, at most 3), else InvalidIdentifier.

    >>> validate("aa")
    'AA'
    """
    value = compact(index)
    if not re.fullmatch(r"[A-Z]{1,3}", value):
        raise InvalidIdentifier(f"indice « {index} » invalide (A … Z, puis AA, AB …)")
    return value


def is_valid(index: str) -> bool:
    try:
        validate(index)
    except InvalidIdentifier:
        return False
    return True


def format(index: str) -> str:  # noqa: A001 - the stdnum interface name
    """How an index is shown: ``ind. AB``."""
    return f"ind. {validate(index)}"


def index_number(index: str) -> int:
    """Position of an index in the sequence: A=1 … Z=26, AA=27, AZ=52, BA=53.

    >>> index_number("AZ"), index_number("BA")
    (52, 53)
    """
    number = 0
    for letter in validate(index):
        number = number * 26 + (ord(letter) - 64)
    return number


def index_from_number(number: int) -> str:
    """The index at a position of the sequence (inverse of :func:`index_number`)."""
    if number < 1:
        raise InvalidIdentifier("la suite des indices commence à A")
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def next_index(index: str | None) -> str:
    """The index that follows (``A`` for a first version): Z -> AA, AZ -> BA."""
    return "A" if index is None else index_from_number(index_number(index) + 1)


# --- document identifiers -------------------------------------------------------------------

def format_document_id(operation: str, issuer: str, discipline: str, sequence: int) -> str:
    """Build an identifier, checking each part."""
    if discipline not in DISCIPLINES:
        raise InvalidIdentifier(f"spécialité « {discipline} » inconnue "
                                f"({', '.join(DISCIPLINES)})")
    if not re.fullmatch(r"[A-Z0-9]{2,10}", issuer):
        raise InvalidIdentifier(f"émetteur « {issuer} » invalide")
    if not 1 <= sequence <= 9999:
        raise InvalidIdentifier("numéro d'ordre entre 1 et 9999")
    return f"{operation}-{issuer}-{discipline}-{sequence:04d}"


def parse_document_id(document_id: str) -> tuple[str, str, str, int]:
    """(operation, issuer, discipline, sequence) of a well-formed identifier."""
    parts = compact(document_id).rsplit("-", 3)
    if len(parts) != 4 or not re.fullmatch(r"\d{4}", parts[3]):
        raise InvalidIdentifier(f"identifiant « {document_id} » invalide "
                                "(opération-émetteur-spécialité-numéro)")
    operation, issuer, discipline, sequence = parts
    format_document_id(operation, issuer, discipline, int(sequence))
    return operation, issuer, discipline, int(sequence)
