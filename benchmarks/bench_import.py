"""Import of a project folder (``gesprokit import``) whose progress.csv has 10 000 to
1 000 000 rows: each import in a fresh process (time of ``import_folder``, peak resident
memory), against the targets (5 s, 600 Mio) and against the former row-by-row importer
(commit FORMER_COMMIT, exported from git and run the same way).

Usage alone: ``python benchmarks/bench_import.py [size ...]``."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FORMER_COMMIT = "f4cc633"  # the last importer that parsed and checked row by row
TARGET_S, TARGET_MIB = 5.0, 600.0


def import_folder_for(rows: int, root: Path) -> Path:
    """The import folder of a synthetic portfolio of about `rows` progress rows with every
    rule at work (revisable prices and their indices, amendments, subcontracts, penalties,
    guarantees, corrected %), written once per size under `root`."""
    from gesprokit.portfolio import portfolio, with_every_rule, write_import_folder

    folder = root / f"import_every_rule_{rows}"
    if not (folder / "progress.csv").exists():
        write_import_folder(folder, with_every_rule(portfolio(rows)))
    return folder


def former_tree(root: Path) -> Path | None:
    """The former importer's package exported from git under `root`, or None when the
    commit cannot be read (no git, a shallow clone)."""
    tree = root / "former"
    if (tree / "gesprokit").is_dir():
        return tree
    tree.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", FORMER_COMMIT,
                              "gesprokit"], capture_output=True)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def child(folder: str, base: str) -> None:
    """Run in a fresh process: import `folder` into a new SQLite file or PostgreSQL schema;
    print the seconds of the import, those of its journal (events chained, signed and
    sealed) and the process's peak resident memory (VmHWM, MiB)."""
    from contextlib import nullcontext

    import gesprokit.importer.loader as loader
    from gesprokit.db import get_engine

    spent = {"journal": 0.0}
    append_events = loader.append_events

    def timed_journal(*args, **kwargs):
        start = time.perf_counter()
        try:
            return append_events(*args, **kwargs)
        finally:
            spent["journal"] += time.perf_counter() - start

    loader.append_events = timed_journal
    with tempfile.TemporaryDirectory(prefix="bench-import-base-") as scratch:
        if base == "sqlite":
            holder = nullcontext(get_engine(f"sqlite:///{scratch}/bench.db"))
        else:
            from common import postgres_schema

            holder = postgres_schema(base)
        with holder as engine:
            start = time.perf_counter()
            written = loader.import_folder(folder, engine)
            elapsed = time.perf_counter() - start
            engine.dispose()
    status = Path("/proc/self/status").read_text()
    peak = int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 1024
    print(f"{written['progress']} {elapsed:.3f} {spent['journal']:.3f} {peak:.0f}")


def measure(folder: Path, base: str, runs: int, package: Path | None = None
            ) -> tuple[int, float, float, float]:
    """(rows, median seconds, median journal seconds, highest peak MiB) of `runs` imports,
    each in a fresh process; `package`: the folder holding the gesprokit to run."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-secrets-") as secrets:
        env = {**os.environ, "GESPROKIT_SECRETS_DIR": secrets}
        if package is not None:
            env["PYTHONPATH"] = str(package)
        for _ in range(runs):
            out = subprocess.run([sys.executable, __file__, "--child", str(folder), base],
                                 capture_output=True, text=True, check=True, env=env,
                                 cwd=HERE).stdout.split()
            results.append((int(out[0]), float(out[1]), float(out[2]), float(out[3])))
    return (results[0][0], statistics.median(r[1] for r in results),
            statistics.median(r[2] for r in results), max(r[3] for r in results))


def run(sizes: list[int], runs: int) -> None:
    """The import figures of each size, on SQLite (with the former importer's, one run
    each) and on PostgreSQL when a server answers."""
    with tempfile.TemporaryDirectory(prefix="bench-import-") as scratch:
        _figures(sizes, runs, Path(scratch))


def _figures(sizes: list[int], runs: int, root: Path) -> None:
    """:func:`run`, its folders and the former importer written under `root`."""
    from common import postgres_url

    former = former_tree(root)
    bases = [("SQLite", "sqlite")]
    url = postgres_url()
    if url is not None:
        bases.append(("PostgreSQL", url))
    print(f"\n{'base':>10} {'lignes':>9} {'import (s)':>10} {'dont journal':>12} "
          f"{'pic (Mio)':>9} {'/ 5 s':>6} {'/ 600 Mio':>9} {'avant (s)':>9} "
          f"{'avant (Mio)':>11} {'gain':>6} {'mémoire':>7}")
    for label, base in bases:
        for size in sizes:
            folder = import_folder_for(size, root)
            rows, seconds, journal, peak = measure(folder, base, runs)
            line = (f"{label:>10} {rows:>9} {seconds:>10.2f} {journal:>12.2f} {peak:>9.0f} "
                    f"{seconds / TARGET_S:>5.2f}× {peak / TARGET_MIB:>8.2f}×")
            if former is not None and base == "sqlite":
                _, before, _, before_peak = measure(folder, base, 1, package=former)
                line += (f" {before:>9.2f} {before_peak:>11.0f} {before / seconds:>5.1f}× "
                         f"{before_peak / peak:>6.1f}×")
            print(line)
    if former is None:
        print(f"(importeur précédent {FORMER_COMMIT} introuvable dans git : 1 000 000 lignes "
              "prenaient de 48 à 154 s selon la charge de la machine, et 1 436 à 1 484 Mio)")
    print("(médiane de l'import dans un processus neuf ; pic : VmHWM du processus entier ; "
          "« dont journal » : événements chaînés, signés et scellés ; « avant » : une mesure "
          f"de l'importeur ligne à ligne de {FORMER_COMMIT})")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3])
    else:
        run([int(a) for a in sys.argv[1:]] or [10_000, 100_000, 1_000_000], 3)
