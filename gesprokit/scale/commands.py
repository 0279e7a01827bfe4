"""``gesprokit ledger|delays --dataset DIR`` and ``gesprokit export --partitioned``: the
command-line side of :mod:`gesprokit.scale` (messages in French)."""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from gesprokit.scale.compute import LEDGER_OUTPUTS, OUTPUTS


def _as_of(text: str | None) -> pd.Timestamp:
    return pd.Timestamp(text) if text else pd.Timestamp(datetime.now())


def _missing_extra() -> int:
    print("Le calcul distribué demande Dask : pip install 'gesprokit[scale]'", file=sys.stderr)
    return 2


def cmd_dataset(args, outputs: tuple[str, ...]) -> int:
    """Compute `outputs` for every partition of ``args.dataset`` on the cluster
    (``args.scheduler``, else a local one) into the folder ``args.output``; with
    ``args.summary``, also the sector auditor's aggregates and their workbook."""
    if importlib.util.find_spec("distributed") is None:
        return _missing_extra()
    from gesprokit.scale.compute import dask_client, run
    from gesprokit.scale.dataset import manifest

    if not args.output:
        print("-o DOSSIER est obligatoire avec --dataset (les résultats sont des fichiers "
              "Parquet partitionnés)", file=sys.stderr)
        return 2
    try:
        manifest(args.dataset)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    summary = getattr(args, "summary", None)
    as_of = _as_of(args.as_of)
    with dask_client(args.scheduler) as client:
        print(f"Calcul sur {_where(args.scheduler, client)}", file=sys.stderr)
        totals = run(client, args.dataset, args.output, as_of, outputs)
        if summary:
            from gesprokit.scale.aggregates import auditor_aggregates

            aggregates = auditor_aggregates(args.output, args.dataset, as_of)
    for name, rows in totals.items():
        print(f"{OUTPUTS[name]} : {rows} lignes dans {Path(args.output) / name}")
    if summary:
        from gesprokit.scale.summary import write_summary

        folder = Path(args.output) / "auditeur"
        folder.mkdir(exist_ok=True)
        for name, frame in aggregates.items():
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        print(f"Synthèse de l'auditeur : {write_summary(aggregates, summary, as_of)} "
              f"(tableaux dans {folder})")
    return 0


def _where(scheduler: str | None, client) -> str:
    workers = len(client.scheduler_info().get("workers", {}))
    return (f"la grappe {scheduler} ({workers} travailleurs)" if scheduler
            else f"une grappe locale de {workers} travailleurs")


def cmd_ledger_dataset(args) -> int:
    """``gesprokit ledger --dataset DIR -o OUT``."""
    return cmd_dataset(args, LEDGER_OUTPUTS)


def cmd_delays_dataset(args) -> int:
    """``gesprokit delays --dataset DIR -o OUT [--summary FILE.xlsx]``."""
    return cmd_dataset(args, ("delays",))


def cmd_export_dataset(args) -> int:
    """``gesprokit export --format parquet --partitioned -o DIR``: the base's tables as a
    dataset partitioned by operation."""
    from gesprokit.db import get_engine
    from gesprokit.scale.dataset import manifest, write_frames_dataset
    from gesprokit.store import load_frames

    if args.format != "parquet":
        print("--partitioned demande --format parquet", file=sys.stderr)
        return 2
    frames = load_frames(get_engine(args.db))
    if args.operation:
        from gesprokit.store import restrict_to_contracts

        ids = frames.contracts.loc[frames.contracts["operation_code"] == args.operation,
                                   "contract_id"]
        if ids.empty:
            print(f"Opération « {args.operation} » inconnue ou sans marché.", file=sys.stderr)
            return 2
        frames = restrict_to_contracts(frames, ids)
    try:
        write_frames_dataset(frames, args.output)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    parts = manifest(args.output)["partitions"]
    print(f"Jeu de données partitionné écrit dans {args.output} : {len(parts)} partition(s)")
    return 0
