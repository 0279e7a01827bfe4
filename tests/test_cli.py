"""The command line as a newcomer uses it."""

from __future__ import annotations

import json

from gesprokit.cli import main
from gesprokit.ledger import LEDGER_COLUMNS


def test_demo_then_ledger_outputs(sqlite_url, tmp_path, capsys):
    assert main(["demo", "--db", sqlite_url, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "Centre hospitalier de Montbrison-les-Vignes" in out
    assert "rapprochements vérifiés" in out
    assert (tmp_path / "out" / "courbe_en_s.png").stat().st_size > 10_000
    # running the demo again reuses the database
    assert main(["demo", "--db", sqlite_url]) == 0
    assert "déjà présente" in capsys.readouterr().out

    assert main(["ledger", "--db", sqlite_url, "--contract", "CHMV-EHPAD-L05",
                 "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert list(records[0]) == LEDGER_COLUMNS
    assert len(records) == 6
    assert all(isinstance(r["due_cum"], int) for r in records)
    assert sum(r["net_month"] for r in records) == records[-1]["due_cum"]

    csv_path = tmp_path / "ledger.csv"
    assert main(["ledger", "--db", sqlite_url, "--format", "csv", "-o", str(csv_path)]) == 0
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(LEDGER_COLUMNS) and len(lines) == 92


def test_unknown_contract_is_an_error(sqlite_url, capsys):
    assert main(["ledger", "--db", sqlite_url, "--contract", "NOPE"]) == 2
    assert "Marché « NOPE » inconnu." in capsys.readouterr().err


def test_audit_verify_finds_an_edited_event(sqlite_url, sqlite_engine, capsys):
    from conftest import SAMPLE
    from sqlalchemy import text

    from gesprokit.importer import import_folder

    import_folder(SAMPLE, sqlite_engine)
    assert main(["audit", "verify", "--db", sqlite_url]) == 0
    assert "Journal intègre : 565 événements" in capsys.readouterr().out  # + its opening
    with sqlite_engine.begin() as conn:
        conn.execute(text("UPDATE event SET at = '2025-05-01 00:00:00' WHERE event_id = 12"))
        conn.execute(text("DELETE FROM event WHERE event_id = 40"))
    assert main(["audit", "verify", "--db", sqlite_url]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "Journal altéré : 2 anomalie(s) — événement n°12 : contenu modifié après coup "
        "(empreinte différente)",
        "événement n°41 : lien rompu avec l'événement précédent (supprimé ou inséré)"]


def test_user_add_and_login(sqlite_url, monkeypatch, capsys):
    import io

    from conftest import SAMPLE

    from gesprokit.session import connect

    assert main(["import", str(SAMPLE), "--db", sqlite_url]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("un-mot-de-passe\n"))
    assert main(["user", "add", "Opc@OPC.fr", "--name", "Claire Martin", "--company", "OPC",
                 "--role", "verifier", "--password-stdin", "--db", sqlite_url]) == 0
    assert "Compte créé : opc@opc.fr (OPC / BET, OPC)" in capsys.readouterr().out
    assert connect(sqlite_url, "opc@opc.fr", "un-mot-de-passe").actor.role == "verifier"
    monkeypatch.setattr("sys.stdin", io.StringIO("court\n"))
    assert main(["user", "add", "x@opc.fr", "--name", "X", "--company", "OPC",
                 "--role", "verifier", "--password-stdin", "--db", sqlite_url]) == 2
    assert "mot de passe trop court" in capsys.readouterr().err


def test_ledger_known_at_a_past_date(sqlite_url, capsys):
    from conftest import SAMPLE

    assert main(["import", str(SAMPLE), "--db", sqlite_url]) == 0
    capsys.readouterr()
    assert main(["ledger", "--db", sqlite_url, "--known-at", "2025-09-15", "--format",
                 "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert max(r["month"] for r in records) == "2025-08"  # nothing later was submitted yet


def test_export_neutralises_cells_a_spreadsheet_would_run(sqlite_url, sqlite_engine, tmp_path):
    """A price line's label typed as a formula stays text in the CSV export; numbers,
    negative ones included, stay numbers."""
    import csv

    from conftest import SAMPLE
    from sqlalchemy import text

    from gesprokit.importer import import_folder

    import_folder(SAMPLE, sqlite_engine)
    formula = '=HYPERLINK("http://exemple.invalid","cliquer")'
    with sqlite_engine.begin() as conn:
        conn.execute(text("UPDATE price_line SET label = :l WHERE contract_id = "
                          "'CHMV-EHPAD-L05' AND line_no = '05.01'"), {"l": formula})
        conn.execute(text("UPDATE price_line SET label = '@SUM(A1:A9)' WHERE contract_id = "
                          "'CHMV-EHPAD-L05' AND line_no = '05.02'"))
    assert main(["export", "--db", sqlite_url, "-o", str(tmp_path / "x")]) == 0
    with (tmp_path / "x" / "price_lines.csv").open(encoding="utf-8") as f:
        labels = {r["line_no"]: r["label"] for r in csv.DictReader(f)
                  if r["contract_id"] == "CHMV-EHPAD-L05"}
    assert labels["05.01"] == "'" + formula and labels["05.02"] == "'@SUM(A1:A9)"
    assert labels["05.03"] == "Châssis vitrés du hall et du patio"
    # a negative amount in cents is a number, left alone; a text starting with « - » is not
    import pandas as pd

    from gesprokit.export import neutralise_formulas

    out = neutralise_formulas(pd.DataFrame({"net_month": [-1_239_840, 5],
                                            "comment": ["-1+2", "ok"]}))
    assert out["net_month"].tolist() == [-1_239_840, 5]
    assert out["comment"].tolist() == ["'-1+2", "ok"]
