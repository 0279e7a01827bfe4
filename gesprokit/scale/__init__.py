"""Beyond one machine: the ledger and the delays of a partitioned Parquet dataset on Dask.

:mod:`.dataset` reads and writes the layout, :mod:`.compute` runs the same per-contract
functions as the in-memory path on each partition, :mod:`.aggregates` and :mod:`.summary`
give a sector auditor's figures. Needs the ``scale`` extra (dask, distributed) for the
computations; the layout itself needs only pyarrow.
"""
