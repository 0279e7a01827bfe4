"""The auditor's Excel workbook.

Written with xlsxwriter in constant-memory mode (rows are streamed to disk,
so 100 000 line rows stay fast and small in memory) because it can store the
**cached value** of each SUM formula: a reader that does not recalculate
(openpyxl, pandas, a viewer) sees the same totals as Excel, equal to the
ledger's to the cent. Every figure comes from :mod:`gesprokit.report_data`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter
from tqdm.auto import tqdm
from xlsxwriter.utility import xl_col_to_name

from gesprokit.circuit import ACTION_LABELS, ROLE_LABELS, role_label
from gesprokit.months import format_month_short_fr
from gesprokit.report_data import ReportData
from gesprokit.summary import s_curve

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
EURO = '#,##0.00\\ "€";[Red]-#,##0.00\\ "€"'


@dataclass(frozen=True)
class Col:
    """A column of a sheet: source column, French header, kind, width, whether totalled."""

    key: str
    header: str
    kind: str = "text"  # text | money | int | pct_bp | date | datetime | bool | coef
    width: float = 14
    total: bool = False


SYNTHESIS = [
    Col("lot_code", "Lot", width=6), Col("company", "Entreprise", width=34),
    Col("initial_total_ht", "Marché initial HT", "money", 17, True),
    Col("amendments_ht", "Avenants HT", "money", 15, True),
    Col("contract_total_ht", "Marché total HT", "money", 17, True),
    Col("works_cum", "Travaux cumulés HT", "money", 17, True),
    Col("pct_done_bp", "Réalisé", "pct_bp", 9),
    Col("revision_cum", "Révision cumulée", "money", 15, True),
    Col("retention_cum", "Retenue détenue", "money", 15, True),
    Col("penalty_cum", "Pénalités", "money", 13, True),
    Col("advance_cents", "Avance versée", "money", 15, True),
    Col("advance_outstanding", "Avance à rembourser", "money", 15, True),
    Col("paid_ttc", "Payé TTC", "money", 17, True),
    Col("late_interest", "Intérêts moratoires et indemnités", "money", 17, True),
]
SITUATIONS = [
    Col("contract_id", "Marché", width=17), Col("n", "N°", "int", 5), Col("month", "Mois", width=9),
    Col("works_month", "Travaux du mois HT", "money", 16, True),
    Col("works_cum", "Travaux cumulés HT", "money", 16),
    Col("revision_month", "Révision du mois", "money", 14, True),
    Col("revision_cum", "Révision cumulée", "money", 14),
    Col("revision_provisional", "Révision provisoire", "bool", 10),
    Col("bonus_cum", "Primes cumulées", "money", 13),
    Col("penalty_cum", "Pénalités cumulées", "money", 13),
    Col("total_ht_cum", "Total HT cumulé", "money", 16),
    Col("vat_cum", "TVA cumulée", "money", 14),
    Col("total_ttc_cum", "Total TTC cumulé", "money", 16),
    Col("advance_repaid_cum", "Avance remboursée cumulée", "money", 15),
    Col("retention_cum", "Retenue de garantie cumulée", "money", 15),
    Col("rectification_month", "Rectification du maître d'ouvrage TTC", "money", 15, True),
    Col("due_cum", "Montant cumulé dû", "money", 16),
    Col("direct_payment_cum", "Dont paiement direct", "money", 15),
    Col("previous_due_cum", "Acomptes précédents", "money", 16),
    Col("net_month", "Net à payer du mois TTC", "money", 16, True),
]
PRICE_LINES = [
    Col("contract_id", "Marché", width=17), Col("line_no", "Ligne", width=8),
    Col("label", "Désignation", width=50), Col("unit", "Unité", width=6),
    Col("quantity", "Quantité", width=9), Col("unit_price_cents", "Prix unitaire HT", "money", 14),
    Col("amount_cents", "Montant HT", "money", 15, True),
    Col("amendment_no", "Avenant", "int", 8), Col("subcontract_id", "Sous-traité", width=14),
]
LINES = [
    Col("contract_id", "Marché", width=17), Col("n", "Situation", "int", 9),
    Col("line_no", "Ligne", width=8),
    Col("amount_cents", "Montant de la ligne HT", "money", 16),
    Col("pct_bp", "Avancement cumulé", "pct_bp", 11),
    Col("line_cum", "Montant cumulé HT", "money", 16),
    Col("line_month", "Montant du mois HT", "money", 16, True),
]
REVISIONS = [
    Col("contract_id", "Marché", width=17), Col("n", "N°", "int", 5), Col("month", "Mois", width=9),
    Col("index_codes", "Index", width=10), Col("coefficient", "Coefficient Cn", "coef", 12),
    Col("revision_provisional", "Provisoire", "bool", 10),
    Col("revision_month", "Révision du mois", "money", 15, True),
    Col("revision_cum", "Révision cumulée", "money", 15),
]
RETENTIONS = [
    Col("contract_id", "Marché", width=17), Col("n", "N°", "int", 5), Col("month", "Mois", width=9),
    Col("retention_cum", "Retenue de garantie cumulée", "money", 16),
    Col("guarantees", "Garanties reçues", "money", 15),
    Col("penalty_cum", "Pénalités cumulées", "money", 15),
    Col("bonus_cum", "Primes cumulées", "money", 15),
    Col("reasons", "Motifs (pénalités, primes)", width=60),
]
DELAYS = [
    Col("contract_id", "Marché", width=17), Col("payment", "Paiement", width=14),
    Col("payee", "Bénéficiaire", width=24), Col("n", "N°", "int", 5),
    Col("month", "Mois", width=9), Col("received_at", "Reçue le", "datetime", 16),
    Col("paid_at", "Payée le", "datetime", 16),
    Col("amount_due_ttc", "Montant TTC", "money", 15, True),
    Col("deadline_days", "Délai (jours)", "int", 8),
    Col("interrupted_days", "Interruption (jours)", "int", 10),
    Col("deadline_on", "Date limite", "date", 12),
    Col("elapsed_days", "Jours écoulés", "int", 9), Col("late_days", "Jours de retard", "int", 9),
    Col("late_rate_bp", "Taux des intérêts", "pct_bp", 9),
    Col("late_interest", "Intérêts moratoires", "money", 14, True),
    Col("recovery_indemnity", "Indemnité forfaitaire", "money", 13, True),
    Col("days_verifier", "Jours OPC", "int", 7), Col("days_moe", "Jours MOE", "int", 7),
    Col("days_amo", "Jours AMO", "int", 7), Col("days_moa", "Jours MOA", "int", 7),
    Col("days_treasury", "Jours comptable", "int", 9),
    Col("moe_limit_breached", "MOE > 7 jours", "bool", 9),
    Col("returns_count", "Retours", "int", 7), Col("return_reasons", "Motifs de retour", width=20),
]
GENERAL = [
    Col("contract_id", "Marché", width=17), Col("stage", "Étape", width=40),
    Col("label", "Rubrique", width=40), Col("amount", "Montant", "money", 16),
]
JOURNAL = [
    Col("event_id", "N°", "int", 7), Col("at", "Date", "datetime", 17),
    Col("actor", "Acteur", width=18), Col("role", "Rôle", width=18),
    Col("action", "Action", width=28), Col("contract_id", "Marché", width=17),
    Col("n", "Situation", "int", 8), Col("comment", "Commentaire", width=40),
    Col("prev_hash", "Empreinte précédente", width=20), Col("hash", "Empreinte SHA-256", width=20),
]


class _Writer:
    def __init__(self, path: Path):
        # Rows are streamed to disk; texts are written as they are (no URL or formula
        # detection, which costs a regular expression per cell).
        self.book = xlsxwriter.Workbook(str(path), {
            "constant_memory": True, "strings_to_urls": False, "strings_to_formulas": False,
            "default_date_format": "dd/mm/yyyy"})
        f = self.book.add_format
        self.header = f({"bold": True, "bg_color": "#1F5F8B", "font_color": "white",
                         "text_wrap": True, "valign": "vcenter", "border": 1})
        self.formats = {
            "money": f({"num_format": EURO}), "int": f({"num_format": "0"}),
            "pct_bp": f({"num_format": "0.00 %"}), "date": f({"num_format": "dd/mm/yyyy"}),
            "datetime": f({"num_format": "dd/mm/yyyy hh:mm"}), "coef": f({"num_format": "0.0000"}),
            "text": None, "bool": None,
        }
        self.total_label = f({"bold": True, "top": 2})
        self.total_money = f({"bold": True, "top": 2, "num_format": EURO})
        self.late = f({"bg_color": "#F8D7DA", "font_color": "#842029"})

    @staticmethod
    def _column(kind: str, values: pd.Series) -> list:
        """A column converted for Excel at once: euros, fractions, date serials, oui/non."""
        if kind in ("money", "pct_bp", "int", "coef"):
            numbers = pd.to_numeric(values)
            scale = {"money": 100, "pct_bp": 10_000}.get(kind)
            out = numbers.to_numpy(dtype=float, na_value=np.nan)
            if scale:
                out = out / scale
            elif kind == "int" and not numbers.isna().any():
                return numbers.astype("int64").tolist()
        elif kind in ("date", "datetime"):
            out = ((pd.to_datetime(values) - EXCEL_EPOCH) / pd.Timedelta(days=1)).to_numpy(
                dtype=float, na_value=np.nan)  # a date serial: the column format shows it
        elif kind == "bool":
            return values.map({True: "oui", False: "non"}).tolist()
        else:
            return [None if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                    else v for v in values.tolist()]
        missing = np.isnan(out)
        listed = out.tolist()
        if missing.any():
            for i in np.flatnonzero(missing):
                listed[i] = None
        return listed

    def table(self, name: str, df: pd.DataFrame, cols: list[Col], progress: bool = False,
              first_row: int = 0):
        """Header, rows, a total line of SUM formulas with cached values; returns the sheet."""
        ws = self.book.add_worksheet(name)
        for j, col in enumerate(cols):
            ws.set_column(j, j, col.width, self.formats[col.kind])
        ws.set_row(first_row, 32)
        ws.write_row(first_row, 0, [c.header for c in cols], self.header)
        ws.freeze_panes(first_row + 1, 0)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)  # all columns on the page width
        ws.repeat_rows(first_row)
        ws.set_header(f"&L&B{name}&R&P / &N")
        columns = [self._column(c.kind, df[c.key]) if c.key in df else [None] * len(df)
                   for c in cols]
        for i, row in enumerate(tqdm(zip(*columns, strict=True), total=len(df), desc=name,
                                     unit=" lignes", disable=not progress, mininterval=0.5)):
            ws.write_row(first_row + 1 + i, 0, row)
        last = first_row + len(df)
        ws.autofilter(first_row, 0, last, len(cols) - 1)
        total_row = last + 1
        if any(c.total for c in cols):
            ws.write(total_row, 0, "Total", self.total_label)
            for j, col in enumerate(cols):
                if not col.total:
                    continue
                letter = xl_col_to_name(j)
                cents = int(pd.to_numeric(df[col.key]).sum()) if len(df) else 0
                ws.write_formula(total_row, j, f"=SUM({letter}{first_row + 2}:{letter}{last + 1})",
                                 self.total_money, cents / 100)
        return ws


def _revision_rows(data: ReportData) -> pd.DataFrame:
    rev = data.ledger.revisions.merge(
        data.ledger.situations[["contract_id", "n", "month", "revision_month"]],
        on=["contract_id", "n"])
    codes = data.frames.revision_terms.groupby("contract_id")["index_code"].agg(", ".join)
    rev["index_codes"] = rev["contract_id"].map(codes)
    scaled = rev["revision_coef_scaled"].astype("Float64")
    rev["coefficient"] = (scaled / rev["revision_coef_scale"].astype("Float64")).astype(float)
    return rev


def _retention_rows(data: ReportData) -> pd.DataFrame:
    s = data.ledger.situations
    known = s[["contract_id", "n", "month", "retention_cum", "penalty_cum", "bonus_cum"]].copy()
    adj = data.frames.adjustments
    if len(adj):
        kind = adj["kind"].map({"penalty": "Pénalité", "bonus": "Prime"})
        text = kind + " : " + adj["reason"]
        reasons = text.groupby([adj["contract_id"], adj["n"]]).agg(" ; ".join)
        known["reasons"] = [reasons.get((c, n), "") for c, n in zip(known["contract_id"],
                                                                   known["n"], strict=True)]
    g = data.frames.guarantees
    total = g.groupby("contract_id")["amount_cents"].sum()
    known["guarantees"] = known["contract_id"].map(total).fillna(0).astype("int64")
    return known


def write_workbook(data: ReportData, path: str | Path, progress: bool = False) -> Path:
    """Write the auditor's workbook (8 sheets + charts) to `path`.

    The price lines' labels are in the DPGF sheet (one row per line), not repeated on
    each of the Lignes sheet's rows (one row per line and situation)."""
    path = Path(path)
    w = _Writer(path)
    synth = w.table("Synthèse", data.synthesis, SYNTHESIS)
    synth.write(len(data.synthesis) + 3, 0,
                f"Situation au {data.as_of:%d/%m/%Y} – montants en euros, TVA 20 %.")
    w.table("Situations", data.ledger.situations, SITUATIONS)
    w.table("DPGF", data.frames.price_lines.sort_values(["contract_id", "line_no"]),
            PRICE_LINES)
    w.table("Lignes", data.ledger.lines, LINES, progress=progress)
    w.table("Révisions", _revision_rows(data), REVISIONS)
    w.table("Retenues et pénalités", _retention_rows(data), RETENTIONS)
    names = dict(zip(data.frames.companies["code"], data.frames.companies["name"], strict=True))
    delays = data.delays.assign(payee=data.delays["payee"].map(names).fillna(
        data.delays["payee"]))
    ws = w.table("Délais", delays, DELAYS)
    late_col = xl_col_to_name(next(i for i, c in enumerate(DELAYS) if c.key == "late_days"))
    ws.conditional_format(1, 0, max(len(delays), 1), len(DELAYS) - 1, {
        "type": "formula", "criteria": f"=${late_col}2>0", "format": w.late})
    journal = data.frames.events.sort_values("event_id").assign(
        role=lambda e: _journal_roles(e),
        action=lambda e: e["action"].map(lambda a: ACTION_LABELS.get(a, a)))
    general = _general_rows(data)
    ws = w.table("Décompte général", general, GENERAL)
    ws.write(len(general) + 2, 0, "Sans procédure de fin de marché engagée : aucune ligne."
             if general.empty else "Les deux lignes de contrôle de chaque marché sont égales "
             "au centime : avance + acomptes + solde = total TTC − pénalités − retenue "
             "conservée.")
    w.table("Journal", journal, JOURNAL, progress=progress)
    _charts(w, data)
    w.book.close()
    return path


def _journal_roles(events: pd.DataFrame) -> pd.Series:
    """Each event's role in French; an MOA's mandataire names its mandate (only the events
    that carry one are parsed)."""
    roles = events["role"].map(lambda r: ROLE_LABELS.get(r, r))
    if "after" not in events:
        return roles
    mandated = events["after"].str.contains('"mandate"', regex=False, na=False)
    if mandated.any():
        roles[mandated] = [role_label(r, a) for r, a in zip(
            events.loc[mandated, "role"], events.loc[mandated, "after"], strict=True)]
    return roles


def _general_rows(data: ReportData) -> pd.DataFrame:
    """The décompte général of each contract whose end has begun (the figures the MOA
    signed, else as they stand on the report's date), one row per heading, then the two
    check rows « avance + acomptes + solde » and « total TTC − pénalités − retenue », equal
    to the cent."""

    from gesprokit.end_of_contract import account_from_frames, final_state, general_figures

    rows = []
    frames = data.frames
    for record in frames.final_accounts.to_dict("records"):
        cid = record["contract_id"]
        receptions = frames.receptions[frames.receptions["contract_id"] == cid]
        reception = receptions.iloc[0].to_dict() if len(receptions) else None
        state = final_state(record, reception, data.as_of.date())
        heads = account_from_frames(frames, cid, data.as_of).headings()
        signed = general_figures(record, state)
        if signed is not None:
            heads["amount"] = heads["key"].map(signed).astype("int64")
        amounts = dict(zip(heads["key"], heads["amount"], strict=True))
        subs = frames.subcontracts
        sub_advances = (subs.loc[subs["contract_id"] == cid, "advance_cents"].fillna(0).sum()
                        if "advance_cents" in subs else 0)
        advance = int(frames.contracts.set_index("contract_id").loc[cid, "advance_cents"]) \
            + int(sub_advances)
        rows += [{"contract_id": cid, "stage": state.stage, "label": r.label,
                  "amount": int(r.amount)} for r in heads.itertuples()]
        rows.append({"contract_id": cid, "stage": state.stage,
                     "label": "Contrôle : avance + acomptes + solde",
                     "amount": advance + amounts["acomptes"] + amounts["solde"]})
        rows.append({"contract_id": cid, "stage": state.stage,
                     "label": "Contrôle : total TTC − pénalités − retenue conservée",
                     "amount": amounts["total_ttc_cum"] - amounts["penalty_cum"]
                     - amounts["retention_cum"]})
    return pd.DataFrame(rows, columns=["contract_id", "stage", "label", "amount"])


def _charts(w: _Writer, data: ReportData) -> None:
    """A 'Graphiques' sheet: S-curve (from its own small table) and days per actor."""
    ws = w.book.add_worksheet("Graphiques")
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 1)
    ws.set_column(0, 0, 9)
    ws.set_column(1, 2, 16, w.formats["money"])
    ws.set_column(3, 3, 16, w.formats["money"])
    ws.set_column(4, 5, 9)
    curve = s_curve(data.ledger.situations, data.frames.contracts, data.frames.amendments,
                    data.frames.planned_progress)
    planned = "planned_cum" in curve
    ws.write_row(0, 0, ["Mois", "Travaux cumulés HT", "Montant des marchés HT",
                        *(["Prévu au planning HT"] if planned else [])], w.header)
    for i, r in enumerate(curve.itertuples(), start=1):
        ws.write_row(i, 0, [format_month_short_fr(r.month), r.works_cum / 100,
                            r.contract_total_ht / 100,
                            *([r.planned_cum / 100] if planned else [])])
    n = len(curve)
    line = w.book.add_chart({"type": "line"})
    line.add_series({"name": "Travaux cumulés HT", "categories": ["Graphiques", 1, 0, n, 0],
                     "values": ["Graphiques", 1, 1, n, 1], "marker": {"type": "circle"}})
    line.add_series({"name": "Montant des marchés HT", "categories": ["Graphiques", 1, 0, n, 0],
                     "values": ["Graphiques", 1, 2, n, 2], "line": {"dash_type": "dash"}})
    if planned:
        line.add_series({"name": "Prévu au planning HT",
                         "categories": ["Graphiques", 1, 0, n, 0],
                         "values": ["Graphiques", 1, 3, n, 3],
                         "line": {"dash_type": "dash_dot"}})
    line.set_title({"name": "Courbe en S – travaux cumulés"})
    line.set_y_axis({"num_format": '#,##0\\ "€"'})
    line.set_size({"width": 760, "height": 360})
    ws.insert_chart("E2", line)
    top = n + 3
    actors = (("days_verifier", "OPC"), ("days_moe", "MOE"), ("days_amo", "AMO"),
              ("days_moa", "MOA"), ("days_treasury", "Comptable"))
    ws.write_row(top, 0, ["Situation", *[label for _, label in actors]], w.header)
    d = data.delays
    labels = d["contract_id"].str.split("-").str[-1] + " n°" + d["n"].astype(str)
    for i, (label, *days) in enumerate(zip(labels, *[d[k] for k, _ in actors], strict=True)):
        ws.write_string(top + 1 + i, 0, label)
        ws.write_row(top + 1 + i, 1, [int(x) for x in days], w.formats["int"])
    bars = w.book.add_chart({"type": "column", "subtype": "stacked"})
    for j, (_, label) in enumerate(actors, start=1):
        bars.add_series({"name": label, "categories": ["Graphiques", top + 1, 0, top + len(d), 0],
                         "values": ["Graphiques", top + 1, j, top + len(d), j], "gap": 40})
    bars.set_title({"name": "Jours consommés par acteur et par situation"})
    bars.set_y_axis({"name": "Jours"})
    bars.set_size({"width": 1100, "height": 420})
    ws.insert_chart("E22", bars)
