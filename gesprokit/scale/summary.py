"""The sector auditor's summary workbook (openpyxl): the frames of
:func:`gesprokit.scale.aggregates.auditor_aggregates` with French headers, amounts in euros
and shares in percent, buyers and companies by name and SIRET (no code, no cent shown)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from gesprokit.delay_charts import ACTOR_LABELS
from gesprokit.money import BP, to_decimal_euros

EURO_FORMAT = '#,##0.00 "€";[Red]-#,##0.00 "€"'
PCT_FORMAT = "0.00 %"
BUYER_COLUMNS = [("buyer_name", "Acheteur", "text", 34), ("buyer_siret", "SIRET", "text", 16)]
OWED_COLUMNS = [("late_payments", "Paiements en retard", "int", 12),
                ("late_interest", "Intérêts moratoires", "money", 18),
                ("recovery_indemnity", "Indemnités forfaitaires", "money", 18),
                ("owed", "Total dû", "money", 18)]


def _cell(ws, value, kind: str, bold: bool = False) -> WriteOnlyCell:
    if kind == "money":
        value = to_decimal_euros(int(value))
    elif kind == "pct_bp":
        value = int(value) / BP
    elif kind == "int":
        value = int(value)
    cell = WriteOnlyCell(ws, value=value)
    if kind == "money":
        cell.number_format = EURO_FORMAT
    elif kind == "pct_bp":
        cell.number_format = PCT_FORMAT
    elif kind == "decimal":
        cell.number_format = "0.0"
    if bold:
        cell.font = Font(bold=True)
    return cell


def _sheet(wb: Workbook, title: str, frame: pd.DataFrame, columns: list[tuple]) -> None:
    """One sheet: a bold header row of the French labels, then a row per frame row."""
    ws = wb.create_sheet(title)
    for i, (_key, _label, _kind, width) in enumerate(columns):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A2"
    ws.append([_cell(ws, label, "text", bold=True) for _, label, _, _ in columns])
    for row in frame[[key for key, _, _, _ in columns]].itertuples(index=False):
        ws.append([_cell(ws, v, kind) for v, (_, _, kind, _) in zip(row, columns, strict=True)])


def _owed_by(interest: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    cols = [c for c, _, _, _ in OWED_COLUMNS]
    return interest.groupby(keys, as_index=False)[cols].sum().sort_values(
        "owed", ascending=False, kind="stable")


def write_summary(aggregates: dict[str, pd.DataFrame], path: str | Path,
                  as_of: datetime) -> Path:
    """Write the summary workbook to `path`: a synthesis sheet, then the late interest per
    buyer, year and company, the days per actor and the share of situations paid late."""
    interest, actors, late = (aggregates["interest"], aggregates["actors"],
                              aggregates["late_share"])
    wb = Workbook(write_only=True)
    paid, paid_late = int(late["paid"].sum()), int(late["paid_late"].sum())
    synthesis = pd.DataFrame([
        ("Date de calcul", f"{pd.Timestamp(as_of):%d/%m/%Y}", "text"),
        ("Intérêts moratoires dus", int(interest["late_interest"].sum()), "money"),
        ("Indemnités forfaitaires de recouvrement", int(interest["recovery_indemnity"].sum()),
         "money"),
        ("Total dû aux entreprises", int(interest["owed"].sum()), "money"),
        ("Situations payées", paid, "int"),
        ("Situations payées en retard", paid_late, "int"),
        ("Part des situations payées en retard", paid_late * BP // max(paid, 1), "pct_bp")],
        columns=["label", "value", "kind"])
    ws = wb.create_sheet("Synthèse")
    ws.column_dimensions["A"].width = 42
    ws.column_dimensions["B"].width = 20
    for row in synthesis.itertuples(index=False):
        ws.append([_cell(ws, row.label, "text", bold=True), _cell(ws, row.value, row.kind)])
    _sheet(wb, "Par acheteur", _owed_by(interest, ["buyer_name", "buyer_siret"]),
           BUYER_COLUMNS + OWED_COLUMNS)
    _sheet(wb, "Par année", _owed_by(interest, ["year"]).sort_values("year"),
           [("year", "Année", "int", 8)] + OWED_COLUMNS)
    _sheet(wb, "Par entreprise", _owed_by(interest, ["company_name", "company_siret"]),
           [("company_name", "Entreprise", "text", 30), ("company_siret", "SIRET", "text", 16),
            *OWED_COLUMNS])
    _sheet(wb, "Jours par acteur", actors.assign(actor=actors["actor"].map(ACTOR_LABELS)),
           [("actor", "Acteur", "text", 26), ("days", "Jours consommés", "int", 16),
            ("days_per_situation", "Jours par situation", "decimal", 16),
            ("share_bp", "Part du délai légal", "pct_bp", 16)])
    _sheet(wb, "Retards par acheteur", late,
           BUYER_COLUMNS + [("year", "Année", "int", 8),
                            ("paid", "Situations payées", "int", 14),
                            ("paid_late", "Payées en retard", "int", 14),
                            ("late_share_bp", "Part en retard", "pct_bp", 12)])
    path = Path(path)
    wb.save(path)
    return path
