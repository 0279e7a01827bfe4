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


def scaled_coefficients(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Coefficient × 10^coef_decimals (int) for each key.

    `rows` has one row per key and term with columns `keys`, ``term_rank``,
    ``fixed_bp``, ``coef_decimals``, ``weight_bp``, ``base_e4``, ``value_e4``.
    Returns `keys` + ``coef_scaled`` + ``coef_scale`` (10^decimals).
    """
    wide = rows.set_index([*keys, "term_rank"])[["weight_bp", "base_e4", "value_e4"]]
    wide = wide.unstack("term_rank")
    wide.columns = [f"{a}_{b}" for a, b in wide.columns]
    wide = wide.join(rows.groupby(keys)[COEF_FIELDS].first())
    wide = wide.reset_index()
    sig_cols = [c for c in wide.columns if c not in keys]
    sig = pd.util.hash_pandas_object(wide[sig_cols], index=False)
    unique = wide[sig_cols].assign(sig_=sig.values).drop_duplicates("sig_")
    n_terms = (len(sig_cols) - len(COEF_FIELDS)) // 3
    values = {}
    for rec in unique.itertuples(index=False):
        d = rec._asdict()
        total = Fraction(int(d["fixed_bp"]), BP)
        for r in range(n_terms):
            w = d[f"weight_bp_{r}"]
            if pd.isna(w):
                continue
            total += Fraction(int(w) * int(d[f"value_e4_{r}"]), BP * int(d[f"base_e4_{r}"]))
        scaled = total * 10 ** int(d["coef_decimals"])
        values[d["sig_"]] = div_half_up(scaled.numerator, scaled.denominator)
    out = wide[keys].copy()
    out["coef_scaled"] = pd.Series(sig.values).map(values).astype("int64").values
    out["coef_scale"] = (10 ** wide["coef_decimals"].astype("int64")).values
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


def _compute_revision(sit: pd.DataFrame, contracts: pd.DataFrame, terms: pd.DataFrame,
                      price_index: pd.DataFrame) -> pd.DataFrame:
    """Cumulative revision per situation (one value per index and month).

    `sit`: ``contract_id, n, month, works_month, known_on`` (one row per
    situation). Returns ``contract_id, n, revision_cum, revision_provisional,
    revision_coef_scaled, revision_coef_scale`` for the situations of revisable
    contracts (the coefficient is the one applied to the situation's own month).
    """
    empty = pd.DataFrame({"contract_id": pd.Series([], dtype=str),
                          "n": pd.Series([], dtype="int64"),
                          "revision_cum": pd.Series([], dtype="int64"),
                          "revision_provisional": pd.Series([], dtype=bool),
                          "revision_coef_scaled": pd.Series([], dtype="Int64"),
                          "revision_coef_scale": pd.Series([], dtype="Int64")})
    rev = contracts.loc[contracts["price_form"] == "revisable",
                        ["contract_id", "revision_fixed_bp", "revision_base_month",
                         "coef_decimals"]].rename(columns={"revision_fixed_bp": "fixed_bp"})
    s = sit.merge(rev[["contract_id"]], on="contract_id")
    if s.empty:
        return empty
    s = s.sort_values(["contract_id", "n"]).reset_index(drop=True)
    s["month_ord"] = month_ordinal(s["month"])
    s["pos"] = s.groupby("contract_id").cumcount() + 1

    idx = price_index.assign(month_ord=month_ordinal(price_index["month"]))
    t = terms.merge(rev, on="contract_id").sort_values(["contract_id", "index_code"])
    t["term_rank"] = t.groupby("contract_id").cumcount()
    t["base_ord"] = month_ordinal(t["revision_base_month"])
    t = t.merge(idx[["index_code", "month_ord", "value_e4"]].rename(
        columns={"month_ord": "base_ord", "value_e4": "base_e4"}), on=["index_code", "base_ord"],
        how="left")
    term_cols = ["contract_id", "index_code", "term_rank", "fixed_bp", "coef_decimals",
                 "weight_bp", "base_e4"]
    t = t[term_cols]

    # Last index month published as of each situation's known_on, per term.
    pub = idx.sort_values(["published_on", "month_ord"])
    pub["last_ord"] = pub.groupby("index_code")["month_ord"].cummax()
    st = s[["contract_id", "n", "pos", "month_ord", "known_on"]].merge(t, on="contract_id")
    st = pd.merge_asof(st.sort_values("known_on"),
                       pub[["index_code", "published_on", "last_ord"]].sort_values(
                           "published_on"),
                       left_on="known_on", right_on="published_on", by="index_code",
                       direction="backward")
    st["last_ord"] = st["last_ord"].fillna(-1).astype("int64")
    values = idx[["index_code", "month_ord", "value_e4"]]

    # Definitive revision of each situation's own month (when all its indices exist).
    own = s[["contract_id", "n", "pos", "month_ord", "works_month"]].merge(t, on="contract_id")
    own = own.merge(values, on=["index_code", "month_ord"], how="left")
    # a month is definitive when every index of its formula is known (vectorised: no Python
    # call per situation)
    complete = own["value_e4"].notna().groupby([own["contract_id"], own["n"]]).transform("all")
    own_ok = own[complete]
    s["r_def"] = 0
    if not own_ok.empty:
        cdef = scaled_coefficients(own_ok, ["contract_id", "n"])
        s = s.merge(cdef, on=["contract_id", "n"], how="left")
        has = s["coef_scaled"].notna()
        s.loc[has, "r_def"] = _revision_amount(
            s.loc[has, "works_month"], s.loc[has, "coef_scaled"].astype("int64"),
            s.loc[has, "coef_scale"].astype("int64"))
        s = s.drop(columns=["coef_scaled", "coef_scale"])
    s["def_cum"] = s.groupby("contract_id")["r_def"].cumsum()

    # Months definitive at situation n: m_k <= min over terms of the last published month.
    lmin = st.groupby(["contract_id", "n"])["last_ord"].min().rename("lmin").reset_index()
    s = s.merge(lmin, on=["contract_id", "n"])
    s["def_key"] = np.minimum(s["lmin"], s["month_ord"])
    right = s[["contract_id", "month_ord", "pos", "def_cum"]].rename(
        columns={"month_ord": "def_key", "pos": "k_def", "def_cum": "def_part"})
    s = pd.merge_asof(s.sort_values("def_key"), right.sort_values("def_key"), on="def_key",
                      by="contract_id", direction="backward")
    s["k_def"] = s["k_def"].fillna(0).astype("int64")
    s["def_part"] = s["def_part"].fillna(0).astype("int64")
    s = s.sort_values(["contract_id", "n"]).reset_index(drop=True)

    # Provisional months: pairs (n, k) with k_def < k <= n.
    count = (s["pos"] - s["k_def"]).to_numpy()
    rep = s.loc[np.repeat(s.index.to_numpy(), count), ["contract_id", "n", "pos", "k_def"]]
    rep["k_pos"] = rep["k_def"] + rep.groupby(level=0).cumcount() + 1
    rep = rep.reset_index(drop=True)
    s["prov_part"] = 0
    s["coef_own"] = pd.NA
    s["scale_own"] = pd.NA
    if not rep.empty:
        ks = s[["contract_id", "pos", "month_ord", "works_month"]].rename(
            columns={"pos": "k_pos", "month_ord": "k_ord", "works_month": "k_works"})
        rep = rep.merge(ks, on=["contract_id", "k_pos"])
        rep["pair"] = np.arange(len(rep))
        pt = rep.merge(st[["contract_id", "n", "index_code", "term_rank", "fixed_bp",
                           "coef_decimals", "weight_bp", "base_e4", "last_ord"]],
                       on=["contract_id", "n"])
        pt["use_ord"] = np.minimum(pt["k_ord"], pt["last_ord"])
        pt = pt.merge(values.rename(columns={"month_ord": "use_ord"}),
                      on=["index_code", "use_ord"], how="left")
        pt["value_e4"] = pt["value_e4"].fillna(pt["base_e4"])
        cp = scaled_coefficients(pt, ["pair"])
        rep = rep.merge(cp, on="pair")
        rep["r_prov"] = _revision_amount(rep["k_works"], rep["coef_scaled"], rep["coef_scale"])
        prov = rep.groupby(["contract_id", "n"])["r_prov"].sum().rename("prov_sum")
        s = s.merge(prov, on=["contract_id", "n"], how="left")
        s["prov_part"] = s["prov_sum"].fillna(0).astype("int64")
        own_coef = rep.loc[rep["k_pos"] == rep["pos"],
                           ["contract_id", "n", "coef_scaled", "coef_scale"]]
        s = s.merge(own_coef, on=["contract_id", "n"], how="left")
        s["coef_own"] = s["coef_scaled"]
        s["scale_own"] = s["coef_scale"]

    # The coefficient applied to the situation's own month (definitive or provisional).
    if not own_ok.empty:
        s = s.merge(cdef.rename(columns={"coef_scaled": "cdef", "coef_scale": "sdef"}),
                    on=["contract_id", "n"], how="left")
        s["coef_own"] = s["coef_own"].where(s["pos"] > s["k_def"], s["cdef"])
        s["scale_own"] = s["scale_own"].where(s["pos"] > s["k_def"], s["sdef"])
    return pd.DataFrame({
        "contract_id": s["contract_id"], "n": s["n"].astype("int64"),
        "revision_cum": (s["def_part"] + s["prov_part"]).astype("int64"),
        "revision_provisional": (s["pos"] > s["k_def"]).astype(bool),
        "revision_coef_scaled": s["coef_own"].astype("Int64"),
        "revision_coef_scale": s["scale_own"].astype("Int64"),
    })
