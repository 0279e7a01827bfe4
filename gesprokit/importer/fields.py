"""Cell parsers: text from a file -> typed value, or ValueError in French."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siret as stdnum_siret

from gesprokit.inputs import MAX_AMOUNT_CENTS
from gesprokit.money import format_eur, parse_cents, parse_decimal, parse_percent_bp
from gesprokit.months import parse_date, parse_datetime, parse_month

Parser = Callable[[str], Any]


@dataclass(frozen=True)
class Field:
    """One column of an input table: its header, parser and whether it may be empty."""

    column: str
    parse: Parser
    required: bool = True
    default: Any = None
    target: str | None = None  # database column name when it differs

    @property
    def key(self) -> str:
        return self.target or self.column


def text(max_len: int = 300) -> Parser:
    def parse(s: str) -> str:
        if len(s) > max_len:
            raise ValueError(f"texte trop long ({len(s)} caractères, {max_len} au plus)")
        return s
    return parse


def integer(lo: int | None = None, hi: int | None = None) -> Parser:
    def parse(s: str) -> int:
        try:
            value = int(s.replace(" ", ""))
        except ValueError:
            raise ValueError(f"nombre entier attendu « {s} »") from None
        if lo is not None and value < lo:
            raise ValueError(f"valeur {value} inférieure au minimum {lo}")
        if hi is not None and value > hi:
            raise ValueError(f"valeur {value} supérieure au maximum {hi}")
        return value
    return parse


def cents(allow_negative: bool = False, positive: bool = False) -> Parser:
    """Euros -> cents; `positive`: zero refused too (the schema wants > 0)."""
    def parse(s: str) -> int:
        value = parse_cents(s)
        if value < 0 and not allow_negative:
            raise ValueError(f"montant négatif « {s} »")
        if positive and value <= 0:
            raise ValueError(f"montant nul « {s} » : un montant positif est attendu")
        if abs(value) > MAX_AMOUNT_CENTS:
            raise ValueError(f"montant « {s} » au-delà de {format_eur(MAX_AMOUNT_CENTS)}")
        return value
    return parse


def percent_bp(hi_bp: int | None = None) -> Parser:
    def parse(s: str) -> int:
        value = parse_percent_bp(s)
        if value < 0:
            raise ValueError(f"pourcentage négatif « {s} »")
        if hi_bp is not None and value > hi_bp:
            raise ValueError(f"pourcentage {s} supérieur à {hi_bp / 100:g} %")
        return value
    return parse


def fraction_bp(s: str) -> int:
    """A share written as ``0,125`` or ``12,5 %`` -> basis points (1250)."""
    value = parse_decimal(s)
    if "%" not in s:
        value *= 100
    bp = value * 100
    if bp != bp.to_integral_value() or not 0 <= bp <= 10_000:
        raise ValueError(f"part invalide « {s} » (entre 0 et 1, au plus 4 décimales)")
    return int(bp)


MAX_INDEX_E4 = 10**6 * 10_000  # an index of a million: far above any published one


def index_e4(s: str) -> int:
    """An index value (e.g. ``131,4``) -> value × 10 000, exactly."""
    value = parse_decimal(s) * 10_000
    if value != value.to_integral_value() or not 0 < value <= MAX_INDEX_E4:
        raise ValueError(f"valeur d'index invalide « {s} » (positive, au plus 4 décimales, "
                         f"au plus {MAX_INDEX_E4 // 10_000})")
    return int(value)


def boolean(s: str) -> bool:
    low = s.lower()
    if low in ("oui", "o", "vrai", "true", "1", "x", "yes"):
        return True
    if low in ("non", "n", "faux", "false", "0", "no"):
        return False
    raise ValueError(f"oui/non attendu « {s} »")


def choice(mapping: dict[str, str]) -> Parser:
    """Accept any key of `mapping` (case-insensitive) and return its code."""
    def parse(s: str) -> str:
        code = mapping.get(s.lower())
        if code is None:
            expected = ", ".join(sorted(set(mapping)))
            raise ValueError(f"valeur « {s} » inconnue (attendu : {expected})")
        return code
    return parse


def siret(s: str) -> str:
    try:
        return stdnum_siret.validate(s)
    except StdnumError:
        raise ValueError(f"SIRET invalide « {s} » (14 chiffres, clé de Luhn)") from None


def code_list(s: str) -> list[str]:
    """Codes separated by commas (``SRV-TRAV, SRV-FIN``), each kept once."""
    codes = [c.strip() for c in s.split(",") if c.strip()]
    too_long = [c for c in codes if len(c) > 100]
    if too_long:
        raise ValueError(f"code trop long « {too_long[0]} » (100 caractères au plus)")
    return list(dict.fromkeys(codes))


def month(s: str) -> str:
    return parse_month(s)


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


def day(s: str):
    """A date; the ISO form read by the C parser (a folder holds hundreds of thousands)."""
    if _ISO_DAY.fullmatch(s):
        with suppress(ValueError):  # an impossible date: the French reason below
            return date.fromisoformat(s)
    return parse_date(s)


def timestamp(s: str):
    """A date and time; ``AAAA-MM-JJ HH:MM:SS`` read by the C parser, as :func:`day`."""
    if _ISO_STAMP.fullmatch(s):
        with suppress(ValueError):
            return datetime.fromisoformat(s)
    return parse_datetime(s)


def decimal_text(s: str) -> str:
    """A quantity kept as exact decimal text."""
    return str(parse_decimal(s))


def to_decimal(s: str | None) -> Decimal | None:
    return None if s is None else Decimal(s)
