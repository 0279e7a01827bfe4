"""A synthetic portfolio of operations of any size, deterministic by seed (benchmarks, load
tests). Each operation has a buyer of some kind, lots let to companies, a price schedule per
contract, monthly situations with every dated step of the circuit, and S-shaped cumulative
progress per line. The frames have the schema's columns, so they can be computed on directly
or written to a database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert

from gesprokit import schema
from gesprokit.audit import append_events, writing
from gesprokit.money import to_decimal_euros
from gesprokit.sample_operation import make_siret
from gesprokit.seals import SEALED, keys_of_rows

BUYER_KINDS = np.array(["health", "local", "state", "public_company"])
STEP_DAYS = {"submitted_at": 0, "verified_at": 3, "moe_at": 6, "amo_at": 10, "moa_at": 15}


@dataclass
class Portfolio:
    """The tables of a synthetic portfolio (schema column names, int64 cents); the rules'
    tables are None for a fixed-price-only portfolio (see :func:`with_every_rule`)."""

    operations: pd.DataFrame
    companies: pd.DataFrame
    contracts: pd.DataFrame
    price_lines: pd.DataFrame
    situations: pd.DataFrame
    progress: pd.DataFrame
    amendments: pd.DataFrame | None = None
    revision_terms: pd.DataFrame | None = None
    subcontracts: pd.DataFrame | None = None
    adjustments: pd.DataFrame | None = None
    guarantees: pd.DataFrame | None = None
    price_index: pd.DataFrame | None = None

    def tables(self) -> list[tuple[type, pd.DataFrame]]:
        """(model, frame) in the order a database accepts them."""
        lots = self.contracts[["operation_code", "lot_code"]].rename(
            columns={"lot_code": "code"}).drop_duplicates().assign(name="Lot")
        out = [(schema.Operation, self.operations), (schema.Company, self.companies),
               (schema.Lot, lots), (schema.Contract, self.contracts),
               (schema.Amendment, self.amendments), (schema.RevisionTerm, self.revision_terms),
               (schema.Subcontract, self.subcontracts), (schema.PriceLine, self.price_lines),
               (schema.Situation, self.situations), (schema.Progress, self.progress),
               (schema.Adjustment, self.adjustments), (schema.Guarantee, self.guarantees),
               (schema.PriceIndex, self.price_index)]
        return [(model, df) for model, df in out if df is not None]

    def ledger_kwargs(self) -> dict:
        """The portfolio as :func:`gesprokit.ledger.compute_ledger`'s arguments."""
        return {name: getattr(self, name) for name in (
            "contracts", "price_lines", "situations", "progress", "amendments",
            "revision_terms", "subcontracts", "adjustments", "guarantees", "price_index")}


def with_every_rule(p: Portfolio) -> Portfolio:
    """The portfolio with every rule at work, contract by contract (contract 0 has them
    all): revisable prices on two contracts in three (two indices, or one), the second
    index published late (its last four months unknown, so provisional); a penalty by days
    on every other contract, a bonus on one in four; a guarantee on one in four; an
    amendment on one in five; a direct-paid subcontract on the first line of one in three;
    on one in seven, the first line's % corrected down in the fifth month."""
    contracts = p.contracts.copy()
    i = np.arange(len(contracts))
    ids = contracts["contract_id"]
    months = sorted(p.situations["month"].unique())
    revisable = i % 3 != 2
    contracts["price_form"] = np.where(revisable, "revisable", "firm")
    contracts["revision_fixed_bp"] = np.where(revisable, 1250, 0)
    contracts["revision_base_month"] = np.where(revisable, months[0], None)
    one = pd.DataFrame({"contract_id": ids[revisable], "index_code": "BT01",
                        "weight_bp": np.where(i[revisable] % 3 == 0, 5000, 8750)})
    two = pd.DataFrame({"contract_id": ids[i % 3 == 0], "index_code": "BT45",
                        "weight_bp": 3750})
    terms = pd.concat([one, two], ignore_index=True)

    def index(code: str, start: int, step: int, unknown: int) -> pd.DataFrame:
        known = months[:len(months) - unknown]
        return pd.DataFrame({"index_code": code, "month": known,
                             "value_e4": [start + step * k for k in range(len(known))],
                             "published_on": pd.to_datetime([
                                 pd.Timestamp(m + "-01") + pd.Timedelta(days=75)
                                 for m in known]).astype("datetime64[us]")})
    price_index = pd.concat([index("BT01", 1_300_000, 1_500, 2),
                             index("BT45", 1_150_000, 2_200, 4)], ignore_index=True)
    adjustments = pd.concat([
        pd.DataFrame({"contract_id": ids[i % 2 == 0], "n": 2, "kind": "penalty", "days": 12,
                      "amount_cents": None, "reason": "Retard sur le jalon de mise hors d'eau"}),
        pd.DataFrame({"contract_id": ids[i % 4 == 0], "n": 3, "kind": "bonus", "days": None,
                      "amount_cents": 150_000, "reason": "Prime d'avance sur planning"})],
        ignore_index=True).astype({"days": "Int64", "amount_cents": "Int64"})
    guarded = contracts[i % 4 == 0]
    guarantees = pd.DataFrame({
        "guarantee_id": "GAPD-" + guarded["contract_id"], "contract_id": guarded["contract_id"],
        "kind": "gapd", "amount_cents": guarded["initial_total_ht"] * 3 // 100,
        "received_on": pd.Timestamp(months[0] + "-15"), "issuer": "Banque"}).astype(
        {"received_on": "datetime64[us]"})
    amended = contracts[i % 5 == 0]
    amendments = pd.DataFrame({
        "contract_id": amended["contract_id"], "amendment_no": 1,
        "signed_on": pd.Timestamp(months[min(5, len(months) - 1)] + "-10"),
        "amount_cents": amended["initial_total_ht"] * 5 // 100, "label": "Avenant n°1"}
    ).astype({"signed_on": "datetime64[us]"})
    sub = contracts[i % 3 == 0]
    subcontracts = pd.DataFrame({
        "subcontract_id": "ST-" + sub["contract_id"], "contract_id": sub["contract_id"],
        "company_code": p.companies["code"].iloc[-1], "scope": "Pose",
        "amount_cents": sub["initial_total_ht"] // 10,
        "accepted_on": pd.Timestamp(months[0] + "-05"), "direct_payment": True}).astype(
        {"accepted_on": "datetime64[us]"})
    price_lines = p.price_lines.copy()
    first = price_lines.groupby("contract_id").head(1).index
    on_sub = price_lines.loc[first, "contract_id"].isin(sub["contract_id"])
    price_lines["subcontract_id"] = None
    price_lines.loc[first[on_sub.to_numpy()], "subcontract_id"] = (
        "ST-" + price_lines.loc[first[on_sub.to_numpy()], "contract_id"])
    progress = p.progress.copy()
    corrected = ids[i % 7 == 0]
    line = p.price_lines["line_no"].iloc[0]
    fourth = progress[progress["contract_id"].isin(corrected) & (progress["line_no"] == line)
                      & (progress["n"] == 4)].set_index("contract_id")["pct_bp"]
    fifth = (progress["contract_id"].isin(corrected) & (progress["line_no"] == line)
             & (progress["n"] == 5))
    progress.loc[fifth, "pct_bp"] = (progress.loc[fifth, "contract_id"].map(fourth) - 500
                                     ).clip(lower=0).to_numpy()
    return Portfolio(p.operations, p.companies, contracts, price_lines, p.situations, progress,
                     amendments=amendments, revision_terms=terms, subcontracts=subcontracts,
                     adjustments=adjustments, guarantees=guarantees, price_index=price_index)


def portfolio(progress_rows: int, lines: int = 25, months: int = 20,
              contracts_per_operation: int = 12, pace_bp: int = 1200,
              seed: int = 7, id_prefix: str = "") -> Portfolio:
    """About `progress_rows` progress rows: contracts of `lines` lines over `months` months,
    grouped `contracts_per_operation` to an operation; each line progresses by up to
    `pace_bp` a month. `id_prefix` goes into every operation, company and contract code (the
    batches of :func:`write_portfolio_dataset` each have their own)."""
    rng = np.random.default_rng(seed)
    n_contracts = max(1, progress_rows // (lines * months))
    n_ops = -(-n_contracts // contracts_per_operation)
    ops = np.array([f"OP{id_prefix}{i:05d}" for i in range(n_ops)])
    operations = pd.DataFrame({
        "code": ops, "name": [f"Opération {i}" for i in range(n_ops)],
        "buyer_name": [f"Maître d'ouvrage {i}" for i in range(n_ops)],
        "buyer_siret": [make_siret(5_000_000 + i, public=True) for i in range(n_ops)],
        "buyer_kind": BUYER_KINDS[rng.integers(0, len(BUYER_KINDS), n_ops)],
        "deadline_days_override": None, "city": None})
    n_companies = max(1, n_contracts // 3)
    companies = pd.DataFrame({
        "code": [f"E{id_prefix}{i:06d}" for i in range(n_companies)],
        "name": [f"Entreprise {id_prefix}{i}" for i in range(n_companies)],
        "siret": [make_siret(100_000 + i) for i in range(n_companies)],
        "is_sme": rng.random(n_companies) < 0.7, "city": None})

    cids = np.array([f"C{id_prefix}{i:06d}" for i in range(n_contracts)])
    op_of = ops[np.arange(n_contracts) // contracts_per_operation]
    amounts = rng.integers(1_000_00, 500_000_00, size=(n_contracts, lines))
    totals = amounts.sum(axis=1)
    advance = np.where(rng.random(n_contracts) < 0.3, totals * 6 // 100, 0)
    contracts = pd.DataFrame({
        "contract_id": cids, "operation_code": op_of,
        "lot_code": [f"{i % contracts_per_operation + 1:02d}" for i in range(n_contracts)],
        "company_code": companies["code"].to_numpy()[rng.integers(0, n_companies,
                                                                   n_contracts)],
        "title": "Lot", "notified_on": pd.Timestamp("2024-01-15"), "initial_total_ht": totals,
        "vat_rate_bp": 2000, "retention_rate_bp": 500, "retention_base": "ttc",
        "advance_cents": advance, "advance_start_bp": 6500, "advance_end_bp": 8000,
        "price_form": "firm", "revision_fixed_bp": 0, "revision_base_month": None,
        "coef_decimals": 4, "penalty_denominator": 3000, "penalty_cap_bp": 1000,
        "penalty_waiver_cents": 100_000})
    line_nos = np.array([f"{j + 1:03d}" for j in range(lines)])
    price_lines = pd.DataFrame({
        "contract_id": np.repeat(cids, lines), "line_no": np.tile(line_nos, n_contracts),
        "label": "Ouvrage", "unit": "ens", "quantity": "1", "unit_price_cents": None,
        "amount_cents": amounts.ravel(), "may_exceed": False, "amendment_no": None,
        "subcontract_id": None})

    month_names = np.array([f"{2024 + m // 12}-{m % 12 + 1:02d}" for m in range(months)])
    month_ends = pd.to_datetime(np.char.add(month_names, "-28"))
    received = np.tile(month_ends.values, n_contracts) + pd.to_timedelta(
        rng.integers(0, 4 * 24, n_contracts * months), unit="h").values
    situations = pd.DataFrame({
        "contract_id": np.repeat(cids, months), "n": np.tile(np.arange(1, months + 1),
                                                             n_contracts),
        "month": np.tile(month_names, n_contracts), "status": "paid", "version": 1})
    for step, days in STEP_DAYS.items():
        situations[step] = (received + np.timedelta64(days, "D")).astype("datetime64[us]")
    late = rng.integers(20, 75, n_contracts * months)  # payment 20 to 75 days after receipt
    situations["paid_at"] = (received + late.astype("timedelta64[D]")).astype("datetime64[us]")
    for col in ("interrupted_at", "resumed_at"):
        situations[col] = pd.Series(pd.NaT, index=situations.index, dtype="datetime64[us]")
    situations["interruption_reason"] = None

    pct = np.minimum(10_000, np.cumsum(rng.integers(0, pace_bp, size=(n_contracts, lines, months)),
                                       axis=2))
    progress = pd.DataFrame({
        "contract_id": np.repeat(cids, lines * months),
        "n": np.tile(np.arange(1, months + 1), n_contracts * lines),
        "line_no": np.tile(np.repeat(line_nos, months), n_contracts),
        "pct_bp": pct.ravel(), "comment": None})
    return Portfolio(operations, companies, contracts, price_lines, situations, progress)


def write_portfolio(engine: Engine, p: Portfolio, chunk: int = 50_000) -> None:
    """Insert the portfolio (PostgreSQL: COPY, the fast path for millions of rows), with one
    journal event sealing what it wrote, as an import does."""
    sealed: set = set()
    with writing(engine) as conn:
        for model, df in p.tables():
            # every column of the table, but a generated key the frame leaves to the base
            df = df.reindex(columns=[c.name for c in model.__table__.columns
                                     if c.name in df.columns or not (
                                         c.primary_key and c.autoincrement is True)])
            for column in model.__table__.columns:  # a column left out takes its default
                if column.default is not None and column.default.is_scalar:
                    df[column.name] = df[column.name].fillna(column.default.arg)
                    if isinstance(column.default.arg, int) and not isinstance(
                            column.default.arg, bool):  # not 12.0: COPY wants an integer
                        df[column.name] = df[column.name].astype("Int64")
            if engine.dialect.name == "postgresql":
                cols = ", ".join(df.columns)
                raw = conn.connection.driver_connection
                with raw.cursor() as cur, cur.copy(
                        f"COPY {model.__tablename__} ({cols}) FROM STDIN") as copy:
                    for row in df.itertuples(index=False):
                        copy.write_row([None if pd.isna(v) else v for v in row])
                continue
            records = df.astype(object).where(df.notna(), None).to_dict("records")
            for start in range(0, len(records), chunk):
                conn.execute(insert(model), records[start:start + chunk])
        for model, df in p.tables():
            group_columns = SEALED.get(model.__tablename__, ("", ()))[1]
            sealed |= keys_of_rows(model.__tablename__,
                                   df[list(group_columns)].drop_duplicates().to_dict("records"))
        append_events(conn, [{"at": datetime.now(), "actor": "portfolio", "role": "admin",
                              "action": "import", "after": json.dumps(
                                  {model.__tablename__: len(df) for model, df in p.tables()},
                                  sort_keys=True)}], sealed=sealed)


def _euros(cents: pd.Series) -> pd.Series:
    """Integer cents -> ``1234.56`` text, as a person types an amount."""
    return cents.map(lambda c: str(to_decimal_euros(c)))


def _share(bp) -> str:
    """Basis points as a share typed in a file (``0,375``)."""
    return f"{int(bp) / 10_000:.4f}".replace(".", ",")


def _held(frame: pd.DataFrame | None) -> bool:
    """Whether a rule's table has rows (None: a fixed-price-only portfolio)."""
    return frame is not None and len(frame) > 0


def _day(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d")


def write_import_folder(folder: str | Path, p: Portfolio) -> Path:
    """Write the portfolio as one operation's import folder (every contract under the first
    operation), the CSV files `gesprokit import` reads: to measure the importer at scale.
    The rules a portfolio holds (:func:`with_every_rule`: revisable prices and their
    indices, amendments, subcontracts, penalties and bonuses, guarantees, a % corrected down
    with its justification) are written too."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = "%Y-%m-%d %H:%M:%S"

    def write(name: str, frame: pd.DataFrame) -> None:
        frame.to_csv(folder / f"{name}.csv", sep=";", index=False, lineterminator="\n")

    op = p.operations.iloc[0]
    write("operation", pd.DataFrame([{"code": op["code"], "name": op["name"],
                                      "buyer_name": op["buyer_name"],
                                      "buyer_siret": op["buyer_siret"],
                                      "buyer_kind": op["buyer_kind"]}]))
    c = p.companies
    write("companies", pd.DataFrame({"code": c["code"], "name": c["name"], "siret": c["siret"],
                                     "is_sme": np.where(c["is_sme"], "oui", "non")}))
    k = p.contracts
    contracts = pd.DataFrame({
        "contract_id": k["contract_id"], "lot_code": k["lot_code"],
        "lot_name": "Lot " + k["lot_code"], "company_code": k["company_code"],
        "title": k["title"], "notified_on": _day(k["notified_on"]),
        "initial_total_ht": _euros(k["initial_total_ht"]), "advance": _euros(k["advance_cents"])})
    if _held(p.revision_terms):
        terms = p.revision_terms.groupby("contract_id").apply(lambda t: "; ".join(
            f"{code}={_share(w)}" for code, w in zip(t["index_code"], t["weight_bp"],
                                                      strict=True)))
        contracts["price_form"] = k["price_form"].to_numpy()
        contracts["revision_fixed_part"] = k["revision_fixed_bp"].map(_share).to_numpy()
        contracts["revision_indices"] = k["contract_id"].map(terms).fillna("").to_numpy()
        contracts["revision_base_month"] = k["revision_base_month"].fillna("").to_numpy()
    write("contracts", contracts)
    pl = p.price_lines
    lines = pd.DataFrame({
        "contract_id": pl["contract_id"], "line_no": pl["line_no"], "label": pl["label"],
        "unit": pl["unit"], "amount": _euros(pl["amount_cents"])})
    if _held(p.subcontracts):
        lines["subcontract_id"] = pl["subcontract_id"].fillna("").to_numpy()
    write("price_lines", lines)
    s = p.situations
    write("situations", pd.DataFrame({
        "contract_id": s["contract_id"], "n": s["n"], "month": s["month"],
        **{step: s[step].dt.strftime(stamp) for step in (*STEP_DAYS, "paid_at")}}))
    pr = p.progress
    pct = pd.Series(pr["pct_bp"], dtype="int64")
    fell = pr.groupby(["contract_id", "line_no"])["pct_bp"].diff().lt(0).to_numpy()
    write("progress", pd.DataFrame({
        "contract_id": pr["contract_id"], "n": pr["n"], "line_no": pr["line_no"],
        "pct": (pct // 100).astype(str) + "," + (pct % 100).astype(str).str.zfill(2),
        "comment": np.where(fell, "Métré corrigé : quantité « réelle », 2 m²", "")}))
    ix = p.price_index if _held(p.price_index) else pd.DataFrame({
        "index_code": [], "month": [], "value_e4": [],
        "published_on": pd.Series([], dtype="datetime64[us]")})
    write("price_index", pd.DataFrame({
        "index_code": ix["index_code"], "month": ix["month"],
        "value": (ix["value_e4"] / 10_000).map(lambda v: f"{v:.4f}".replace(".", ",")),
        "published_on": _day(ix["published_on"])}))
    write("ecb_rates", pd.DataFrame({
        "effective_on": ["2023-09-20", "2024-06-12", "2025-06-11"],
        "rate": ["4.50", "4.25", "2.15"]}))
    a = p.amendments
    if _held(a):
        write("amendments", pd.DataFrame({
            "contract_id": a["contract_id"], "amendment_no": a["amendment_no"],
            "signed_on": _day(a["signed_on"]), "amount": _euros(a["amount_cents"]),
            "label": a["label"]}))
    sub = p.subcontracts
    if _held(sub):
        write("subcontracts", pd.DataFrame({
            "subcontract_id": sub["subcontract_id"], "contract_id": sub["contract_id"],
            "company_code": sub["company_code"], "scope": sub["scope"],
            "amount": _euros(sub["amount_cents"]), "accepted_on": _day(sub["accepted_on"]),
            "direct_payment": np.where(sub["direct_payment"], "oui", "non")}))
    j = p.adjustments
    if _held(j):
        write("adjustments", pd.DataFrame({
            "contract_id": j["contract_id"], "n": j["n"], "kind": j["kind"],
            "days": j["days"].astype(str).replace("<NA>", ""),
            "amount": [str(to_decimal_euros(int(v))) if pd.notna(v) else ""
                       for v in j["amount_cents"]],
            "reason": j["reason"]}))
    g = p.guarantees
    if _held(g):
        write("guarantees", pd.DataFrame({
            "guarantee_id": g["guarantee_id"], "contract_id": g["contract_id"],
            "kind": g["kind"], "amount": _euros(g["amount_cents"]),
            "received_on": _day(g["received_on"]), "issuer": g["issuer"]}))
    return folder


# ECB main refinancing rates of the portfolio's years (its late interest)
ECB_RATES = pd.DataFrame({"effective_on": pd.to_datetime(["2023-09-20", "2024-06-12",
                                                          "2025-06-11"]),
                          "rate_bp": [450, 425, 215]})


def write_portfolio_dataset(folder: str | Path, progress_rows: int, every_rule: bool = True,
                            batch_rows: int = 1_000_000, lines: int = 25, months: int = 20,
                            contracts_per_operation: int = 12, seed: int = 7,
                            progress: bool = False) -> Path:
    """Write a portfolio of about `progress_rows` progress rows as a partitioned dataset
    (:mod:`gesprokit.scale.dataset`), streaming: each batch of whole operations (about
    `batch_rows` rows, its own codes and seed) is generated, written as one partition and
    dropped, so any size fits in memory. `every_rule`: each batch :func:`with_every_rule`."""
    from tqdm.auto import tqdm

    from gesprokit.scale.dataset import DatasetWriter

    per_operation = lines * months * contracts_per_operation
    batch = max(1, batch_rows // per_operation) * per_operation
    writer = DatasetWriter(folder)
    operations, companies, price_index = [], [], None
    starts = range(0, max(progress_rows, 1), batch)
    for k, start in enumerate(tqdm(starts, desc="Génération", unit="partition",
                                   disable=not progress)):
        p = portfolio(min(batch, progress_rows - start), lines=lines, months=months,
                      contracts_per_operation=contracts_per_operation, seed=seed + k,
                      id_prefix=f"{k:05d}-")
        if every_rule:
            p = with_every_rule(p)
        writer.append({"contracts": p.contracts, "price_lines": p.price_lines,
                       "situations": p.situations, "progress": p.progress,
                       "amendments": p.amendments, "revision_terms": p.revision_terms,
                       "subcontracts": p.subcontracts, "adjustments": p.adjustments,
                       "guarantees": p.guarantees})
        operations.append(p.operations)
        companies.append(p.companies)
        price_index = p.price_index if price_index is None else price_index
    writer.reference("operations", pd.concat(operations, ignore_index=True))
    writer.reference("companies", pd.concat(companies, ignore_index=True))
    lots = pd.concat([pd.read_parquet(Path(folder) / "contracts" / d, columns=[
        "operation_code", "lot_code"]) for d in sorted(
        x.name for x in (Path(folder) / "contracts").iterdir())], ignore_index=True)
    writer.reference("lots", lots.rename(columns={"lot_code": "code"}).drop_duplicates()
                     .assign(name="Lot"))
    writer.reference("price_index", price_index)
    writer.reference("ecb_rates", ECB_RATES)
    return writer.close()
