"""The PDF documents the circuit produces (fpdf2, DejaVu font for the € sign).

- the contractor's *demande d'acompte* (projet de décompte, HT at initial prices) at submission;
- the MOE's *état d'acompte provisoire* with its annexes (revision, retention, penalties and
  bonuses) at issue;
- the *état d'acompte validé* at the MOA's validation.

Every figure comes from the ledger; the layout is the only thing decided here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from fpdf import FPDF

from gesprokit.ledger import Ledger
from gesprokit.money import format_eur, format_pct_bp
from gesprokit.months import format_date_fr, format_month_fr
from gesprokit.statement import (
    creditor_sentence,
    penalty_terms,
    retention_terms,
    statement_rows,
)
from gesprokit.store import Frames
from gesprokit.timeline import situation_timeline

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
TITLES = {"demande": "Demande d'acompte – projet de décompte mensuel",
          "etat": "État d'acompte provisoire",
          "valide": "État d'acompte validé par le maître d'ouvrage"}


class _Pdf(FPDF):
    def __init__(self, title: str, footer: str):
        super().__init__(format="A4")
        self._title, self._footer = title, footer
        self.add_font("DejaVu", fname=str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font("DejaVu", style="B", fname=str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_font("DejaVu", size=9)
        self.set_auto_page_break(True, margin=18)

    def header(self):
        self.set_font("DejaVu", "B", 13)
        self.cell(0, 8, self._title, new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", size=9)
        self.ln(1)

    def footer(self):
        self.set_y(-13)
        self.set_font("DejaVu", size=7)
        self.cell(0, 5, f"{self._footer} – page {self.page_no()}/{{nb}}", align="C")


def _facts(pdf: _Pdf, rows: list[tuple[str, str]]) -> None:
    for label, value in rows:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(48, 5, label)
        pdf.set_font("DejaVu", size=9)
        pdf.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _table(pdf: _Pdf, header: list[str], rows: list[list[str]], widths: tuple,
           text_columns: int = 1) -> None:
    """A ruled table: a coloured header row, then one line per row; the first
    `text_columns` columns are left-aligned (and shortened to fit), figures right-aligned."""
    height = 5
    pdf.set_font("DejaVu", "B", 8)
    pdf.set_fill_color(31, 95, 139)
    pdf.set_text_color(255, 255, 255)
    for title, width in zip(header, widths, strict=True):
        pdf.cell(width, height + 1, _fit(pdf, title, width), border=1, fill=True, align="C")
    pdf.ln()
    pdf.set_font("DejaVu", size=8)
    pdf.set_text_color(0, 0, 0)
    for row in rows:
        if pdf.will_page_break(height):
            pdf.add_page()
        for i, (value, width) in enumerate(zip(row, widths, strict=True)):
            pdf.cell(width, height, _fit(pdf, value, width), border=1,
                     align="L" if i < text_columns else "R")
        pdf.ln()
    pdf.set_font("DejaVu", size=9)
    pdf.ln(3)


def _fit(pdf: _Pdf, text: str, width: float) -> str:
    """`text` shortened with an ellipsis so that it fits in `width` mm."""
    text = str(text)
    if pdf.get_string_width(text) <= width - 2:
        return text
    while text and pdf.get_string_width(text + "…") > width - 2:
        text = text[:-1]
    return text + "…"


def _section(pdf: _Pdf, title: str) -> None:
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)


def render(kind: str, frames: Frames, ledger: Ledger, contract_id: str, n: int,
           when: datetime) -> bytes:
    """The PDF of `kind` (demande, etat, valide) for situation `n` of `contract_id`."""
    contract = frames.contracts.set_index("contract_id").loc[contract_id]
    company = frames.companies.set_index("code").loc[contract["company_code"], "name"]
    operation = frames.operations.set_index("code").loc[contract["operation_code"]]
    situation = frames.situations.query("contract_id == @contract_id and n == @n").iloc[0]
    row = ledger.situations.query("contract_id == @contract_id and n == @n").iloc[0]
    pdf = _Pdf(TITLES[kind], f"{operation['name']} – {contract['title']} – situation n°{n}")
    pdf.add_page()
    _facts(pdf, [
        ("Opération", operation["name"]), ("Maître d'ouvrage", operation["buyer_name"]),
        ("Marché", f"{contract_id} – {contract['title']}"), ("Titulaire", company),
        ("Situation", f"n°{n} – {format_month_fr(situation['month'])}"),
        ("Établi le", format_date_fr(when)),
    ])
    # every line at its last entered % (a line left out keeps its previous one)
    known = ledger.lines.query("contract_id == @contract_id and n <= @n")
    lines = known.groupby("line_no").tail(1).merge(
        frames.price_lines[["contract_id", "line_no", "label"]], on=["contract_id", "line_no"]
    ).sort_values("line_no")
    lines["line_month"] = lines["line_month"].where(lines["n"] == n, 0)
    _section(pdf, "Avancement cumulé par poste (prix initiaux, HT)")
    _table(pdf, ["Poste", "Désignation", "Montant HT", "Avanct.", "Cumul HT", "Du mois HT"],
           [[r.line_no, r.label, format_eur(r.amount_cents), format_pct_bp(r.pct_bp),
             format_eur(r.line_cum), format_eur(r.line_month)] for r in lines.itertuples()]
           + [["", "Total des travaux", "", "", format_eur(row["works_cum"]),
               format_eur(row["works_month"])]], (13, 63, 26, 20, 26, 26), text_columns=2)
    if kind == "demande":
        pdf.multi_cell(0, 5, "Montants HT aux prix initiaux du marché, sans révision (CCAG-T "
                             "art. 12.1). Le délai de paiement court à compter de la "
                             "transmission de la présente demande.")
        _history(pdf, frames, contract_id, n)
        return bytes(pdf.output())
    prov = " (provisoire : index non publié)" if row["revision_provisional"] else ""
    _section(pdf, "Décompte (montants cumulés depuis la notification)")
    _table(pdf, ["", "Cumul", "Précédent", "Du mois"], _decompte_rows(ledger, row, prov),
           (80, 34, 34, 34))
    creditor = creditor_sentence(int(row["net_month"]))
    if creditor:
        pdf.set_font("DejaVu", "B", 9)
        pdf.multi_cell(0, 5, creditor, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", size=9)
    _annexes(pdf, frames, ledger, contract_id, n)
    _history(pdf, frames, contract_id, n)
    if kind == "valide":
        pdf.ln(2)
        pdf.multi_cell(0, 5, f"Validé par le maître d'ouvrage le {format_date_fr(when)} : "
                             f"net à payer {format_eur(row['net_month'])} TTC.")
    return bytes(pdf.output())


def _decompte_rows(ledger: Ledger, row: pd.Series, prov: str) -> list[list[str]]:
    rows = [[label, format_eur(cum), format_eur(old), format_eur(month)]
            for label, cum, old, month in statement_rows(ledger.situations, row, prov)]
    return rows + [["dont paiement direct (HT, retenue déduite)",
                    format_eur(row["direct_payment_cum"]), "", ""]]


def _annexes(pdf: _Pdf, frames: Frames, ledger: Ledger, contract_id: str, n: int) -> None:
    numbers = iter(range(1, 10))

    def annex(title: str) -> None:  # annexes numbered in the order they appear
        _section(pdf, f"Annexe {next(numbers)} – {title}")

    rev = ledger.revisions.query("contract_id == @contract_id and n <= @n")
    if len(rev):
        annex("Révision des prix")
        _table(pdf, ["Situation", "Coefficient Cn", "Provisoire", "Révision cumulée"],
               [[str(r.n), f"{int(r.revision_coef_scaled) / int(r.revision_coef_scale):.4f}"
                 .replace(".", ","), "oui" if r.revision_provisional else "non",
                 format_eur(r.revision_cum)] for r in rev.itertuples()], (30, 40, 30, 40))
    row = ledger.situations.query("contract_id == @contract_id and n == @n").iloc[0]
    contract = frames.contracts.query("contract_id == @contract_id").iloc[0]
    guarantees = frames.guarantees.query("contract_id == @contract_id")
    annex("Retenue de garantie")
    _table(pdf, ["", "Montant"], [[f"Retenue cumulée ({retention_terms(contract)})",
                                   format_eur(row["retention_cum"])]]
           + [[f"Garantie {g.kind.upper()} {g.guarantee_id} reçue le "
               f"{format_date_fr(g.received_on)}", format_eur(g.amount_cents)]
              for g in guarantees.itertuples()], (120, 40))
    adj = frames.adjustments.query("contract_id == @contract_id and n <= @n")
    if len(adj):
        annex("Pénalités et primes")
        _table(pdf, ["Situation", "Nature", "Base", "Motif"],
               [[str(a.n), "Pénalité" if a.kind == "penalty" else "Prime",
                 f"{int(a.days)} jours" if pd.notna(a.days) else format_eur(a.amount_cents),
                 a.reason] for a in adj.itertuples()], (20, 20, 30, 110), text_columns=4)
        pdf.multi_cell(0, 5, f"Pénalités retenues à ce jour : {format_eur(row['penalty_cum'])} "
                             f"({penalty_terms(contract)}).")
    direct = ledger.direct_payments.query("contract_id == @contract_id and n == @n")
    if len(direct):
        annex("Paiement direct des sous-traitants (HT, autoliquidation)")
        _table(pdf, ["Sous-traité", "Travaux", "Révision", "Retenue", "Avance remb.",
                     "Cumul payé", "Du mois"],
               [[d.subcontract_id, format_eur(d.works_cum), format_eur(d.revision_cum),
                 format_eur(d.retention_cum), format_eur(d.advance_repaid_cum),
                 format_eur(d.paid_cum), format_eur(d.paid_month)]
                for d in direct.itertuples()], (32, 26, 22, 22, 24, 28, 26), text_columns=1)


def _history(pdf: _Pdf, frames: Frames, contract_id: str, n: int) -> None:
    """Every comment, correction, return reason and interruption of the situation so far."""
    timeline = situation_timeline(frames.events, contract_id, n, frames.price_lines)
    timeline = timeline[timeline["Détail"] != ""]
    if timeline.empty:
        return
    pdf.set_x(pdf.l_margin)
    _section(pdf, "Suivi de la situation (corrections, justifications, retours)")
    pdf.set_font("DejaVu", size=8)
    for r in timeline.itertuples():
        when = f"{r.Date} – " if r.Date else ""
        pdf.multi_cell(0, 4, f"{when}{r.Rôle} – {r.Action} : {r.Détail}",
                       new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)
    pdf.ln(2)
