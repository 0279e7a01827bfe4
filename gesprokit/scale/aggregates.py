"""What a sector auditor asks of a dataset's delays, computed on the cluster: late interest
owed per buyer, year and company; days each actor of the circuit consumed; the share of
situations paid late. Read from the delays written by :func:`gesprokit.scale.compute.run`;
only the grouped sums come back to the client. Amounts in int64 cents."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from gesprokit.delays import ACTOR_STEPS, actor_shares
from gesprokit.money import BP
from gesprokit.scale.dataset import read_table

ACTOR_COLUMNS = [c for c, _, _ in ACTOR_STEPS]
BUYER = ["buyer_siret", "buyer_name"]


def parties(dataset: str | Path) -> pd.DataFrame:
    """Each contract's buyer (SIRET, name) from the dataset's contracts and operations."""
    contracts = read_table(dataset, "contracts", ["contract_id", "operation_code"])
    operations = read_table(dataset, "operations", ["code", *BUYER]).rename(
        columns={"code": "operation_code"})
    return contracts.merge(operations, on="operation_code")[["contract_id", *BUYER]]


def auditor_aggregates(out_dir: str | Path, dataset: str | Path,
                       as_of: datetime) -> dict[str, pd.DataFrame]:
    """The auditor's frames, from the delays under `out_dir`:

    - ``interest``: per buyer, year of payment (of `as_of` when unpaid) and payee company,
      the late interest and recovery indemnities owed, and how many payments were late;
    - ``actors``: per actor of the circuit, the days consumed over all situations and
      their share of the legal deadlines (:func:`gesprokit.delays.actor_shares`);
    - ``late_share``: per buyer and year, situations paid and paid late, and the share.
    """
    import dask
    import dask.dataframe as dd

    columns = ["contract_id", "payment", "payee", "paid_at", "late_days", "late_interest",
               "recovery_indemnity", "deadline_days", *ACTOR_COLUMNS]
    d = dd.read_parquet(str(Path(out_dir) / "delays"), columns=columns)
    d = d.merge(parties(dataset), on="contract_id", how="left")
    year = d["paid_at"].dt.year.fillna(pd.Timestamp(as_of).year).astype("int64")
    d = d.assign(year=year, late=(d["late_days"] > 0).astype("int64"),
                 paid=(~d["paid_at"].isna()).astype("int64"))
    d = d.assign(paid_late=d["late"] * d["paid"])
    interest = d.groupby([*BUYER, "year", "payee"])[
        ["late_interest", "recovery_indemnity", "late"]].sum(split_out=1)
    situations = d[d["payment"] == "acompte"]
    actors = situations[[*ACTOR_COLUMNS, "deadline_days"]].sum()
    counted = situations["payment"].count()
    late_share = situations.groupby([*BUYER, "year"])[["paid", "paid_late"]].sum(split_out=1)
    interest, actors, counted, late_share = dask.compute(interest, actors, counted,
                                                          late_share)
    return {"interest": _interest(interest, dataset),
            "actors": _actors(actors, int(counted)), "late_share": _late_share(late_share)}


def _interest(grouped: pd.DataFrame, dataset) -> pd.DataFrame:
    companies = read_table(dataset, "companies", ["code", "name", "siret"]).rename(
        columns={"code": "payee", "name": "company_name", "siret": "company_siret"})
    out = grouped.reset_index().merge(companies, on="payee", how="left").rename(
        columns={"payee": "company_code", "late": "late_payments"})
    out["owed"] = out["late_interest"] + out["recovery_indemnity"]
    for col in ("late_interest", "recovery_indemnity", "owed", "late_payments", "year"):
        out[col] = out[col].astype("int64")
    return out.sort_values([*BUYER, "year", "company_code"]).reset_index(drop=True)[
        [*BUYER, "year", "company_code", "company_siret", "company_name", "late_payments",
         "late_interest", "recovery_indemnity", "owed"]]


def _actors(sums: pd.Series, situations: int) -> pd.DataFrame:
    shares = actor_shares(sums.to_frame().T.assign(payment="acompte"))
    days = sums[ACTOR_COLUMNS].astype("int64")
    return pd.DataFrame({"actor": ACTOR_COLUMNS, "days": days.to_numpy(),
                         "situations": situations,
                         "days_per_situation": (days / max(situations, 1)).round(1).to_numpy(),
                         "share_bp": shares[ACTOR_COLUMNS].to_numpy()})


def _late_share(grouped: pd.DataFrame) -> pd.DataFrame:
    out = grouped.reset_index().astype({"paid": "int64", "paid_late": "int64",
                                        "year": "int64"})
    out["late_share_bp"] = (out["paid_late"] * BP // out["paid"].clip(lower=1)).astype("int64")
    return out.sort_values([*BUYER, "year"]).reset_index(drop=True)
