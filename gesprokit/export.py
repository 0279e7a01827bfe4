"""Export of every frame (raw tables and computed ones) as CSV or Parquet files."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pandas as pd

from gesprokit.report_data import ReportData


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
            df.to_csv(path, index=False)
        written.append(path)
    return written
