"""Price revision: coefficients Cn and the cumulative revision of each situation.

``Cn = a + Σ b_i × I_i(m) / I_i(m0)`` rounded half-up to ``coef_decimals``
(DOMAIN Part A). Each month's works are revised with that month's
coefficient; the index values used are those *known* when the situation was
established (``known_on``): a month whose index is not yet published uses the
last published value and is flagged provisional; the next situation recomputes
it with the definitive value, so the cumulative revision heals itself.

Coefficients are computed exactly (Python fractions) on the distinct
combinations of formula and index values only, so the cost does not grow
with the number of price lines.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from gesprokit.money import BP, div_half_up, mul_div_half_up
from gesprokit.months import month_ordinal

COEF_FIELDS = ["fixed_bp", "coef_decimals"]


def _coefficients(fixed: np.ndarray, decimals: np.ndarray, weight: np.ndarray,
                  base: np.ndarray, value: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Coefficient × 10^decimals (int64) of each row: fixed_bp / BP + Σ weight_bp × value /
    (BP × base) over the row's present terms, exact (fractions), rounded half-up. Each
    distinct row is computed once. `weight`, `base`, `value`, `present`: one column per
    term; a present term without its base or value is an error."""
    if len(fixed) == 0:
        return np.zeros(0, dtype="int64")
    if (np.isnan(base) | np.isnan(value))[present].any():
        raise ValueError("valeur d'indice manquante pour un coefficient de révision")
    terms = weight.shape[1]

    def known(a):
        return np.where(present, a, 0).astype("int64")

    sig = np.column_stack([np.asarray(fixed, dtype="int64"), np.asarray(decimals, dtype="int64"),
                           known(weight), known(base), known(value), present.astype("int64")])
    # distinct rows by their hash (a sort of one uint64 column, not of whole rows); two
    # different rows sharing a hash would share a coefficient: checked, and then the rows
    # themselves are compared instead
    hashed = pd.util.hash_pandas_object(pd.DataFrame(sig), index=False).to_numpy()
    _, first, inverse = np.unique(hashed, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    distinct = sig[first]
    if not np.array_equal(distinct[inverse], sig):
        distinct, inverse = np.unique(sig, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
    out = []
    for row in distinct.tolist():
        total = Fraction(row[0], BP)
        for r in range(terms):
            if row[2 + 3 * terms + r]:
                total += Fraction(row[2 + r] * row[2 + 2 * terms + r], BP * row[2 + terms + r])
        scaled = total * 10 ** row[1]
        out.append(div_half_up(scaled.numerator, scaled.denominator))
    return np.array(out, dtype="int64")[inverse.ravel()]


def scaled_coefficients(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Coefficient × 10^coef_decimals (int) for each key.

    `rows` has one row per key and term with columns `keys`, ``term_rank``,
    ``fixed_bp``, ``coef_decimals``, ``weight_bp``, ``base_e4``, ``value_e4``.
    Returns `keys` + ``coef_scaled`` + ``coef_scale`` (10^decimals).
    """
    wide = rows.set_index([*keys, "term_rank"])[["weight_bp", "base_e4", "value_e4"]]
    wide = wide.unstack("term_rank")
    fields = rows.groupby(keys)[COEF_FIELDS].first().reindex(wide.index)
    decimals = fields["coef_decimals"].to_numpy(dtype="int64")

    def part(name):
        return wide[name].to_numpy(dtype="float64", na_value=np.nan)

    coef = _coefficients(fields["fixed_bp"].to_numpy(dtype="int64"), decimals,
                         part("weight_bp"), part("base_e4"), part("value_e4"),
                         wide["weight_bp"].notna().to_numpy())
    out = wide.index.to_frame(index=False)
    out["coef_scaled"] = coef
    out["coef_scale"] = 10 ** decimals
    return out


def _revision_amount(works: pd.Series, coef_scaled: pd.Series, scale: pd.Series) -> pd.Series:
    """round_half_up(works × (C − 1)) with C = coef_scaled / scale."""
    return mul_div_half_up(works.astype("int64"), (coef_scaled - scale).astype("int64"),
                           scale.astype("int64"))


def _index_as_known(publications: pd.DataFrame) -> pd.DataFrame:
    """One row per index and month of `publications` (sorted by index, month and date): the
    date the month was first published, with its latest value. A corrected value is a later
    publication of the same month, never an overwrite."""
    grouped = publications.groupby(["index_code", "month"], sort=False)
    first = grouped.head(1).reset_index(drop=True)
    latest = grouped.tail(1).reset_index(drop=True)
    return first.assign(value_e4=latest["value_e4"].to_numpy())


def compute_revision(sit: pd.DataFrame, contracts: pd.DataFrame, terms: pd.DataFrame,
                     price_index: pd.DataFrame) -> pd.DataFrame:
    """Cumulative revision per situation, each with the index values known on its
    ``known_on``: a value corrected after a situation was established does not change that
    situation; the next situations recompute every month with the corrected value (the
    cumulative revision heals itself, as for a provisional month)."""
    ordered = price_index.sort_values(["index_code", "month", "published_on"], kind="stable")
    later = ordered.duplicated(["index_code", "month"], keep="first")
    if not later.any():
        return _compute_revision(sit, contracts, terms, price_index)
    # the situations are grouped by the corrections known on their date: one computation
    # per group, every first publication included (the months known is decided by date)
    dates = np.sort(ordered.loc[later, "published_on"].unique())
    cut = np.searchsorted(dates, sit["known_on"].to_numpy(dtype=dates.dtype), side="right")
    parts = []
    for k in np.unique(cut):
        group = sit[cut == k]
        known = ~later if k == 0 else ~later | (ordered["published_on"] <= dates[k - 1])
        view = _index_as_known(ordered[known])
        mates = sit[sit["contract_id"].isin(group["contract_id"])]
        out = _compute_revision(mates, contracts, terms, view)
        parts.append(out.merge(group[["contract_id", "n"]], on=["contract_id", "n"]))
    return pd.concat(parts, ignore_index=True).sort_values(["contract_id", "n"]
                                                           ).reset_index(drop=True)


_SPAN = 1_000_000  # above any month ordinal: (code × _SPAN + ordinal) keys stay in order


def _value_lookup(codes: np.ndarray, ords: np.ndarray, values: np.ndarray):
    """A function (code, ordinal) -> that index month's value (NaN when absent), over the
    unique (code, ordinal) rows given."""
    keys = codes * _SPAN + ords
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order].astype("float64")

    def value_at(code: np.ndarray, ordinal: np.ndarray) -> np.ndarray:
        wanted = code * _SPAN + ordinal
        at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
        if not len(keys):
            return np.full(wanted.shape, np.nan)
        return np.where((keys[at] == wanted) & (code >= 0), values[at], np.nan)
    return value_at


def _group_starts(codes: np.ndarray) -> np.ndarray:
    """Position of the first row of each row's group (`codes` sorted)."""
    first = np.r_[True, codes[1:] != codes[:-1]]
    return np.maximum.accumulate(np.where(first, np.arange(len(codes)), 0))


def _compute_revision(sit: pd.DataFrame, contracts: pd.DataFrame, terms: pd.DataFrame,
                      price_index: pd.DataFrame) -> pd.DataFrame:
    """Cumulative revision per situation (one value per index and month).

    `sit`: ``contract_id, n, month, works_month, known_on`` (one row per
    situation). Returns ``contract_id, n, revision_cum, revision_provisional,
    revision_coef_scaled, revision_coef_scale`` for the situations of revisable
    contracts that have terms (the coefficient is the one applied to the situation's own
    month). Keys are coded as integers and every step runs in numpy: its cost is the
    situations', not a fixed pandas cost per step.
    """
    empty = pd.DataFrame({"contract_id": pd.Series([], dtype=str),
                          "n": pd.Series([], dtype="int64"),
                          "revision_cum": pd.Series([], dtype="int64"),
                          "revision_provisional": pd.Series([], dtype=bool),
                          "revision_coef_scaled": pd.Series([], dtype="Int64"),
                          "revision_coef_scale": pd.Series([], dtype="Int64")})
    rev = contracts[contracts["price_form"] == "revisable"]
    t = terms[terms["contract_id"].isin(rev["contract_id"])]
    s = sit[sit["contract_id"].isin(t["contract_id"])]
    if s.empty:
        return empty
    # contracts (sorted ids), situations ordered by contract and n; only the formulas of
    # contracts with a situation here (a lot not started has none to revise)
    ids = pd.Index(np.sort(s["contract_id"].unique()))
    t = t[t["contract_id"].isin(ids)]
    c = ids.get_indexer(s["contract_id"])
    n = s["n"].to_numpy(dtype="int64")
    order = np.lexsort((n, c))
    s = s.iloc[order].reset_index(drop=True)
    c, n = c[order], n[order]
    size = len(s)
    start = _group_starts(c)
    pos = np.arange(size) - start + 1
    mord = month_ordinal(s["month"]).to_numpy(dtype="int64")
    works = s["works_month"].to_numpy(dtype="int64")
    known_on = pd.to_datetime(s["known_on"]).to_numpy().astype("datetime64[us]")

    # each contract's formula: fixed part, decimals, base month, terms ordered by index
    per = rev.set_index("contract_id").loc[ids]
    fixed = per["revision_fixed_bp"].to_numpy(dtype="int64")
    decimals = per["coef_decimals"].to_numpy(dtype="int64")
    base_ord = month_ordinal(per["revision_base_month"]).to_numpy(dtype="int64")
    t = t.sort_values(["contract_id", "index_code"], kind="stable")
    t_contract = ids.get_indexer(t["contract_id"])
    t_rank = np.arange(len(t)) - _group_starts(t_contract)
    width = int(t_rank.max()) + 1
    codes = pd.Index(pd.unique(pd.concat([t["index_code"], price_index["index_code"]],
                                         ignore_index=True)))
    present = np.zeros((len(ids), width), dtype=bool)
    present[t_contract, t_rank] = True
    index_of = np.full((len(ids), width), -1, dtype="int64")
    index_of[t_contract, t_rank] = codes.get_indexer(t["index_code"])
    weight = np.zeros((len(ids), width))
    weight[t_contract, t_rank] = t["weight_bp"].to_numpy(dtype="float64")

    p_code = codes.get_indexer(price_index["index_code"])
    p_ord = month_ordinal(price_index["month"]).to_numpy(dtype="int64")
    value_at = _value_lookup(p_code, p_ord, price_index["value_e4"].to_numpy(dtype="float64"))
    base = value_at(index_of, base_ord[:, None])

    # the last index month published as of each situation's known_on, per term (-1: none)
    published = pd.to_datetime(price_index["published_on"]).to_numpy().astype("datetime64[us]")
    last = np.full((size, width), -1, dtype="int64")
    term_index = index_of[c]
    for code in np.unique(index_of[present]):
        mine = p_code == code
        by_date = np.lexsort((p_ord[mine], published[mine]))
        dates = published[mine][by_date]
        highest = np.maximum.accumulate(p_ord[mine][by_date])
        at = np.searchsorted(dates, known_on, side="right") - 1
        found = np.where(at >= 0, highest[np.maximum(at, 0)], -1)
        last = np.where(term_index == code, found[:, None], last)
    term_present = present[c]

    # definitive revision of each situation's own month (when all its indices exist)
    own_value = value_at(term_index, mord[:, None])
    complete = ~(term_present & np.isnan(own_value)).any(axis=1)
    coef_def = np.zeros(size, dtype="int64")
    coef_def[complete] = _coefficients(
        fixed[c][complete], decimals[c][complete], weight[c][complete], base[c][complete],
        own_value[complete], term_present[complete])
    scale = 10 ** decimals[c]
    r_def = np.zeros(size, dtype="int64")
    if complete.any():
        r_def[complete] = _revision_amount(works[complete], coef_def[complete], scale[complete])
    running = np.cumsum(r_def)
    def_cum = running - np.r_[0, running][start]

    # months definitive at situation n: those up to min over terms of the last published
    lmin = np.where(term_present, last, np.iinfo("int64").max).min(axis=1)
    def_key = np.minimum(lmin, mord)
    by_month = np.lexsort((mord, c))
    month_keys = (c * _SPAN + mord)[by_month]
    at = np.searchsorted(month_keys, c * _SPAN + def_key, side="right") - 1
    hit = by_month[np.maximum(at, 0)]
    valid = (at >= 0) & (c[hit] == c)
    k_def = np.where(valid, pos[hit], 0)
    def_part = np.where(valid, def_cum[hit], 0)

    # provisional months: pairs (n, k) with k_def < k <= n, each with the values known at n
    count = pos - k_def
    pair_sit = np.repeat(np.arange(size), count)
    pair_end = np.cumsum(count)
    k_pos = k_def[pair_sit] + np.arange(len(pair_sit)) - (pair_end - count)[pair_sit] + 1
    k = start[pair_sit] + k_pos - 1
    prov = np.zeros(size, dtype="int64")
    coef_own = np.where(complete, coef_def, 0)
    known_own = complete.copy()
    if len(pair_sit):
        pc = c[pair_sit]
        use_ord = np.minimum(mord[k][:, None], last[pair_sit])
        pair_value = value_at(index_of[pc], use_ord)
        pair_value = np.where(np.isnan(pair_value), base[pc], pair_value)
        coef_prov = _coefficients(fixed[pc], decimals[pc], weight[pc], base[pc], pair_value,
                                  present[pc])
        r_prov = _revision_amount(works[k], coef_prov, scale[pair_sit])
        np.add.at(prov, pair_sit, r_prov)
        provisional_own = count > 0
        coef_own[provisional_own] = coef_prov[pair_end[provisional_own] - 1]
        known_own |= provisional_own
    provisional = pos > k_def
    return pd.DataFrame({
        "contract_id": s["contract_id"], "n": n,
        "revision_cum": (def_part + prov).astype("int64"),
        "revision_provisional": provisional.astype(bool),
        "revision_coef_scaled": pd.arrays.IntegerArray(coef_own, ~known_own),
        "revision_coef_scale": pd.arrays.IntegerArray(scale.astype("int64"), ~known_own),
    })
