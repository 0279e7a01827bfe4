"""The MOA assistant's dashboard: filters drive the selection; the CLI prints the frame."""

from __future__ import annotations

import json

import ipywidgets as w
import pandas as pd
import pytest
from conftest import SAMPLE

from gesprokit.cli import main
from gesprokit.db import get_engine
from gesprokit.delays import compute_delays
from gesprokit.ledger import ledger_from_frames
from gesprokit.store import load_frames
from gesprokit.ui.delays_dashboard import DelaysDashboard, enrich, french_table

AS_OF = pd.Timestamp("2026-11-23")


@pytest.fixture(scope="module")
def delays(imported_sample):
    """The sample's delays on 23 November 2026 (read-only, built once)."""
    engine = get_engine(f"sqlite:///{imported_sample}")
    f = load_frames(engine)
    engine.dispose()
    ledger = ledger_from_frames(f, as_of=AS_OF)
    d = compute_delays(f.situations, f.contracts, f.operations, ledger.situations, f.ecb_rates,
                       f.events, as_of=AS_OF)
    return enrich(d, f.contracts, f.companies, f.lots)


def counts(board) -> list[str]:
    """The « N lignes – Exporter en Excel » line of each table, in page order."""
    return [c.children[0].value for c in board.body.children
            if isinstance(c, w.VBox) and c.children and "lignes" in c.children[0].value]


def test_filters_select_and_refresh(delays, capsys):
    board = DelaysDashboard(delays, AS_OF)
    board.widget()
    assert len(board.selection()) == len(delays)
    # every block follows the filters: the whole table is there, not pandas' first rows
    # « Toutes les situations retenues »: the 91 situations and the 2 advances
    assert "93 lignes" in counts(board)[-1]
    board.show_charts()
    charts = board.body.children[-1].children
    assert len(charts) == 3 and all(bytes(c.value[:4]) == b"\x89PNG" for c in charts)
    board.lot.value = "06 – Plâtrerie – Cloisons – Faux plafonds"
    expected = int((delays["contract_id"] == "CHMV-EHPAD-L06").sum())
    assert board.body.children[0].value.startswith(f"<p>{expected} situations reçues")
    assert f"{expected} lignes" in counts(board)[-1]
    board.lot.value = "02 – Gros œuvre – Maçonnerie"
    assert set(board.selection()["contract_id"]) == {"CHMV-EHPAD-L02"}
    assert len(board.selection()) == 12  # its 11 situations and its advance
    board.only_late.value = True
    assert board.selection()["n"].tolist() == [5]  # the MOA held it 24 extra days
    board.company.value = "TP Ligérien"  # lot and company exclude each other
    assert board.selection().empty
    assert "Aucune situation pour ces filtres." in board.body.children[0].value


def test_french_table_formats(delays):
    late = french_table(delays[(delays["late_days"] > 0) & delays["paid_at"].notna()])
    assert list(late["Lot"].str[:2]) == ["02", "06", "09"]
    assert list(late["Paiement"]) == ["situation n°5", "situation n°2", "avance"]
    row = late.iloc[0]
    assert row["Reçue le"] == "29/08/2025" and row["Date limite"] == "18/10/2025"
    # 384 980,42 € × 10,15 % × 11 / 365 = 1 177,62 €
    assert row["Intérêts moratoires"] == "1\u202f177,62\xa0€"


def test_cli_delays_json(sqlite_url, capsys):
    assert main(["import", str(SAMPLE), "--db", sqlite_url]) == 0
    capsys.readouterr()
    assert main(["delays", "--db", sqlite_url, "--as-of", "2026-11-23", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    # 91 situations, 2 advances (n = 0), 3 direct payments to the pile subcontractor, L02's
    # solde and L03's retention (the ends of contracts whose delay has begun)
    assert len(records) == 98
    late = [r for r in records if r["late_days"] > 0]
    assert {(r["contract_id"][-3:], r["n"], r["payee"]) for r in late} == {
        ("L01", 18, "TPL"), ("L02", 5, "BCC"), ("L06", 2, "PLA"), ("L10", 9, "PLB"),
        ("L11", 9, "ELC"), ("L09", 0, "CVA"), ("L02", 2, "FPV"), ("L02", 3, "FPV"),
        ("L02", 12, "BCC")}
    assert all(r["recovery_indemnity"] == 4000 for r in late)
    assert records[0]["deadline_on"] == "2025-06-19"
