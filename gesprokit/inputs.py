"""One checked type per input of an action: whole numbers where whole numbers are meant,
bounded amounts and days, non-blank texts. Each refusal is a French ValidationError that
names the field, whether the value came from a page, the command line or Python."""

from __future__ import annotations

import numbers

from gesprokit.months import parse_month
from gesprokit.workflow_errors import ValidationError

MAX_AMOUNT_CENTS = 10**12  # 10 milliards d'euros: far above any works contract
MAX_DAYS = 3650  # ten years of delay


def _integer(value, field: str, what: str) -> int:
    """`value` as a Python int (a numpy integer read from a frame is one too); True, 1.5
    or « 3 » refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"{field} : {what} attendu, pas « {value} ».")
    return int(value)


def whole_number(value, field: str, low: int, high: int) -> int:
    """`value` as an int within [low, high]; True, 1.5, « 3 » or 10**20 are refused."""
    value = _integer(value, field, "nombre entier")
    if not low <= value <= high:
        raise ValidationError(f"{field} : {value} hors des bornes admises ({low} à {high}).")
    return value


def amount(value, field: str) -> int:
    """A positive amount in cents, at most MAX_AMOUNT_CENTS (said in euros)."""
    from gesprokit.money import format_eur

    value = _integer(value, field, "montant en centimes entiers")
    if not 1 <= value <= MAX_AMOUNT_CENTS:
        raise ValidationError(f"{field} : montant positif attendu, au plus "
                              f"{format_eur(MAX_AMOUNT_CENTS)} (reçu {format_eur(value)}).")
    return value


def days(value, field: str = "Jours de retard") -> int:
    return whole_number(value, field, 1, MAX_DAYS)


def text(value, field: str) -> str:
    """A non-blank text, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} : texte obligatoire.")
    return value.strip()


def month(value, field: str = "Mois") -> str:
    """A month as ``AAAA-MM`` (typed ``AAAA-MM`` or ``MM/AAAA``)."""
    try:
        return parse_month(value)
    except (ValueError, TypeError):
        raise ValidationError(f"{field} : « {value} » n'est pas un mois (attendu AAAA-MM ou "
                              "MM/AAAA, par exemple 2026-06 ou 06/2026).") from None
