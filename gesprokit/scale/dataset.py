"""The partitioned Parquet dataset: the tables of `gesprokit export --format parquet`, those
keyed by contract split into partitions of whole operations (a contract never spans two).

Layout of a dataset folder::

    dataset.json                      format, version, partitions and their row counts
    operations.parquet, companies.parquet, lots.parquet, price_index.parquet,
    ecb_rates.parquet                 reference tables, read by every partition
    <table>/part=00000/part-0.parquet each table with a ``contract_id``, one file per
                                      partition (hive-style directories)

Files have the store's columns and dtypes (:func:`gesprokit.store.typed_frame`), so a
partition read back is the :class:`~gesprokit.store.Frames` ``load_frames`` would give for
those contracts. Journal events that name no contract are not part of a dataset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gesprokit.packing import pack_in_order
from gesprokit.store import FRAME_TABLES, Frames, typed_frame

MANIFEST = "dataset.json"
FORMAT = "gesprokit-dataset"
VERSION = 1
PART_FILE = "part-0.parquet"
CONTRACT_TABLES = tuple(name for name, model in FRAME_TABLES.items()
                        if "contract_id" in model.__table__.columns)
REFERENCE_TABLES = tuple(name for name in FRAME_TABLES if name not in CONTRACT_TABLES)


def part_dir(pid: int) -> str:
    """The directory name of partition `pid` (hive style: ``part=00012``)."""
    return f"part={pid:05d}"


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """`df` as one Parquet file; a text column with no value in this file is still typed
    text (else each file of a table could get another schema)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    for i, column in enumerate(table.schema):
        if pa.types.is_null(column.type):
            table = table.set_column(i, pa.field(column.name, pa.string()),
                                     table.column(i).cast(pa.string()))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _typed(name: str, df: pd.DataFrame | None) -> pd.DataFrame:
    return typed_frame(pd.DataFrame() if df is None else df, FRAME_TABLES[name].__table__)


class DatasetWriter:
    """Writes a dataset one partition at a time, so that no more than a partition is ever
    held in memory; :meth:`close` writes the manifest that makes the folder a dataset."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and any(self.folder.iterdir()):
            raise ValueError(f"le dossier {self.folder} n'est pas vide : un jeu de données "
                             "s'écrit dans un dossier neuf")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, int]] = []

    def append(self, tables: dict[str, pd.DataFrame]) -> int:
        """Write one partition (the tables of whole operations, keyed by contract); returns
        its number."""
        pid = len(self.rows)
        counts = {}
        for name in CONTRACT_TABLES:
            df = _typed(name, tables.get(name))
            if name == "events":
                df = df[df["contract_id"].notna()]
            if len(df):
                write_parquet(df, self.folder / name / part_dir(pid) / PART_FILE)
            counts[name] = len(df)
        self.rows.append(counts)
        return pid

    def reference(self, name: str, df: pd.DataFrame) -> None:
        """Write a reference table (operations, companies, indices, ECB rates…)."""
        if name not in REFERENCE_TABLES:
            raise ValueError(f"{name} n'est pas une table de référence")
        write_parquet(_typed(name, df), self.folder / f"{name}.parquet")

    def close(self) -> Path:
        manifest = {"format": FORMAT, "version": VERSION, "partition_by": "operation_code",
                    "partitions": [{"id": pid, "rows": rows}
                                   for pid, rows in enumerate(self.rows)]}
        path = self.folder / MANIFEST
        path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        return path


def manifest(folder: str | Path) -> dict:
    """The dataset's manifest; a French error when `folder` is not a dataset."""
    path = Path(folder) / MANIFEST
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{folder} n'est pas un jeu de données partitionné "
                         f"({MANIFEST} absent)") from None
    if found.get("format") != FORMAT or found.get("version") != VERSION:
        raise ValueError(f"{path} : format de jeu de données inconnu")
    return found


def partitions(folder: str | Path) -> list[int]:
    """The partition numbers of a dataset."""
    return [p["id"] for p in manifest(folder)["partitions"]]


def read_partition(folder: str | Path, pid: int | None,
                   tables: Iterable[str] | None = None) -> Frames:
    """One partition as :class:`Frames` (reference tables whole); `pid` None reads every
    partition at once (the in-memory path on the same data)."""
    folder = Path(folder)
    wanted = set(FRAME_TABLES) if tables is None else set(tables)
    pids = partitions(folder) if pid is None else [pid]
    out = {}
    for name in FRAME_TABLES:
        if name not in wanted:
            out[name] = _typed(name, None)
            continue
        if name in REFERENCE_TABLES:
            paths = [folder / f"{name}.parquet"]
        else:
            paths = [folder / name / part_dir(p) / PART_FILE for p in pids]
        parts = [pd.read_parquet(p) for p in paths if p.exists()]
        out[name] = (_typed(name, None) if not parts else parts[0] if len(parts) == 1
                     else pd.concat(parts, ignore_index=True))
    return Frames(**out)


def read_table(folder: str | Path, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A whole table of the dataset (only `columns`): for the small ones, such as contracts."""
    folder = Path(folder)
    if name in REFERENCE_TABLES:
        return pd.read_parquet(folder / f"{name}.parquet", columns=columns)
    paths = [folder / name / part_dir(p) / PART_FILE for p in partitions(folder)]
    parts = [pd.read_parquet(p, columns=columns) for p in paths if p.exists()]
    return pd.concat(parts, ignore_index=True) if parts else _typed(name, None)[
        columns or slice(None)]


def write_frames_dataset(frames: Frames, folder: str | Path,
                         rows_per_partition: int = 1_000_000) -> Path:
    """Write frames already in memory (an export) as a dataset: operations in code order,
    grouped into partitions of about `rows_per_partition` progress rows."""
    writer = DatasetWriter(folder)
    contracts = frames.contracts
    by_op = frames.progress["contract_id"].map(
        contracts.set_index("contract_id")["operation_code"]).value_counts()
    ops = sorted(contracts["operation_code"].dropna().unique())
    part_of_op = pack_in_order(ops, by_op, rows_per_partition)
    part_of_contract = contracts.set_index("contract_id")["operation_code"].map(part_of_op)
    grouped = {name: dict(tuple(df.groupby(df["contract_id"].map(part_of_contract))))
               for name in CONTRACT_TABLES
               if len(df := getattr(frames, name)) and "contract_id" in df}
    for p in range(max(part_of_op.values(), default=-1) + 1):
        writer.append({name: parts.get(p) for name, parts in grouped.items()})
    for name in REFERENCE_TABLES:
        writer.reference(name, getattr(frames, name))
    return writer.close()
