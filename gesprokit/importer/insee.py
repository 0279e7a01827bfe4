"""INSEE's own series file (« valeurs_mensuelles.csv » of a series download) read as index
publications.

The file opens with a block of header lines — ``Libellé`` (one per series), ``idBank``,
``Dernière mise à jour`` and ``Période`` — then one line per month: ``AAAA-MM``, and for
each series its value followed by a status code (A normal, P provisional, R revised…).
Several series may sit side by side. The file gives no publication date per month, only
the date of its last update: a month not yet in the base, or whose value differs from the
latest one recorded, is a publication of that date; a month recorded with the same value is
already known. Loading a long history with its true publication dates is the job of the
``price_index.csv`` format.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path

from gesprokit.importer.reading import UnreadableFile, _text

HEADER = ("libellé", "idbank", "dernière mise à jour", "période")
INDEX_CODE = re.compile(r"\b((?:BT|TP)\d{2}[a-z]?|ICHT-\w+)\b", re.IGNORECASE)
MONTH = re.compile(r"^\d{4}-\d{2}$")
UPDATED = ("%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def _lines(path: Path) -> list[list[str]]:
    text = _text(path)
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first.count)
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text, newline=""),
                                                           delimiter=delimiter)]


def is_insee_series(path: Path) -> bool:
    """Whether the file is INSEE's layout (its first cell is « Libellé »)."""
    try:
        lines = _lines(path)
    except (OSError, UnreadableFile, csv.Error):
        return False
    return bool(lines and lines[0] and lines[0][0].lower() == "libellé")


def _updated_on(cell: str) -> str:
    for fmt in UPDATED:
        try:
            return datetime.strptime(cell, fmt).date().isoformat()
        except ValueError:
            continue
    raise UnreadableFile(f"date de dernière mise à jour illisible « {cell} » (attendu "
                         "JJ/MM/AAAA HH:MM)")


def insee_rows(path: Path, code: str | None = None) -> list[tuple[int, dict[str, str]]]:
    """The file's months as rows of the ``price_index.csv`` format (``index_code, month,
    value, published_on``, as text, with their line numbers), dated of the file's last
    update. `code` names the index when the series label does not (one series only).
    Raises :class:`UnreadableFile` with the French reason."""
    lines = _lines(path)
    header = {}
    body_start = None
    for number, row in enumerate(lines):
        key = row[0].lower() if row else ""
        if key in HEADER:
            header[key] = row
            if key == "période":
                body_start = number + 1
                break
    missing = [h for h in HEADER if h not in header]
    if missing or body_start is None:
        raise UnreadableFile("fichier de série INSEE incomplet : lignes d'en-tête manquantes ("
                             + ", ".join(f"« {h} »" for h in missing) + ")")
    labels = header["libellé"]
    columns = [i for i in range(1, len(labels)) if labels[i]]
    if code is not None and len(columns) != 1:
        raise UnreadableFile("--code ne vaut que pour un fichier d'une seule série")
    series = []
    for i in columns:
        found = code or (INDEX_CODE.search(labels[i]).group(1).upper()
                         if INDEX_CODE.search(labels[i]) else None)
        if found is None:
            raise UnreadableFile(f"code de l'index introuvable dans le libellé « {labels[i]} » :"
                                 " le préciser avec --code")
        updated = header["dernière mise à jour"]
        cell = updated[i] if i < len(updated) and updated[i] else updated[1]
        series.append((i, found, _updated_on(cell)))
    out = []
    for number, row in enumerate(lines[body_start:], start=body_start + 1):
        if not row or not row[0]:
            continue
        if not MONTH.match(row[0]):
            raise UnreadableFile(f"ligne {number} : période « {row[0]} » illisible (attendu "
                                 "AAAA-MM, séries mensuelles seulement)")
        for i, index_code, published_on in series:
            value = row[i] if i < len(row) else ""
            if value in ("", "(s)", "n.d.", "ND"):
                continue
            out.append((number, {"index_code": index_code, "month": row[0], "value": value,
                                 "published_on": published_on}))
    return out
