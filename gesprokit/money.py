"""Money as integer cents: the one rounding helper, parsing and French display.

Every amount in gesprokit is an integer number of cents. Every division that
produces money goes through :func:`mul_div_half_up`, which rounds half away
from zero ("arrondi commercial": 0,5 centime monte), exactly, on Python ints
or on whole numpy/pandas columns at once.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np
import pandas as pd
from babel.numbers import (
    format_currency,
    format_decimal,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
)

CENTS = 100
BP = 10_000  # basis points: 10 000 bp = 100 %

# Beyond this magnitude an int64 product may overflow: switch to Python ints.
_SAFE_PRODUCT = 2**62


def div_half_up(num: int, den: int) -> int:
    """Integer num/den rounded half away from zero (den > 0)."""
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return q if num >= 0 else -q


def mul_div_half_up(a, b, den):
    """Return round_half_up(a × b / den) exactly, as cents.

    `a`, `b` and `den` may be Python ints, numpy int arrays or pandas Series
    (broadcast together); `den` must be positive. The product is computed in
    int64 when it provably fits, otherwise with Python's unbounded ints.

    >>> mul_div_half_up(12345, 5, 10)       # 6172,5 -> 6173
    6173
    >>> mul_div_half_up(-12345, 5, 10)      # symmetric for credits
    -6173
    >>> mul_div_half_up(3, 1, 2)
    2
    """
    if all(isinstance(x, (int, np.integer)) for x in (a, b, den)):
        return div_half_up(int(a) * int(b), int(den))
    index = next((x.index for x in (a, b, den) if isinstance(x, pd.Series)), None)
    arr_a, arr_b, arr_d = (np.asarray(x) for x in (a, b, den))
    for arr in (arr_a, arr_b, arr_d):
        if arr.dtype.kind not in "iu" and not (arr.dtype == object):
            raise TypeError(f"montant non entier : dtype {arr.dtype}")
    if np.any(arr_d <= 0):
        raise ValueError("le diviseur d'un arrondi doit être positif")
    shape = np.broadcast_shapes(arr_a.shape, arr_b.shape, arr_d.shape)
    if object in (arr_a.dtype, arr_b.dtype, arr_d.dtype):
        big = np.ones(shape, dtype=bool)
    else:  # the elements whose product may overflow int64 (a bound in floats, 2× margin)
        big = np.broadcast_to(np.abs(arr_a.astype(np.float64)) * np.abs(arr_b.astype(
            np.float64)) * 2 + arr_d.astype(np.float64) >= _SAFE_PRODUCT, shape)
    if not big.any():  # the common case: all in int64, no element picked out
        num = arr_a.astype(np.int64) * arr_b.astype(np.int64)
        d = arr_d.astype(np.int64)
        q = (2 * np.abs(num) + d) // (2 * d)
        out = np.where(num < 0, -q, q)
        return pd.Series(out, index=index, dtype="int64") if index is not None else out
    out = np.zeros(shape, dtype=np.int64)
    small = ~big
    if small.any():
        num = (np.broadcast_to(arr_a, shape)[small].astype(np.int64)
               * np.broadcast_to(arr_b, shape)[small].astype(np.int64))
        d = np.broadcast_to(arr_d, shape)[small].astype(np.int64)
        q = (2 * np.abs(num) + d) // (2 * d)
        out[small] = np.where(num < 0, -q, q)
    if big.any():  # only those through Python's unbounded ints
        triples = zip(np.broadcast_to(arr_a, shape)[big].tolist(),
                      np.broadcast_to(arr_b, shape)[big].tolist(),
                      np.broadcast_to(arr_d, shape)[big].tolist(), strict=True)
        out[big] = [div_half_up(int(x) * int(y), int(z)) for x, y, z in triples]
    if index is not None:
        return pd.Series(out, index=index, dtype="int64")
    return out


_SPACES = re.compile(r"[\s\u00a0\u202f']")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")


def parse_decimal(text: str) -> Decimal:
    """Parse a French or English decimal number exactly.

    Accepts ``1 234,56``, ``1234.56``, ``1.234,56``, ``1,234.56``, an optional
    ``€`` or ``%`` sign, ``-`` or ``−`` for a negative number. Raises ValueError with a
    French message otherwise.

    >>> parse_decimal("1 234,56 €")
    Decimal('1234.56')
    >>> parse_decimal("1234.5")
    Decimal('1234.5')
    """
    raw = str(text)
    # the typographic minus (−, what a French word processor writes) is a minus
    s = _SPACES.sub("", raw).replace("€", "").replace("%", "").replace("\u2212", "-")
    if "," in s and "." in s:
        decimal_sep = "," if s.rfind(",") > s.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        s = s.replace(thousands, "")
    if not _NUMBER.match(s):
        raise ValueError(f"nombre illisible « {raw} »")
    s = s.replace(",", ".")
    try:
        return Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - regex already filters
        raise ValueError(f"nombre illisible « {raw} »") from exc


def _scaled(text: str, scale: int, what: str, max_places: int) -> int:
    value = parse_decimal(text)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_places:
        raise ValueError(f"{what} avec plus de {max_places} décimales « {text} »")
    return int((value * scale).to_integral_value(rounding=ROUND_HALF_UP))


def parse_cents(text: str) -> int:
    """Euros written by a person -> integer cents (at most 2 decimals).

    >>> parse_cents("1 234,56")
    123456
    """
    return _scaled(text, CENTS, "montant", 2)


def parse_percent_bp(text: str) -> int:
    """Percentage written by a person -> basis points (at most 2 decimals).

    >>> parse_percent_bp("12,5")
    1250
    """
    return _scaled(text, 100, "pourcentage", 2)


def to_decimal_euros(cents: int) -> Decimal:
    """Cents -> exact Decimal euros (for display and exports)."""
    return (Decimal(int(cents)) / CENTS).quantize(Decimal("0.01"))


def _fr_symbols() -> tuple[str, str, str, str]:
    """fr_FR's group, decimal and minus signs and the currency's suffix, read from babel once
    (what :func:`format_eur` writes around the digits)."""
    zero = format_currency(Decimal(0), "EUR", locale="fr_FR")  # "0,00 €"
    decimal = get_decimal_symbol("fr_FR")
    suffix = zero[len("0" + decimal + "00"):]
    return get_group_symbol("fr_FR"), decimal, get_minus_sign_symbol("fr_FR"), suffix


_GROUP, _DECIMAL, _MINUS, _EUR_SUFFIX = _fr_symbols()


def format_eur(cents: int) -> str:
    """French display of an amount: ``1 234 567,89 €``, as babel writes it for fr_FR.

    Babel's own formatting costs ~60 µs a figure (a 500-line annex holds thousands): the
    digits are laid out here with the locale's symbols babel gave once; a property test
    checks both agree."""
    return _hundredths(int(cents)) + _EUR_SUFFIX


def format_number(value, decimals: int = 2) -> str:
    """French display of a plain number with a fixed number of decimals."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale="fr_FR")


def _hundredths(value: int) -> str:
    """An integer number of hundredths in fr_FR digits (``-1 234,56``), as babel writes it."""
    whole, rest = divmod(abs(value), 100)
    sign = _MINUS if value < 0 else ""
    return f"{sign}{whole:,}".replace(",", _GROUP) + f"{_DECIMAL}{rest:02d}"


def format_pct_bp(bp: int) -> str:
    """Basis points -> ``12,50 %`` (the digits as :func:`format_number` writes them)."""
    return _hundredths(int(bp)) + "\u00a0%"
