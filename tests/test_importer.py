"""The importer: the sample loads; bad input is reported all at once and nothing is written."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from conftest import SAMPLE
from sqlalchemy import func, select

from gesprokit import schema
from gesprokit.cli import main
from gesprokit.errors import ImportRejected
from gesprokit.importer import import_folder, parse_folder
from gesprokit.store import load_frames


def edit_csv(path, row_index: int, column: str, value: str) -> int:
    """Set one cell of a ';' CSV; returns the file line number of that row."""
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    rows[row_index][rows[0].index(column)] = value
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\n").writerows(rows)
    return row_index + 1


def count_rows(engine) -> int:
    with engine.connect() as conn:
        return sum(conn.execute(select(func.count()).select_from(t.__table__)).scalar()
                   for t in schema.TABLES_IN_LOAD_ORDER + [schema.Event])


def test_sample_imports_cleanly(sqlite_engine):
    written = import_folder(SAMPLE, sqlite_engine)
    assert written["contract"] == 12 and written["lot"] == 12
    frames = load_frames(sqlite_engine)
    assert frames.contracts["initial_total_ht"].dtype == "int64"
    # price lines come from one DPGF workbook per contract
    assert frames.price_lines.groupby("contract_id").size().min() >= 2
    # the journal opens, every dated step became an event, plus the import itself (which
    # seals everything imported)
    steps = frames.situations[["submitted_at", "verified_at", "moe_at", "amo_at", "moa_at",
                               "paid_at", "interrupted_at", "resumed_at"]].notna().sum().sum()
    # and every dated act of a contract's end
    ends = (frames.receptions[["received_on", "reserves_lifted_on"]].notna().sum().sum()
            + frames.final_accounts[["claimed_at", "settled_at", "signed_at", "answered_at",
                                     "tacit_at", "solde_paid_at", "retention_released_at",
                                     "kept_released_at"]].notna().sum().sum())
    assert ends == 5 + 4 + 6 + 5 + 2  # réceptions; L02, L03, L04, L07's acts
    assert len(frames.events) == 1 + steps + ends + 1
    assert frames.events["action"].iloc[0] == "open_journal"
    assert frames.events["action"].iloc[-1] == "import"
    sealed = json.loads(frames.events["seal"].iloc[-1])
    assert len([k for k in sealed if k.startswith("situation|")]) == len(frames.situations)


@pytest.fixture
def broken_folder(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    lines = {
        "siret": edit_csv(folder / "companies.csv", 3, "siret", "73282932000075"),
        "pct": edit_csv(folder / "progress.csv", 10, "pct", "abc"),
        "guarantee": edit_csv(folder / "guarantees.csv", 1, "contract_id", "CHMV-EHPAD-L99"),
        "month": edit_csv(folder / "situations.csv", 3, "month", "2025-04"),
        "total": edit_csv(folder / "contracts.csv", 2, "initial_total_ht", "1 000,00"),
    }
    return folder, lines


def test_five_errors_reported_together_and_nothing_written(broken_folder, sqlite_engine):
    folder, lines = broken_folder
    with pytest.raises(ImportRejected) as caught:
        import_folder(folder, sqlite_engine)
    messages = [str(p) for p in caught.value.problems]
    assert sorted(messages) == sorted([
        f"companies.csv:{lines['siret']}:siret: SIRET invalide « 73282932000075 » "
        "(14 chiffres, clé de Luhn)",
        f"contracts.csv:{lines['total']}:initial_total_ht: montant initial 1000.00 ≠ somme des "
        "lignes de la DPGF 2476140.00",
        f"situations.csv:{lines['month']}:month: mois 2025-04 non postérieur à la situation "
        "précédente (2025-05)",
        f"progress.csv:{lines['pct']}:pct: nombre illisible « abc »",
        f"guarantees.csv:{lines['guarantee']}:contract_id: marché « CHMV-EHPAD-L99 » inconnu",
    ])
    assert count_rows(sqlite_engine) == 0


def test_cli_prints_every_problem_and_exits_2(broken_folder, sqlite_url, capsys):
    folder, _ = broken_folder
    assert main(["import", str(folder), "--db", sqlite_url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 6  # five problems + the closing line
    assert "5 problème(s) : rien n'a été importé." in err


def test_progress_above_100_only_where_allowed(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    with (folder / "progress.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    last = max(i for i, r in enumerate(rows) if r[2] == "02.03")  # last entry of that line
    edit_csv(folder / "progress.csv", last, "pct", "100,5")
    messages = [str(p) for p in parse_folder(folder).problems]
    assert messages == [f"progress.csv:{last + 1}:pct: avancement supérieur à 100 % sur une "
                        "ligne qui ne l'autorise pas"]
    # the VRD earthworks line is paid on measured quantities and may exceed 100 %
    assert any(r[2] == "01.03" and int(r[3]) > 100 for r in rows[1:])


def test_missing_file_and_column_are_reported(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    (folder / "ecb_rates.csv").unlink()
    text = (folder / "guarantees.csv").read_text(encoding="utf-8")
    (folder / "guarantees.csv").write_text(text.replace("issuer", "banque"), encoding="utf-8")
    messages = [str(p) for p in parse_folder(folder).problems]
    assert "ecb_rates.csv: fichier obligatoire absent" in messages
    assert "guarantees.csv:issuer: colonne obligatoire absente" in messages
    assert "guarantees.csv:banque: colonne inconnue" in messages


def test_downward_progress_needs_a_justification(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    with (folder / "progress.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    idx = next(i for i, r in enumerate(rows) if r[4].startswith("Correction OPC"))
    edit_csv(folder / "progress.csv", idx, "comment", "")
    messages = [str(p) for p in parse_folder(folder).problems]
    assert messages == [f"progress.csv:{idx + 1}:comment: avancement en baisse : une "
                        "justification est obligatoire"]


def test_french_and_english_amounts_are_read_exactly(tmp_path, sqlite_engine):
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    edit_csv(folder / "guarantees.csv", 1, "amount", "40\u00a0647,60 €")
    import_folder(folder, sqlite_engine)
    frames = load_frames(sqlite_engine)
    assert frames.guarantees["amount_cents"].tolist() == [4_064_760]


def test_second_import_of_the_same_operation_is_refused(sqlite_engine):
    import_folder(SAMPLE, sqlite_engine)
    before = count_rows(sqlite_engine)
    with pytest.raises(ImportRejected, match="déjà importée"):
        import_folder(SAMPLE, sqlite_engine)
    assert count_rows(sqlite_engine) == before


def test_a_csv_saved_by_french_excel_imports_with_its_accents(sqlite_engine, tmp_path):
    """French Excel's « CSV (séparateur : point-virgule) » is Windows-1252, not UTF-8."""
    folder = tmp_path / "op"
    shutil.copytree(SAMPLE, folder)
    companies = folder / "companies.csv"
    companies.write_bytes(companies.read_text(encoding="utf-8").encode("cp1252"))
    assert "Électricité".encode("cp1252") in companies.read_bytes()  # really not UTF-8
    import_folder(folder, sqlite_engine)
    names = set(load_frames(sqlite_engine).companies["name"])
    assert "Électricité Courants Loire" in names and "Plâtrerie Moderne Stéphanoise" in names


@pytest.mark.parametrize(("file", "content", "reason"), [
    ("progress.csv", b"", "progress.csv: fichier vide : la ligne d'en-têtes manque"),
    ("operation.csv", None, "operation.csv: fichier sans aucune ligne de données"),
    ("dpgf/CHMV-EHPAD-L05.xlsx", b"ceci n'est pas un classeur",
     "dpgf/CHMV-EHPAD-L05.xlsx: ce n'est pas un classeur Excel .xlsx"),
    ("companies.csv", "code;name;siret\nX;" + "a" * 140_000 + ";1\n",
     "companies.csv: ligne 2 illisible (une cellule dépasse 131072 caractères)"),
    ("companies.csv", b"code;name\nX;\x81\x8d\x8f\n", "companies.csv: encodage illisible"),
])
def test_unreadable_files_are_french_problems_and_nothing_is_written(
        sqlite_engine, tmp_path, file, content, reason):
    folder = tmp_path / "op"
    shutil.copytree(SAMPLE, folder)
    path = folder / file
    if content is None:  # the header alone
        content = path.read_text(encoding="utf-8").splitlines()[0] + "\n"
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    with pytest.raises(ImportRejected) as caught:
        import_folder(folder, sqlite_engine)
    assert any(str(p).startswith(reason) for p in caught.value.problems), [
        str(p) for p in caught.value.problems][:5]
    assert count_rows(sqlite_engine) == 0


@pytest.mark.parametrize(("file", "column", "value", "reason"), [
    ("price_index.csv", "value", "9" * 40, "valeur d'index invalide"),
    ("contracts.csv", "initial_total_ht", "92233720368547758,08", "au-delà de"),
    ("progress.csv", "pct", "9" * 40, "hors limites"),
])
def test_numbers_past_the_limits_are_problems_not_overflows(sqlite_engine, tmp_path, file,
                                                            column, value, reason):
    """Found by the fuzz test: an index of 10^40 overflowed deep inside pandas."""
    folder = tmp_path / "op"
    shutil.copytree(SAMPLE, folder)
    with (folder / file).open(encoding="utf-8") as fh:
        header = fh.readline().strip().split(";")
    if column not in header:
        pytest.fail(f"{column} absent de {file} : {header}")
    line = edit_csv(folder / file, 1, column, value)
    with pytest.raises(ImportRejected) as caught:
        import_folder(folder, sqlite_engine)
    assert any(str(p).startswith(f"{file}:{line}:{column}: ") and reason in str(p)
               for p in caught.value.problems), [str(p) for p in caught.value.problems][:3]
    assert count_rows(sqlite_engine) == 0


def test_a_zero_amount_where_the_schema_wants_more_is_a_problem(sqlite_engine, tmp_path):
    """Found by the fuzz test: a subcontract of 0 € reached the database's CHECK."""
    folder = tmp_path / "op"
    shutil.copytree(SAMPLE, folder)
    line = edit_csv(folder / "subcontracts.csv", 1, "amount", "0")
    with pytest.raises(ImportRejected) as caught:
        import_folder(folder, sqlite_engine)
    assert f"subcontracts.csv:{line}:amount: montant nul « 0 » : un montant positif est attendu" \
        in [str(p) for p in caught.value.problems]
    assert count_rows(sqlite_engine) == 0


def test_a_rule_only_the_database_knows_is_still_a_french_problem(sqlite_engine, tmp_path,
                                                                   monkeypatch):
    """Safety net: were a check missing, the database's refusal becomes a French problem
    naming the file, and nothing is written."""
    from gesprokit.importer import fields as f
    from gesprokit.importer.tables import TABLES

    lenient = [fl if fl.column != "amount" else
               type(fl)(fl.column, f.cents(), target=fl.target) for fl in TABLES["subcontracts"]]
    monkeypatch.setitem(TABLES, "subcontracts", lenient)
    folder = tmp_path / "op"
    shutil.copytree(SAMPLE, folder)
    edit_csv(folder / "subcontracts.csv", 1, "amount", "0")
    with pytest.raises(ImportRejected) as caught:
        import_folder(folder, sqlite_engine)
    assert [str(p) for p in caught.value.problems] == [
        "subcontracts.csv: une ligne enfreint une règle de la base (valeur nulle, négative ou "
        "en double) ; rien n'a été importé"]
    assert count_rows(sqlite_engine) == 0


def test_a_longer_deadline_and_a_late_interruption_are_refused(tmp_path, sqlite_engine):
    """The sample's buyer is a health establishment (50 days). Its operation set to 55 days,
    and the L09 situation received on 26 February 2026 (deadline 17 April) interrupted on
    18 April: both refused, nothing written."""
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    op_line = edit_csv(folder / "operation.csv", 1, "deadline_days", "55")
    with (folder / "situations.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    index = next(i for i, r in enumerate(rows) if r[:2] == ["CHMV-EHPAD-L09", "2"])
    sit_line = edit_csv(folder / "situations.csv", index, "interrupted_at", "2026-04-18 09:00:00")
    edit_csv(folder / "situations.csv", index, "resumed_at", "2026-04-20 09:00:00")
    with pytest.raises(ImportRejected) as caught:
        import_folder(folder, sqlite_engine)
    assert sorted(str(p) for p in caught.value.problems) == [
        f"operation.csv:{op_line}:deadline_days: délai de paiement de 55 jours plus long que "
        "le délai légal de 50 jours pour un établissement public de santé (R2192-10/11) : un "
        "marché peut seulement le raccourcir",
        f"situations.csv:{sit_line}:interrupted_at: le délai de paiement a expiré le "
        "17/04/2026 : il ne peut plus être interrompu (R2192-27), les jours de retard sont "
        "acquis"]
    assert count_rows(sqlite_engine) == 0


def test_progress_on_an_amendment_line_before_its_signature_is_refused(tmp_path,
                                                                       sqlite_engine):
    """L06's amendment signed on 15 June 2026 instead of 20 April: its lines carry 1 % in the
    May 2026 situation (n°5 is June: allowed, n°4 is May: refused; AV1.02 is 0 % in May)."""
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    edit_csv(folder / "amendments.csv", 1, "signed_on", "2026-06-15")
    with (folder / "progress.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    refused = [i + 1 for i, r in enumerate(rows)
               if r[0] == "CHMV-EHPAD-L06" and r[2].startswith("AV1") and r[1] == "4"
               and r[3] != "0"]
    assert len(refused) == 1
    with pytest.raises(ImportRejected) as caught:
        import_folder(folder, sqlite_engine)
    assert [str(p) for p in caught.value.problems] == [
        f"progress.csv:{refused[0]}:pct: ligne de l'avenant n°1, signé le 15/06/2026 : pas "
        "d'avancement avant sa signature (situation de 05/2026)"]


def test_the_ends_of_contracts_are_checked_act_after_act(tmp_path, sqlite_engine):
    """Each act of a contract's end after the one it answers, within its legal delay: every
    bad row said at once (file, line, column, reason) and nothing written."""
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    finals, receptions = folder / "final_accounts.csv", folder / "receptions.csv"
    # L03 signed on 20 April: an answer on 25 May is past its 30 days
    answered = edit_csv(finals, 2, "answered_at", "2026-05-25 09:00:00")
    # L02's refund on 1 March 2027, before its délai de garantie ends (31 March 2027)
    released = edit_csv(finals, 1, "retention_released_at", "2027-03-01 10:00:00")
    # L07's tacit notice before its projet: the MOA still had its 30 days
    tacit = edit_csv(finals, 4, "tacit_at", "2026-08-04 10:00:00")
    # L04's réserves answered without the amount claimed
    reserves = edit_csv(finals, 3, "disputed", "")
    # the month of L02's décompte final is its last situation's
    month = edit_csv(finals, 1, "month", "2026-02")
    cost = edit_csv(receptions, 2, "reserves_cost", "1200,00")  # L03: no réserve stated
    (folder / "final_progress.csv").write_text(
        "contract_id;line_no;claimed_pct;admitted_pct;comment\n"
        "CHMV-EHPAD-L03;03.01;100;97;\n"
        "CHMV-EHPAD-L03;99.99;100;;\n"
        "CHMV-EHPAD-L12;12.01;100;;\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as caught:
        import_folder(folder, sqlite_engine)
    assert sorted(str(p) for p in caught.value.problems) == sorted([
        f"final_accounts.csv:{answered}:answered_at: réponse après le délai de 30 jours : le "
        "décompte général était réputé accepté",
        f"final_accounts.csv:{released}:retention_released_at: retenue remboursée avant la fin "
        "du délai de garantie",
        f"final_accounts.csv:{tacit}:tacit_at: procédure tacite avant les 30 jours du maître "
        "d'ouvrage",
        f"final_accounts.csv:{reserves}:claim_text: des réserves exigent le mémoire et le "
        "montant réclamé",
        f"final_accounts.csv:{month}:month: le mois du décompte final suit celui de la "
        "dernière situation (2026-02)",
        f"receptions.csv:{cost}:reserves: levée ou coût de réserves sans réserve énoncée",
        "final_progress.csv:2:comment: un avancement rectifié exige sa justification",
        "final_progress.csv:3:line_no: ligne « 99.99 » inconnue au marché",
        "final_progress.csv:4:contract_id: marché « CHMV-EHPAD-L12 » sans projet de décompte "
        "final dans final_accounts.csv"])
    assert count_rows(sqlite_engine) == 0
