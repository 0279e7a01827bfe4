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

AMO_DELAYS = [
    ("md", """# Délais de paiement – tableau de bord de l'assistant du maître d'ouvrage

Quelles situations sont payées en retard ou vont l'être, combien d'intérêts moratoires sont dus,
et quel acteur consomme le délai réglementaire (50 jours pour un établissement public de santé).
Les situations non payées sont mesurées à la date de calcul."""),
    ("code", """%matplotlib inline
import pandas as pd
from IPython.display import display

from gesprokit import delay_charts
from gesprokit.delays import compute_delays, forecast, return_causes
from gesprokit.ledger import ledger_from_frames
from gesprokit.store import load_frames
from gesprokit.summary import plot_s_curve, s_curve
from gesprokit.ui.circuit_panels import AmoDesk
from gesprokit.ui.common import RolePage, open_database
from gesprokit.ui.delays_dashboard import DelaysDashboard, enrich, french_table, headline

AS_OF = pd.Timestamp("2026-11-23")  # date de calcul fixée : résultats reproductibles
engine = open_database()
frames = load_frames(engine)
ledger = ledger_from_frames(frames, as_of=AS_OF)
delays = enrich(compute_delays(frames.situations, frames.contracts, frames.operations,
                               ledger.situations, frames.ecb_rates, frames.events, as_of=AS_OF),
                frames.contracts, frames.companies, frames.lots)
print(headline(delays))"""),
    ("md", "## Filtres (lot, entreprise, période)"),
    ("code-widget", """dashboard = DelaysDashboard(delays)
dashboard.widget()"""),
    ("md", "## Paiements en retard"),
    ("code", """french_table(delays[(delays["late_days"] > 0) & delays["paid_at"].notna()])"""),
    ("md", "## En attente de paiement au 23/11/2026 : intérêts dus si le paiement intervient ce jour"),
    ("code", """french_table(forecast(delays))"""),
    ("md", "## Jours consommés par acteur – lot 02 (gros œuvre) et lot 09 (CVC, une interruption)"),
    ("code", """delay_charts.days_per_actor(delays[delays["lot"].str[:2].isin(["02", "09"])])"""),
    ("md", "## Répartition des délais de paiement et intérêts dus"),
    ("code", """display(delay_charts.payment_time_distribution(delays))
delay_charts.interest_exposure(delays)"""),
    ("md", "## Causes des retours au maître d'œuvre"),
    ("code", """causes = return_causes(delays)
print("Aucun retour au maître d'œuvre sur la période." if causes.empty else "")
causes.rename(columns={"reason_code": "Code", "label": "Motif", "returns": "Retours"})"""),
    ("md", "## Avancement prévu et réalisé"),
    ("code", """plot_s_curve(s_curve(ledger.situations, frames.contracts, frames.amendments,
                     frames.planned_progress),
             "Courbe en S – travaux prévus au planning et réalisés")"""),
    ("md", """## Accepter ou retourner les états d'acompte, enregistrer les garanties

Se connecter avec un compte AMO (démonstration : amo@amo.fr, mot de passe `demo-gesprokit`)."""),
    ("code-widget", """page = RolePage(engine, ("amo",), AmoDesk)
page.widget()"""),
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

from gesprokit.audit import verify_chain
from gesprokit.db import get_engine
from gesprokit.report_data import build_report_data
from gesprokit.statement_audit import statement_differences
from gesprokit.summary import french_view
from gesprokit.ui.common import open_database
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
    ("code", """french_view(
    ledger[["contract_id", "n", "month", "works_cum", "revision_cum", "total_ttc_cum",
            "retention_cum", "advance_repaid_cum", "due_cum", "net_month"]],
    money=["works_cum", "revision_cum", "total_ttc_cum", "retention_cum",
           "advance_repaid_cum", "due_cum", "net_month"],
    rename={"contract_id": "Marché", "n": "N°", "month": "Mois",
            "works_cum": "Travaux cumulés HT", "revision_cum": "Révision cumulée",
            "total_ttc_cum": "Total TTC cumulé", "retention_cum": "Retenue de garantie",
            "advance_repaid_cum": "Avance remboursée", "due_cum": "Dû cumulé",
            "net_month": "Net du mois"},
)"""),
    ("md", "## Écarts avec les montants validés"),
    ("code", """differences = statement_differences(ledger, statements)
if differences.empty:
    print(f"Aucun écart : les {len(statements)} états validés sont retrouvés au centime.")
else:
    print(f"{len(differences)} écart(s) entre les montants validés et le recalcul :")
    display(french_view(differences, money=["recorded", "recomputed", "difference"],
                        rename={"contract_id": "Marché", "n": "N°", "column": "Montant",
                                "recorded": "Validé", "recomputed": "Recalculé",
                                "difference": "Écart"}))"""),
    ("md", "## Intégrité du journal"),
    ("code", """broken = verify_chain(data.frames.events)
print(f"Journal intègre : {len(data.frames.events)} événements, chaîne vérifiée."
      if not broken else "\\n".join(broken))"""),
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

LIBRARY = [
    ("md", """# Bibliothèque de documents, visas et comptes rendus

Dépôt d'un document (titre parlant, sans indice, ni date, ni émetteur ; PDF vérifié sur son
contenu), visas attendus et en retard, délais des relecteurs, accusés de réception des
comptes rendus. Données d'exemple datées ; date de calcul fixée au 23/03/2026."""),
    ("code", """import pandas as pd

from gesprokit.circuit import ROLE_LABELS
from gesprokit.library.actions import read_receipts
from gesprokit.library.reports import documents, indices_before_vso, visa_queue, visa_turnaround
from gesprokit.months import format_date_fr
from gesprokit.sample_operation import OPERATION_CODE
from gesprokit.ui.common import open_database
from gesprokit.ui.library_form import DepositForm
from gesprokit.workflow import Actor

AS_OF = pd.Timestamp("2026-03-23")
engine = open_database()  # $GESPROKIT_DB when served, else the demonstration base
moe = Actor("archi@arc.fr", "moe", "ARC", "Julien Moreau")
contractor = Actor("alu@mal.fr", "contractor", "MAL", "Karim Benali")"""),
    ("md", "## Déposer un document (entreprise Menuiseries Alu Lyonnaises)"),
    ("code-widget", """form = DepositForm(engine, contractor, OPERATION_CODE)
form.widget()"""),
    ("md", "## Documents visibles par le maître d'œuvre"),
    ("code", """docs = documents(engine, moe)
docs.assign(deposited_at=docs["deposited_at"].map(format_date_fr))[
    ["document_id", "title", "folder_code", "revision_index", "deposited_at"]].rename(
    columns={"document_id": "Identifiant", "title": "Titre", "folder_code": "Dossier",
             "revision_index": "Indice", "deposited_at": "Déposé le"})"""),
    ("md", "## Visas attendus au 23/03/2026"),
    ("code", """queue = visa_queue(engine, AS_OF)
queue.assign(due_on=queue["due_on"].map(format_date_fr),
             reviewer_role=queue["reviewer_role"].map(ROLE_LABELS)).rename(columns={
    "document_id": "Identifiant", "title": "Titre", "issuer_code": "Émetteur",
    "revision_index": "Indice", "reviewer_role": "Relecteur", "due_on": "Échéance",
    "days_late": "Jours de retard"})"""),
    ("md", "## Délais de visa par relecteur et indices avant un VSO"),
    ("code", """turnaround = visa_turnaround(engine)
display(turnaround.assign(reviewer_role=turnaround["reviewer_role"].map(ROLE_LABELS)).rename(
    columns={
    "reviewer_role": "Relecteur", "visas": "Visas rendus", "median_days": "Délai médian (jours)",
        "late": "Rendus en retard"}))
indices_before_vso(engine).rename(columns={"document_id": "Identifiant",
                                           "indices": "Indices avant VSO"})"""),
    ("md", "## Accusés de réception du compte rendu de chantier n°48"),
    ("code", """cr = docs[docs["discipline"] == "CR"]["document_id"].iloc[0]
receipts = read_receipts(engine, moe, cr)
receipts.assign(
    notified_at=receipts["notified_at"].map(format_date_fr),
    acknowledged_at=receipts["acknowledged_at"].map(format_date_fr).replace("", "non lu"),
)[["recipient", "notified_at", "acknowledged_at"]].rename(columns={
    "recipient": "Destinataire", "notified_at": "Diffusé le", "acknowledged_at": "Lu le"})"""),
]

DEMO_ACCOUNTS_TEXT = """Servi en application web (`gesprokit serve`), la page demande de se connecter. Comptes de
démonstration (mot de passe `demo-gesprokit`) : alu@mal.fr (entreprise), opc@opc.fr (OPC),
archi@arc.fr (maître d'œuvre), amo@amo.fr (AMO), direction@chmv.fr (maître d'ouvrage),
audit@chmv.fr (auditeur)."""


def role_notebook(title: str, intro: str, role: str, panel: str) -> list[tuple[str, str]]:
    """A circuit page: the login form, then the role's panel."""
    return [
        ("md", f"# {title}\n\n{intro}\n\n{DEMO_ACCOUNTS_TEXT}"),
        ("code", f"""from gesprokit.ui.common import RolePage, open_database
from gesprokit.ui.circuit_panels import {panel}

engine = open_database()"""),
        ("code-widget", f"""page = RolePage(engine, ({role!r},), {panel})
page.widget()"""),
    ]


CONTRACTOR = role_notebook(
    'Entreprise – mes situations de travaux',
    "Ouvrir la situation du mois, saisir l'avancement cumulé par poste (« 12,5 » accepté), justifier une baisse, enregistrer puis valider et transmettre : le délai de paiement court dès la transmission.",
    'contractor', 'ContractorPanel')

VERIFIER = role_notebook(
    "OPC / BET – vérification de l'avancement",
    "File des situations transmises ; pour chaque poste, l'avancement demandé et l'avancement admis, avec l'écart. Toute correction exige un commentaire et une pièce jointe PDF.",
    'verifier', 'VerifierPanel')

MOE = role_notebook(
    "Maître d'œuvre – états d'acompte",
    "Pénalités et primes avec leur justification, émission de l'état d'acompte provisoire et de ses annexes (PDF téléchargeable).",
    'moe', 'MoePanel')

MOA = role_notebook(
    "Maître d'ouvrage – validation et délais",
    "Valider l'état d'acompte accepté par l'AMO, interrompre une fois le délai de paiement en listant les pièces manquantes, le reprendre à leur réception ; situations à traiter ; puis déposer l'état validé (A19) dans Chorus Pro : tous les problèmes sont listés avant le dépôt, et le dossier de facturation montre le statut de chaque pièce.",
    'moa', 'MoaDesk')

NOTEBOOKS = {"00_overview.ipynb": OVERVIEW, "10_entreprise.ipynb": CONTRACTOR,
             "20_opc_verification.ipynb": VERIFIER, "30_moe.ipynb": MOE,
             "50_moa.ipynb": MOA, "40_amo_delais.ipynb": AMO_DELAYS,
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
