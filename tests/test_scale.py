"""The Dask path (gesprokit.scale) equals the in-memory path to the cent, row for row, on a
generated dataset of several partitions and on the sample exported as a dataset."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from gesprokit.cli import main
from gesprokit.ledger import DIRECT_PAYMENT_COLUMNS, LINE_COLUMNS, MONEY_COLUMNS
from gesprokit.portfolio import write_portfolio_dataset
from gesprokit.report_data import ledger_and_delays
from gesprokit.scale.compute import OUTPUTS, read_result, run
from gesprokit.scale.dataset import partitions, read_partition
from gesprokit.store import load_frames

distributed = pytest.importorskip("distributed")

AS_OF = pd.Timestamp("2026-06-30")
KEYS = {"ledger": ["contract_id", "n"], "ledger_lines": ["contract_id", "n", "line_no"],
        "direct_payments": ["contract_id", "n", "subcontract_id"],
        "delays": ["contract_id", "n", "payment", "payee"]}
MONEY = {"ledger": MONEY_COLUMNS,
         "ledger_lines": [c for c in LINE_COLUMNS if c not in KEYS["ledger_lines"]],
         "direct_payments": DIRECT_PAYMENT_COLUMNS[3:],
         "delays": ["amount_due_ttc", "late_days", "late_rate_bp", "late_interest",
                    "recovery_indemnity", "deadline_days", "elapsed_days", "days_verifier",
                    "days_moe", "days_amo", "days_moa", "days_treasury"]}


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes, as on the two-core machine."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local, \
            distributed.Client(local) as client:
        yield local, client


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A portfolio with every rule, streamed as 5 partitions of 2 operations each."""
    folder = tmp_path_factory.mktemp("scale") / "dataset"
    write_portfolio_dataset(folder, 60_000, batch_rows=12_000)
    return folder


def in_memory(folder) -> dict[str, pd.DataFrame]:
    """The in-memory path: the whole dataset as one Frames, through ledger_and_delays."""
    ledger, delays = ledger_and_delays(read_partition(folder, None), AS_OF)
    return {"ledger": ledger.situations, "ledger_lines": ledger.lines,
            "direct_payments": ledger.direct_payments, "delays": delays}


def assert_same(name: str, expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """Row for row (both sorted by the keys), every column; keys and money with their
    dtypes, the text columns by value (Parquet gives a column of None and text back as
    text)."""
    assert len(expected) == len(got) > 0, name
    assert list(got.columns) == list(expected.columns), name
    a = expected.sort_values(KEYS[name], kind="stable").reset_index(drop=True)
    b = got.sort_values(KEYS[name], kind="stable").reset_index(drop=True)
    exact = KEYS[name] + MONEY[name]
    pd.testing.assert_frame_equal(a[exact], b[exact], check_exact=True)
    rest = [c for c in a.columns if c not in exact]
    pd.testing.assert_frame_equal(a[rest].astype(object).where(a[rest].notna(), None),
                                  b[rest].astype(object).where(b[rest].notna(), None),
                                  check_exact=True, check_dtype=False)


def test_dask_path_equals_in_memory_to_the_cent(cluster, dataset, tmp_path):
    _local, client = cluster
    assert len(partitions(dataset)) == 5
    totals = run(client, dataset, tmp_path / "out", AS_OF, progress=False)
    expected = in_memory(dataset)
    assert totals == {name: len(expected[name]) for name in OUTPUTS}
    for name in OUTPUTS:
        assert_same(name, expected[name], read_result(tmp_path / "out", name))
    # the figures compared are not trivial: rules at work, interest owed
    ledger, delays = expected["ledger"], expected["delays"]
    assert (ledger["revision_cum"] != 0).any() and (ledger["penalty_cum"] > 0).any()
    assert (expected["direct_payments"]["paid_cum"] > 0).any()
    assert delays["late_interest"].sum() > 0


def test_cli_on_an_existing_cluster_and_the_auditor_summary(cluster, dataset, tmp_path,
                                                             capsys):
    local, _client = cluster
    out, book = tmp_path / "delais", tmp_path / "synthese.xlsx"
    assert main(["delays", "--dataset", str(dataset), "--scheduler", local.scheduler_address,
                 "--as-of", "2026-06-30", "-o", str(out), "--summary", str(book)]) == 0
    said = capsys.readouterr()
    assert "délais de paiement" in said.out and "2 travailleurs" in said.err
    delays = in_memory(dataset)["delays"]
    assert_same("delays", delays, read_result(out, "delays"))

    aggregates = {name: pd.read_parquet(out / "auditeur" / f"{name}.parquet")
                  for name in ("interest", "actors", "late_share")}
    assert aggregates["interest"]["late_interest"].sum() == delays["late_interest"].sum()
    assert aggregates["interest"]["owed"].sum() == (
        delays["late_interest"] + delays["recovery_indemnity"]).sum()
    acomptes = delays[delays["payment"] == "acompte"]
    paid = acomptes[acomptes["paid_at"].notna()]
    assert aggregates["late_share"]["paid"].sum() == len(paid)
    assert aggregates["late_share"]["paid_late"].sum() == (paid["late_days"] > 0).sum()
    assert aggregates["actors"].set_index("actor")["days"].to_dict() == {
        c: acomptes[c].sum() for c in aggregates["actors"]["actor"]}

    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == ["Synthèse", "Par acheteur", "Par année", "Par entreprise",
                             "Jours par acteur", "Retards par acheteur"]
    synthesis = {row[0]: row[1] for row in wb["Synthèse"].iter_rows(values_only=True)}
    owed = int(delays["late_interest"].sum())
    assert round(synthesis["Intérêts moratoires dus"] * 100) == owed
    assert wb["Synthèse"]["B2"].number_format.endswith('"€"')
    header = [c.value for c in wb["Jours par acteur"][1]]
    assert header == ["Acteur", "Jours consommés", "Jours par situation",
                      "Part du délai légal"]
    actors = [row[0] for row in wb["Jours par acteur"].iter_rows(min_row=2, values_only=True)]
    assert "Maître d'œuvre" in actors and not any(a.startswith("days_") for a in actors)


def test_sample_exported_as_a_dataset(cluster, sample_engine, sqlite_url, tmp_path, capsys):
    """The sample (receptions, final accounts, returns, rectifications) exported with
    --partitioned, then its ledger through Dask: the in-memory ledger of the base."""
    _local, client = cluster
    folder = tmp_path / "jeu"
    assert main(["export", "--db", sqlite_url, "--format", "parquet", "--partitioned",
                 "-o", str(folder)]) == 0
    assert "partition" in capsys.readouterr().out
    run(client, folder, tmp_path / "out", AS_OF, progress=False)
    ledger, delays = ledger_and_delays(load_frames(sample_engine), AS_OF)
    assert_same("ledger", ledger.situations, read_result(tmp_path / "out", "ledger"))
    assert_same("ledger_lines", ledger.lines, read_result(tmp_path / "out", "ledger_lines"))
    assert_same("delays", delays, read_result(tmp_path / "out", "delays"))


def test_dataset_errors_in_french(tmp_path, capsys):
    assert main(["ledger", "--dataset", str(tmp_path), "-o", str(tmp_path / "o")]) == 2
    assert "n'est pas un jeu de données partitionné" in capsys.readouterr().err
    assert main(["ledger", "--dataset", str(tmp_path)]) == 2
    assert "-o DOSSIER est obligatoire" in capsys.readouterr().err
