"""Everything a report shows, computed once from the store: ledger, delays, synthesis.

Reports (Excel, exports, notebooks) take their figures from here and never
recompute an amount themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from gesprokit import schema
from gesprokit.delays import compute_delays
from gesprokit.ledger import Ledger, ledger_from_frames
from gesprokit.store import Frames, load_frames, read_table
from gesprokit.summary import contract_summary


@dataclass
class ReportData:
    """The frames of one operation (or all), its ledger and delays, and the synthesis."""

    frames: Frames
    ledger: Ledger
    delays: pd.DataFrame
    synthesis: pd.DataFrame
    as_of: pd.Timestamp


def synthesis(frames: Frames, ledger: Ledger, delays: pd.DataFrame) -> pd.DataFrame:
    """One row per contract (int cents): amounts, works to date, retention, advance, paid,
    late interest."""
    df = contract_summary(ledger.situations, frames.contracts, frames.amendments,
                          frames.companies)
    df = df.merge(frames.contracts[["contract_id", "advance_cents"]], on="contract_id")
    df["advance_outstanding"] = df["advance_cents"] - df["advance_repaid_cum"]
    paid = delays[delays["paid_at"].notna()].groupby("contract_id")["amount_due_ttc"].sum()
    df["paid_ttc"] = df["contract_id"].map(paid).fillna(0).astype("int64")
    owed = (delays["late_interest"] + delays["recovery_indemnity"]).groupby(
        delays["contract_id"]).sum()
    df["late_interest"] = df["contract_id"].map(owed).fillna(0).astype("int64")
    return df.sort_values(["lot_code", "contract_id"]).reset_index(drop=True)


def build_report_data(engine: Engine, operation: str | None = None,
                      as_of: datetime | None = None) -> ReportData:
    """Load one operation (or every one) and compute what the reports show."""
    as_of = pd.Timestamp(as_of or datetime.now())
    contract_ids = None
    if operation is not None:
        contracts = read_table(engine, schema.Contract.__table__)
        contract_ids = contracts.loc[contracts["operation_code"] == operation,
                                     "contract_id"].tolist()
        if not contract_ids:
            raise ValueError(f"opération « {operation} » inconnue ou sans marché")
    return report_data_from_frames(load_frames(engine, contract_ids), as_of)


def ledger_and_delays(frames: Frames, as_of: datetime) -> tuple[Ledger, pd.DataFrame]:
    """The ledger at `as_of` and the payment delays measured on it (unpaid ones at
    `as_of`): what every delays view starts from."""
    ledger = ledger_from_frames(frames, as_of=as_of)
    delays = compute_delays(frames.situations, frames.contracts, frames.operations,
                            ledger.situations, frames.ecb_rates, frames.events, as_of=as_of,
                            direct_payments=ledger.direct_payments,
                            subcontracts=frames.subcontracts,
                            requests=frames.direct_payment_requests,
                            receptions=frames.receptions,
                            final_accounts=frames.final_accounts)
    return ledger, delays


def report_data_from_frames(frames: Frames, as_of: datetime | None = None) -> ReportData:
    """What the reports show for frames already read (e.g. a session's own scope)."""
    as_of = pd.Timestamp(as_of or datetime.now())
    ledger, delays = ledger_and_delays(frames, as_of)
    return ReportData(frames=frames, ledger=ledger, delays=delays,
                      synthesis=synthesis(frames, ledger, delays), as_of=as_of)
