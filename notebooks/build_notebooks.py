"""Write the dashboards' notebooks from their cell sources and execute them in place.

Run ``python notebooks/build_notebooks.py`` after changing a notebook here: the
saved outputs are what nbval compares against on every test run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

OVERVIEW = [
    ("md", """# Aperçu de l'opération

Chargement de l'opération d'exemple (dossier `data/`) dans une base SQLite temporaire,
calcul du décompte cumulé de chaque situation et courbe en S des travaux."""),
    ("code", """%matplotlib inline
import tempfile

import pandas as pd

from gesprokit.db import get_engine
from gesprokit.importer import import_folder
from gesprokit.ledger import check_ledger, ledger_from_frames
from gesprokit.sample_operation import SHIPPED_DIR
from gesprokit.store import load_frames
from gesprokit.summary import contract_summary, french_view, plot_s_curve, s_curve

AS_OF = pd.Timestamp("2026-11-23")  # date de calcul fixée : résultats reproductibles
engine = get_engine(f"sqlite:///{tempfile.mkdtemp()}/apercu.db")
written = import_folder(SHIPPED_DIR, engine)
frames = load_frames(engine)
ledger = ledger_from_frames(frames, as_of=AS_OF)
operation = frames.operations.iloc[0]
print(operation["name"])
print("Maître d'ouvrage :", operation["buyer_name"])
print(f"{len(frames.contracts)} marchés, {len(ledger.situations)} situations, "
      f"{len(ledger.lines)} lignes d'avancement")"""),
    ("md", "## Synthèse par marché (dernière situation)"),
    ("code", """summary = contract_summary(ledger.situations, frames.contracts, frames.amendments,
                           frames.companies)
french_view(
    summary[["lot_code", "company", "contract_total_ht", "works_cum", "pct_done_bp",
             "retention_cum", "penalty_cum", "due_cum"]],
    money=["contract_total_ht", "works_cum", "retention_cum", "penalty_cum", "due_cum"],
    pct_bp=["pct_done_bp"],
    rename={"lot_code": "Lot", "company": "Entreprise", "contract_total_ht": "Marché HT",
            "works_cum": "Travaux cumulés HT", "pct_done_bp": "Réalisé",
            "retention_cum": "Retenue de garantie", "penalty_cum": "Pénalités",
            "due_cum": "Dû cumulé TTC"},
)"""),
    ("md", "## Décompte du lot 02 – Gros œuvre (prix révisables BT01, avance, sous-traitant)"),
    ("code", """go = ledger.situations[ledger.situations["contract_id"] == "CHMV-EHPAD-L02"]
french_view(
    go[["n", "month", "works_month", "works_cum", "revision_cum", "revision_provisional",
        "advance_repaid_cum", "retention_cum", "direct_payment_cum", "net_month"]],
    money=["works_month", "works_cum", "revision_cum", "advance_repaid_cum", "retention_cum",
           "direct_payment_cum", "net_month"],
    rename={"n": "N°", "month": "Mois", "works_month": "Travaux du mois HT",
            "works_cum": "Travaux cumulés HT", "revision_cum": "Révision cumulée",
            "revision_provisional": "Révision provisoire",
            "advance_repaid_cum": "Avance remboursée", "retention_cum": "Retenue de garantie",
            "direct_payment_cum": "Dont paiement direct", "net_month": "Net du mois TTC"},
).set_index("N°")"""),
    ("md", "## Courbe en S des travaux cumulés"),
    ("code", """plot_s_curve(s_curve(ledger.situations, frames.contracts, frames.amendments),
             "Courbe en S – travaux cumulés de l'opération")"""),
    ("md", "## Rapprochements"),
    ("code", """problems = check_ledger(ledger)
print("Rapprochements : aucun écart." if not problems else "\\n".join(problems))
total_net = int(ledger.situations["net_month"].sum())
total_due = int(ledger.situations.groupby("contract_id")["due_cum"].last().sum())
print("Somme des nets mensuels = somme des dus cumulés :", total_net == total_due)"""),
]

NOTEBOOKS = {"00_overview.ipynb": OVERVIEW}


def build(name: str, cells: list[tuple[str, str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md"
                else nbformat.v4.new_code_cell(src) for kind, src in cells]
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    path = HERE / name
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    wanted = sys.argv[1:] or list(NOTEBOOKS)
    for name in wanted:
        print("écrit", build(name, NOTEBOOKS[name]))
