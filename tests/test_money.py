from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gesprokit.money import (
    format_eur,
    format_number,
    format_pct_bp,
    mul_div_half_up,
    parse_cents,
    parse_percent_bp,
)


def decimal_reference(a: int, b: int, d: int) -> int:
    return int((Decimal(a) * Decimal(b) / Decimal(d)).to_integral_value(rounding=ROUND_HALF_UP))


def test_half_up_on_exact_halves():
    assert mul_div_half_up(5, 1, 10) == 1  # 0,5 -> 1
    assert mul_div_half_up(15, 1, 10) == 2  # 1,5 -> 2
    assert mul_div_half_up(25, 1, 10) == 3  # 2,5 -> 3 (not banker's 2)
    assert mul_div_half_up(-25, 1, 10) == -3  # credits round symmetrically
    assert mul_div_half_up(24, 1, 10) == 2


@given(st.integers(-10**12, 10**12), st.integers(0, 20_000), st.integers(1, 10**6))
def test_scalar_matches_decimal(a, b, d):
    assert mul_div_half_up(a, b, d) == decimal_reference(a, b, d)


@given(st.lists(st.tuples(st.integers(-10**13, 10**13), st.integers(0, 10**8)), min_size=1,
                max_size=30), st.integers(10**3, 10**9))
def test_vectorised_matches_decimal_even_past_int64(pairs, d):
    a = pd.Series([p[0] for p in pairs], dtype="int64")
    b = pd.Series([p[1] for p in pairs], dtype="int64")
    got = mul_div_half_up(a, b, d)
    assert got.dtype == np.int64
    assert got.tolist() == [decimal_reference(x, y, d) for x, y in pairs]


def test_refuses_float_money():
    with pytest.raises(TypeError):
        mul_div_half_up(pd.Series([1.5]), pd.Series([2]), 10)


@pytest.mark.parametrize("text,cents", [
    ("1 234,56", 123456), ("1234.56", 123456), ("1\u202f234,5 €", 123450), ("1.234,56", 123456),
    ("1,234.56", 123456), ("-12,30", -1230), ("0", 0), ("12", 1200),
])
def test_parse_cents(text, cents):
    assert parse_cents(text) == cents


@pytest.mark.parametrize("text", ["12,345", "abc", "1 2 3,4x", ""])
def test_parse_cents_refuses(text):
    with pytest.raises(ValueError):
        parse_cents(text)


def test_the_typographic_minus_is_a_minus():
    assert parse_cents("\u22121\u202f250,00 €") == -125_000 == parse_cents("-1 250")


def test_parse_percent():
    assert parse_percent_bp("12,5") == 1250
    assert parse_percent_bp("100 %") == 10000
    with pytest.raises(ValueError, match="décimales"):
        parse_percent_bp("12,345")


def test_french_formats():
    assert format_eur(123456789) == "1\u202f234\u202f567,89\xa0€"
    assert format_eur(-5) == "-0,05\xa0€"
    assert format_pct_bp(1250) == "12,50\xa0%"


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_format_eur_writes_what_babel_writes(cents):
    """The fast layout of an amount and babel's fr_FR currency format agree on every
    amount, negative, zero and beyond a billion euros included."""
    from decimal import Decimal

    from babel.numbers import format_currency

    expected = format_currency(Decimal(cents) / 100, "EUR", locale="fr_FR")
    assert format_eur(cents) == expected
    assert format_pct_bp(cents) == format_number(Decimal(cents) / 100) + "\xa0%"


_SMALL = st.tuples(st.integers(-10**6, 10**6), st.integers(0, 10**9), st.integers(1, 10**9))
# products past int64, results within it (cents of up to 10^16 €)
_LARGE = st.tuples(st.integers(-10**15, 10**15), st.integers(0, 10**9),
                   st.integers(10**6, 10**9))


@given(st.lists(st.one_of(_SMALL, _LARGE), min_size=1, max_size=40))
def test_mixed_magnitudes_each_exact(triples):
    """Small products in int64 and the few that may overflow through Python ints, side by
    side in one call: each element exact, in its place."""
    a, b, d = (np.array([t[k] for t in triples], dtype="int64") for k in range(3))
    got = mul_div_half_up(a, b, d)
    assert got.dtype == np.int64
    assert got.tolist() == [decimal_reference(x, y, z) for x, y, z in triples]
