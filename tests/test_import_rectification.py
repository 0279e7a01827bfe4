"""An MOA's rectification in an imported history (`rectifications.csv`): the sample's L08
holds back 1 200,00 € TTC at its second validation and pays it back at the third; the
journal and the history say so as a live validation does; bad rows are all listed, in
French, with nothing written."""

from __future__ import annotations

import shutil

import pytest
from conftest import SAMPLE
from sqlalchemy import func, select, text

from gesprokit import schema
from gesprokit.errors import ImportRejected
from gesprokit.importer import import_folder
from gesprokit.store import load_frames
from gesprokit.timeline import situation_timeline

L08 = "CHMV-EHPAD-L08"
HELD_BACK = -120_000  # − 1 200,00 € TTC
WHY = "Nettoyage des locaux livrés non fait : montant retenu jusqu'à sa reprise"


def _statements(engine) -> dict[int, tuple[int, int]]:
    with engine.connect() as conn:
        return {r.n: (r.net_month, r.due_cum) for r in conn.execute(text(
            "SELECT n, net_month, due_cum FROM payment_statement WHERE contract_id = :c"),
            {"c": L08})}


def test_the_rectified_acompte_pays_less_and_the_next_pays_it_back(tmp_path, sqlite_engine):
    import_folder(SAMPLE, sqlite_engine)
    rectified = _statements(sqlite_engine)
    # the same history without the rectification, for comparison
    plain = tmp_path / "sans"
    shutil.copytree(SAMPLE, plain)
    (plain / "rectifications.csv").unlink()
    from gesprokit.db import get_engine

    other = get_engine(f"sqlite:///{tmp_path / 'sans.db'}")
    import_folder(plain, other)
    moe = _statements(other)
    assert sorted(rectified) == sorted(moe) == [1, 2, 3, 4]
    assert rectified[1] == moe[1]
    assert rectified[2] == (moe[2][0] + HELD_BACK, moe[2][1] + HELD_BACK)
    # acomptes are cumulative: the third état makes due again what was held back
    assert rectified[3] == (moe[3][0] - HELD_BACK, moe[3][1])
    assert rectified[4] == moe[4]

    frames = load_frames(sqlite_engine, [L08])
    validated = situation_timeline(frames.events, L08, 2).iloc[-2:]
    detail = validated[validated["Action"] == "valider l'état d'acompte"]["Détail"].iloc[0]
    from gesprokit.money import format_eur

    assert detail == (f"rectification du maître d'ouvrage : {format_eur(HELD_BACK)} TTC ({WHY})"
                      f" ; net proposé par le maître d'œuvre {format_eur(moe[2][0])}, net "
                      f"arrêté {format_eur(moe[2][0] + HELD_BACK)}")
    from gesprokit.integrity import verify

    assert verify(sqlite_engine).problems == []


def test_every_bad_rectification_is_listed_and_nothing_is_written(tmp_path, sqlite_engine):
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    (folder / "rectifications.csv").write_text(
        "contract_id;n;amount;reason\n"
        f"{L08};9;-10.00;situation absente\n"
        "CHMV-EHPAD-L10;9;-10.00;pas encore validée\n"
        f"{L08};1;0;nulle\n"
        f"{L08};3;-10.00;une\n"
        f"{L08};3;-20.00;deux\n"
        f"{L08};2;abc;illisible\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as caught:
        import_folder(folder, sqlite_engine)
    assert sorted(str(p) for p in caught.value.problems) == sorted([
        "rectifications.csv:2:n: situation CHMV-EHPAD-L08 n°9 inconnue",
        "rectifications.csv:3:n: une rectification se fait à la validation du maître "
        "d'ouvrage : cette situation n'est pas validée",
        "rectifications.csv:4:amount: rectification nulle : retirez la ligne",
        "rectifications.csv:6:n: une seule rectification par situation",
        "rectifications.csv:7:amount: nombre illisible « abc »",
    ])
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.Situation)).scalar() == 0


def test_a_rectification_beyond_the_cumulative_ttc_is_refused(tmp_path, sqlite_engine):
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    (folder / "rectifications.csv").write_text(
        f"contract_id;n;amount;reason\n{L08};4;-9999999.00;trop\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as caught:
        import_folder(folder, sqlite_engine)
    [problem] = [str(p) for p in caught.value.problems]
    assert problem.startswith("rectifications.csv:2:amount: rectification de "
                              "-9\u202f999\u202f999,00\xa0€ plus grande que le total TTC "
                              "cumulé (")
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.Situation)).scalar() == 0
