"""The PDF documents the circuit produces (fpdf2, DejaVu font for the € sign).

- the contractor's *demande d'acompte* (projet de décompte, HT at initial prices) at submission;
- the MOE's *état d'acompte provisoire* with its annexes (revision, retention, penalties and
  bonuses) at issue;
- the *état d'acompte validé* at the MOA's validation.

Every figure comes from the ledger; the layout is the only thing decided here.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

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

TITLES = {"demande": "Demande d'acompte – projet de décompte mensuel",
          "etat": "État d'acompte provisoire",
          "valide": "État d'acompte validé par le maître d'ouvrage"}


class _Content:
    """A document as plain JSON-ready blocks, laid out by
    :func:`gesprokit.pdf_layout.render_content`: the figures are fixed when the blocks are
    built (inside the action's transaction), the layout may run later."""

    def __init__(self, title: str, footer: str, when: datetime):
        self.data = {"title": title, "footer": footer, "when": when.isoformat(),
                     "blocks": []}

    def facts(self, rows: list[tuple[str, str]]) -> None:
        self.data["blocks"].append(["facts", [[str(a), str(b)] for a, b in rows]])

    def section(self, title: str) -> None:
        self.data["blocks"].append(["section", title])

    def table(self, header: list[str], rows: list[list[str]], widths: tuple,
              text_columns: int = 1) -> None:
        self.data["blocks"].append(["table", header, [[str(v) for v in r] for r in rows],
                                    list(widths), text_columns])

    def text(self, value: str, bold: bool = False, gap: float = 0) -> None:
        self.data["blocks"].append(["text", value, bold, gap])

    def small_lines(self, lines: list[str]) -> None:
        self.data["blocks"].append(["small", lines])


def render(kind: str, frames: Frames, ledger: Ledger, contract_id: str, n: int,
           when: datetime) -> bytes:
    """The PDF of `kind` (demande, etat, valide) for situation `n` of `contract_id`."""
    from gesprokit.pdf_layout import render_content

    return render_content(content(kind, frames, ledger, contract_id, n, when))


def content(kind: str, frames: Frames, ledger: Ledger, contract_id: str, n: int,
            when: datetime, payee: dict | None = None, signatory: str | None = None) -> dict:
    """What the PDF of `kind` (demande, etat, valide) for situation `n` of `contract_id`
    shows, every figure already written out in French (JSON-ready); `payee`: the titulaire's
    profile (gesprokit.company_profile), whose address and bank details it states;
    `signatory`: who validates for the maître d'ouvrage under a mandate (None: itself)."""
    contract = frames.contracts.set_index("contract_id").loc[contract_id]
    company = frames.companies.set_index("code").loc[contract["company_code"], "name"]
    operation = frames.operations.set_index("code").loc[contract["operation_code"]]
    situation = _of(frames.situations, contract_id, n).iloc[0]
    row = _of(ledger.situations, contract_id, n).iloc[0]
    doc = _Content(TITLES[kind], f"{operation['name']} – {contract['title']} – "
                                 f"situation n°{n}", when)
    doc.facts([
        ("Opération", operation["name"]), ("Maître d'ouvrage", operation["buyer_name"]),
        ("Marché", f"{contract_id} – {contract['title']}"), ("Titulaire", company),
        *_payee_facts(payee),
        ("Situation", f"n°{n} – {format_month_fr(situation['month'])}"),
        ("Établi le", format_date_fr(when)),
    ])
    # every line at its last entered % (a line left out keeps its previous one)
    known = _of(ledger.lines, contract_id, upto=n)
    lines = known.groupby("line_no").tail(1).merge(
        frames.price_lines[["contract_id", "line_no", "label"]], on=["contract_id", "line_no"]
    ).sort_values("line_no")
    lines["line_month"] = lines["line_month"].where(lines["n"] == n, 0)
    doc.section("Avancement cumulé par poste (prix initiaux, HT)")
    doc.table(["Poste", "Désignation", "Montant HT", "Avanct.", "Cumul HT", "Du mois HT"],
              [[no, label, format_eur(amount), format_pct_bp(pct), format_eur(cum),
                format_eur(month)]
               for no, label, amount, pct, cum, month in zip(
                  lines["line_no"], lines["label"], lines["amount_cents"], lines["pct_bp"],
                  lines["line_cum"], lines["line_month"], strict=True)]
              + [["", "Total des travaux", "", "", format_eur(row["works_cum"]),
                  format_eur(row["works_month"])]], (13, 63, 26, 20, 26, 26), text_columns=2)
    if kind == "demande":
        doc.text("Montants HT aux prix initiaux du marché, sans révision (CCAG-T art. 12.1). "
                 "Le délai de paiement court à compter de la transmission de la présente "
                 "demande.")
        _history(doc, frames, contract_id, n)
        return doc.data
    prov = " (provisoire : index non publié)" if row["revision_provisional"] else ""
    doc.section("Décompte (montants cumulés depuis la notification)")
    doc.table(["", "Cumul", "Précédent", "Du mois"], _decompte_rows(ledger, row, prov),
              (80, 34, 34, 34))
    rectified = _of(frames.rectifications, contract_id, n)
    if len(rectified):
        doc.text(f"Rectification du maître d'ouvrage : "
                 f"{format_eur(int(rectified['amount_cents'].iloc[0]))} TTC. Motif : "
                 f"{rectified['reason'].iloc[0]}", bold=True)
    creditor = creditor_sentence(int(row["net_month"]))
    if creditor:
        doc.text(creditor, bold=True)
    _annexes(doc, frames, ledger, contract_id, n)
    _history(doc, frames, contract_id, n)
    if kind == "valide":
        by = f"pour le maître d'ouvrage par {signatory}" if signatory else \
            "par le maître d'ouvrage"
        doc.text(f"Validé {by} le {format_date_fr(when)} : net à payer "
                 f"{format_eur(row['net_month'])} TTC.", gap=2)
    return doc.data


def _payee_facts(payee: dict | None) -> list[tuple[str, str]]:
    """The titulaire's address and the account to pay, when its profile gives them."""
    from gesprokit.company_profile import bank_details_line, postal_address

    facts = []
    if postal_address(payee):
        facts.append(("Adresse", postal_address(payee)))
    if bank_details_line(payee):
        facts.append(("Virement au compte", bank_details_line(payee)))
    return facts


def _decompte_rows(ledger: Ledger, row: pd.Series, prov: str) -> list[list[str]]:
    rows = [[label, format_eur(cum), format_eur(old), format_eur(month)]
            for label, cum, old, month in statement_rows(ledger.situations, row, prov)]
    return rows + [["dont paiement direct (HT, retenue déduite)",
                    format_eur(row["direct_payment_cum"]), "", ""]]


def _of(df: pd.DataFrame, contract_id: str, n: int | None = None,
        upto: int | None = None) -> pd.DataFrame:
    """`df`'s rows of the contract (situation `n`, or situations up to `upto`)."""
    mask = df["contract_id"] == contract_id
    if n is not None:
        mask &= df["n"] == n
    if upto is not None:
        mask &= df["n"] <= upto
    return df[mask]


def _annexes(doc: _Content, frames: Frames, ledger: Ledger, contract_id: str, n: int) -> None:
    numbers = iter(range(1, 10))

    def annex(title: str) -> None:  # annexes numbered in the order they appear
        doc.section(f"Annexe {next(numbers)} – {title}")

    rev = _of(ledger.revisions, contract_id, upto=n)
    if len(rev):
        annex("Révision des prix")
        doc.table(["Situation", "Coefficient Cn", "Provisoire", "Révision cumulée"],
                  [[str(r.n), f"{int(r.revision_coef_scaled) / int(r.revision_coef_scale):.4f}"
                    .replace(".", ","), "oui" if r.revision_provisional else "non",
                    format_eur(r.revision_cum)] for r in rev.itertuples()], (30, 40, 30, 40))
    row = _of(ledger.situations, contract_id, n).iloc[0]
    contract = _of(frames.contracts, contract_id).iloc[0]
    guarantees = _of(frames.guarantees, contract_id)
    annex("Retenue de garantie")
    doc.table(["", "Montant"], [[f"Retenue cumulée ({retention_terms(contract)})",
                                 format_eur(row["retention_cum"])]]
              + [[f"Garantie {g.kind.upper()} {g.guarantee_id} reçue le "
                  f"{format_date_fr(g.received_on)}", format_eur(g.amount_cents)]
                 for g in guarantees.itertuples()], (120, 40))
    adj = _of(frames.adjustments, contract_id, upto=n)
    if len(adj):
        annex("Pénalités et primes")
        doc.table(["Situation", "Nature", "Base", "Motif"],
                  [[str(a.n), "Pénalité" if a.kind == "penalty" else "Prime",
                    f"{int(a.days)} jours" if pd.notna(a.days) else format_eur(a.amount_cents),
                    a.reason] for a in adj.itertuples()], (20, 20, 30, 110), text_columns=4)
        doc.text(f"Pénalités retenues à ce jour : {format_eur(row['penalty_cum'])} "
                 f"({penalty_terms(contract)}).")
    direct = _of(ledger.direct_payments, contract_id, n)
    if len(direct):
        annex("Paiement direct des sous-traitants (HT, autoliquidation)")
        doc.table(["Sous-traité", "Travaux", "Révision", "Retenue", "Avance remb.",
                   "Cumul payé", "Du mois"],
                  [[d.subcontract_id, format_eur(d.works_cum), format_eur(d.revision_cum),
                    format_eur(d.retention_cum), format_eur(d.advance_repaid_cum),
                    format_eur(d.paid_cum), format_eur(d.paid_month)]
                   for d in direct.itertuples()], (32, 26, 22, 22, 24, 28, 26), text_columns=1)


def _history(doc: _Content, frames: Frames, contract_id: str, n: int) -> None:
    """Every comment, correction, return reason and interruption of the situation so far."""
    timeline = situation_timeline(frames.events, contract_id, n, frames.price_lines)
    timeline = timeline[timeline["Détail"] != ""]
    if timeline.empty:
        return
    doc.section("Suivi de la situation (corrections, justifications, retours)")
    doc.small_lines([f"{f'{r.Date} – ' if r.Date else ''}{r.Rôle} – {r.Action} : {r.Détail}"
                     for r in timeline.itertuples()])
