"""The shipped sample is exactly what the generator writes, and it shows every rule."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
from conftest import SAMPLE
from openpyxl import load_workbook

from gesprokit.importer import import_folder
from gesprokit.ledger import check_ledger, ledger_from_frames
from gesprokit.sample_operation import write_sample
from gesprokit.store import load_frames


def test_shipped_data_is_the_generator_output(tmp_path):
    fresh = write_sample(tmp_path / "fresh")
    for path in sorted(SAMPLE.glob("*.csv")):
        assert path.read_text(encoding="utf-8") == (fresh / path.name).read_text(
            encoding="utf-8"), path.name
    for path in sorted((SAMPLE / "dpgf").glob("*.xlsx")):
        shipped = list(load_workbook(path).active.values)
        assert shipped == list(load_workbook(fresh / "dpgf" / path.name).active.values)


def ledger_of_sample(engine):
    import_folder(SAMPLE, engine)
    frames = load_frames(engine)
    return frames, ledger_from_frames(frames, as_of=pd.Timestamp("2026-11-23"))


def last(ledger, lot: str) -> pd.Series:
    s = ledger.situations
    return s[s["contract_id"] == f"CHMV-EHPAD-L{lot}"].iloc[-1]


def test_sample_exercises_every_rule(sqlite_engine):
    frames, ledger = ledger_of_sample(sqlite_engine)
    assert check_ledger(ledger) == []
    assert len(frames.contracts) >= 10
    assert frames.situations.groupby("contract_id").size().max() == 18
    # Menuiseries ext.: 12 days × 677 460 € / 3000 = 2 709,84 € (> 1 000 €: due)
    assert last(ledger, "05")["penalty_cum"] == int(Decimal("677460") * 12 / 3000 * 100)
    # VRD: 3 days × 445 970 € / 3000 = 445,97 € ≤ 1 000 €: waived
    assert last(ledger, "01")["penalty_cum"] == 0
    # Menuiseries ext.: the GAPD replaced the retention, released through the cumulative
    l05 = ledger.situations[ledger.situations["contract_id"] == "CHMV-EHPAD-L05"]
    assert l05["retention_cum"].iloc[1] > 0 and l05["retention_cum"].iloc[-1] == 0
    # Gros œuvre: revised on BT01, advance fully repaid, piles paid directly to the sub
    go = last(ledger, "02")
    assert go["revision_cum"] > 0
    assert go["advance_repaid_cum"] == frames.contracts.set_index("contract_id").loc[
        "CHMV-EHPAD-L02", "advance_cents"]
    # the 186 000 € of piles, revised like the contract's works, less the 5 % retention on
    # the subcontractor's revised share
    direct = ledger.direct_payments
    piles = direct[direct["contract_id"] == "CHMV-EHPAD-L02"].iloc[-1]
    assert piles["works_cum"] == 18_600_000 and piles["revision_cum"] > 0
    revised = 18_600_000 + int(piles["revision_cum"])
    retention = int((Decimal(revised) * Decimal("0.05")).quantize(Decimal("1"),
                                                                   rounding=ROUND_HALF_UP))
    assert go["direct_payment_cum"] == revised - retention
    # Plâtrerie: the amendment's lines are paid on top of the initial DPGF
    assert last(ledger, "06")["works_cum"] == 73_960_000 + 2_485_000
    # a downward correction gives a negative line month
    assert (ledger.lines["line_month"] < 0).any()
