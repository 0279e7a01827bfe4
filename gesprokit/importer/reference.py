"""Reference data as dated facts: a file of index publications or of ECB rates, imported on
its own, all or nothing, as one audited event.

Index file: the columns of ``price_index.csv`` (``index_code;month;value;published_on``),
one row per publication, or INSEE's own series file (gesprokit.importer.insee), whose months
are dated of its last update and of which only new months and changed values are added.
A value corrected by INSEE is a new row of the same month with its
own publication date: it is added, never written over the first one, and every situation
established after that date uses it (gesprokit.revision). ECB file: ``effective_on;rate``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, insert, select

from gesprokit import schema
from gesprokit.audit import append_events, writing
from gesprokit.errors import ImportRejected
from gesprokit.importer.insee import insee_rows, is_insee_series
from gesprokit.importer.loader import (
    ParsedFolder,
    _parse_rows,
    _read,
    _skip_known_reference_rows,
    _unique,
)
from gesprokit.importer.reading import UnreadableFile
from gesprokit.importer.tables import TABLES

KINDS = {  # kind -> (table of the folder format, model, unique key, journal action)
    "index": ("price_index", schema.PriceIndex, ("index_code", "month", "published_on"),
              "index_import"),
    "ecb": ("ecb_rates", schema.EcbRate, ("effective_on",), "ecb_import"),
}


def import_reference(path: str | Path, engine: Engine, kind: str,
                     now: datetime | None = None, actor: str = "import",
                     code: str | None = None) -> dict[str, int]:
    """Add the new rows of an index or ECB file; ``{"added": n, "known": m}``. Raises
    :class:`ImportRejected` listing every problem (a value differing from the one already
    recorded for the same date, a correction dated before a known publication…), with
    nothing written. `code` names the index of an INSEE file whose label does not."""
    name, model, key, action = KINDS[kind]
    path = Path(path)
    pf = ParsedFolder(tables={n: [] for n in (*TABLES, "chorus_services")})
    insee = kind == "index" and path.is_file() and is_insee_series(path)
    if insee:
        try:
            raw = insee_rows(path, code)
        except UnreadableFile as exc:
            pf.problem(None, None, str(exc), file=path.name)
            raw = None
    else:
        raw = _read(pf, path, path.name) if path.is_file() else None
    if raw is None and not pf.problems:
        pf.problem(None, None, "fichier introuvable", file=str(path))
    rows = _parse_rows(pf, name, TABLES[name], path, raw or [], path.name)
    if raw == []:
        pf.problem(None, None, "fichier sans aucune ligne de données", file=path.name)
    pf.tables[name] = rows
    _unique(pf, name, key, "ligne")
    if kind == "index":
        for row in rows:
            if row["published_on"].strftime("%Y-%m") <= row["month"]:
                pf.problem(row, "published_on", "publication antérieure à la fin du mois "
                                                "de l'index")
    with writing(engine) as conn:
        if insee:
            unchanged = _unchanged_insee_rows(conn, rows)
            pf.tables[name] = [r for r in rows if id(r) not in unchanged]
        _skip_known_reference_rows(conn, pf)
        if pf.problems:
            raise ImportRejected(pf.problems)
        fresh = pf.tables[name]
        columns = [c.key for c in model.__table__.columns]
        if fresh:
            conn.execute(insert(model), [{c: r[c] for c in columns} for r in fresh])
            sealed = ({("index", r["index_code"]) for r in fresh} if kind == "index"
                      else {("ecb",)})
            append_events(conn, [{"at": (now or datetime.now()).replace(microsecond=0),
                                  "actor": actor, "role": "admin", "action": action,
                                  "after": json.dumps({"file": path.name, "added": len(fresh)},
                                                      ensure_ascii=False)}],
                          sealed=sorted(sealed))
    return {"added": len(fresh), "known": len(rows) - len(fresh)}


def _unchanged_insee_rows(conn, rows: list[dict]) -> set[int]:
    """The INSEE file's months whose latest recorded value is the file's: already known (the
    file repeats the whole series at every update)."""
    latest = {}
    for r in conn.execute(select(schema.PriceIndex.index_code, schema.PriceIndex.month,
                                 schema.PriceIndex.value_e4).order_by(
            schema.PriceIndex.published_on)):
        latest[(r.index_code, r.month)] = r.value_e4
    return {id(r) for r in rows if latest.get((r["index_code"], r["month"])) == r["value_e4"]}


def index_publications(engine: Engine) -> pd.DataFrame:
    """Every index publication, corrections shown as such, in French columns."""
    with engine.connect() as conn:
        rows = conn.execute(select(schema.PriceIndex).order_by(
            schema.PriceIndex.index_code, schema.PriceIndex.month,
            schema.PriceIndex.published_on)).mappings().all()
    df = pd.DataFrame([dict(r) for r in rows],
                      columns=["index_code", "month", "value_e4", "published_on"])
    df["correction"] = df.duplicated(["index_code", "month"], keep="first")
    return df
