"""The end-of-contract PDFs a person signs: the titulaire's projet de décompte final, the
MOE's projet de décompte général and the décompte général the MOA signs, each with its état
du solde, the récapitulation of the acomptes and the definitive revision month by month.
Every figure comes from :class:`gesprokit.final_account.FinalAccount`."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from gesprokit import pdf_layout
from gesprokit.final_account import FinalAccount
from gesprokit.money import format_eur, format_pct_bp
from gesprokit.months import format_date_fr, format_month_fr
from gesprokit.store import Frames

TITLES = {"projet_final": "Projet de décompte final (demande de paiement finale)",
          "projet_general": "Projet de décompte général",
          "general": "Décompte général"}
SIGNERS = {"projet_final": "Le titulaire", "projet_general": "Le maître d'œuvre",
           "general": "Le maître d'ouvrage"}


def _coef(value) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.4f}".replace(".", ",")


def document_kind(record: dict) -> str:
    """The document a contract's end stands at: the signed DG, the MOE's projet, or the
    titulaire's projet de décompte final."""
    if isinstance(record.get("figures"), str):
        return "general"
    if pd.notna(record.get("settled_at")):
        return "projet_general"
    return "projet_final"


def _rectifications(pdf: pdf_layout.Pdf, frames: Frames, cid: str) -> None:
    """The lines the MOE rectified (claimed %, admitted %, justification) and the final
    penalties and bonuses with their reasons: what the titulaire signs must show them."""
    import json

    progress = frames.final_progress[frames.final_progress["contract_id"] == cid]
    differs = (progress["admitted_bp"] != progress["claimed_bp"]).fillna(True).astype(bool)
    changed = progress[progress["admitted_bp"].notna().to_numpy() & differs.to_numpy()]
    records = frames.final_accounts[frames.final_accounts["contract_id"] == cid]
    text = records["adjustments"].iloc[0] if len(records) else None
    adjustments = json.loads(text) if isinstance(text, str) else []
    if changed.empty and not adjustments:
        return
    pdf_layout.section(pdf, "Rectifications et ajustements du maître d'œuvre")
    labels = frames.price_lines[frames.price_lines["contract_id"] == cid].set_index(
        "line_no")["label"]
    # a line the titulaire left out was presented at its last %
    mine = frames.progress[frames.progress["contract_id"] == cid].sort_values("n")
    last = mine.groupby("line_no")["pct_bp"].last()
    rows = [[f"{r.line_no} – {labels.get(r.line_no, '')}", r.comment or "",
             format_pct_bp(int(last.get(r.line_no, 0) if pd.isna(r.claimed_bp)
                               else r.claimed_bp)),
             format_pct_bp(int(r.admitted_bp))]
            for r in changed.itertuples()]
    for a in adjustments:
        what = "Pénalité" if a["kind"] == "penalty" else "Prime"
        amount = (f"{a['days']} jour(s)" if a.get("days") is not None
                  else format_eur(int(a["amount_cents"])))
        rows.append([what, a["reason"], "", amount])
    pdf_layout.table(pdf, ["Ligne ou ajustement", "Justification", "Présenté", "Admis"], rows,
           (55, 75, 20, 24), text_columns=2)


def render_final(kind: str, frames: Frames, account: FinalAccount, when: datetime,
                 stage: str = "") -> bytes:
    """The PDF of `kind` (projet_final, projet_general, general) for `account`."""
    cid = account.contract_id
    contract = frames.contracts.set_index("contract_id").loc[cid]
    company = frames.companies.set_index("code").loc[contract["company_code"], "name"]
    operation = frames.operations.set_index("code").loc[contract["operation_code"]]
    receptions = frames.receptions[frames.receptions["contract_id"] == cid]
    pdf = pdf_layout.Pdf(TITLES[kind],
                         f"{operation['name']} – {contract['title']} – {TITLES[kind]}")
    pdf.add_page()
    facts = [("Opération", operation["name"]), ("Maître d'ouvrage", operation["buyer_name"]),
             ("Marché", f"{cid} – {contract['title']}"), ("Titulaire", company)]
    if len(receptions):
        r = receptions.iloc[0]
        reserves = r["reserves"] if isinstance(r["reserves"], str) else "sans réserves"
        facts += [("Réception", f"{format_date_fr(r['received_on'])} – {reserves}"),
                  ("Fin du délai de garantie", format_date_fr(r["guarantee_until"]))]
    facts += [("Fin des travaux", format_month_fr(account.final["month"])),
              ("Établi le", format_date_fr(when))]
    if stage:
        facts.append(("Étape", stage))
    pdf_layout.facts(pdf, facts)
    pdf_layout.section(pdf, "Décompte (montants cumulés depuis la notification)")
    heads = account.headings()
    pdf_layout.table(pdf, ["Rubrique", "Montant"],
           [[r.label, format_eur(r.amount)] for r in heads.itertuples()], (120, 50))
    if account.provisional:
        pdf.multi_cell(0, 5, "Révision provisoire : un index n'est pas encore publié ; la "
                             "révision du solde sera notifiée après sa publication (CCAG-T "
                             "art. 12.4.2).", new_x="LMARGIN", new_y="NEXT")
    if kind != "projet_final":
        _rectifications(pdf, frames, cid)
    pdf_layout.section(pdf, "État du solde et récapitulation des acomptes")
    pdf_layout.table(pdf, ["Pièce", "Mois", "N°", "Montant TTC"],
           [[r.kind.capitalize(), format_month_fr(r.month), str(r.n), format_eur(r.net)]
            for r in account.recap.itertuples()]
           + [["Total", "", "", format_eur(int(account.recap["net"].sum()))]],
           (40, 45, 15, 40), text_columns=2)
    if len(account.revision):
        pdf_layout.section(pdf, "Révision définitive, mois par mois")
        rev = account.revision
        pdf_layout.table(pdf, ["Mois", "Travaux HT", "Coef. payé", "Révision payée", "Coef. déf.",
                     "Révision déf.", "Écart"],
               [[format_month_fr(r.month), format_eur(r.works_month), _coef(r.paid_coef),
                 format_eur(r.paid), _coef(r.definitive_coef), format_eur(r.definitive),
                 format_eur(r.difference)] for r in rev.itertuples()]
               + [["Total", "", "", format_eur(int(rev["paid"].sum())), "",
                   format_eur(int(rev["definitive"].sum())),
                   format_eur(int(rev["difference"].sum()))]],
               (26, 28, 20, 28, 20, 30, 24))
    pdf.ln(4)
    pdf.multi_cell(0, 5, f"{SIGNERS[kind]}, le {format_date_fr(when)}.",
                   new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
