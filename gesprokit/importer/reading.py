"""Reading raw rows from CSV or XLSX files, keeping each row's line number."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
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


def _csv_text(path: Path) -> tuple[str, str]:
    """The file's text and its separator (the one the header line holds most of)."""
    text = _text(path)
    if not text.strip():  # not even the header line: an empty file is an error
        raise UnreadableFile("fichier vide : la ligne d'en-têtes manque")
    header_line = text.split("\n", 1)[0]
    return text, max(";,\t", key=header_line.count)


def _csv_rows(path: Path) -> Iterator[RawRow]:
    text, delimiter = _csv_text(path)
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


@dataclass
class Columns:
    """A table read column by column: its header (the keys of its first row, as the row
    reader gives them), each row's line number, and per column the distinct cells with each
    row's index into them (a million rows hold few distinct values in most columns)."""

    names: list[str]
    lines: np.ndarray
    cells: dict[str, tuple[np.ndarray, list[str]]]

    def __len__(self) -> int:
        return len(self.lines)

    def column(self, name: str) -> tuple[np.ndarray, list[str]]:
        """(index per row, distinct cells) of `name`; an absent column is empty everywhere."""
        found = self.cells.get(name)
        if found is None:
            return np.zeros(len(self), dtype=np.int32), [""]
        return found


def _distinct(values) -> tuple[np.ndarray, list]:
    """(index per value, distinct values in order of appearance)."""
    index: dict = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int32)
    return codes, list(index)


def _stripped(codes: np.ndarray, values: list[str]) -> tuple[np.ndarray, list[str]]:
    """The same column with its cells stripped, as the row reader gives them."""
    remap, distinct = _distinct(v.strip() for v in values)
    return remap[codes] if len(remap) else codes, distinct


def _header_columns(header: list[str]) -> dict[str, int]:
    """Stripped name -> column position, as ``DictReader`` then stripping resolve repeated
    names (the last of a raw name, then the last of the stripped ones, in first-seen order)."""
    raw: dict[str, int] = {}
    for j, name in enumerate(header):
        raw[name] = j
    out: dict[str, int] = {}
    for name, j in raw.items():
        out[name.strip()] = j
    return out


def _plain_columns(text: str, delimiter: str) -> Columns | None:
    """A CSV without quotes read at once by pyarrow; None when the file is not that plain
    (quotes, a lone carriage return, a first line blank, a row of another width, a cell over
    the csv module's limit): the csv module then reads it, row by row."""
    if '"' in text or "\x00" in text or text[0] in "\r\n":
        return None
    body = text.replace("\r\n", "\n") if "\r" in text else text
    if "\r" in body:
        return None
    data = body.encode("utf-8")
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(data)]))
    if (ends - starts).max() > csv.field_size_limit():  # byte lengths: at least the chars
        return None
    filled = np.flatnonzero(ends > starts)  # 0-based indices of the lines that are not blank
    header = body.split("\n", 1)[0].split(delimiter)
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(autogenerate_column_names=True),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char=False,
                                              escape_char=False, ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"f{j}": pa.string() for j in range(len(header))},
                null_values=[], strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None
    if table.num_rows != len(filled) or table.num_columns != len(header):
        return None
    lines = filled[1:] + 1
    cells = {}
    for name, j in _header_columns(header).items():
        encoded = table.column(j).combine_chunks().dictionary_encode()
        codes = encoded.indices.to_numpy(zero_copy_only=False)[1:]
        cells[name] = _stripped(codes, encoded.dictionary.to_pylist())
    del table, encoded
    pa.default_memory_pool().release_unused()  # the parse's buffers, back to the system
    return Columns(list(cells), lines, cells)


def _csv_columns(text: str, delimiter: str) -> Columns:
    """Any CSV read by the csv module, with ``DictReader``'s rows and line numbers: blank
    lines skipped, a short row padded with empty cells, a long one cut."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    current = 0  # DictReader's line_num, which a refusal names (plus one)
    try:
        header = next(reader, [])
        current = reader.line_num
        width = len(header)
        lines: list[int] = []
        columns: list[list[str]] = [[] for _ in range(width)]
        blanks = False
        for row in reader:
            if not row:
                if not blanks:  # DictReader keeps the first blank line's number meanwhile
                    current, blanks = reader.line_num, True
                continue
            current, blanks = reader.line_num, False
            lines.append(current)
            if len(row) < width:
                row += [""] * (width - len(row))
            for column, cell in zip(columns, row, strict=False):
                column.append(cell)
    except csv.Error as exc:
        raise UnreadableFile(f"ligne {current + 1} illisible ({_csv_reason(exc)})") from None
    cells = {}
    for name, j in _header_columns(header).items():
        codes, distinct = _distinct(columns[j])
        cells[name] = _stripped(codes, distinct)
    return Columns(list(cells), np.array(lines, dtype=np.int64), cells)


def columns_of_rows(rows: list[RawRow]) -> Columns:
    """Rows already read (a workbook, an INSEE series) as columns, cells kept as they are."""
    names = list(rows[0][1]) if rows else []
    every = dict.fromkeys(name for _, raw in rows for name in raw)
    cells = {name: _distinct(raw.get(name, "") for _, raw in rows) for name in every}
    return Columns(names, np.array([line for line, _ in rows], dtype=np.int64), cells)


def read_columns(path: Path) -> Columns:
    """:func:`read_rows` column by column, the same cells and line numbers; a large plain
    CSV is read at once instead of row by row."""
    if path.suffix.lower() == ".xlsx":
        return columns_of_rows(list(_xlsx_rows(path)))
    text, delimiter = _csv_text(path)
    return _plain_columns(text, delimiter) or _csv_columns(text, delimiter)


def find_table(folder: Path, name: str) -> Path | None:
    """`name.csv` or `name.xlsx` in `folder`, if present."""
    for suffix in (".csv", ".xlsx"):
        path = folder / f"{name}{suffix}"
        if path.exists():
            return path
    return None
