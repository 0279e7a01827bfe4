"""The ledger and the delays of a partitioned dataset on a Dask cluster.

Each partition (whole operations) is read into :class:`~gesprokit.store.Frames` and given
to :func:`gesprokit.report_data.ledger_and_delays` — the very function of the in-memory
path, whose rules are all per contract: no rule is implemented a second time here. Results
are written as partitioned Parquet, one file per input partition, by the worker that
computed it (a worker holds one partition at a time; the client never holds a result).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pandas as pd

from gesprokit.ledger import ledger_from_frames
from gesprokit.report_data import ledger_and_delays
from gesprokit.scale.dataset import (
    PART_FILE,
    part_dir,
    partitions,
    read_partition,
    write_parquet,
)

# result name -> what it is (the names of `gesprokit export`)
OUTPUTS = {"ledger": "décompte par situation", "ledger_lines": "montants par ligne",
           "direct_payments": "paiements directs", "delays": "délais de paiement"}
LEDGER_OUTPUTS = ("ledger", "ledger_lines", "direct_payments")


def partition_results(dataset: str | Path, pid: int | None, as_of: datetime,
                      outputs: tuple[str, ...] = tuple(OUTPUTS)) -> dict[str, pd.DataFrame]:
    """The in-memory path on one partition (`pid` None: on the whole dataset at once)."""
    frames = read_partition(dataset, pid)
    as_of = pd.Timestamp(as_of)
    if "delays" in outputs:
        ledger, delays = ledger_and_delays(frames, as_of)
    else:
        ledger, delays = ledger_from_frames(frames, as_of=as_of), None
    found = {"ledger": ledger.situations, "ledger_lines": ledger.lines,
             "direct_payments": ledger.direct_payments, "delays": delays}
    return {name: found[name] for name in outputs}


def compute_partition(pid: int, dataset: str, out_dir: str, as_of: datetime,
                      outputs: tuple[str, ...]) -> dict[str, int]:
    """Compute one partition and write its results under `out_dir`; returns the row
    counts (all that travels back to the client)."""
    results = partition_results(dataset, pid, as_of, outputs)
    for name, df in results.items():
        write_parquet(df, Path(out_dir) / name / part_dir(pid) / PART_FILE)
    return {name: len(df) for name, df in results.items()}


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None,
                processes: bool = True) -> Iterator:
    """A client on the scheduler at `scheduler` (``tcp://host:8786``), else on a local
    cluster of this machine (one single-threaded worker per core: the computation is pandas,
    which holds the GIL)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def run(client, dataset: str | Path, out_dir: str | Path, as_of: datetime,
        outputs: tuple[str, ...] = tuple(OUTPUTS), progress: bool = True) -> dict[str, int]:
    """Compute `outputs` for every partition of `dataset` on `client`'s cluster, written to
    ``out_dir/<output>/part=NNNNN/part-0.parquet`` (replacing those folders); returns the
    total rows of each."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    unknown = set(outputs) - set(OUTPUTS)
    if unknown:
        raise ValueError(f"résultat inconnu : {', '.join(sorted(unknown))}")
    pids = partitions(dataset)
    for name in outputs:  # no partition of a former run left among the new ones
        shutil.rmtree(Path(out_dir) / name, ignore_errors=True)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    futures = client.map(compute_partition, pids, dataset=str(Path(dataset).resolve()),
                         out_dir=str(Path(out_dir).resolve()), as_of=pd.Timestamp(as_of),
                         outputs=tuple(outputs), pure=False)
    totals = dict.fromkeys(outputs, 0)
    with tqdm(total=len(pids), desc="Partitions", unit="partition",
              disable=not progress) as bar:
        for future in as_completed(futures):
            for name, rows in future.result().items():
                totals[name] += rows
            bar.update()
            future.release()
    return totals


def read_result(out_dir: str | Path, name: str) -> pd.DataFrame:
    """A result written by :func:`run`, whole, in memory (for small ones and tests)."""
    folder = Path(out_dir) / name
    parts = [pd.read_parquet(p / PART_FILE) for p in sorted(folder.iterdir())]
    return pd.concat(parts, ignore_index=True)
