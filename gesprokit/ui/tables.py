"""Tables people can work with on a served page: every row (no pandas truncation, no index),
French headers and formats already applied by the caller, and a spreadsheet export.

A table is an ipywidgets HTML block whose cells are escaped by pandas; the export is a
download link to an .xlsx of exactly the rows shown.
"""

from __future__ import annotations

import io

import ipywidgets as w
import pandas as pd

from gesprokit.ui.common import download_link, esc

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TABLE_CSS = """<style>
.gk-table {max-height: 520px; overflow: auto; border: 1px solid #ddd;}
.gk-table table {border-collapse: collapse; font-size: 13px;}
.gk-table th {position: sticky; top: 0; background: #f3f5f7; text-align: left;
              padding: 4px 8px; border-bottom: 1px solid #bbb;}
.gk-table td {padding: 3px 8px; border-bottom: 1px solid #eee; max-width: 560px;
              vertical-align: top;}
.gk-table tr.gk-total td {font-weight: bold; background: #fafafa; position: sticky; bottom: 0;}
</style>"""


def xlsx_bytes(df: pd.DataFrame, sheet: str = "Tableau") -> bytes:
    """The frame as a one-sheet workbook (headers as shown)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        df.to_excel(writer, sheet_name=sheet[:31], index=False)
    return buffer.getvalue()


def table_html(df: pd.DataFrame, total: dict[str, str] | None = None) -> str:
    """Every row of `df` as an escaped HTML table with a sticky header (and total row)."""
    body = df.to_html(index=False, escape=True, border=0, na_rep="")
    if total:
        cells = "".join(f"<td>{esc(str(total.get(c, '')))}</td>" for c in df.columns)
        body = body.replace("</tbody>", f"<tr class='gk-total'>{cells}</tr></tbody>")
    return f"{TABLE_CSS}<div class='gk-table'>{body}</div>"


def table(df: pd.DataFrame, name: str, empty: str = "Aucune ligne.",
          total: dict[str, str] | None = None) -> w.Widget:
    """A titled count, the whole table and its Excel export (file `name`.xlsx)."""
    if df.empty:
        return w.HTML(f"<p><i>{esc(empty)}</i></p>")
    count = f"{len(df)} ligne{'s' if len(df) > 1 else ''}"
    link = download_link(f"{name}.xlsx", xlsx_bytes(df), "Exporter en Excel", XLSX)
    return w.VBox([w.HTML(f"<p>{count} – {link}</p>"), w.HTML(table_html(df, total))])
