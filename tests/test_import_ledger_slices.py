"""The import computes the validated statements a slice of contracts at a time (bounded
memory on a million progress rows): the figures are those of the whole ledger at once."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from test_written_seals import every_rule_folder

from gesprokit import schema
from gesprokit.db import get_engine
from gesprokit.importer import import_folder, loader
from gesprokit.ledger import ledger_from_frames
from gesprokit.store import load_frames, read_table


def _statements(folder, base, slice_rows, monkeypatch) -> pd.DataFrame:
    monkeypatch.setattr(loader, "LEDGER_SLICE_ROWS", slice_rows)
    engine = get_engine(f"sqlite:///{base}")
    import_folder(folder, engine, now=datetime(2026, 6, 1))
    out = read_table(engine, schema.PaymentStatement.__table__)
    frames = load_frames(engine)
    engine.dispose()
    return out.sort_values(["contract_id", "n"]).reset_index(drop=True), frames


def test_statements_by_slices_of_contracts_equal_the_whole_ledger(tmp_path, monkeypatch):
    from gesprokit import ledger as ledger_module  # the loader imports it when it runs

    folder = every_rule_folder(tmp_path / "op")
    # first in one slice, unwatched (what the import imports on its way is imported then,
    # so the watch below is seen by the loader alone and leaves nothing behind)
    whole, frames = _statements(folder, tmp_path / "whole.db", 10**9, monkeypatch)
    slices_seen = []
    original = ledger_module.compute_ledger

    def counting(*args, **kwargs):
        slices_seen.append(kwargs["progress"]["contract_id"].nunique())
        return original(*args, **kwargs)

    monkeypatch.setattr(ledger_module, "compute_ledger", counting)
    sliced, _ = _statements(folder, tmp_path / "sliced.db", 700, monkeypatch)
    monkeypatch.undo()
    assert len(slices_seen) == 6 and set(slices_seen) == {1}  # one 500-row contract each
    pd.testing.assert_frame_equal(sliced, whole)
    # and both are the ledger of the base as imported, computed apart
    ledger = ledger_from_frames(frames).situations
    validated = frames.situations.loc[frames.situations["moa_at"].notna(), ["contract_id", "n"]]
    expected = ledger.merge(validated, on=["contract_id", "n"]).sort_values(
        ["contract_id", "n"]).reset_index(drop=True)
    assert len(expected) == len(sliced) > 60
    for column in schema.STATEMENT_COLUMNS:
        assert sliced[column].tolist() == expected[column].tolist(), column
    assert sliced["revision_cum"].ne(0).any() and sliced["direct_payment_cum"].gt(0).any()
