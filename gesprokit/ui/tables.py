"""Tables people can work with on a served page: every row (no pandas truncation, no index),
French headers and formats applied by the caller, sorting, search and pages, and exports.

The table is itables' DataTables widget (an anywidget: its JavaScript ships in the Python
package, so it works offline in Voilà and JupyterLab). It is kept for its sort, search,
paging and copy/CSV buttons, configured in French; amounts sort as numbers (DataTables reads
« 1 234,56 € » with a decimal comma) and JJ/MM/AAAA dates by a hidden ISO key. The Excel
export is a link to an .xlsx of exactly the rows of the table.
"""

from __future__ import annotations

import io
import re

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


def chart(figure) -> w.Widget:
    """A matplotlib figure as a PNG image widget (no backend or display hook needed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return w.Image(value=buffer.getvalue(), format="png",
                   layout=w.Layout(max_width="min(100%, 960px)", height="auto"))


def xlsx_bytes(df: pd.DataFrame, sheet: str = "Tableau") -> bytes:
    """The frame as a one-sheet workbook (headers as shown)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        df.to_excel(writer, sheet_name=sheet[:31], index=False)
    return buffer.getvalue()


def table_html(df: pd.DataFrame, total: dict[str, str] | None = None) -> str:
    """Every row of `df` as an escaped HTML table with a sticky header (and total row)."""
    body = df.to_html(index=False, escape=True, border=0, na_rep="")
    if total:
        cells = "".join(f"<td>{esc(str(total.get(c, '')))}</td>" for c in df.columns)
        body = body.replace("</tbody>", f"<tr class='gk-total'>{cells}</tr></tbody>")
    return f"{TABLE_CSS}<div class='gk-table'>{body}</div>"


FRENCH = {
    "search": "Rechercher :", "lengthMenu": "Afficher _MENU_ lignes",
    "info": "Lignes _START_ à _END_ sur _TOTAL_", "infoEmpty": "Aucune ligne",
    "infoFiltered": "(filtrées parmi _MAX_)", "zeroRecords": "Aucune ligne ne correspond",
    "emptyTable": "Aucune ligne", "decimal": ",", "thousands": "\u202f",
    "paginate": {"first": "«", "last": "»", "next": "›", "previous": "‹"},
    "buttons": {"pageLength": {"_": "Afficher %d lignes", "-1": "Tout afficher"},
                "copy": "Copier", "copyTitle": "Copié dans le presse-papiers",
                "copySuccess": {"_": "%d lignes copiées", "1": "1 ligne copiée"}},
}
_FRENCH_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})(.*)$")


def _sortable(df: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """`df` plus a hidden ISO key after the columns of French dates, and the DataTables
    column settings that sort each date column by its key."""
    out, defs = df.reset_index(drop=True).copy(), []
    for col in list(df.columns):
        values = df[col].astype("string").fillna("")
        filled = values[values != ""]
        if filled.empty or not filled.str.match(_FRENCH_DATE).all():
            continue
        key = f"{col} (tri)"
        out[key] = values.str.replace(_FRENCH_DATE, r"\3-\2-\1\4", regex=True)
        defs += [{"targets": [len(out.columns) - 1], "visible": False, "searchable": False},
                 {"targets": [list(out.columns).index(col)],
                  "orderData": [len(out.columns) - 1]}]
    return out, defs


def data_table(df: pd.DataFrame, page_length: int = 15) -> w.Widget:
    """The sortable, searchable, paged table of `df` (every row sent: no downsampling)."""
    from itables.widget import ITable

    shown, defs = _sortable(df.astype("string").fillna(""))
    return ITable(shown, showIndex=False, pageLength=page_length,
                  lengthMenu=[15, 50, 100, -1] if page_length == 15 else [page_length, -1],
                  language=FRENCH, columnDefs=defs, maxBytes=0, scrollX=True,
                  classes="display compact nowrap", style="width:100%",
                  buttons=["pageLength", "copyHtml5", "csvHtml5"], order=[],
                  layout={"topStart": "buttons", "topEnd": "search"})


def table(df: pd.DataFrame, name: str, empty: str = "Aucune ligne.",
          total: dict[str, str] | None = None, interactive: bool = True) -> w.Widget:
    """A count, the Excel export (file `name`.xlsx), the table (sortable and searchable, or
    plain for a short list read top to bottom), and its total row if any."""
    if df.empty:
        return w.HTML(f"<p><i>{esc(empty)}</i></p>")
    count = f"{len(df)} ligne{'s' if len(df) > 1 else ''}"
    link = download_link(f"{name}.xlsx", xlsx_bytes(df), "Exporter en Excel", XLSX)
    items = [w.HTML(f"<p>{count} – {link}</p>")]
    if total:
        figures = " ; ".join(f"{c} : {v}" for c, v in total.items() if v)
        items.append(w.HTML(f"<p><b>{esc(figures)}</b></p>"))
    items.append(data_table(df) if interactive else w.HTML(table_html(df)))
    return w.VBox(items)
