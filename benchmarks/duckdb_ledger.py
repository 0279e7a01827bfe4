"""The ledger's situations and direct payments computed by DuckDB SQL, rule for rule as
:func:`gesprokit.ledger.compute_ledger` computes them: the honest reference for the ledger's
speed (same inputs, same columns, equal to the cent).

Every amount stays an integer: each rounding is ``half_up(num, den)`` on BIGINT or HUGEINT,
and revision coefficients are exact fractions over the least common multiple of the
formula's base index values (HUGEINT), rounded half-up to ``coef_decimals`` as
:mod:`gesprokit.revision` does with Python fractions. DuckDB raises on an integer
overflow, so a result is never silently wrong.

Covered: line amounts (a line left out keeps its %), revision (exact coefficients, indices
known on each situation's date, provisional months healed later, corrected publications),
amendments, bonuses, penalties (by days or fixed, cap, waiver), VAT, retention (TTC or HT
base) less guarantees, advance repayment (and in full on a décompte final, `closing`), MOA
rectifications, directly paid subcontractors (acceptance, cap, their revision, retention
share, advance). Not covered: a subcontract's own revision formula
(``subcontract_revision_terms``).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from gesprokit.ledger import DIRECT_PAYMENT_COLUMNS, LEDGER_COLUMNS

MACROS = """
CREATE OR REPLACE TEMP MACRO half_up(num, den) AS
    CASE WHEN num < 0 THEN -((-2 * num + den) // (2 * den)) ELSE (2 * num + den) // (2 * den) END;
CREATE OR REPLACE TEMP MACRO month_ord(m) AS
    CAST(substr(m, 1, 4) AS BIGINT) * 12 + CAST(substr(m, 6, 2) AS BIGINT) - 1;
CREATE OR REPLACE TEMP MACRO advance_repaid(works, initial, start_bp, end_bp, advance) AS
    CASE WHEN advance > 0 AND (end_bp - start_bp)::HUGEINT * initial > 0 THEN half_up(
        advance::HUGEINT * least(greatest(works::HUGEINT * 10000 - start_bp::HUGEINT * initial,
                                          0), (end_bp - start_bp)::HUGEINT * initial),
        (end_bp - start_bp)::HUGEINT * initial) ELSE 0 END;
"""

# Integer keys for the contracts: every later window and join runs on them, not on text.
KEYS = """
CREATE OR REPLACE TEMP TABLE ledger_keys AS
SELECT contract_id, row_number() OVER () AS ckey FROM contracts
"""

# Each line's cumulative amount, its change since the line's previous entry (a line left
# out keeps its amount), summed per situation and subcontract: the only pass over progress.
WORKS = """
CREATE OR REPLACE TEMP TABLE ledger_works AS
WITH lines AS MATERIALIZED (
    SELECT row_number() OVER () AS line_key,
           dense_rank() OVER (ORDER BY contract_id, subcontract_id) AS gkey,
           contract_id, line_no, amount_cents, subcontract_id
    FROM price_lines
), line_month AS (
    SELECT gkey, n,
           cum - COALESCE(LAG(cum) OVER (PARTITION BY line_key ORDER BY n), 0) AS line_month
    FROM (
        SELECT l.line_key, l.gkey, p.n, half_up(l.amount_cents * p.pct_bp, 10000) AS cum
        FROM progress p JOIN lines l USING (contract_id, line_no)
    )
), sums AS (
    SELECT gkey, n, SUM(line_month)::BIGINT AS works_month FROM line_month GROUP BY ALL
)
SELECT g.contract_id, s.n, g.subcontract_id, s.works_month
FROM sums s JOIN (SELECT DISTINCT gkey, contract_id, subcontract_id FROM lines) g USING (gkey)
"""

# Situations with their works and the date their facts are read on (moe_at, else as_of).
SITUATIONS = """
CREATE OR REPLACE TEMP TABLE ledger_sit AS
WITH w AS (SELECT contract_id, n, SUM(works_month)::BIGINT AS works_month
           FROM ledger_works GROUP BY ALL)
SELECT k.ckey, s.contract_id, s.n, s.month, month_ord(s.month) AS mord,
       COALESCE(s.moe_at::TIMESTAMP, $as_of::TIMESTAMP) AS known_on,
       COALESCE(w.works_month, 0) AS works_month,
       SUM(COALESCE(w.works_month, 0)) OVER (
           PARTITION BY k.ckey ORDER BY s.n ROWS UNBOUNDED PRECEDING)::BIGINT AS works_cum
FROM situations s JOIN ledger_keys k USING (contract_id) LEFT JOIN w USING (contract_id, n)
"""

# Each directly paid subcontractor on each situation of its contract: its works at initial
# prices (none for a month that ended before its acceptance), capped at its amount.
PAYEE_WORKS = """
CREATE OR REPLACE TEMP TABLE ledger_payee_works AS
WITH direct AS (
    SELECT row_number() OVER () AS pkey, subcontract_id, contract_id, amount_cents, accepted_on,
           advance_cents
    FROM subcontracts WHERE direct_payment
), grid AS (
    SELECT s.ckey, s.contract_id, s.n, s.mord, s.known_on, d.pkey, d.subcontract_id,
           d.amount_cents AS sub_amount, d.advance_cents AS sub_advance,
           CASE WHEN last_day(strptime(s.month, '%Y-%m')) >= d.accepted_on
                THEN COALESCE(w.works_month, 0) ELSE 0 END AS work
    FROM ledger_sit s JOIN direct d USING (contract_id)
    LEFT JOIN ledger_works w ON w.contract_id = s.contract_id AND w.n = s.n
                             AND w.subcontract_id = d.subcontract_id
), capped AS (
    SELECT *, greatest(least(SUM(work) OVER (
        PARTITION BY pkey ORDER BY n ROWS UNBOUNDED PRECEDING), sub_amount), 0)::BIGINT
        AS works_cum
    FROM grid
)
SELECT *, works_cum - COALESCE(LAG(works_cum) OVER (PARTITION BY pkey ORDER BY n), 0)
    AS works_month
FROM capped
"""

# Cumulative revision of each revised row: the contracts' situations (rkey = ckey) and their
# directly paid subcontractors' (rkey = -pkey, the contract's formula), with the index values
# known on each row's date (gesprokit.revision). What is known of the indices changes only
# on a publication date, so a row's knowledge is its epoch: the last publication date on or
# before its known_on; the corrections known then give its cut. Coefficients are computed
# once per formula, epoch (or cut) and month, and looked up by the rows.
REVISION = """
CREATE OR REPLACE TEMP TABLE ledger_revision AS
WITH revisable AS (  -- revisable contracts with terms; contracts of the same formula share fid
    SELECT c.contract_id, dense_rank() OVER (ORDER BY c.revision_fixed_bp, c.coef_decimals,
                                                      c.revision_base_month, t.terms) AS fid
    FROM contracts c JOIN (
        SELECT contract_id, list({'i': index_code, 'w': weight_bp} ORDER BY index_code) AS terms
        FROM revision_terms GROUP BY ALL) t USING (contract_id)
    WHERE c.price_form = 'revisable'
), fterms AS (
    SELECT DISTINCT r.fid, t.index_code, t.weight_bp::HUGEINT AS weight,
           c.revision_fixed_bp::HUGEINT AS fixed, c.coef_decimals AS decimals,
           CAST(10 ** c.coef_decimals AS BIGINT) AS scale,
           month_ord(c.revision_base_month) AS base_mord
    FROM revisable r JOIN contracts c USING (contract_id) JOIN revision_terms t USING (contract_id)
), pi AS (
    SELECT index_code, month_ord(month) AS mord, value_e4::HUGEINT AS value,
           published_on::TIMESTAMP AS published_on, _row,
           row_number() OVER (PARTITION BY index_code, month ORDER BY published_on, _row) = 1
               AS first
    FROM price_index
), epochs AS (  -- each publication date (and the time before any), with its cut
    SELECT e.d, COALESCE(max(p.published_on), TIMESTAMP '-infinity') AS cut
    FROM (SELECT DISTINCT published_on AS d FROM pi UNION SELECT TIMESTAMP '-infinity') e
    LEFT JOIN pi p ON NOT p.first AND p.published_on <= e.d
    GROUP BY e.d
), rin AS (
    SELECT s.ckey AS rkey, r.fid, s.n, s.mord, s.works_month, s.known_on
    FROM ledger_sit s JOIN revisable r USING (contract_id)
    UNION ALL
    SELECT -p.pkey, r.fid, p.n, p.mord, p.works_month, p.known_on
    FROM ledger_payee_works p JOIN revisable r USING (contract_id)
), rows AS (
    SELECT r.*, e.d, e.cut, row_number() OVER (PARTITION BY r.rkey ORDER BY r.n) AS pos,
           r.mord * 1000000 + r.n AS mkey
    FROM rin r ASOF JOIN epochs e ON r.known_on >= e.d
), known AS (  -- each index month's value at each cut: its latest publication known then
    SELECT c.cut, p.index_code, p.mord, p.value
    FROM (SELECT DISTINCT cut FROM epochs) c JOIN pi p ON p.first OR p.published_on <= c.cut
    QUALIFY row_number() OVER (PARTITION BY c.cut, p.index_code, p.mord
                               ORDER BY p.published_on DESC, p._row DESC) = 1
), last_published AS (  -- the highest month of each index published by each epoch (-1: none)
    SELECT e.d, i.index_code, COALESCE(max(p.mord), -1) AS last
    FROM epochs e CROSS JOIN (SELECT DISTINCT index_code FROM fterms) i
    LEFT JOIN pi p ON p.index_code = i.index_code AND p.published_on <= e.d
    GROUP BY ALL
), states AS (
    SELECT DISTINCT fid, d, cut FROM rows
), bases AS (  -- each formula's terms at each cut: base value, and the bases' lcm
    SELECT f.*, c.cut, b.value AS base,
           list_reduce(list(b.value) OVER (PARTITION BY f.fid, c.cut),
                       lambda x, y: lcm(x, y)) AS l
    FROM (SELECT DISTINCT fid, cut FROM states) c JOIN fterms f USING (fid)
    LEFT JOIN known b ON b.cut = c.cut AND b.index_code = f.index_code AND b.mord = f.base_mord
), def_coef AS (  -- a month's definitive coefficient (complete: all its indices published)
    SELECT fid, cut, mord, complete, scale, half_up(num * scale, 10000 * l)::BIGINT AS coef
    FROM (
        SELECT m.fid, m.cut, m.mord, bool_and(v.value IS NOT NULL) AS complete,
               any_value(b.fixed * b.l) + SUM(b.weight * v.value * (b.l // b.base)) AS num,
               any_value(b.l) AS l, any_value(b.scale) AS scale
        FROM (SELECT DISTINCT c.fid, c.cut, k.mord
              FROM (SELECT DISTINCT rkey, fid, cut FROM rows) c JOIN rows k USING (rkey)) m
        JOIN bases b ON b.fid = m.fid AND b.cut = m.cut
        LEFT JOIN known v ON v.cut = m.cut AND v.index_code = b.index_code AND v.mord = m.mord
        GROUP BY m.fid, m.cut, m.mord
    )
), prov_coef AS (  -- a month's coefficient at an epoch: each index at its last month known
    SELECT fid, d, mord, scale, half_up(num * scale, 10000 * l)::BIGINT AS coef
    FROM (
        SELECT s.fid, s.d, m.mord,
               any_value(b.fixed * b.l)
                   + SUM(b.weight * COALESCE(v.value, b.base) * (b.l // b.base)) AS num,
               any_value(b.l) AS l, any_value(b.scale) AS scale
        FROM states s JOIN (SELECT DISTINCT fid, mord FROM rows) m USING (fid)
        JOIN bases b ON b.fid = s.fid AND b.cut = s.cut
        JOIN last_published lp ON lp.d = s.d AND lp.index_code = b.index_code
        LEFT JOIN known v ON v.cut = s.cut AND v.index_code = b.index_code
                          AND v.mord = least(m.mord, lp.last)
        GROUP BY s.fid, s.d, m.mord
    )
), limits AS (  -- months definitive at an epoch: up to the earliest last-published month
    SELECT s.fid, s.d, min(lp.last) AS lmin
    FROM states s JOIN fterms f USING (fid)
    JOIN last_published lp ON lp.d = s.d AND lp.index_code = f.index_code
    GROUP BY ALL
), split AS (  -- k_def: position of the last situation of a definitive month
    SELECT s.rkey, s.fid, s.n, s.pos, s.d, s.cut, COALESCE(h.pos, 0) AS k_def, h.n AS hit_n
    FROM (SELECT r.*, least(l.lmin, r.mord) * 1000000 + 999999 AS def_mkey
          FROM rows r JOIN limits l USING (fid, d)) s
    ASOF LEFT JOIN rows h ON h.rkey = s.rkey AND h.mkey <= s.def_mkey
), definitive_cum AS (  -- each month revised with its definitive values as known at a cut
    SELECT k.rkey, k.n, c.cut, SUM(CASE WHEN dc.complete
        THEN half_up(k.works_month * (dc.coef - dc.scale), dc.scale) ELSE 0 END) OVER (
            PARTITION BY k.rkey, c.cut ORDER BY k.n ROWS UNBOUNDED PRECEDING) AS def_cum
    FROM rows k JOIN (SELECT DISTINCT rkey, cut FROM rows) c USING (rkey)
    JOIN def_coef dc ON dc.fid = k.fid AND dc.cut = c.cut AND dc.mord = k.mord
), provisional AS (  -- the months after k_def, revised with the values known at the epoch
    SELECT s.rkey, s.n, SUM(half_up(k.works_month * (pc.coef - pc.scale), pc.scale)) AS prov
    FROM split s JOIN rows k ON k.rkey = s.rkey AND k.pos > s.k_def AND k.pos <= s.pos
    JOIN prov_coef pc ON pc.fid = s.fid AND pc.d = s.d AND pc.mord = k.mord
    GROUP BY ALL
)
SELECT s.rkey, s.n, (COALESCE(d.def_cum, 0) + COALESCE(p.prov, 0))::BIGINT AS revision_cum,
       s.pos > s.k_def AS revision_provisional
FROM split s
LEFT JOIN definitive_cum d ON d.rkey = s.rkey AND d.n = s.hit_n AND d.cut = s.cut
LEFT JOIN provisional p ON p.rkey = s.rkey AND p.n = s.n
"""

# The contract's figures up to its retention, and its own advance repayment.
AMOUNTS = """
CREATE OR REPLACE TEMP TABLE ledger_amounts AS
WITH amended AS (
    SELECT k.ckey, a.signed_on::TIMESTAMP AS signed_on, SUM(SUM(a.amount_cents)) OVER (
        PARTITION BY k.ckey ORDER BY a.signed_on ROWS UNBOUNDED PRECEDING) AS amended
    FROM amendments a JOIN ledger_keys k USING (contract_id) GROUP BY k.ckey, a.signed_on
), guaranteed AS (
    SELECT k.ckey, g.received_on::TIMESTAMP AS received_on, SUM(SUM(g.amount_cents)) OVER (
        PARTITION BY k.ckey ORDER BY g.received_on ROWS UNBOUNDED PRECEDING) AS covered
    FROM guarantees g JOIN ledger_keys k USING (contract_id) GROUP BY k.ckey, g.received_on
), terms AS (
    SELECT k.ckey, c.* EXCLUDE (contract_id) FROM contracts c JOIN ledger_keys k USING (contract_id)
), dated AS (  -- the contract total HT and the guarantees known on each situation's date
    SELECT s.ckey, s.n, t.initial_total_ht + COALESCE(a.amended, 0) AS contract_total,
           COALESCE(g.covered, 0) AS covered
    FROM (SELECT ckey, n, known_on FROM ledger_sit) s JOIN terms t USING (ckey)
    ASOF LEFT JOIN amended a ON a.ckey = s.ckey AND s.known_on >= a.signed_on
    ASOF LEFT JOIN guaranteed g ON g.ckey = s.ckey AND s.known_on >= g.received_on
), adjusted AS (  -- a penalty by days: days × contract total HT (as of its situation) / denom.
    SELECT k.ckey, a.n,
           SUM(CASE WHEN a.kind = 'bonus' THEN a.amount_cents ELSE 0 END) AS bonus,
           SUM(CASE WHEN a.kind <> 'penalty' THEN 0
                    WHEN a.days IS NOT NULL
                    THEN half_up(a.days::HUGEINT * d.contract_total, t.penalty_denominator)
                    ELSE COALESCE(a.amount_cents, 0) END) AS penalty
    FROM adjustments a JOIN ledger_keys k USING (contract_id)
    JOIN dated d ON d.ckey = k.ckey AND d.n = a.n JOIN terms t ON t.ckey = k.ckey
    GROUP BY ALL
), running AS (
    SELECT s.ckey, s.n, SUM(COALESCE(j.bonus, 0)) OVER w AS bonus_cum,
           SUM(COALESCE(j.penalty, 0)) OVER w AS raw_penalty
    FROM (SELECT ckey, n FROM ledger_sit) s LEFT JOIN adjusted j USING (ckey, n)
    WINDOW w AS (PARTITION BY s.ckey ORDER BY s.n ROWS UNBOUNDED PRECEDING)
), ht AS (
    SELECT s.ckey, s.contract_id, s.n, s.month, s.works_month, s.works_cum,
           COALESCE(r.revision_cum, 0) AS revision_cum,
           COALESCE(r.revision_provisional, false) AS revision_provisional,
           u.bonus_cum, s.works_cum + COALESCE(r.revision_cum, 0) + u.bonus_cum AS total_ht_cum,
           CASE WHEN u.raw_penalty <= t.penalty_waiver_cents THEN 0
                ELSE least(u.raw_penalty,
                           half_up(d.contract_total::HUGEINT * t.penalty_cap_bp, 10000))
           END AS penalty_cum,
           d.covered, t.vat_rate_bp, t.retention_base, t.retention_rate_bp,
           t.initial_total_ht, t.advance_cents, t.advance_start_bp, t.advance_end_bp
    FROM ledger_sit s JOIN terms t USING (ckey) JOIN dated d USING (ckey, n)
    JOIN running u USING (ckey, n)
    LEFT JOIN ledger_revision r ON r.rkey = s.ckey AND r.n = s.n
), gross AS (
    SELECT *, total_ht_cum + vat_cum AS total_ttc_cum,
           half_up(CASE WHEN retention_base = 'ht' THEN total_ht_cum
                        ELSE total_ht_cum + vat_cum END::HUGEINT * retention_rate_bp, 10000)
               AS gross_retention
    FROM (SELECT *, half_up(total_ht_cum::HUGEINT * vat_rate_bp, 10000) AS vat_cum FROM ht)
)
SELECT g.*, greatest(gross_retention - covered, 0) AS retention_cum,
       k.contract_id IS NOT NULL AS closing,
       CASE WHEN k.contract_id IS NOT NULL THEN g.advance_cents
            ELSE advance_repaid(works_cum, initial_total_ht, advance_start_bp, advance_end_bp,
                                g.advance_cents) END AS own_advance_repaid
FROM gross g LEFT JOIN closing k ON k.contract_id = g.contract_id AND k.n = g.n
"""

# What each directly paid subcontractor is owed: its HT less its share of the retention
# (shrunk as a guarantee shrinks the contract's) and its own advance's repayment.
PAYEES = """
CREATE OR REPLACE TEMP TABLE ledger_payees AS
WITH own AS (
    SELECT p.ckey, p.pkey, p.contract_id, p.n, p.subcontract_id, p.works_cum,
           COALESCE(r.revision_cum, 0) AS revision_cum,
           p.works_cum + COALESCE(r.revision_cum, 0) AS own_ht,
           a.gross_retention, a.retention_cum AS withheld, a.closing, a.retention_rate_bp,
           p.sub_amount, p.sub_advance, a.advance_start_bp, a.advance_end_bp
    FROM ledger_payee_works p
    JOIN ledger_amounts a ON a.ckey = p.ckey AND a.n = p.n
    LEFT JOIN ledger_revision r ON r.rkey = -p.pkey AND r.n = p.n
), shares AS (
    SELECT *, CASE WHEN withheld < gross_retention
                   THEN half_up(share::HUGEINT * withheld, greatest(gross_retention, 1))
                   ELSE share END AS retention_cum,
              CASE WHEN closing THEN sub_advance
                   ELSE advance_repaid(works_cum, sub_amount, advance_start_bp, advance_end_bp,
                                       sub_advance) END AS advance_repaid_cum
    FROM (SELECT *, half_up(own_ht::HUGEINT * retention_rate_bp, 10000) AS share FROM own)
)
SELECT ckey, pkey, contract_id, n, subcontract_id, works_cum, revision_cum,
       retention_cum::BIGINT AS retention_cum, advance_repaid_cum::BIGINT AS advance_repaid_cum,
       (own_ht - retention_cum - advance_repaid_cum)::BIGINT AS paid_cum
FROM shares
"""

LEDGER = """
WITH payees AS (
    SELECT ckey, n, SUM(advance_repaid_cum) AS advance_repaid, SUM(paid_cum) AS paid
    FROM ledger_payees GROUP BY ALL
), due AS (
    SELECT a.*, own_advance_repaid + COALESCE(p.advance_repaid, 0) AS advance_repaid_cum,
           COALESCE(r.amount_cents, 0) AS rectification_month,
           COALESCE(p.paid, 0) AS direct_payment_cum
    FROM ledger_amounts a LEFT JOIN payees p USING (ckey, n)
    LEFT JOIN rectifications r ON r.contract_id = a.contract_id AND r.n = a.n
), ledger AS (
    SELECT *, total_ttc_cum - penalty_cum - advance_repaid_cum - retention_cum
              + rectification_month AS due_cum
    FROM due
), previous AS (
    SELECT ckey, n, COALESCE(LAG(revision_cum) OVER w, 0) AS previous_revision_cum,
           COALESCE(LAG(due_cum) OVER w, 0) AS previous_due_cum
    FROM (SELECT ckey, n, revision_cum, due_cum FROM ledger)
    WINDOW w AS (PARTITION BY ckey ORDER BY n)
)
SELECT contract_id, n, month, works_cum, works_month, revision_cum,
       revision_cum - previous_revision_cum AS revision_month,
       revision_provisional, bonus_cum::BIGINT AS bonus_cum, penalty_cum::BIGINT AS penalty_cum,
       total_ht_cum::BIGINT AS total_ht_cum, vat_cum::BIGINT AS vat_cum,
       total_ttc_cum::BIGINT AS total_ttc_cum, advance_repaid_cum::BIGINT AS advance_repaid_cum,
       retention_cum::BIGINT AS retention_cum, rectification_month::BIGINT AS rectification_month,
       due_cum::BIGINT AS due_cum, direct_payment_cum::BIGINT AS direct_payment_cum,
       previous_due_cum::BIGINT AS previous_due_cum,
       (due_cum - previous_due_cum)::BIGINT AS net_month
FROM ledger JOIN previous USING (ckey, n)
ORDER BY contract_id, n
"""

DIRECT_PAYMENTS = """
SELECT *, (paid_cum - COALESCE(LAG(paid_cum) OVER (PARTITION BY pkey ORDER BY n), 0))::BIGINT
    AS paid_month
FROM ledger_payees ORDER BY contract_id, subcontract_id, n
"""

STEPS = [KEYS, WORKS, SITUATIONS, PAYEE_WORKS, REVISION, AMOUNTS, PAYEES]

_EMPTY = {
    "adjustments": "contract_id VARCHAR, n BIGINT, kind VARCHAR, days BIGINT, amount_cents BIGINT",
    "guarantees": "contract_id VARCHAR, amount_cents BIGINT, received_on TIMESTAMP",
    "subcontracts": "subcontract_id VARCHAR, contract_id VARCHAR, amount_cents BIGINT, "
                    "direct_payment BOOLEAN, accepted_on TIMESTAMP, advance_cents BIGINT",
    "amendments": "contract_id VARCHAR, amount_cents BIGINT, signed_on TIMESTAMP",
    "revision_terms": "contract_id VARCHAR, index_code VARCHAR, weight_bp BIGINT",
    "price_index": "index_code VARCHAR, month VARCHAR, value_e4 BIGINT, published_on TIMESTAMP, "
                   "_row BIGINT",
    "rectifications": "contract_id VARCHAR, n BIGINT, amount_cents BIGINT",
    "closing": "contract_id VARCHAR, n BIGINT",
}


def register(con: duckdb.DuckDBPyConnection, contracts: pd.DataFrame,
             price_lines: pd.DataFrame, situations: pd.DataFrame, progress: pd.DataFrame,
             adjustments: pd.DataFrame | None = None, guarantees: pd.DataFrame | None = None,
             subcontracts: pd.DataFrame | None = None, amendments: pd.DataFrame | None = None,
             revision_terms: pd.DataFrame | None = None,
             price_index: pd.DataFrame | None = None,
             rectifications: pd.DataFrame | None = None,
             closing: dict[str, int] | None = None) -> None:
    """Register :func:`compute_ledger`'s input frames in `con` under their own names (views on
    the pandas frames: DuckDB reads them when a query runs), an absent one as an empty table,
    and define the SQL macros. The small frames get the optional columns gesprokit reads
    when present (a subcontract's acceptance date and advance; the row order of the index
    publications, which breaks ties between publications of the same date)."""
    con.execute(MACROS)
    if subcontracts is not None:
        subcontracts = subcontracts.copy()
        if "accepted_on" not in subcontracts:  # no acceptance date: every month counts
            subcontracts["accepted_on"] = pd.Timestamp("1900-01-01")
        if "advance_cents" not in subcontracts:
            subcontracts["advance_cents"] = 0
        subcontracts["advance_cents"] = subcontracts["advance_cents"].fillna(0).astype("int64")
    if price_index is not None:
        price_index = price_index.assign(_row=np.arange(len(price_index)))
    if "subcontract_id" not in price_lines:
        price_lines = price_lines.assign(subcontract_id=None)
    closing = pd.DataFrame({"contract_id": list(closing), "n": list(closing.values())}
                           ) if closing else None
    frames = {"contracts": contracts, "price_lines": price_lines, "situations": situations,
              "progress": progress, "adjustments": adjustments, "guarantees": guarantees,
              "subcontracts": subcontracts, "amendments": amendments,
              "revision_terms": revision_terms, "price_index": price_index,
              "rectifications": rectifications, "closing": closing}
    for name, frame in frames.items():
        con.execute(f"DROP VIEW IF EXISTS {name}")
        con.execute(f"DROP TABLE IF EXISTS {name}")
        if frame is None or (name in _EMPTY and frame.empty):
            con.execute(f"CREATE TEMP TABLE {name} ({_EMPTY[name]})")
        else:
            con.register(name, frame)


def run_ledger(con: duckdb.DuckDBPyConnection, as_of: datetime
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The situations (LEDGER_COLUMNS) and direct payments (DIRECT_PAYMENT_COLUMNS) frames
    of the frames registered by :func:`register`, ordered as compute_ledger orders them."""
    as_of = pd.Timestamp(as_of).to_pydatetime()
    for step in STEPS:
        con.execute(step, {"as_of": as_of} if "$as_of" in step else None)
    situations = con.execute(LEDGER).df()[LEDGER_COLUMNS]
    direct = con.execute(DIRECT_PAYMENTS).df()[DIRECT_PAYMENT_COLUMNS]
    return situations, direct


def duckdb_ledger(as_of: datetime, con: duckdb.DuckDBPyConnection | None = None,
                  **frames) -> pd.DataFrame:
    """compute_ledger(**frames, as_of=as_of).situations, computed by DuckDB (a new in-memory
    connection unless `con` is given)."""
    con = con or duckdb.connect()
    register(con, **frames)
    return run_ledger(con, as_of)[0]
