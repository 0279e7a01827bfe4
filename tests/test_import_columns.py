"""The progress table read and checked column by column: every bad row listed with its line
and its French reason, whichever way the file is read; the journal's seal of a whole table
written column by column is the one row by row."""

from __future__ import annotations

import shutil

import pytest
from conftest import SAMPLE
from sqlalchemy import text

from gesprokit import seals
from gesprokit.importer import parse_folder
from gesprokit.portfolio import portfolio, write_import_folder, write_portfolio


def _progress_with_bad_rows(folder, quoted: bool) -> list[str]:
    """Rewrite progress.csv as French Excel saves it (Windows-1252, CRLF) with bad rows and a
    blank line; return the problems expected, each line counted here."""
    lines = (SAMPLE / "progress.csv").read_text(encoding="utf-8").splitlines()
    assert lines[1:4] == ["CHMV-EHPAD-L01;1;01.01;31;", "CHMV-EHPAD-L01;1;01.02;58;",
                          "CHMV-EHPAD-L01;1;01.03;13;"]
    lines[1] = "CHMV-EHPAD-L01;1;01.01;abc;"
    lines[2] = "CHMV-EHPAD-L01;0;01.02;58;"
    comment = '"Métré à reprendre; voir OS n°3"' if quoted else "Métré à reprendre"
    lines[3] = f"CHMV-EHPAD-L01;1;01.03;13;{comment}"
    lines.insert(4, "")  # a blank line: the rows after it keep their own line numbers
    last_0203 = max(i for i, row in enumerate(lines) if row.split(";")[2:3] == ["02.03"])
    cells = lines[last_0203].split(";")
    lines[last_0203] = ";".join([*cells[:3], "100,5", *cells[4:]])
    lines += ["CHMV-EHPAD-L01;1;01.04;0;", "CHMV-EHPAD-L01;99;01.05;100;",
              "CHMV-EHPAD-L01;2;99.99;10;"]
    end = len(lines)  # the three rows added are the file's last lines
    (folder / "progress.csv").write_bytes("\r\n".join(lines).encode("cp1252") + b"\r\n")
    return [
        "progress.csv:2:pct: nombre illisible « abc »",
        "progress.csv:3:n: valeur 0 inférieure au minimum 1",
        f"progress.csv:{end - 2}:line_no: avancement en double pour cette ligne et cette "
        "situation",
        f"progress.csv:{end - 1}:n: situation CHMV-EHPAD-L01 n°99 inconnue",
        f"progress.csv:{end}:line_no: ligne de prix « 99.99 » inconnue pour CHMV-EHPAD-L01",
        f"progress.csv:{last_0203 + 1}:pct: avancement supérieur à 100 % sur une ligne qui ne "
        "l'autorise pas",
    ]


@pytest.mark.parametrize("quoted", [False, True], ids=["sans guillemets", "avec guillemets"])
def test_every_bad_progress_row_is_listed_in_order(tmp_path, quoted):
    """Unquoted, the file is read at once; quoted, by the csv module: the same problems, in
    the order of a row-by-row reading (cells first, then rows by contract, line, situation)."""
    folder = tmp_path / "op"
    shutil.copytree(SAMPLE, folder)
    expected = _progress_with_bad_rows(folder, quoted)
    assert b"M\xe9tr\xe9" in (folder / "progress.csv").read_bytes()  # really Windows-1252
    assert [str(p) for p in parse_folder(folder).problems] == expected


def test_a_whole_table_is_sealed_as_row_by_row(sqlite_engine):
    """The journal reads a whole table column by column; its digests are those of the row
    by row reading of the same groups: texts, integers, booleans, dates, times and empty
    cells, odd characters and microseconds included."""
    write_portfolio(sqlite_engine, portfolio(1_000, lines=5, months=4))
    with sqlite_engine.begin() as conn:
        conn.execute(text("UPDATE progress SET comment = :c WHERE line_no = '002'"),
                     {"c": 'guillemet " barre \\ saut\nde ligne\ttab \x01 é € 😀'})
        conn.execute(text("UPDATE situation SET paid_at = '2024-05-29 11:14:00.250000' "
                          "WHERE n = 1"))
    with sqlite_engine.connect() as conn:
        every = seals.digests(conn)
        some = [(g, c, int(n)) for g, c, n in (k.split("|") for k in every
                                                if k.startswith("situation|"))]
        some += [("contract", "C000001"), ("company", "E000000")]
        row_by_row = seals.digests(conn, some)
    assert len(some) <= seals.BULK_KEYS
    assert row_by_row == {seals.key_text(k): every[seals.key_text(k)] for k in some}


def test_a_synthetic_portfolio_is_an_import_folder(tmp_path):
    """The folder the import benchmark writes is one the importer takes without a problem."""
    folder = write_import_folder(tmp_path / "op", portfolio(2_000, lines=5, months=4))
    pf = parse_folder(folder)
    assert [str(p) for p in pf.problems] == []
    assert len(pf.tables["progress"]) == 2_000
