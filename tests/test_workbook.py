"""The auditor's workbook read back as an auditor would: every total equals the ledger's."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile

import nbformat
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE
from nbclient import NotebookClient
from openpyxl import load_workbook
from sqlalchemy import text

from gesprokit.cli import main
from gesprokit.db import get_engine
from gesprokit.importer import import_folder
from gesprokit.report_data import build_report_data
from gesprokit.workbook import write_workbook

AS_OF = pd.Timestamp("2026-11-23")


def cents(value) -> int:
    return round(value * 100)


@pytest.fixture(scope="module")
def sample_data(tmp_path_factory):
    """The sample's report data, built once for the module's read-only tests."""
    engine = get_engine(f"sqlite:///{tmp_path_factory.mktemp('workbook') / 'base.db'}")
    import_folder(SAMPLE, engine)
    data = build_report_data(engine, "CHMV-EHPAD", as_of=AS_OF)
    engine.dispose()
    return data


@pytest.fixture(scope="module")
def workbook(sample_data, tmp_path_factory):
    return write_workbook(sample_data, tmp_path_factory.mktemp("workbook") / "audit.xlsx")


def sheet_rows(path, name: str, data_only: bool = True) -> list[tuple]:
    ws = load_workbook(path, data_only=data_only)[name]
    return list(ws.iter_rows(values_only=True))


def test_sheets_and_headers(workbook):
    wb = load_workbook(workbook)
    assert wb.sheetnames == ["Synthèse", "Situations", "DPGF", "Lignes", "Révisions",
                             "Retenues et pénalités", "Délais", "Décompte général", "Journal",
                             "Graphiques"]
    ws = wb["Situations"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref.startswith("A1:")
    assert ws["A1"].value == "Marché" and ws["T1"].value == "Net à payer du mois TTC"
    assert ws["D2"].number_format.startswith("#,##0.00")
    assert wb["Délais"].conditional_formatting  # late payments highlighted
    with zipfile.ZipFile(workbook) as z:  # native Excel charts
        assert {"xl/charts/chart1.xml", "xl/charts/chart2.xml"} <= set(z.namelist())


def test_synthesis_reconciles_with_the_ledger(workbook, sample_data):
    rows = sheet_rows(workbook, "Synthèse")
    header, body = rows[0], rows[1:13]
    total = rows[13]
    syn = sample_data.synthesis
    col = {h: i for i, h in enumerate(header)}
    assert [r[col["Lot"]] for r in body] == syn["lot_code"].tolist()
    assert [cents(r[col["Travaux cumulés HT"]]) for r in body] == syn["works_cum"].tolist()
    last = sample_data.ledger.situations.groupby("contract_id").tail(1)
    assert cents(total[col["Travaux cumulés HT"]]) == int(last["works_cum"].sum())
    assert cents(total[col["Retenue détenue"]]) == int(last["retention_cum"].sum())
    paid = sample_data.delays.loc[sample_data.delays["paid_at"].notna(), "amount_due_ttc"]
    assert cents(total[col["Payé TTC"]]) == int(paid.sum())
    formulas = sheet_rows(workbook, "Synthèse", data_only=False)[13]
    assert formulas[col["Travaux cumulés HT"]] == "=SUM(F2:F13)"


def test_situations_sheet_equals_the_ledger_to_the_cent(workbook, sample_data):
    ledger = sample_data.ledger.situations
    sheet = pd.read_excel(workbook, sheet_name="Situations")
    body, total = sheet.iloc[:-1], sheet.iloc[-1]
    assert len(body) == len(ledger) == 91
    for header, key in (("Montant cumulé dû", "due_cum"), ("TVA cumulée", "vat_cum"),
                        ("Net à payer du mois TTC", "net_month")):
        assert [cents(v) for v in body[header]] == ledger[key].tolist()
    assert total["Marché"] == "Total"
    assert cents(total["Net à payer du mois TTC"]) == int(ledger["net_month"].sum())
    assert cents(total["Travaux du mois HT"]) == int(ledger["works_month"].sum())


def test_lines_delays_and_journal(workbook, sample_data):
    dpgf = pd.read_excel(workbook, sheet_name="DPGF")
    assert len(dpgf) - 1 == len(sample_data.frames.price_lines) == 63
    assert cents(dpgf.iloc[-1]["Montant HT"]) == int(
        sample_data.frames.price_lines["amount_cents"].sum())
    lines = pd.read_excel(workbook, sheet_name="Lignes")
    assert len(lines) - 1 == len(sample_data.ledger.lines)
    assert cents(lines.iloc[-1]["Montant du mois HT"]) == int(
        sample_data.ledger.lines["line_month"].sum())
    delays = pd.read_excel(workbook, sheet_name="Délais")
    assert cents(delays.iloc[-1]["Intérêts moratoires"]) == int(
        sample_data.delays["late_interest"].sum())
    # one row per payee: the pile subcontractor paid directly has its own, by its name
    direct = delays[delays["Paiement"] == "paiement direct"]
    assert set(direct["Bénéficiaire"]) == {"Forages et Pieux du Val"} and len(direct) == 3
    assert "Bâtir Centre Construction" in set(delays["Bénéficiaire"])
    journal = pd.read_excel(workbook, sheet_name="Journal")
    assert journal["Empreinte SHA-256"].tolist() == sample_data.frames.events["hash"].tolist()
    # people's words, never the codes: « Entreprise titulaire », « valider et transmettre … »
    assert set(journal["Rôle"]) <= {"Entreprise titulaire", "OPC / BET", "Maître d'œuvre",
                                    "AMO", "Maître d'ouvrage", "Comptable", "Auditeur",
                                    "Administrateur"}, set(journal["Rôle"])
    assert "valider et transmettre le projet de décompte" in set(journal["Action"])
    assert not {"submit", "contractor", "create_user", "verifier"} & (
        set(journal["Action"]) | set(journal["Rôle"]))


@pytest.mark.skipif(shutil.which("soffice") is None and not os.environ.get("CI"),
                    reason="LibreOffice absent (apt-get install libreoffice-calc-nogui)")
def test_libreoffice_opens_it(workbook, tmp_path):
    result = subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir",
                             str(tmp_path), str(workbook)], capture_output=True, timeout=180,
                            env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    pdf = tmp_path / "audit.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 50_000


def test_cli_report_and_export(sqlite_url, tmp_path, capsys):
    assert main(["import", str(SAMPLE), "--db", sqlite_url]) == 0
    assert main(["report", "--db", sqlite_url, "--operation", "CHMV-EHPAD", "--as-of",
                 "2026-11-23", "-o", str(tmp_path / "a.xlsx")]) == 0
    assert "Classeur d'audit écrit" in capsys.readouterr().out
    assert main(["report", "--db", sqlite_url, "--operation", "NOPE", "-o",
                 str(tmp_path / "b.xlsx")]) == 2
    assert main(["export", "--db", sqlite_url, "--format", "parquet", "--as-of", "2026-11-23",
                 "-o", str(tmp_path / "pq")]) == 0
    ledger = pd.read_parquet(tmp_path / "pq" / "ledger.parquet")
    assert ledger["due_cum"].dtype == "int64" and len(ledger) == 91
    assert main(["export", "--db", sqlite_url, "-o", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "csv" / "delays.csv").exists()


def run_audit_notebook(db_url: str, contract: str) -> str:
    nb = nbformat.read(ROOT / "notebooks" / "60_audit.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = f"CONTRACT = {contract!r}\nDB_URL = {db_url!r}\nAS_OF = '2026-11-23'\n" \
                    "WORKBOOK = None"
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_audit_notebook_flags_an_altered_amount(sqlite_url, sqlite_engine):
    import_folder(SAMPLE, sqlite_engine)
    clean = run_audit_notebook(sqlite_url, "CHMV-EHPAD-L03")
    assert "Aucun écart : les 4 états validés sont retrouvés au centime." in clean
    with sqlite_engine.begin() as conn:
        conn.execute(text("UPDATE payment_statement SET net_month = net_month + 1234 "
                          "WHERE contract_id = 'CHMV-EHPAD-L03' AND n = 2"))
        conn.execute(text("UPDATE event SET actor = 'quelqu''un' WHERE event_id = 7"))
    altered = run_audit_notebook(sqlite_url, "CHMV-EHPAD-L03")
    assert "1 écart(s) entre les montants validés et le recalcul" in altered
    assert "net_month" in altered and "-12,34" in altered
    assert "événement n°7 : contenu modifié après coup" in altered
