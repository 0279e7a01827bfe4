"""Reading raw rows from CSV or XLSX files, keeping each row's line number."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from openpyxl import load_workbook

RawRow = tuple[int, dict[str, str]]


MAX_XLSX_EXPANDED_BYTES = 200 * 1024 * 1024  # a workbook is a zip: bounded once unpacked


class UnreadableFile(ValueError):
    """A file that cannot be read as a table, with the French reason and the fix."""


def _text(path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM), else Windows-1252, which is what French
    Excel writes for « CSV (séparateur : point-virgule) »."""
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("encodage illisible : enregistrer le fichier en « CSV UTF-8 »")


def _csv_rows(path: Path) -> Iterator[RawRow]:
    text = _text(path)
    if not text.strip():  # not even the header line: an empty file is an error
        raise UnreadableFile("fichier vide : la ligne d'en-têtes manque")
    header_line = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=header_line.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            yield reader.line_num, {
                (k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None
            }
    except csv.Error as exc:
        # the record being read when it failed: the one after the last complete line
        raise UnreadableFile(f"ligne {reader.line_num + 1} illisible "
                             f"({_csv_reason(exc)})") from None


def _csv_reason(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"une cellule dépasse {csv.field_size_limit()} caractères"
    return "guillemets ou séparateurs mal appariés"


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    return str(value).strip()


def _xlsx_rows(path: Path) -> Iterator[RawRow]:
    if path.stat().st_size == 0:
        raise UnreadableFile("fichier vide : la ligne d'en-têtes manque")
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise UnreadableFile("ce n'est pas un classeur Excel .xlsx (enregistrer au format "
                             "« Classeur Excel » ou en CSV)") from None
    if expanded > MAX_XLSX_EXPANDED_BYTES:
        raise UnreadableFile(f"classeur trop volumineux une fois décompressé "
                             f"({expanded // (1024 * 1024)} Mio, au plus "
                             f"{MAX_XLSX_EXPANDED_BYTES // (1024 * 1024)} Mio)")
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any broken workbook is one French reason
        raise UnreadableFile("classeur Excel illisible ou endommagé") from None
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = [_cell_text(h) for h in next(rows, [])]
        for line, values in enumerate(rows, start=2):
            cells = [_cell_text(v) for v in values]
            if not any(cells):
                continue
            yield line, dict(zip(header, cells, strict=False))
    finally:
        wb.close()


def read_rows(path: Path) -> list[RawRow]:
    """All data rows of a .csv (`;`, `,` or tab separated; UTF-8 or Windows-1252) or .xlsx
    file; UnreadableFile (French reason) when it cannot be read as a table."""
    if path.suffix.lower() == ".xlsx":
        return list(_xlsx_rows(path))
    return list(_csv_rows(path))


def find_table(folder: Path, name: str) -> Path | None:
    """`name.csv` or `name.xlsx` in `folder`, if present."""
    for suffix in (".csv", ".xlsx"):
        path = folder / f"{name}{suffix}"
        if path.exists():
            return path
    return None
