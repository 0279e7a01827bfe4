"""Export of every frame (raw tables and computed ones) as CSV or Parquet files."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pandas as pd

from gesprokit.report_data import ReportData

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula (« =HYPERLINK(…) », « +1 », « @A1 »)
    prefixed with an apostrophe, as OWASP advises for CSV; numbers are left as numbers."""
    out = df
    for col in df.columns:
        if not (pd.api.types.is_string_dtype(df[col]) or df[col].dtype == object):
            continue
        text = df[col].astype("string")
        risky = text.str.startswith(FORMULA_START).fillna(False).astype(bool)
        if risky.any():
            out = out.copy() if out is df else out
            out[col] = text.where(~risky, "'" + text)
    return out


def export_frames(data: ReportData, folder: str | Path, fmt: str = "csv") -> list[Path]:
    """Write one file per frame into `folder`; money stays in integer cents."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames: dict[str, pd.DataFrame] = {f.name: getattr(data.frames, f.name)
                                       for f in fields(data.frames)}
    frames.update({"ledger": data.ledger.situations, "ledger_lines": data.ledger.lines,
                   "revisions": data.ledger.revisions, "delays": data.delays,
                   "synthesis": data.synthesis})
    written = []
    for name, df in frames.items():
        path = folder / f"{name}.{fmt}"
        if fmt == "parquet":
            df.to_parquet(path, index=False)
        else:
            neutralise_formulas(df).to_csv(path, index=False)
        written.append(path)
    return written
