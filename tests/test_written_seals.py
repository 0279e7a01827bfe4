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


def _share(bp) -> str:
    """Basis points as a share typed in a file (``0,375``)."""
    return f"{int(bp) / 10_000:.4f}".replace(".", ",")


def every_rule_folder(folder):
    """A portfolio with every rule (gesprokit.portfolio.with_every_rule) as an import folder:
    write_import_folder's files, then the revisable prices, indices, amendments,
    subcontracts, adjustments, guarantees and the justified fall that it leaves out."""
    import pandas as pd

    from gesprokit.portfolio import _euros

    p = with_every_rule(portfolio(3_000))
    write_import_folder(folder, p)

    def read(name):
        return pd.read_csv(folder / f"{name}.csv", sep=";", dtype=str, keep_default_na=False)

    def write(name, frame):
        frame.to_csv(folder / f"{name}.csv", sep=";", index=False, lineterminator="\n")

    k = p.contracts.set_index("contract_id")
    contracts = read("contracts")
    ids = contracts["contract_id"]
    terms = p.revision_terms.groupby("contract_id").apply(lambda t: "; ".join(
        f"{c}={_share(w)}" for c, w in zip(t["index_code"], t["weight_bp"], strict=True)))
    contracts["price_form"] = ids.map(k["price_form"])
    contracts["revision_fixed_part"] = ids.map(k["revision_fixed_bp"]).map(_share)
    contracts["revision_indices"] = ids.map(terms).fillna("")
    contracts["revision_base_month"] = ids.map(k["revision_base_month"]).fillna("")
    write("contracts", contracts)
    lines = read("price_lines")
    lines["subcontract_id"] = p.price_lines["subcontract_id"].fillna("").to_numpy()
    write("price_lines", lines)
    progress = read("progress")
    fell = p.progress.groupby(["contract_id", "line_no"])["pct_bp"].diff().lt(0).to_numpy()
    progress.loc[fell, "comment"] = "Métré corrigé : quantité « réelle », 2 m²"
    write("progress", progress)
    ix = p.price_index
    write("price_index", pd.DataFrame({
        "index_code": ix["index_code"], "month": ix["month"],
        "value": (ix["value_e4"] / 10_000).map(lambda v: f"{v:.4f}".replace(".", ",")),
        "published_on": ix["published_on"].dt.strftime("%Y-%m-%d")}))
    a = p.amendments
    write("amendments", pd.DataFrame({
        "contract_id": a["contract_id"], "amendment_no": a["amendment_no"],
        "signed_on": a["signed_on"].dt.strftime("%Y-%m-%d"),
        "amount": _euros(a["amount_cents"]), "label": a["label"]}))
    s = p.subcontracts
    write("subcontracts", pd.DataFrame({
        "subcontract_id": s["subcontract_id"], "contract_id": s["contract_id"],
        "company_code": s["company_code"], "scope": s["scope"],
        "amount": _euros(s["amount_cents"]),
        "accepted_on": s["accepted_on"].dt.strftime("%Y-%m-%d"), "direct_payment": "oui"}))
    j = p.adjustments
    write("adjustments", pd.DataFrame({
        "contract_id": j["contract_id"], "n": j["n"], "kind": j["kind"],
        "days": j["days"].astype(str).replace("<NA>", ""),
        "amount": [_euros(pd.Series([c])).iloc[0] if pd.notna(c) else ""
                   for c in j["amount_cents"]],
        "reason": j["reason"]}))
    g = p.guarantees
    write("guarantees", pd.DataFrame({
        "guarantee_id": g["guarantee_id"], "contract_id": g["contract_id"], "kind": g["kind"],
        "amount": _euros(g["amount_cents"]),
        "received_on": g["received_on"].dt.strftime("%Y-%m-%d"), "issuer": g["issuer"]}))
    return folder


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
