"""Months and dates: the ``YYYY-MM`` month key, its ordinal, French date parsing."""

from __future__ import annotations

import re
from datetime import date, datetime

import numpy as np
import pandas as pd

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_MONTH_FR = re.compile(r"^(\d{2})/(\d{4})$")


def parse_month(text: str) -> str:
    """Accept ``2024-03`` or ``03/2024`` and return the canonical ``2024-03``."""
    s = str(text).strip()
    m = _MONTH.match(s)
    if m:
        year, month = int(m.group(1)), int(m.group(2))
    else:
        m = _MONTH_FR.match(s)
        if not m:
            raise ValueError(f"mois illisible « {text} » (attendu AAAA-MM)")
        year, month = int(m.group(2)), int(m.group(1))
    if not 1 <= month <= 12:
        raise ValueError(f"mois invalide « {text} »")
    return f"{year:04d}-{month:02d}"


def month_ordinal(months: pd.Series) -> pd.Series:
    """``YYYY-MM`` strings -> integer month count (year × 12 + month − 1), for ordering.
    Each distinct month is converted once (a ledger's situations share a few hundred)."""
    codes, distinct = pd.factorize(months, use_na_sentinel=False)
    s = pd.Series(distinct, dtype=object).astype(str)
    ords = (s.str.slice(0, 4).astype("int64") * 12 + s.str.slice(5, 7).astype("int64")
            - 1).to_numpy(dtype="int64")
    return pd.Series(ords[codes], index=months.index, dtype="int64")


def ordinal_to_month(ordinals) -> pd.Series:
    """Inverse of :func:`month_ordinal`."""
    o = pd.Series(ordinals, dtype="int64")
    return (o // 12).astype(str).str.zfill(4) + "-" + (o % 12 + 1).astype(str).str.zfill(2)


def month_end(month: str) -> date:
    """Last calendar day of a ``YYYY-MM`` month."""
    return (pd.Period(month, freq="M").end_time).date()


def parse_date(text: str) -> date:
    """Accept ``2024-03-15`` or ``15/03/2024``."""
    s = str(text).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"date illisible « {text} » (attendu AAAA-MM-JJ ou JJ/MM/AAAA)")


def parse_datetime(text: str) -> datetime:
    """Accept an ISO timestamp, ``JJ/MM/AAAA HH:MM`` or a plain date (midnight)."""
    s = str(text).strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
                "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"):
        try:
            return datetime.strptime(s, fmt)
        except ValueError:
            continue
    return datetime.combine(parse_date(s), datetime.min.time())


def half_year_start(dates: pd.Series) -> pd.Series:
    """First day of the calendar half-year of each date (1 January or 1 July)."""
    d = pd.to_datetime(dates)
    return pd.to_datetime(pd.DataFrame({"year": d.dt.year,
                                        "month": np.where(d.dt.month <= 6, 1, 7),
                                        "day": 1})).astype("datetime64[us]")


def format_date_fr(value) -> str:
    """``JJ/MM/AAAA``; empty string for a missing date."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    return pd.Timestamp(value).strftime("%d/%m/%Y")


MONTH_NAMES = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
               "septembre", "octobre", "novembre", "décembre")


def format_month_fr(month: str) -> str:
    """``2026-03`` → ``mars 2026``."""
    return f"{MONTH_NAMES[int(month[5:7]) - 1]} {month[:4]}"


# the abbreviations French typography uses (for chart axes, where space is short)
MONTH_ABBREVIATIONS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août",
                       "sept.", "oct.", "nov.", "déc.")


def format_month_short_fr(month: str) -> str:
    """``2025-04`` → ``avr. 2025`` (chart axes)."""
    return f"{MONTH_ABBREVIATIONS[int(month[5:7]) - 1]} {month[:4]}"
