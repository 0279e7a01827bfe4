"""The import's seals computed from the rows it writes (gesprokit.written_seals) are those
gesprokit.seals reads back from the base, group by group, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from conftest import SAMPLE
from sqlalchemy import insert

from gesprokit import integrity, schema, seals, written_seals
from gesprokit.importer import import_folder
from gesprokit.portfolio import portfolio, with_every_rule, write_import_folder


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    """An empty base of each kind (PostgreSQL skipped without GESPROKIT_TEST_POSTGRES_URL)."""
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite"
                                   else "postgres_engine")


def _import_spying(folder, engine, monkeypatch) -> tuple[dict, set, dict]:
    """Import `folder`; the seal computed from the written rows, the tables of the groups
    the import creates that were read back all the same, and the rows written per table."""
    computed: dict = {}
    read_back: set = set()
    digests, rows = written_seals.digests, seals._rows

    def spy_digests(*args, **kwargs):
        computed.update(digests(*args, **kwargs))
        return computed

    def spy_rows(conn, table, *args, **kwargs):
        if seals.SEALED[table.name][0] in written_seals.FRESH_GROUPS:
            read_back.add(table.name)
        return rows(conn, table, *args, **kwargs)

    monkeypatch.setattr(written_seals, "digests", spy_digests)
    monkeypatch.setattr(seals, "_rows", spy_rows)
    written = import_folder(folder, engine, now=datetime(2026, 6, 1, 12, 30, 15, 123456))
    monkeypatch.undo()
    return computed, read_back, written


def every_rule_folder(folder):
    """A portfolio with every rule (gesprokit.portfolio.with_every_rule) as an import folder:
    revisable prices, indices, amendments, subcontracts, adjustments, guarantees and a
    justified fall."""
    return write_import_folder(folder, with_every_rule(portfolio(3_000)))


@pytest.mark.parametrize("source", ["sample", "portfolio"])
def test_seals_from_written_rows_equal_those_read_back(engine, source, tmp_path, monkeypatch):
    folder = SAMPLE if source == "sample" else every_rule_folder(tmp_path / "op")
    computed, read_back, written = _import_spying(folder, engine, monkeypatch)
    every = ("progress", "payment_statement", "adjustment", "amendment", "subcontract",
             "guarantee", "revision_term", "price_index")
    assert all(written[name] for name in every), written
    assert read_back <= written_seals.READ_BACK
    fresh = [k for k in computed if k.split("|")[0] in written_seals.FRESH_GROUPS]
    groups = {k.split("|")[0] for k in fresh}
    assert {"situation", "contract", "operation"} <= groups
    with engine.connect() as conn:
        base = seals.digests(conn)
    different = {k: (v, base.get(k)) for k, v in computed.items() if base.get(k) != v}
    assert different == {}
    assert all(computed[k] is not None for k in fresh)
    result = integrity.verify(engine)
    assert result.problems == []
    assert result.groups >= len(fresh)


def test_values_the_base_normalises_are_written_as_it_gives_them_back(engine):
    """A date in a time column, an integer in a text column, microseconds: the lines are
    the base's; an aware time is not vouched for, so its table is read back."""
    contract = {"contract_id": "C1", "operation_code": "OP", "lot_code": "01",
                "company_code": "E1", "title": 12345, "notified_on": date(2026, 1, 5),
                "initial_total_ht": 1_000, "vat_rate_bp": 2000, "retention_rate_bp": 500,
                "retention_base": "ttc", "advance_cents": 0, "advance_start_bp": 6500,
                "advance_end_bp": 8000, "price_form": "firm", "revision_fixed_bp": 0,
                "coef_decimals": 4, "penalty_denominator": 3000, "penalty_cap_bp": 1000,
                "penalty_waiver_cents": 100_000, "advance_due_from": None,
                "advance_paid_at": date(2026, 2, 1), "guarantee_months": 12}
    situation = {"contract_id": "C1", "n": 1, "month": "2026-01", "status": "submitted",
                 "version": 1, "submitted_at": datetime(2026, 2, 3, 9, 5, 7, 250),
                 "interruption_reason": ""}
    aware = {**situation, "n": 2, "month": "2026-02",
             "submitted_at": datetime(2026, 3, 3, 9, 5, 7, tzinfo=UTC)}
    with engine.begin() as conn:
        conn.execute(insert(schema.Operation), {
            "code": "OP", "name": "Op", "buyer_name": "Ville", "buyer_siret": "21750001600019",
            "buyer_kind": "local"})
        conn.execute(insert(schema.Company), {"code": "E1", "name": "E", "siret":
                                              "73282932000074", "is_sme": True})
        conn.execute(insert(schema.Lot), {"operation_code": "OP", "code": "01", "name": "L"})
        conn.execute(insert(schema.Contract), {**contract, "title": "12345"})
        conn.execute(insert(schema.Situation), [situation, {**aware, "submitted_at":
                                                            datetime(2026, 3, 3, 9, 5, 7)}])
        keys = [("contract", "C1"), ("situation", "C1", 1), ("situation", "C1", 2)]
        written = {"contract": [contract], "situation": [situation, aware]}
        assert written_seals.digests(conn, written, keys) == seals.digests(conn, keys)
        only_first = {"contract": [contract], "situation": [situation]}
        assert written_seals.digests(conn, only_first, keys[:2]) == \
            seals.digests(conn, keys[:2])


def test_frame_lines_by_pyarrow_are_the_row_codes():
    """A frame's lines written column by column by pyarrow are those of the row code
    (escapes, non-Latin text, None, negative integers), grouped alike; a value it cannot
    vouch for (NaN in a text column, a number in a text column, a missing integer) leaves it
    to the row code."""
    import numpy as np
    import pandas as pd

    table = schema.Progress.__table__
    key, excluded = seals.SEALED["progress"][1], seals.SEALED["progress"][2]
    def texts(*values):  # the importer's frame: object columns, None for NULL
        return pd.Series(values, dtype=object)

    frame = pd.DataFrame({
        "contract_id": texts("C1", "C1", 'C"2\\', "C1", "Zoé\u2028", 'C"2\\'),
        "n": np.array([1, 1, 3, 2, 1, 3], dtype="int64"),
        "line_no": texts("01", "02", "01", "01", "\x01\t\n", "02"),
        "pct_bp": np.array([0, -5, 10_000, 3, 7, 12], dtype="int64"),
        "comment": texts(None, 'dit « oui » \\ "non"', None, "\U0001F600", "", None)})
    wanted = {("situation", c, n) for c, n in zip(frame["contract_id"], frame["n"],
                                                   strict=True)}
    fast = written_seals._frame_lines_by_group(table, key, excluded, frame, wanted)
    rows: dict = {}
    for k, line in written_seals._table_lines(table, key, excluded, frame, wanted):
        rows.setdefault(k, []).append(line)
    assert fast == rows and len(fast) == 4 and len(fast[("situation", 'C"2\\', 3)]) == 2
    for column, value in (("comment", float("nan")), ("line_no", 5), ("pct_bp", None)):
        odd = frame.astype({column: "Int64" if column == "pct_bp" else object})
        odd.loc[0, column] = value
        with pytest.raises(written_seals._Unknown):
            written_seals._frame_lines_by_group(table, key, excluded, odd, wanted)
