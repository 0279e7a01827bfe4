"""The ledger and delays of a whole sector through the Dask path (gesprokit.scale) on this
machine's local cluster (2 single-threaded worker processes), against the in-memory path on
the same dataset. Each portfolio (every rule) is streamed to a dataset under /tmp, in
partitions of about 1 M progress rows, and removed afterwards."""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

AS_OF = pd.Timestamp("2026-06-30")
BATCH_ROWS = 1_000_000


def _peak_mib() -> float:
    """This process's peak resident memory (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(folder: str, rows: int) -> tuple[float, float]:
    from gesprokit.portfolio import write_portfolio_dataset

    start = time.perf_counter()
    write_portfolio_dataset(folder, rows, batch_rows=BATCH_ROWS)
    return time.perf_counter() - start, _peak_mib()


def _in_memory(folder: str, out: str) -> tuple[float, float, float, float]:
    """(read, compute, write) seconds and peak MiB of the in-memory path on the dataset."""
    from gesprokit.scale.compute import partition_results
    from gesprokit.scale.dataset import read_partition, write_parquet

    start = time.perf_counter()
    frames = read_partition(folder, None)
    read = time.perf_counter() - start
    del frames  # partition_results reads again: timed apart from the computation below
    start = time.perf_counter()
    results = partition_results(folder, None, AS_OF)
    compute = time.perf_counter() - start - read
    start = time.perf_counter()
    for name, df in results.items():
        write_parquet(df, Path(out) / f"{name}.parquet")
    return read, compute, time.perf_counter() - start, _peak_mib()


def _in_process(fn, *args):
    """`fn(*args)` in a fresh process, so that each peak memory is its own."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _dask(folder: str, out: str) -> tuple[float, float, list[float]]:
    """(seconds of the run, seconds of the auditor's aggregates, peak MiB of each worker) on
    a fresh local cluster."""
    from distributed import Client, LocalCluster

    from gesprokit.scale.aggregates import auditor_aggregates
    from gesprokit.scale.compute import run

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(lambda: None)  # workers up and importing before the clock starts
        start = time.perf_counter()
        run(client, folder, out, AS_OF, progress=False)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        auditor_aggregates(out, folder, AS_OF)
        aggregates = time.perf_counter() - start
        peaks = sorted(client.run(_peak_mib).values())
    return seconds, aggregates, peaks


def run(sizes: list[int], in_memory_up_to: int = 10_000_000) -> None:
    print(f"\n/tmp : {shutil.disk_usage('/tmp').free / 2**30:.0f} Gio libres")
    print(f"{'lignes':>12} {'partitions':>10} {'génération':>11} {'pic gén.':>9} "
          f"{'Dask':>9} {'agrégats':>9} {'pic/travailleur (Mio)':>22} {'en mémoire':>11} "
          f"{'pic (Mio)':>10} {'ratio':>6}")
    for rows in sizes:
        work = Path(tempfile.mkdtemp(prefix="gesprokit-dask-", dir="/tmp"))
        try:
            dataset, out = str(work / "dataset"), str(work / "out")
            gen, gen_peak = _in_process(_generate, dataset, rows)
            from gesprokit.scale.dataset import partitions

            parts = len(partitions(dataset))
            seconds, aggregates, peaks = _dask(dataset, out)
            size_in, size_out = (sum(f.stat().st_size for f in Path(d).rglob("*")
                                     if f.is_file()) / 2**20 for d in (dataset, out))
            memory, peak_mem, ratio = "—", "—", "—"
            if rows <= in_memory_up_to:
                mem_out = work / "mem"
                read, compute, write, peak = _in_process(_in_memory, dataset, str(mem_out))
                total = read + compute + write
                memory = f"{total:.1f} s"
                peak_mem, ratio = f"{peak:.0f}", f"{total / seconds:.2f}×"
                print(f"  en mémoire : lecture {read:.1f} s, calcul {compute:.1f} s, "
                      f"écriture {write:.1f} s")
            print(f"{rows:>12,} {parts:>10} {gen:>9.1f} s {gen_peak:>9.0f} {seconds:>7.1f} s "
                  f"{aggregates:>7.1f} s {' / '.join(f'{p:.0f}' for p in peaks):>22} "
                  f"{memory:>11} {peak_mem:>10} {ratio:>6}")
            print(f"  sur disque : jeu de données {size_in:.0f} Mio, résultats {size_out:.0f} Mio")
        finally:
            shutil.rmtree(work, ignore_errors=True)
