"""The progress table (cumulative % per price line per situation), the largest of a folder:
kept as a frame, checked column by column and written in bulk.

A portfolio's progress runs to a million rows; a dict per row and a check per row made its
import take minutes. The rules and the French problems are those of a row-by-row reading:
each problem bears the row's line and comes in the same order (rows by contract, line and
situation; per row, situation, price line, ceiling, amendment, then fall).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from gesprokit import schema
from gesprokit.contract_rules import before_amendment_problem
from gesprokit.errors import Problem

if TYPE_CHECKING:
    from gesprokit.importer.fields import Field
    from gesprokit.importer.loader import ParsedColumns, ParsedFolder

DUPLICATE = "avancement en double pour cette ligne et cette situation"
ABOVE_100 = "avancement supérieur à 100 % sur une ligne qui ne l'autorise pas"
FALL = "avancement en baisse : une justification est obligatoire"
INT_KEYS = ("n", "pct_bp")
COPY_ROWS = 100_000  # rows handed to the driver at once: bounds the memory of the tuples


def progress_frame(parsed: ParsedColumns | None, fields: list[Field],
                   display: str) -> pd.DataFrame:
    """The accepted rows as a frame: ``_line`` and each field's key (object columns, the
    integers as int64); its file name in ``attrs["file"]``."""
    keys = [fl.key for fl in fields]
    if parsed is None:
        frame = pd.DataFrame({"_line": pd.Series([], dtype="int64"),
                              **{k: pd.Series([], dtype=object) for k in keys}})
    else:
        ok = parsed.ok
        frame = pd.DataFrame({"_line": parsed.lines[ok],
                              **{k: pd.Series(parsed.values[k][ok], dtype=object)
                                 for k in keys}})
    for key in INT_KEYS:
        if key in frame:
            frame[key] = frame[key].astype("int64")
    frame.attrs["file"] = display
    return frame


def _factorized(column: pd.Series, sort: bool = False) -> tuple[np.ndarray, list]:
    """(index per row, distinct values as plain Python values)."""
    codes, uniques = pd.factorize(column, sort=sort)
    return codes, uniques.tolist()


def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index per row, row of first occurrence per distinct pair) of two code columns."""
    codes, _ = pd.factorize(a.astype(np.int64) * (int(b.max(initial=0)) + 1) + b)
    # codes are numbered in order of appearance: a first occurrence exceeds all before it
    seen = np.maximum.accumulate(codes)
    return codes, np.flatnonzero(np.concatenate(([True], codes[1:] > seen[:-1])))


def _problems(found: list[tuple[np.ndarray, int, str, np.ndarray]], lines: np.ndarray,
              display: str) -> list[Problem]:
    """(positions in checking order, rule's rank, column, reasons) -> the problems, in
    checking order, a row's rules in their rank."""
    if not found:
        return []
    where = np.concatenate([w for w, _, _, _ in found])
    rank = np.concatenate([np.full(len(w), r) for w, r, _, _ in found])
    column = np.concatenate([np.full(len(w), c, dtype=object) for w, _, c, _ in found])
    reason = np.concatenate([m for _, _, _, m in found])
    order = np.lexsort((rank, where))
    return [Problem(display, int(lines[where[i]]), column[i], reason[i]) for i in order]


def check_progress(pf: ParsedFolder, lines: dict, situations: dict, amendments: dict) -> None:
    """Progress rows against their price lines, situations and amendments: one row per line
    and situation, a known situation and price line, at most 100 % where the line does not
    allow more, nothing before its amendment's signature, a fall only with its reason."""
    frame = pf.tables["progress"]
    if not len(frame):
        return
    cid_codes, cids = _factorized(frame["contract_id"], sort=True)
    line_codes, line_nos = _factorized(frame["line_no"], sort=True)
    n_codes, ns = _factorized(frame["n"])
    order = np.lexsort((np.arange(len(frame)), frame["n"].to_numpy(), line_codes, cid_codes))
    cid, line, n = cid_codes[order], line_codes[order], n_codes[order]
    pct = frame["pct_bp"].to_numpy()[order]
    comment = frame["comment"].to_numpy()[order]
    row_lines = frame["_line"].to_numpy()[order]
    found: list[tuple[np.ndarray, int, str, np.ndarray]] = []

    def say(mask: np.ndarray, rank: int, column: str, reason) -> None:
        where = np.flatnonzero(mask)
        reasons = np.array([reason(i) for i in where] if callable(reason)
                           else [reason] * len(where), dtype=object)
        found.append((where, rank, column, reasons))

    same = np.zeros(len(order), dtype=bool)
    same[1:] = (cid[1:] == cid[:-1]) & (line[1:] == line[:-1]) & (n[1:] == n[:-1])
    say(same, 0, "line_no", DUPLICATE)

    sit_codes, sit_first = _pairs(cid, n)
    sit_of = [situations.get((cids[cid[i]], ns[n[i]])) for i in sit_first]
    sit_known = np.array([s is not None for s in sit_of], dtype=bool)[sit_codes]
    say(~same & ~sit_known, 1, "n",
        lambda i: f"situation {cids[cid[i]]} n°{ns[n[i]]} inconnue")

    pair_codes, pair_first = _pairs(cid, line)
    line_of = [lines.get((cids[cid[i]], line_nos[line[i]])) for i in pair_first]
    line_known = np.array([row is not None for row in line_of], dtype=bool)[pair_codes]
    say(~same & ~line_known, 2, "line_no",
        lambda i: f"ligne de prix « {line_nos[line[i]]} » inconnue pour {cids[cid[i]]}")
    live = ~same & line_known

    may_exceed = np.array([bool(row and row["may_exceed"]) for row in line_of],
                          dtype=bool)[pair_codes]
    say(live & (pct > 10_000) & ~may_exceed, 3, "pct", ABOVE_100)

    amendment_of = [amendments.get((cids[cid[i]], row.get("amendment_no"))) if row else None
                    for i, row in zip(pair_first, line_of, strict=True)]
    on_amendment = np.array([a is not None for a in amendment_of], dtype=bool)[pair_codes]
    early: dict[int, str | None] = {}  # the reason depends on the line and the situation
    by_pair: dict[tuple[int, int], str | None] = {}
    for i in np.flatnonzero(live & on_amendment & sit_known & (pct > 0)):
        key = (int(pair_codes[i]), int(sit_codes[i]))
        if key not in by_pair:
            amendment, situation = amendment_of[key[0]], sit_of[key[1]]
            by_pair[key] = before_amendment_problem(amendment["amendment_no"],
                                                    amendment["signed_on"],
                                                    situation["month"], int(pct[i]))
        early[i] = by_pair[key]
    too_early = np.zeros(len(order), dtype=bool)
    too_early[[i for i, reason in early.items() if reason is not None]] = True
    say(too_early, 4, "pct", lambda i: early[i])

    kept = np.flatnonzero(live)  # each row's previous entry: the last kept row of its line
    fall = np.zeros(len(order), dtype=bool)
    fall[kept[1:]] = ((cid[kept[1:]] == cid[kept[:-1]]) & (line[kept[1:]] == line[kept[:-1]])
                      & (pct[kept[1:]] < pct[kept[:-1]]))
    blank = pd.isna(comment) | (comment == "")
    say(fall & blank, 5, "comment", FALL)
    pf.problems += _problems(found, row_lines, frame.attrs["file"])


def sealed_keys(frame: pd.DataFrame) -> set[tuple]:
    """The situation groups the rows belong to (gesprokit.seals)."""
    if frame.empty:
        return set()
    # on integer codes: no copy of a million texts to hash
    codes, contracts = pd.factorize(frame["contract_id"])
    n = frame["n"].to_numpy(dtype="int64")
    span = int(n.max()) + 1
    pairs = np.unique(codes.astype("int64") * span + n)
    return {("situation", contracts[k // span], int(k % span)) for k in pairs.tolist()}


def _tuples(frame: pd.DataFrame, columns: list[str]):
    """The rows as tuples of plain Python values, a slice at a time."""
    for start in range(0, len(frame), COPY_ROWS):
        part = frame.iloc[start:start + COPY_ROWS]
        yield list(zip(*(part[c].tolist() for c in columns), strict=True))


def insert_progress(conn: Connection, frame: pd.DataFrame) -> None:
    """Write the rows in the caller's transaction: COPY on PostgreSQL, else one prepared
    INSERT run over plain tuples. A refusal of the base raises the driver's error."""
    columns = [c.name for c in schema.Progress.__table__.columns]
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(
                f"COPY {schema.Progress.__tablename__} ({names}) FROM STDIN") as copy:
            for rows in _tuples(frame, columns):
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {schema.Progress.__tablename__} ({names}) VALUES ({marks})"
    for rows in _tuples(frame, columns):
        conn.exec_driver_sql(sql, rows)
