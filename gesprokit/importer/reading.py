"""Reading raw rows from CSV or XLSX files, keeping each row's line number."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from openpyxl import load_workbook

RawRow = tuple[int, dict[str, str]]


def _csv_rows(path: Path) -> Iterator[RawRow]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header_line = fh.readline()
        delimiter = max(";,\t", key=header_line.count)
        fh.seek(0)
        reader = csv.DictReader(fh, delimiter=delimiter)
        for row in reader:
            yield reader.line_num, {
                (k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None
            }


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
    wb = load_workbook(path, read_only=True, data_only=True)
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
    """All data rows of a .csv (`;`, `,` or tab separated) or .xlsx file."""
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
