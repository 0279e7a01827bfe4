"""Recompute every état d'acompte and compare it with the figures validated by the MOA."""

from __future__ import annotations

import pandas as pd

from gesprokit.schema import STATEMENT_COLUMNS


def statement_differences(ledger_situations: pd.DataFrame,
                          payment_statements: pd.DataFrame) -> pd.DataFrame:
    """Every (situation, amount) where the recorded figure differs from the recomputed one.

    Returns ``contract_id, n, column, recorded, recomputed, difference`` (cents),
    one row per differing amount, plus rows for validated situations the ledger
    no longer has (``recomputed`` missing).
    """
    merged = payment_statements.merge(ledger_situations, on=["contract_id", "n"], how="left",
                                      suffixes=("_recorded", ""), indicator=True)
    rows = []
    for col in STATEMENT_COLUMNS:
        recorded = merged[f"{col}_recorded"]
        recomputed = merged[col]
        differ = recorded.ne(recomputed) | recomputed.isna()
        part = merged.loc[differ, ["contract_id", "n"]].copy()
        part["column"] = col
        part["recorded"] = recorded[differ].astype("Int64")
        part["recomputed"] = recomputed[differ].astype("Int64")
        rows.append(part)
    out = pd.concat(rows, ignore_index=True)
    out["difference"] = out["recomputed"] - out["recorded"]
    return out.sort_values(["contract_id", "n", "column"]).reset_index(drop=True)
