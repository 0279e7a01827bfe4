"""Reference data as dated facts: index publications (a correction is a new publication,
never an overwrite) and ECB rates, imported on their own as one audited event each."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from conftest import SAMPLE
from sqlalchemy import text

from gesprokit.cli import main
from gesprokit.db import get_engine
from gesprokit.importer import import_folder
from gesprokit.integrity import verify
from gesprokit.ledger import ledger_from_frames
from gesprokit.store import load_frames

REFERENCE = SAMPLE / "reference"


def test_index_corrections_are_added_and_followed(sqlite_url, sqlite_engine, capsys, tmp_path):
    """The sample's BT01 of August 2026 (135,4 published 15 October) is corrected to 135,6 on
    20 November. A situation whose état is issued on 25 November revises August with 135,6;
    the same situation issued on 18 November used 135,4."""
    import_folder(SAMPLE, sqlite_engine, now=datetime(2026, 11, 1))
    assert main(["index", "import", str(REFERENCE / "index-bt01-2026-11.csv"),
                 "--db", sqlite_url]) == 0
    assert capsys.readouterr().out == ("2 publication(s) d'index ajoutée(s), 0 déjà "
                                       "connue(s).\n")
    assert main(["index", "import", str(REFERENCE / "index-bt01-2026-11.csv"),
                 "--db", sqlite_url]) == 0  # again: nothing new
    assert "0 publication(s) d'index ajoutée(s), 2 déjà connue(s)" in capsys.readouterr().out
    assert main(["index", "list", "--index", "BT01", "--db", sqlite_url]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "BT01       2026-08    135,4000 15/10/2026  " in listed
    assert "BT01       2026-08    135,6000 20/11/2026  correction" in listed
    with sqlite_engine.connect() as conn:
        kept = conn.execute(text("SELECT value_e4, published_on FROM price_index WHERE "
                                 "index_code = 'BT01' AND month = '2026-08' ORDER BY 2")).all()
    assert [v for v, _ in kept] == [1_354_000, 1_356_000]  # the first value is kept

    frames = load_frames(sqlite_engine)
    # L02 is revisable on BT01 (12,5 % fixed, 87,5 % BT01, base 2024-11); give its last
    # situation the month of August 2026 and its état two dates
    contracts, index = frames.contracts, frames.price_index
    base_month = contracts.loc[contracts["contract_id"] == "CHMV-EHPAD-L02",
                               "revision_base_month"].iloc[0]
    base = index[(index["index_code"] == "BT01") & (index["month"] == base_month)]
    assert len(base) == 1 and int(base["value_e4"].iloc[0]) == 1_318_000  # 131,8

    def august_coefficient(issued: str) -> int:
        sits = frames.situations.copy()
        last = sits.index[sits["contract_id"] == "CHMV-EHPAD-L02"][-1]
        sits.loc[last, "month"] = "2026-08"
        sits.loc[last, "moe_at"] = datetime.fromisoformat(issued)
        f = load_frames(sqlite_engine)
        f.situations = sits
        rev = ledger_from_frames(f).revisions
        row = rev[rev["contract_id"] == "CHMV-EHPAD-L02"].iloc[-1]
        return int(row["revision_coef_scaled"])

    # Cn = 0,125 + 0,875 × I / 131,8, four decimals, half up
    assert august_coefficient("2026-11-18 10:00") == 10239  # 135,4: 1,023899… → 1,0239
    assert august_coefficient("2026-11-25 10:00") == 10252  # 135,6: 1,025227… → 1,0252
    assert main(["ecb", "import", str(REFERENCE / "bce-2026-12.csv"), "--db", sqlite_url]) == 0
    assert "1 taux BCE ajouté(s)" in capsys.readouterr().out
    with sqlite_engine.connect() as conn:
        actions = conn.execute(text("SELECT action FROM event WHERE action LIKE '%import'"
                                    " ORDER BY event_id")).scalars().all()
    assert actions == ["import", "index_import", "ecb_import"]
    assert verify(sqlite_engine).problems == []


def test_conflicting_or_backdated_publications_are_refused(sqlite_url, sqlite_engine, capsys,
                                                           tmp_path):
    import_folder(SAMPLE, sqlite_engine, now=datetime(2026, 11, 1))
    bad = tmp_path / "bad.csv"
    bad.write_text("index_code;month;value;published_on\n"
                   "BT01;2026-08;135,9;2026-10-15\n"       # same date, other value
                   "BT01;2026-09;135,8;2026-11-01\n"       # before its publication (15/11)
                   "BT01;2026-10;136,0;2026-10-20\n",      # before the month's end
                   encoding="utf-8")
    before = sqlite_engine.connect().execute(text("SELECT count(*) FROM event")).scalar()
    assert main(["index", "import", str(bad), "--db", sqlite_url]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "bad.csv:4:published_on: publication antérieure à la fin du mois de l'index",
        "bad.csv:2:value: valeur différente de celle déjà enregistrée dans la base pour la "
        "même date (une correction est une nouvelle publication, à sa date)",
        "bad.csv:3:published_on: publication antérieure à celle du 15/11/2026 déjà "
        "enregistrée : une correction ne remonte pas le temps",
        "3 problème(s) : rien n'a été importé."]
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM event")).scalar() == before


def test_a_base_of_an_older_version_gets_the_publication_key(tmp_path):
    """One row per index and month before: the key gains the publication date, rows kept."""
    path = tmp_path / "ancienne.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE price_index (index_code VARCHAR(20) NOT NULL, month "
                    "VARCHAR(7) NOT NULL, value_e4 BIGINT NOT NULL, published_on DATE NOT "
                    "NULL, PRIMARY KEY (index_code, month))")
        con.execute("INSERT INTO price_index VALUES ('BT01', '2026-01', 1300000, "
                    "'2026-03-15')")
    engine = get_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO price_index VALUES ('BT01', '2026-01', 1301000, "
                          "'2026-04-15')"))
        rows = conn.execute(text("SELECT value_e4 FROM price_index ORDER BY published_on")
                            ).scalars().all()
    assert rows == [1_300_000, 1_301_000]


def test_insee_series_file_adds_new_months_and_corrections(sqlite_url, sqlite_engine, capsys,
                                                            tmp_path):
    """INSEE's own file, updated on 15 December 2026, repeats July and September as recorded,
    revises August (135,4 → 135,6) and brings October: two publications of that date."""
    import_folder(SAMPLE, sqlite_engine, now=datetime(2026, 11, 1))
    insee = REFERENCE / "insee-bt01-valeurs_mensuelles.csv"
    assert main(["index", "import", str(insee), "--db", sqlite_url]) == 0
    assert capsys.readouterr().out == ("2 publication(s) d'index ajoutée(s), 2 déjà "
                                       "connue(s).\n")
    with sqlite_engine.connect() as conn:
        rows = conn.execute(text("SELECT month, value_e4, published_on FROM price_index WHERE "
                                 "month >= '2026-07' ORDER BY month, published_on")).all()
    assert [(m, v, str(p)[:10]) for m, v, p in rows] == [
        ("2026-07", 1_350_000, "2026-09-15"), ("2026-08", 1_354_000, "2026-10-15"),
        ("2026-08", 1_356_000, "2026-12-15"), ("2026-09", 1_357_000, "2026-11-15"),
        ("2026-10", 1_361_000, "2026-12-15")]
    assert main(["index", "import", str(insee), "--db", sqlite_url]) == 0  # nothing new
    assert "0 publication(s) d'index ajoutée(s), 4 déjà connue(s)" in capsys.readouterr().out

    # the same file saved by French Excel (Windows-1252, decimal commas), label without code
    french = tmp_path / "serie.csv"
    french.write_bytes(insee.read_text(encoding="utf-8").replace(" - BT01", "")
                       .replace("136.1", "136,4").replace("15/12/2026", "15/01/2027")
                       .encode("cp1252"))
    before = conn_rows(sqlite_engine)
    assert main(["index", "import", str(french), "--db", sqlite_url]) == 2
    err = capsys.readouterr().err
    assert "code de l'index introuvable dans le libellé" in err and "--code" in err
    assert conn_rows(sqlite_engine) == before
    assert main(["index", "import", str(french), "--code", "BT01", "--db", sqlite_url]) == 0
    assert "1 publication(s) d'index ajoutée(s)" in capsys.readouterr().out  # October revised
    assert verify(sqlite_engine).problems == []


def conn_rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM price_index ORDER BY 1, 2, 4")).all()
