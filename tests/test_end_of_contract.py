"""The end of a contract through its actions: réception, projet de décompte final, décompte
final, décompte général, the titulaire's answer or the tacit procedure, the solde and the
retention, with amounts and dates computed by hand (CCAG-T 2021 art. 12.3–12.4, 41, 44;
CCP R2191-35, R2192-16)."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from conftest import copy_base, engine_on_copy
from sqlalchemy import text
from test_workflow import (
    L05,
    OPERATION,
    PASSWORD,
    actor,
    make_base,
    sample_base,  # noqa: F401 - fixture
)

from gesprokit import end_of_contract as eoc
from gesprokit.accounts import create_user
from gesprokit.money import format_eur
from gesprokit.report_data import report_data_from_frames
from gesprokit.store import load_frames
from gesprokit.workflow import Actor
from gesprokit.workflow_errors import InvalidTransition, ValidationError

L03 = "CHMV-EHPAD-L03"  # Charpente, firm price, 5 % retention withheld (no guarantee)
CHA = Actor("charpente@cha.fr", "contractor", "CHA", operations=frozenset([OPERATION]))


@pytest.fixture(scope="session")
def open_base(open_sample):
    """The sample without its contracts' ends (every lot still open), imported once."""
    return make_base(open_sample, open_sample.parent / "base.db")


@pytest.fixture
def engine(open_base, sqlite_url):
    """A copy of the open base at the test's own address."""
    yield from engine_on_copy(open_base, sqlite_url)


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def base(engine) -> list:  # noqa: F811
    with engine.connect() as conn:
        return [conn.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all()
                for t in ("reception", "final_account", "final_progress", "event")]


def lines(engine, contract_id: str) -> dict[str, int]:  # noqa: F811
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT line_no, amount_cents FROM price_line WHERE "
                                      "contract_id = :c"), {"c": contract_id}).all())


def validated_due(engine, contract_id: str) -> int:  # noqa: F811
    """What the acomptes paid in all: the MOA's figures of the last validated état."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT due_cum FROM payment_statement WHERE contract_id = :c "
                                 "ORDER BY n DESC LIMIT 1"), {"c": contract_id}).scalar()


def delays_of(engine, contract_id: str, as_of: datetime) -> pd.DataFrame:  # noqa: F811
    d = report_data_from_frames(load_frames(engine), as_of).delays
    return d[d["contract_id"] == contract_id].set_index("payment")


def test_dgd_signed_and_the_solde_paid_late(engine):  # noqa: F811
    """L05 (677 460 € HT, firm, GAPD covering its retention, 12 days of penalty already):
    réception on 15 June 2026; the titulaire claims 100 % of every line; the MOE admits it,
    adds 5 days of penalty and a 5 000 € bonus; the MOA signs on 25 July, the titulaire
    returns it signed on 20 August: the DGD, whose solde is paid on 19 October."""
    moa, moe, mal, treasury = (actor("moa"), actor("moe"), actor("contractor"),
                               actor("treasury"))
    eoc.record_reception(engine, moa, L05, date(2026, 6, 15), now=datetime(2026, 6, 15, 17))
    amounts = lines(engine, L05)
    eoc.submit_final(engine, mal, L05, "2026-06", {k: 10_000 for k in amounts},
                     now=datetime(2026, 7, 1, 9))
    before = base(engine)
    with pytest.raises(ValidationError, match="Justification de la ligne 05.04"):
        eoc.settle_final(engine, moe, L05, {"05.04": 9_000}, {"05.04": "  "},
                         now=datetime(2026, 7, 10))
    with pytest.raises(InvalidTransition, match="pas encore établi"):
        eoc.sign_general(engine, moa, L05, now=datetime(2026, 7, 10))
    assert base(engine) == before
    eoc.settle_final(engine, moe, L05, {}, {},
                     [{"kind": "penalty", "days": 5, "reason": "Retard de levée"},
                      {"kind": "bonus", "amount_cents": 500_000, "reason": "Prime de qualité"}],
                     now=datetime(2026, 7, 10, 11))
    eoc.sign_general(engine, moa, L05, now=datetime(2026, 7, 25, 10))
    eoc.answer_general(engine, mal, L05, True, now=datetime(2026, 8, 20, 15))

    total_ht = 67_746_000 + 500_000  # every line at 100 % and the bonus
    ttc = total_ht + half_up(Decimal(total_ht) / 5)
    penalty = half_up(Decimal(17) * 67_746_000 / 3000)  # 12 + 5 days, > 1 000 €, < 10 %
    assert penalty == 383_894
    # the GAPD of 40 647,60 € covers 5 % of the works' TTC, not of the bonus: 300 € withheld
    retention = half_up(Decimal(ttc) * 5 / 100) - 4_064_760
    assert retention == 30_000
    solde = ttc - penalty - retention - validated_due(engine, L05)
    with engine.connect() as conn:
        figures = conn.execute(text("SELECT figures FROM final_account")).scalar()

    assert json.loads(figures)["solde"] == solde
    # the décompte général the MOA signed is stored with its act, bound by its hash
    with engine.connect() as conn:
        hashes = json.loads(conn.execute(text(
            "SELECT attachments FROM event WHERE action = 'sign_general'")).scalar())
        content = conn.execute(text("SELECT content FROM attachment WHERE sha256 = :h"),
                               {"h": hashes[0]}).scalar()
        stored = eoc.signed_document(conn, L05)
    import hashlib

    assert stored.name == "general-CHMV-EHPAD-L05.pdf" and stored.content == content
    assert hashlib.sha256(content).hexdigest() == hashes[0]
    words = " ".join(subprocess.run(["pdftotext", "-layout", "-", "-"], input=content,
                                    check=True, capture_output=True).stdout.decode().split())
    assert "Décompte général" in words
    assert " ".join(format_eur(solde).split()) in words
    state = eoc.final_state(*_rows(engine, L05), date(2026, 8, 21))
    assert (state.dgd_mode, state.dgd_on, state.solde_from) == (
        "signé", date(2026, 8, 20), date(2026, 8, 20))
    eoc.pay_solde(engine, treasury, L05, now=datetime(2026, 10, 19, 10))
    row = delays_of(engine, L05, datetime(2026, 11, 30)).loc["solde"]
    # 50 days (health establishment) from 20 August: 9 October; paid 19 October: 10 days,
    # at the ECB rate of 1 July 2026 (2,15 %) + 8 points
    assert row["deadline_on"] == pd.Timestamp("2026-10-09") and row["late_days"] == 10
    assert row["amount_due_ttc"] == solde
    assert row["late_interest"] == half_up(Decimal(solde) * Decimal("0.1015") * 10 / 365)
    assert row["recovery_indemnity"] == 4_000
    events = pd.read_sql("SELECT action FROM event ORDER BY event_id", engine)["action"]
    assert events.tolist()[-6:] == ["record_reception", "submit_final", "settle_final",
                                    "sign_general", "answer_general", "pay_solde"]


def _rows(engine, contract_id):  # noqa: F811
    with engine.connect() as conn:
        record = conn.execute(text("SELECT * FROM final_account WHERE contract_id = :c"),
                              {"c": contract_id}).mappings().first()
        reception = conn.execute(text("SELECT * FROM reception WHERE contract_id = :c"),
                                 {"c": contract_id}).mappings().first()

    def typed(row):
        return None if row is None else {k: (pd.Timestamp(v).to_pydatetime() if k.endswith(
            ("_at", "_on", "_until")) and v is not None else v) for k, v in row.items()}
    return typed(record), typed(reception)


def test_tacit_procedure_makes_the_titulaires_projet_the_dgd(engine):  # noqa: F811
    """Projet de décompte final on 1 July 2026; the MOA has until 31 July for the DG. The
    titulaire notifies its own projet on 3 August; the MOA lets its 10 days go by: on 13
    August the projet is the DGD and the solde's delay runs from 14 August."""
    moa, mal = actor("moa"), actor("contractor")
    eoc.record_reception(engine, moa, L05, date(2026, 6, 15), now=datetime(2026, 6, 15, 17))
    with pytest.raises(ValidationError, match="Mois du décompte final : « 2026-13 » n'est pas"):
        eoc.submit_final(engine, mal, L05, "2026-13", {}, now=datetime(2026, 7, 1, 9))
    eoc.submit_final(engine, mal, L05, "2026-06", {k: 10_000 for k in lines(engine, L05)},
                     now=datetime(2026, 7, 1, 9))
    with pytest.raises(InvalidTransition, match="jusqu'au 31/07/2026"):
        eoc.notify_tacit(engine, mal, L05, now=datetime(2026, 7, 31, 18))
    eoc.notify_tacit(engine, mal, L05, now=datetime(2026, 8, 3, 9))
    record, reception = _rows(engine, L05)
    assert eoc.final_state(record, reception, date(2026, 8, 13)).dgd_on is None
    state = eoc.final_state(record, reception, date(2026, 8, 14))
    assert (state.dgd_mode, state.dgd_on, state.solde_from) == (
        "tacite", date(2026, 8, 13), date(2026, 8, 14))
    before = base(engine)
    with pytest.raises(InvalidTransition, match="définitif le 13/08/2026"):
        eoc.settle_final(engine, actor("moe"), L05, now=datetime(2026, 8, 14, 9))
    with pytest.raises(InvalidTransition, match="définitif le 13/08/2026"):
        eoc.sign_general(engine, moa, L05, now=datetime(2026, 8, 14, 10))
    assert base(engine) == before
    # the amount is the titulaire's projet: 100 % of every line (812 952 € TTC), its 12 days
    # of penalty (2 709,84 €), the GAPD covering the retention, less the acomptes — which
    # had already reached 100 %: nothing more is due, so no payment runs late
    due = 81_295_200 - half_up(Decimal(12) * 67_746_000 / 3000)

    assert json.loads(record["claim_figures"])["solde"] == due - validated_due(engine, L05) == 0
    assert "solde" not in delays_of(engine, L05, datetime(2026, 11, 30)).index


def l03_signed(engine, **reception) -> dict[str, int]:
    """L03 received on 1 March 2026 (with `reception`'s réserves…), its projet de décompte
    final at 100 % of every line on 20 March, settled on 25 March, the décompte général
    signed by the MOA on 10 April; returns its lines' amounts."""
    eoc.record_reception(engine, actor("moa"), L03, date(2026, 3, 1), now=datetime(2026, 3, 2),
                         **reception)
    amounts = lines(engine, L03)
    eoc.submit_final(engine, CHA, L03, "2026-02", {k: 10_000 for k in amounts},
                     now=datetime(2026, 3, 20))
    eoc.settle_final(engine, actor("moe"), L03, now=datetime(2026, 3, 25))
    eoc.sign_general(engine, actor("moa"), L03, now=datetime(2026, 4, 10))
    return amounts


def test_retention_kept_for_reserves_then_refunded(engine):  # noqa: F811
    """L03 keeps its 5 % retention (no guarantee). Réception on 1 March 2026 with réserves,
    délai de garantie to 1 March 2027; the réserves are lifted on 15 April 2027: the refund
    is due 30 days after, on 15 May 2027."""
    create_user(engine, CHA.email, "CHA", "CHA", "contractor", PASSWORD,
                now=datetime(2026, 1, 1), operations=[OPERATION])
    moa, treasury = actor("moa"), actor("treasury")
    amounts = l03_signed(engine, reserves="Reprise de deux chéneaux")
    # no answer: deemed accepted 30 days after the notification (10 May)
    record, reception = _rows(engine, L03)
    state = eoc.final_state(record, reception, date(2026, 5, 11))
    assert (state.dgd_mode, state.dgd_on) == ("réputé accepté", date(2026, 5, 10))
    with pytest.raises(InvalidTransition, match="réputé accepté depuis le 10/05/2026"):
        eoc.answer_general(engine, CHA, L03, False, claim="Travaux supplémentaires",
                           disputed_cents=500_000, now=datetime(2026, 5, 11))
    with pytest.raises(InvalidTransition, match="réserves ne sont pas levées"):
        eoc.release_retention(engine, treasury, L03, now=datetime(2027, 3, 5))
    assert state.retention_due_on is None
    eoc.lift_reserves(engine, moa, L03, date(2027, 4, 15), now=datetime(2027, 4, 15))
    record, reception = _rows(engine, L03)
    assert eoc.final_state(record, reception, date(2027, 4, 16)).retention_due_on == date(
        2027, 5, 15)
    eoc.release_retention(engine, treasury, L03, now=datetime(2027, 5, 20))
    row = delays_of(engine, L03, datetime(2027, 6, 1)).loc["retenue"]
    ttc = sum(amounts.values()) + half_up(Decimal(sum(amounts.values())) / 5)
    assert row["amount_due_ttc"] == half_up(Decimal(ttc) * 5 / 100)
    assert row["deadline_on"] == pd.Timestamp("2027-05-15") and row["late_days"] == 5


def test_final_command_prints_the_decompte_general(engine, sqlite_url, capsys,  # noqa: F811
                                                   tmp_path):
    """`gesprokit final` after the MOE settled L05: the headings in cents (csv), in French
    (table); the récapitulation adds up; a contract without projet is a French refusal."""
    from gesprokit.cli import main

    eoc.record_reception(engine, actor("moa"), L05, date(2026, 6, 15), now=datetime(2026, 6, 15))
    eoc.submit_final(engine, actor("contractor"), L05, "2026-06",
                     {k: 10_000 for k in lines(engine, L05)}, now=datetime(2026, 7, 1))
    eoc.settle_final(engine, actor("moe"), L05, now=datetime(2026, 7, 10))
    assert main(["final", L05, "--db", sqlite_url, "--format", "csv",
                 "--as-of", "2026-07-20"]) == 0
    heads = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("key")
    assert heads.loc["total_ttc_cum", "amount"] == 81_295_200  # 677 460 € HT × 1,2
    assert heads.loc["due_cum", "amount"] == heads.loc["acomptes", "amount"] + heads.loc[
        "solde", "amount"]
    assert main(["final", L05, "--db", sqlite_url, "--part", "solde",
                 "--as-of", "2026-07-20"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Marché {L05} – décompte final établi, décompte général à signer")
    assert "Nature" in out and "juin 2026" in out and "solde" in out and "key" not in out
    assert main(["final", L03, "--db", sqlite_url]) == 2
    assert "n'a pas de projet de décompte final" in capsys.readouterr().err
    # the MOE's projet de décompte général as a PDF, read back as a person would
    pdf = tmp_path / "pdg.pdf"
    assert main(["final", L05, "--db", sqlite_url, "--as-of", "2026-07-20",
                 "--pdf", str(pdf)]) == 0
    words = " ".join(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                                    capture_output=True, text=True).stdout.split())
    assert "Projet de décompte général" in words and "Réception 15/06/2026 – sans réserves" \
        in words
    amount = " ".join(format_eur(81_295_200).split())  # as pdftotext's words come out
    assert f"Total TTC {amount}" in words
    assert "Le maître d'œuvre, le 20/07/2026." in words


def test_the_end_of_contract_page_carries_each_role(engine):  # noqa: F811
    """From the pages: the MOA pronounces the réception, the titulaire sends its projet, the
    MOE settles it, the MOA signs, the titulaire signs, the treasury pays the solde; each
    sees the stage and the next legal deadline."""
    from gesprokit.session import connect
    from gesprokit.ui.end_of_contract import EndOfContractPage, view

    def page(email: str, when: datetime) -> EndOfContractPage:
        p = EndOfContractPage(connect(engine, email, PASSWORD), now=when)
        p.contract.value = L05
        return p

    def shown(p: EndOfContractPage) -> dict:
        return view(p.rows).set_index("Marché").loc[L05].to_dict()

    moa = page("direction@ch.fr", datetime(2026, 6, 15, 17))
    moa.receive()  # no date typed
    assert "Date de réception : date obligatoire" in moa.message.value
    moa.received_on.value = date(2026, 6, 15)
    moa.receive()
    assert "Réception prononcée" in moa.message.value
    row = shown(moa)
    assert row["Attendu"] == "projet de décompte final du titulaire"
    assert row["Échéance"] == "15/07/2026" and row["Fin du délai de garantie"] == "15/06/2027"

    mal = page("alu@mal.fr", datetime(2026, 7, 20, 9))
    mal.end_month.value = "2026-06"
    mal.submit_final()
    assert "Projet de décompte final transmis" in mal.message.value
    assert shown(mal)["Attendu"] == "décompte général du maître d'ouvrage"
    assert shown(mal)["Échéance"] == "19/08/2026"
    moe = page("archi@arc.fr", datetime(2026, 7, 25))
    moe.line.value, moe.admitted.value = "05.04", "99,5"
    moe.rectify()  # no justification typed
    assert "Justification" in moe.message.value and moe.pending.value == ""
    moe.admitted.value = "beaucoup"
    moe.rectify()
    assert "Avancement admis de la ligne 05.04 : pourcentage illisible" in moe.message.value
    moe.admitted.value, moe.reason.value = "99,5", "Habillage de la baie B12 non posé"
    moe.rectify()
    assert "Ligne 05.04 : 99,5" in moe.pending.value
    moe.settle()
    assert "Décompte final établi" in moe.message.value, moe.message.value
    with engine.connect() as conn:
        assert conn.execute(text("SELECT admitted_bp, comment FROM final_progress WHERE "
                                 "line_no = '05.04'")).one() == (
            9_950, "Habillage de la baie B12 non posé")
    moa = page("direction@ch.fr", datetime(2026, 8, 1))
    moa.sign()
    assert "Décompte général signé et notifié" in moa.message.value
    moa.prepare_pdf()  # the signed décompte général, ready to download
    assert moa.message.value == "" or "Refusé" not in moa.message.value, moa.message.value
    assert "download='general-CHMV-EHPAD-L05.pdf'" in moa.document.value
    assert shown(moa)["Échéance"] == "31/08/2026"  # the titulaire's 30 days
    mal = page("alu@mal.fr", datetime(2026, 8, 5))
    mal.disputed.value = "trois mille"
    mal.answer(False)
    assert "Montant réclamé : montant illisible" in mal.message.value
    mal.answer(True)
    row = shown(mal)
    # the acomptes had paid every line at 100 %: the 0,5 % the MOE did not admit is owed back
    assert row["Solde TTC"].startswith("-")
    assert (row["Étape"], row["Attendu"], row["Échéance"]) == (
        "décompte général signé", "reversement du solde par le titulaire", "")
    # had a solde been due, its deadline: 50 days (health establishment) from the DGD
    from gesprokit.ui.end_of_contract import next_deadline

    record, reception = _rows(engine, L05)
    state = eoc.final_state(record, reception, date(2026, 8, 6))
    assert next_deadline(record, reception, state, 50, solde=100) == (
        "paiement du solde", date(2026, 9, 24))
    treasury = page("comptable@treso.fr", datetime(2026, 9, 1))
    treasury.pay_solde()
    assert "Paiement du solde enregistré" in treasury.message.value
    # then the GAPD replacing the retention awaits its mainlevée, a month after the délai
    row = shown(page("direction@ch.fr", datetime(2026, 9, 2)))
    assert (row["Attendu"], row["Échéance"]) == ("mainlevée de la garantie (caution ou GAPD)",
                                                 "15/07/2027")
    moa = page("direction@ch.fr", datetime(2027, 7, 20))
    moa.release_guarantee()
    assert "Mainlevée donnée : garantie GAPD-MAL-01" in moa.message.value, moa.message.value
    assert shown(moa)["Attendu"] == "" and moa.guarantee.options == ()


def test_the_workbook_shows_the_decompte_general_and_its_check(engine, tmp_path):  # noqa: F811
    """After the MOA signed L02's décompte général (revisable, 148 568,40 € advance, direct
    payments to its pile subcontractor), the auditor's sheet shows the signed headings and
    the check: advance + acomptes + solde = total TTC − penalties − retention, to the cent."""
    from openpyxl import load_workbook

    from gesprokit.report_data import build_report_data
    from gesprokit.workbook import write_workbook

    bcc = Actor("go@bcc.fr", "contractor", "BCC", operations=frozenset([OPERATION]))
    create_user(engine, bcc.email, "BCC", "BCC", "contractor", PASSWORD,
                now=datetime(2026, 1, 1), operations=[OPERATION])
    eoc.record_reception(engine, actor("moa"), "CHMV-EHPAD-L02", date(2026, 3, 20),
                         now=datetime(2026, 3, 20))
    eoc.submit_final(engine, bcc, "CHMV-EHPAD-L02", "2026-03",
                     {k: 10_000 for k in lines(engine, "CHMV-EHPAD-L02")},
                     now=datetime(2026, 4, 2))
    eoc.settle_final(engine, actor("moe"), "CHMV-EHPAD-L02", now=datetime(2026, 4, 10))
    eoc.sign_general(engine, actor("moa"), "CHMV-EHPAD-L02", now=datetime(2026, 4, 20))
    data = build_report_data(engine, OPERATION, as_of=datetime(2026, 11, 30))
    path = write_workbook(data, tmp_path / "audit.xlsx")
    rows = list(load_workbook(path)["Décompte général"].iter_rows(values_only=True))
    assert rows[0] == ("Marché", "Étape", "Rubrique", "Montant")
    got = {r[2]: round(r[3] * 100) for r in rows[1:] if r[0] == "CHMV-EHPAD-L02"}
    assert rows[1][1] == "décompte général réputé accepté"  # no answer within 30 days
    assert got["Avance remboursée"] == 14_856_840  # repaid in full at the end
    assert got["Contrôle : avance + acomptes + solde"] == (
        got["Total TTC"] - got["Pénalités"] - got["Retenue de garantie conservée"])
    assert got["Acomptes déjà payés (TTC)"] == validated_due(engine, "CHMV-EHPAD-L02")


L02 = "CHMV-EHPAD-L02"  # Gros œuvre, revisable on BT01 (a = 0,125, base November 2024)
BCC = Actor("go@bcc.fr", "contractor", "BCC", operations=frozenset([OPERATION]))


def test_reserves_keep_their_estimated_cost_on_the_retention(engine):
    """L03 (retention 5 % TTC, no guarantee): réception on 1 March 2026 with réserves whose
    works are estimated at 5 000 €; the réception sets a one-year délai de garantie, to
    1 March 2027. The réserves are still there then: the retention less 5 000 € is due on
    31 March 2027; the 5 000 € kept are due 30 days after the lifting (20 May → 19 June)."""
    create_user(engine, CHA.email, "CHA", "CHA", "contractor", PASSWORD,
                now=datetime(2026, 1, 1), operations=[OPERATION])
    moa, treasury = actor("moa"), actor("treasury")
    with pytest.raises(ValidationError, match="aucune réserve"):
        eoc.record_reception(engine, moa, L03, date(2026, 3, 1), reserves="  ",
                             reserves_cost_cents=500_000, now=datetime(2026, 3, 2))
    amounts = l03_signed(engine, reserves="Reprise des chéneaux", guarantee_months=12,
                         reserves_cost_cents=500_000)
    eoc.answer_general(engine, CHA, L03, True, now=datetime(2026, 4, 20))
    ttc = sum(amounts.values()) + half_up(Decimal(sum(amounts.values())) / 5)
    retention = half_up(Decimal(ttc) * 5 / 100)
    with pytest.raises(InvalidTransition, match="court jusqu'au 01/03/2027"):
        eoc.release_retention(engine, treasury, L03, now=datetime(2027, 3, 1, 18))
    done = eoc.release_retention(engine, treasury, L03, now=datetime(2027, 3, 20))
    assert done == {"released": {"retenue": retention - 500_000},
                    "kept": {"retenue conservée (réserves)": 500_000}}
    before = base(engine)
    with pytest.raises(InvalidTransition, match="réserves ne sont pas levées"):
        eoc.release_retention(engine, treasury, L03, now=datetime(2027, 4, 1))
    assert base(engine) == before
    eoc.lift_reserves(engine, moa, L03, date(2027, 5, 20), now=datetime(2027, 5, 20))
    eoc.release_retention(engine, treasury, L03, now=datetime(2027, 6, 25))
    d = delays_of(engine, L03, datetime(2027, 7, 1))
    main, kept = d.loc["retenue"], d.loc["retenue conservée (réserves)"]
    assert (main["amount_due_ttc"], main["deadline_on"], main["late_days"]) == (
        retention - 500_000, pd.Timestamp("2027-03-31"), 0)
    # the kept part paid 6 days late: interest at the ECB rate of 1 January 2027 + 8 points
    assert (kept["amount_due_ttc"], kept["deadline_on"], kept["late_days"]) == (
        500_000, pd.Timestamp("2027-06-19"), 6)
    assert kept["recovery_indemnity"] == 4_000
    with pytest.raises(InvalidTransition, match="déjà remboursée"):
        eoc.release_retention(engine, treasury, L03, now=datetime(2027, 7, 1))


def test_the_gapd_is_released_a_month_after_the_delai_de_garantie(engine):
    """L05's retention is covered by a GAPD: its décompte général withholds nothing of the
    works (300 € on the bonus only); the guarantor gets its mainlevée once the délai de
    garantie (15 June 2026 → 15 June 2027) is over and its réserve lifted, within one month
    (R2191-42)."""
    moa = actor("moa")
    eoc.record_reception(engine, moa, L05, date(2026, 6, 15), reserves="Joint de la baie B12",
                         now=datetime(2026, 6, 15, 17))
    with pytest.raises(InvalidTransition, match="court jusqu'au 15/06/2027"):
        eoc.release_guarantee(engine, moa, L05, "GAPD-MAL-01", now=datetime(2027, 6, 15))
    with pytest.raises(InvalidTransition, match="garantie est maintenue"):
        eoc.release_guarantee(engine, moa, L05, "GAPD-MAL-01", now=datetime(2027, 6, 20))
    with pytest.raises(ValidationError, match="inconnue au marché"):
        eoc.release_guarantee(engine, moa, L05, "GAPD-AUTRE", now=datetime(2027, 6, 20))
    eoc.lift_reserves(engine, moa, L05, date(2027, 7, 1), now=datetime(2027, 7, 1))
    record, reception = _rows(engine, L05)
    assert eoc.final_state(record, reception, date(2027, 7, 2)).guarantee_release_by == date(
        2027, 8, 1)
    done = eoc.release_guarantee(engine, moa, L05, "GAPD-MAL-01", now=datetime(2027, 8, 4))
    assert (done["deadline"], done["late_days"]) == ("2027-08-01", 3)
    with pytest.raises(InvalidTransition, match="déjà libérée"):
        eoc.release_guarantee(engine, moa, L05, "GAPD-MAL-01", now=datetime(2027, 8, 5))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT released_by FROM guarantee")).scalar() == moa.email


def test_the_soldes_revision_is_notified_once_the_index_is_published(engine):
    """L02 signed on 10 April 2026, before BT01 of February 2026 was published (15 April):
    February's works carry January's value, provisionally. Once February is published the
    MOA notifies the revision of the solde; the remainder is due from that notification."""
    create_user(engine, BCC.email, "BCC", "BCC", "contractor", PASSWORD,
                now=datetime(2026, 1, 1), operations=[OPERATION])
    moa = actor("moa")
    eoc.record_reception(engine, moa, L02, date(2026, 3, 5), now=datetime(2026, 3, 5))
    eoc.submit_final(engine, BCC, L02, "2026-03", {}, now=datetime(2026, 3, 20))
    eoc.settle_final(engine, actor("moe"), L02, now=datetime(2026, 4, 1))
    with pytest.raises(InvalidTransition, match="n'est pas encore signé"):
        eoc.notify_final_revision(engine, moa, L02, now=datetime(2026, 4, 2))
    eoc.sign_general(engine, moa, L02, now=datetime(2026, 4, 10))
    eoc.answer_general(engine, BCC, L02, True, now=datetime(2026, 4, 12))
    with pytest.raises(InvalidTransition, match="pas encore publié"):
        eoc.notify_final_revision(engine, moa, L02, now=datetime(2026, 4, 14))
    done = eoc.notify_final_revision(engine, moa, L02, now=datetime(2026, 4, 20))
    with engine.connect() as conn:
        value = dict(conn.execute(text("SELECT month, value_e4 FROM price_index WHERE "
                                       "index_code = 'BT01'")).all())
        signed = json.loads(conn.execute(text("SELECT figures FROM final_account")).scalar())
    ledger = report_data_from_frames(load_frames(engine), datetime(2026, 4, 20)).ledger
    feb = ledger.situations.set_index(["contract_id", "month"]).loc[(L02, "2026-02"),
                                                                    "works_month"]

    def coef(month: str) -> Decimal:  # C = 0,125 + 0,875 × I / I0, to 4 decimals half-up
        c = Decimal("0.125") + Decimal("0.875") * Decimal(value[month]) / value["2024-11"]
        return c.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    delta = (half_up(feb * (coef("2026-02") - 1)) - half_up(feb * (coef("2026-01") - 1)))
    assert delta != 0

    def due(ht: int) -> int:  # TTC less the 5 % TTC retention (advance repaid in full)
        ttc = ht + half_up(Decimal(ht) / 5)
        return ttc - half_up(Decimal(ttc) * 5 / 100)
    ht = signed["total_ht_cum"]
    assert done["difference"] == due(ht + delta) - due(ht)
    row = delays_of(engine, L02, datetime(2026, 6, 30)).loc["révision du solde"]
    assert row["amount_due_ttc"] == done["difference"]
    assert row["deadline_on"] == pd.Timestamp("2026-06-09")  # 50 days from 20 April
    with pytest.raises(InvalidTransition, match="déjà notifiée"):
        eoc.notify_final_revision(engine, moa, L02, now=datetime(2026, 4, 21))


def test_the_samples_ends_reconcile_to_the_cent(sample_base, tmp_path):  # noqa: F811
    """The sample operation on 30 November 2026: five lots received, each at its own point
    of the end. For every décompte général, Σ of the acomptes the MOA validated + the solde
    (+ the advance, paid apart) = total TTC − penalties − retention still held, to the cent;
    the workbook shows both sides."""
    from openpyxl import load_workbook

    from gesprokit.db import get_engine
    from gesprokit.report_data import build_report_data
    from gesprokit.workbook import write_workbook

    sample = copy_base(sample_base, tmp_path / "sample.db")
    on = datetime(2026, 11, 30)
    frames = load_frames(sample)
    records = frames.final_accounts.set_index("contract_id")
    stages = {cid: eoc.final_state(
        records.loc[cid].to_dict() if cid in records.index else None,
        frames.receptions.set_index("contract_id").loc[cid].to_dict(), on.date()).stage
        for cid in frames.receptions["contract_id"]}
    assert stages == {
        L02: "décompte général réputé accepté", L03: "décompte général signé",
        "CHMV-EHPAD-L04": "décompte général signé avec réserves",
        "CHMV-EHPAD-L07": "décompte général définitif (procédure tacite)",
        "CHMV-EHPAD-L12": "réception prononcée"}
    statements = pd.read_sql("SELECT contract_id, net_month FROM payment_statement", sample)
    advances = frames.contracts.set_index("contract_id")["advance_cents"].fillna(0)
    checked = []
    for cid, r in records.iterrows():
        text_ = r["claim_figures"] if "tacite" in stages[cid] else r["figures"]
        g = json.loads(text_)
        paid = int(statements.loc[statements["contract_id"] == cid, "net_month"].sum())
        assert paid + g["solde"] + int(advances[cid]) == (
            g["total_ttc_cum"] - g["penalty_cum"] - g["retention_cum"]), cid
        checked.append(cid)
    assert sorted(checked) == [L02, L03, "CHMV-EHPAD-L04", "CHMV-EHPAD-L07"]

    delays = report_data_from_frames(frames, on).delays.set_index(["contract_id", "payment"])
    # L02's solde (41,54 €: the definitive revision of its last months) from the DGD deemed
    # accepted on 25 June, 50 days → 14 August, paid 2 September: 19 days at 2,15 % + 8 pts
    solde = delays.loc[(L02, "solde")]
    assert (solde["amount_due_ttc"], solde["late_days"]) == (4_154, 19)
    assert solde["late_interest"] == half_up(Decimal(4_154) * Decimal("0.1015") * 19 / 365)
    # L03's retention, 5 % of 469 920 € TTC, refunded on 22 September: its délai de garantie
    # (6 months from 27 February) ended on 27 August, the refund was due by 26 September
    retention = delays.loc[(L03, "retenue")]
    assert retention["amount_due_ttc"] == half_up(Decimal(46_992_000) * 5 / 100)
    assert (retention["deadline_on"], retention["late_days"]) == (pd.Timestamp("2026-09-26"),
                                                                  0)

    path = write_workbook(build_report_data(get_engine(f"sqlite:///{tmp_path}/sample.db"),
                                            OPERATION, as_of=on), tmp_path / "audit.xlsx")
    rows = list(load_workbook(path)["Décompte général"].iter_rows(values_only=True))
    for cid in checked:
        got = {r[2]: round(r[3] * 100) for r in rows[1:] if r[0] == cid}
        assert got["Contrôle : avance + acomptes + solde"] == got[
            "Contrôle : total TTC − pénalités − retenue conservée"], cid
