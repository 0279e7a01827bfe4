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
    ("code", """plot_s_curve(s_curve(ledger.situations, frames.contracts, frames.amendments,
                     frames.planned_progress),
             "Courbe en S – travaux cumulés de l'opération, prévu et réalisé")"""),
    ("md", "## Rapprochements"),
    ("code", """problems = check_ledger(ledger)
print("Rapprochements : aucun écart." if not problems else "\\n".join(problems))
total_net = int(ledger.situations["net_month"].sum())
total_due = int(ledger.situations.groupby("contract_id")["due_cum"].last().sum())
print("Somme des nets mensuels = somme des dus cumulés :", total_net == total_due)"""),
]

AUDIT = [
    ("md", """# Audit d'un marché

Recalcule chaque état d'acompte à partir des avancements bruts, le compare aux montants
enregistrés à la validation du maître d'ouvrage, vérifie la chaîne du journal et exporte le
classeur Excel. Paramètres (cellule `parameters`, à la manière de papermill) : le marché,
la base (par défaut l'opération d'exemple), la date de calcul et le fichier Excel."""),
    ("parameters", """CONTRACT = "CHMV-EHPAD-L02"  # None : tous les marchés
DB_URL = None  # None : $GESPROKIT_DB, sinon base de démonstration
AS_OF = "2026-11-23"
WORKBOOK = None  # None : fichier temporaire"""),
    ("code", """import tempfile
from pathlib import Path

import pandas as pd

from gesprokit.db import get_engine
from gesprokit.integrity import verify
from gesprokit.report_data import build_report_data
from gesprokit.statement_audit import statement_differences
from gesprokit.ui.common import open_database
from gesprokit.ui.pages import differences_view, recomputed_view
from gesprokit.workbook import write_workbook

engine = get_engine(DB_URL) if DB_URL else open_database()
data = build_report_data(engine, as_of=pd.Timestamp(AS_OF))
ledger = data.ledger.situations
if CONTRACT:
    ledger = ledger[ledger["contract_id"] == CONTRACT]
statements = data.frames.payment_statements
if CONTRACT:
    statements = statements[statements["contract_id"] == CONTRACT]
print(f"{len(ledger)} situations recalculées, {len(statements)} états validés par le MOA")"""),
    ("md", "## États d'acompte recalculés"),
    ("code", """recomputed_view(ledger)"""),
    ("md", "## Écarts avec les montants validés"),
    ("code", """differences = statement_differences(ledger, statements)
if differences.empty:
    print(f"Aucun écart : les {len(statements)} états validés sont retrouvés au centime.")
else:
    print(f"{len(differences)} écart(s) entre les montants validés et le recalcul :")
    display(differences_view(differences))"""),
    ("md", "## Intégrité du journal"),
    ("code", """result = verify(engine)  # chaîne, signatures, point de contrôle, tables, pièces
print("Journal intègre : événements signés et chaînés, point de contrôle retrouvé, tables et "
      "pièces conformes au journal." if result.intact else "\\n".join(result.problems))"""),
    ("md", "## Classeur Excel"),
    ("code", """path = Path(WORKBOOK or Path(tempfile.mkdtemp()) / "audit.xlsx")
write_workbook(data, path)
print(f"Classeur écrit : {path.name}")"""),
    ("code-widget", """import ipywidgets as w

from gesprokit.ui.common import download_link

link = w.HTML()
button = w.Button(description="Télécharger le classeur Excel", button_style="primary")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
button.on_click(lambda _b: setattr(link, "value", download_link(
    "audit.xlsx", path.read_bytes(), "audit.xlsx (cliquer pour enregistrer)", XLSX)))
w.VBox([button, link])"""),
]

def app_notebook(title: str, intro: str, pages: tuple[str, ...] | None) -> list[tuple[str, str]]:
    """A page of the application: the login form; after it, the pages named (None: all the
    pages of the user's role). Nothing is read from the database before the login."""
    return [
        ("md", f"# {title}\n\n{intro}"),
        ("code-widget", f"""from gesprokit.ui.app import App

app = App(pages={pages!r})  # base : $GESPROKIT_DB, sinon gesprokit.db du dossier courant
app.widget()"""),
    ]


APPLICATION = app_notebook(
    "Suivi financier des marchés de travaux",
    "Se connecter : l'accueil liste les pages ouvertes à votre rôle.", None)

CONTRACTOR = app_notebook(
    "Entreprise – mes situations de travaux",
    "Ouvrir la situation du mois, saisir l'avancement cumulé par poste (« 12,5 » accepté), "
    "justifier une baisse, enregistrer puis valider et transmettre : le délai de paiement "
    "court dès la transmission. Puis déposer le projet de décompte (A4) dans Chorus Pro.",
    ("situations", "chorus"))

VERIFIER = app_notebook(
    "OPC / BET – vérification de l'avancement",
    "File des situations transmises ; pour chaque poste, l'avancement demandé et l'avancement "
    "admis, avec l'écart. Toute correction exige un commentaire et une pièce jointe PDF.",
    ("verification",))

MOE = app_notebook(
    "Maître d'œuvre – états d'acompte",
    "Pénalités et primes avec leur justification, émission de l'état d'acompte provisoire et "
    "de ses annexes (PDF téléchargeable), dépôt de l'état d'acompte (A15) dans Chorus Pro.",
    ("etats", "chorus"))

AMO = app_notebook(
    "AMO – acceptation des états d'acompte et délais de paiement",
    "Accepter ou retourner les états d'acompte, enregistrer les garanties et les "
    "sous-traitants ; délais de paiement, retards et intérêts moratoires de votre périmètre.",
    ("acceptation", "delais"))

MOA = app_notebook(
    "Maître d'ouvrage – validation et délais",
    "Valider l'état d'acompte accepté par l'AMO, interrompre une fois le délai de paiement en "
    "listant les pièces manquantes, le reprendre à leur réception ; puis déposer l'état validé "
    "(A19) dans Chorus Pro.", ("validation", "chorus", "delais"))

LIBRARY = app_notebook(
    "Bibliothèque de documents, visas et comptes rendus",
    "Dépôt d'un document en votre nom (titre parlant, sans indice, ni date, ni émetteur ; PDF "
    "vérifié sur son contenu), documents lisibles, visas attendus et délais des relecteurs.",
    ("documents",))

NOTEBOOKS = {"gesprokit.ipynb": APPLICATION, "00_overview.ipynb": OVERVIEW,
             "10_entreprise.ipynb": CONTRACTOR, "20_opc_verification.ipynb": VERIFIER,
             "30_moe.ipynb": MOE, "40_amo_delais.ipynb": AMO, "50_moa.ipynb": MOA,
             "60_audit.ipynb": AUDIT, "70_documents_visas.ipynb": LIBRARY}


def build(name: str, cells: list[tuple[str, str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = []
    for kind, src in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(src))
            continue
        cell = nbformat.v4.new_code_cell(src)
        if kind == "parameters":
            cell.metadata["tags"] = ["parameters"]
        if kind == "code-widget":
            # The Output widget's content lives in the widget state, which nbval cannot
            # compare: the cell must run without error; its handlers are tested in tests/.
            cell.metadata["tags"] = ["nbval-ignore-output"]
        nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):
        cell.id = f"{Path(name).stem}-{i:02d}"  # stable ids: a rebuild changes only outputs
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps of the build, not content
    # the saved widget state holds random model ids; Voilà and JupyterLab rebuild it
    nb.metadata.pop("widgets", None)
    path = HERE / name
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    wanted = sys.argv[1:] or list(NOTEBOOKS)
    for name in wanted:
        print("écrit", build(name, NOTEBOOKS[name]))
