"""`history.frames_as_of` attacked with the real workflow on the sample base.

The oracle is the base itself as it stood: a history of L05 and L01 is played action by action
in December 2026 (after every imported date, so that the imported history is wholly known), the
base's frames are read after each action, and the replay of the finished base at each action's
time, a second before and a second after, must give back the frames the base held then and the
same ledger. Values worked out by hand check the oracle itself; the Chorus check of the A4 and
the A15 is prepared at its step and again once the situation was rectified and a guarantee
recorded: it must expect the same amounts."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from conftest import SAMPLE, copy_base
from test_workflow import L05, PDF, actor, sample_base  # noqa: F401 - fixture

from gesprokit import workflow
from gesprokit.chorus import billing
from gesprokit.cli import main as cli
from gesprokit.db import get_engine
from gesprokit.history import frames_as_of
from gesprokit.importer import import_folder
from gesprokit.ledger import LEDGER_COLUMNS, ledger_from_frames
from gesprokit.store import Frames, load_frames

L01 = "CHMV-EHPAD-L01"  # TP Ligérien: situation 18 imported as verified; 01.03 may pass 100 %
SECOND = timedelta(seconds=1)
# line amounts HT (cents) of L05: 05.01 .. 05.04, all at 100 % after situation 6
L05_LINES = {"05.01": 24_864_000, "05.02": 18_060_000, "05.03": 14_490_000,
             "05.04": 10_332_000}
L05_PENALTY_4 = 270_984  # the 12 days of situation 4 (1/3000 of 677 460 € a day)


def dec(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 12, day, hour)


def works_month(pcts: dict[str, int]) -> int:
    """L05 situation 7's works of the month: each line from 100 % to its %, exact here."""
    return sum(L05_LINES[line] * (pct - 10_000) // 10_000 for line, pct in pcts.items())


class History:
    """A base, the frames it held after each action (`states`: (time, frames), the first one
    before any action) and the Chorus drafts prepared on the way."""

    def __init__(self, engine):
        self.engine = engine
        self.states: list[tuple[datetime | None, Frames]] = [(None, load_frames(engine))]
        self.drafts: dict[str, billing.DepositDraft] = {}

    def __call__(self, when: datetime, action, *args, **kwargs):
        action(self.engine, *args, now=when, **kwargs)
        self.states.append((when, load_frames(self.engine)))

    def draft(self, who: str, contract_id: str, frame: str, n: int) -> billing.DepositDraft:
        with self.engine.connect() as conn:
            return billing.prepare(conn, actor(who), contract_id, frame, f"P-{frame}", n=n)[0]

    @property
    def full(self) -> Frames:
        return self.states[-1][1]

    def stood(self, when: datetime) -> Frames:
        """The frames the base held at `when`: those after the last action done by then."""
        held = self.states[0][1]
        for at_, frames in self.states[1:]:
            if at_ <= when:
                held = frames
        return held

    def dates(self) -> list[datetime]:
        """Each action's time, a second before and after it, a day before the first and a
        year after the last."""
        times = sorted({at_ for at_, _ in self.states[1:]})
        around = {t + d for t in times for d in (-SECOND, timedelta(0), SECOND)}
        return sorted(around | {times[0] - timedelta(days=1), times[-1] + timedelta(days=365)})


@pytest.fixture(scope="module")
def history(sample_base, tmp_path_factory):  # noqa: F811
    """L05's situation 7 through the whole circuit with every correction the circuit allows,
    and L01's situations 18 and 19 moving the same days (some at the same second)."""
    engine = copy_base(sample_base, tmp_path_factory.mktemp("attack") / "base.db")
    h = History(engine)
    contractor, other = actor("contractor"), actor("other_contractor")
    verifier, moe, amo, moa = actor("verifier"), actor("moe"), actor("amo"), actor("moa")
    h(dec(1, 9), workflow.create_situation, contractor, L05, "2026-10")
    # 100 % → 95 % and 98 %, each with its justification
    h(dec(1, 10), workflow.enter_progress, contractor, L05, 7, {"05.01": 9500, "05.02": 9800},
      {"05.01": "Dépose de châssis non conformes", "05.02": "Volets à reprendre"})
    h(dec(1, 11), workflow.enter_progress, contractor, L05, 7, {"05.01": 9700, "05.03": 9900},
      {"05.01": "Trois châssis reposés", "05.03": "Joints à refaire"})
    h(dec(2, 9), workflow.submit, contractor, L05, 7)
    h.drafts["A4 L05"] = h.draft("contractor", L05, "A4", 7)
    # the same second: the OPC corrects L05 and moves its month, the MOE issues L01's 18th
    # (imported as verified) correcting an imported line, with a penalty
    h(dec(3), workflow.verify, verifier, L05, 7, corrections={"05.01": 9000}, month="2026-09",
      comment="Constat contradictoire", files=[PDF])
    h(dec(3), workflow.issue, moe, L01, 18, corrections={"01.03": 10_300},
      comment="Métré repris", files=[PDF], adjustments=[
          {"kind": "penalty", "days": 5, "reason": "Retard de nettoyage"}])
    h.drafts["A15 L01"] = h.draft("moe", L01, "A15", 18)
    # the MOE moves the month again, corrects another line and adds a penalty
    h(dec(4), workflow.issue, moe, L05, 7, corrections={"05.02": 9600}, month="2026-11",
      comment="Volets déposés", files=[PDF], adjustments=[
          {"kind": "penalty", "days": 3, "reason": "Retard de remise du DOE"}])
    h(dec(4), workflow.accept, amo, L01, 18)
    h(dec(4, 15), workflow.interrupt, moa, L05, 7, ["Attestation URSSAF de moins de 6 mois"])
    h(dec(5), workflow.return_to_moe, amo, L05, 7, next(iter(workflow.RETURN_REASONS)),
      "Pièce manquante", [PDF])
    h(dec(5, 11), workflow.validate, moa, L01, 18)
    # issued again with other corrections (a line this situation had not entered) and a bonus
    h(dec(6), workflow.issue, moe, L05, 7, corrections={"05.01": 8800, "05.04": 9900},
      comment="Métré repris", files=[PDF], adjustments=[
          {"kind": "bonus", "amount_cents": 50_000, "reason": "Prime de propreté"}])
    h.drafts["A15 L05"] = h.draft("moe", L05, "A15", 7)
    h(dec(7), workflow.resume, moa, L05, 7)
    h(dec(8), workflow.accept, amo, L05, 7)
    h(dec(8), workflow.pay, actor("treasury"), L01, 18)
    h(dec(9), workflow.validate, moa, L05, 7, rectification_cents=-150_000,
      justification="Nettoyage des abords non fait")
    h(dec(9, 11), workflow.create_situation, other, L01, "2026-10")
    # 01.03 beyond its 104 %, 01.01 entered again at its 100 %: two rows this situation lacked
    h(dec(9, 12), workflow.enter_progress, other, L01, 19, {"01.03": 10_600, "01.01": 10_000})
    # a guarantee received on the 1st, before L01's 18th was issued, recorded on the 10th
    h(dec(10), workflow.record_guarantee, amo, L01, "GAPD-TPL-01", "gapd", 1_000_000,
      date(2026, 12, 1), "Crédit Agricole Loire Haute-Loire")
    h(dec(11), workflow.submit, other, L01, 19)
    h(dec(12), workflow.verify, verifier, L01, 19, corrections={"01.03": 10_500},
      comment="Métré", files=[PDF])
    h(dec(15), workflow.pay, actor("treasury"), L05, 7)
    yield h
    engine.dispose()


def comparable(frames: Frames, when: datetime) -> dict[str, pd.DataFrame]:
    """What the replay must give back at `when`: the frames it rebuilds and the ledger at that
    date (a situation's version is a lock counter and a progress row's comment is not kept:
    neither is a fact the ledger reads)."""
    ledger = ledger_from_frames(frames, as_of=when)

    def sort(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        return df.sort_values(keys).reset_index(drop=True)
    return {
        "situations": sort(frames.situations.drop(columns="version"), ["contract_id", "n"]),
        "progress": sort(frames.progress.drop(columns="comment"),
                         ["contract_id", "n", "line_no"]),
        "adjustments": sort(frames.adjustments, ["adjustment_id"]),
        "rectifications": sort(frames.rectifications, ["contract_id", "n"]),
        "guarantees": sort(frames.guarantees, ["guarantee_id"]),
        "payment_statements": sort(frames.payment_statements, ["contract_id", "n"]),
        "events": sort(frames.events, ["event_id"]),
        "ledger": ledger.situations, "lines": ledger.lines,
        "direct_payments": ledger.direct_payments}


def test_replay_gives_back_the_base_as_it_stood_at_each_step(history):
    failures = []
    for when in history.dates():
        replayed = comparable(frames_as_of(history.full, when), when)
        for name, expected in comparable(history.stood(when), when).items():
            try:
                pd.testing.assert_frame_equal(replayed[name], expected, check_dtype=False)
            except AssertionError as exc:
                failures.append(f"{when} {name}: {' | '.join(str(exc).splitlines()[:5])}")
    assert not failures, "\n".join(failures)


def known(history: History, when: datetime, contract_id: str, n: int) -> pd.Series:
    """The ledger row of situation `n` replayed at `when`, with its state and month."""
    frames = frames_as_of(history.full, when)
    rows = ledger_from_frames(frames, as_of=when).situations.merge(
        frames.situations[["contract_id", "n", "status", "moe_at", "interrupted_at"]])
    return rows[(rows["contract_id"] == contract_id) & (rows["n"] == n)].iloc[0]


def test_situation_7_as_known_at_each_step(history):
    """L05's 7th: values worked out from the lines' amounts and the contract's terms."""
    row = known(history, dec(2, 12), L05, 7)  # as the contractor submitted it
    assert (row["status"], row["month"]) == ("submitted", "2026-10")
    assert row["works_month"] == works_month({"05.01": 9700, "05.02": 9800, "05.03": 9900}) \
        == -1_252_020
    assert row["penalty_cum"] == L05_PENALTY_4
    row = known(history, dec(3, 12), L05, 7)  # the OPC's 90 % and its month
    assert (row["status"], row["month"]) == ("verified", "2026-09")
    assert row["works_month"] == -2_992_500
    row = known(history, dec(4, 12), L05, 7)  # the MOE's 96 % on 05.02, month and 3 days
    assert (row["status"], row["month"], row["moe_at"]) == ("issued", "2026-11", dec(4))
    assert row["works_month"] == -3_353_700
    assert row["penalty_cum"] == L05_PENALTY_4 + 3 * 67_746_000 // 3000 == 338_730
    assert row["bonus_cum"] == 0  # the bonus comes with the second issue
    row = known(history, dec(5, 12), L05, 7)  # returned: the first état stands
    assert (row["status"], row["moe_at"], row["interrupted_at"]) == (
        "verified", dec(4), dec(4, 15))
    assert (row["works_month"], row["penalty_cum"], row["bonus_cum"]) == (-3_353_700, 338_730,
                                                                          0)
    issued_again = known(history, dec(8, 12), L05, 7)
    assert (issued_again["status"], issued_again["moe_at"]) == ("accepted", dec(6))
    assert issued_again["works_month"] == works_month(
        {"05.01": 8800, "05.02": 9600, "05.03": 9900, "05.04": 9900}) == -3_954_300
    assert issued_again["bonus_cum"] == 50_000 and issued_again["rectification_month"] == 0
    validated = known(history, dec(9, 12), L05, 7)  # the MOA's rectification from then on
    assert validated["rectification_month"] == -150_000
    assert validated["net_month"] == issued_again["net_month"] - 150_000


def test_a_guarantee_counts_from_its_recording(history):
    """The GAPD received on 1 December covers L01's 18th (issued on the 3rd) in today's
    ledger, but was unknown until recorded on the 10th: the statement validated on the 5th
    withheld the whole retention, and so does the replay of any date before the 10th."""
    before, after = known(history, dec(10) - SECOND, L01, 18), known(history, dec(10), L01, 18)
    assert after["retention_cum"] == before["retention_cum"] - 1_000_000
    assert after["net_month"] == before["net_month"] + 1_000_000
    statement = history.full.payment_statements.query("contract_id == @L01 and n == 18")
    assert int(statement["net_month"].item()) == before["net_month"]
    # the 5 days at 1/3000 of 445 970 € and the 3 days of situation 6, past the 1 000 € waiver
    assert before["penalty_cum"] == 44_597 + 74_328


def test_the_chorus_check_expects_the_figures_known_at_the_piece_s_date(history):
    """The A4 and the A15 prepared once the situation was validated with a rectification, the
    guarantee recorded and everything paid expect what they expected at their step."""
    for name, then in history.drafts.items():
        frame, contract = name.split()
        n = 7 if contract == "L05" else 18
        now = history.draft("contractor" if frame == "A4" else "moe", f"CHMV-EHPAD-{contract}",
                            frame, n)
        assert now.expected == then.expected, name
    # the A4 carries the contractor's figures (TTC at 20 %), the A15 the re-issued ones
    assert history.drafts["A4 L05"].expected.ht == -1_252_020
    assert history.drafts["A4 L05"].expected.ttc == -1_252_020 * 12 // 10
    assert history.drafts["A15 L05"].expected.ht == -3_954_300 + 50_000


def test_before_anything_and_after_everything(history, tmp_path):
    nothing = frames_as_of(history.full, datetime(2025, 1, 1))
    for name in ("situations", "progress", "adjustments", "rectifications", "guarantees",
                 "payment_statements", "events"):
        assert getattr(nothing, name).empty, name
    assert ledger_from_frames(nothing, as_of=datetime(2025, 1, 1)).situations.empty
    later = datetime(2027, 6, 30)
    pd.testing.assert_frame_equal(
        ledger_from_frames(frames_as_of(history.full, later), as_of=later).situations,
        ledger_from_frames(history.full, as_of=later).situations)
    # gesprokit ledger --known-at DATE: the whole day counts (the return of the 5th at 10:00)
    out = tmp_path / "ledger.csv"
    url = history.engine.url.render_as_string(hide_password=False)
    assert cli(["ledger", "--db", url, "--contract", L05, "--known-at", "2026-12-05",
                "--format", "csv", "-o", str(out)]) == 0
    end_of_day = datetime(2026, 12, 5, 23, 59, 59)
    expected = ledger_from_frames(history.stood(end_of_day), as_of=end_of_day).situations
    expected = expected[expected["contract_id"] == L05][LEDGER_COLUMNS].reset_index(drop=True)
    printed = pd.read_csv(out, dtype={"month": str})
    pd.testing.assert_frame_equal(printed, expected, check_dtype=False)


def test_an_imported_situation_corrected_live(sample_base, tmp_path):  # noqa: F811
    """An operation imported mid-circuit: L01's 18th arrives verified with 01.03 at 105 %
    (104 % the month before); the MOE corrects it to 104.5 %. Before that, the replay keeps
    the imported row: its 1 % of 69 600 € is part of the month's work, as the base held it."""
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    progress = folder / "progress.csv"
    text = progress.read_text(encoding="utf-8")
    assert text.count("CHMV-EHPAD-L01;18;01.03;104;") == 1
    progress.write_text(text.replace("CHMV-EHPAD-L01;18;01.03;104;",
                                     "CHMV-EHPAD-L01;18;01.03;105;"), encoding="utf-8")
    engine = get_engine(f"sqlite:///{tmp_path / 'base.db'}")
    try:
        import_folder(folder, engine, now=datetime(2026, 6, 1))
        imported = load_frames(engine)
        workflow.issue(engine, actor("moe"), L01, 18, corrections={"01.03": 10_450},
                       comment="Métré repris", files=[PDF], now=dec(1))
        full = load_frames(engine)
    finally:
        engine.dispose()
    others = 1_059_440 + 1_684_850  # 01.07 and 01.08 finished that month
    for when, frames, pct, month in ((dec(1) - SECOND, imported, 10_500, 69_600),
                                     (dec(1), full, 10_450, 34_800)):
        replayed = ledger_from_frames(frames_as_of(full, when), as_of=when)
        pd.testing.assert_frame_equal(replayed.situations,
                                      ledger_from_frames(frames, as_of=when).situations)
        pd.testing.assert_frame_equal(replayed.lines, ledger_from_frames(frames, as_of=when).lines)
        line = replayed.lines.query("contract_id == @L01 and n == 18 and line_no == '01.03'")
        assert (int(line["pct_bp"].item()), int(line["line_month"].item())) == (pct, month)
        row = replayed.situations.query("contract_id == @L01 and n == 18").iloc[0]
        assert row["works_month"] == others + month
