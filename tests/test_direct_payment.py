"""A directly paid subcontractor's own payments: its request, the titulaire's 15 days, the
treasury's payment, and one delay row per payee, checked by hand (R2193-11..21)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from sqlalchemy import text
from test_workflow import OPERATION, PASSWORD, actor, engine, sample_base  # noqa: F401 - fixture

from gesprokit import direct_payment as dp
from gesprokit.accounts import create_user
from gesprokit.report_data import report_data_from_frames
from gesprokit.store import load_frames
from gesprokit.workflow import Actor
from gesprokit.workflow_errors import InvalidTransition, PermissionDenied, ValidationError

L02 = "CHMV-EHPAD-L02"  # Bâtir Centre Construction, pile subcontractor FPV in direct payment
SUB = "ST-GO-PIEUX"
TITULAIRE = Actor("gros-oeuvre@bcc.fr", "contractor", "BCC", operations=frozenset([OPERATION]))


def base(engine) -> list:  # noqa: F811
    with engine.connect() as conn:
        return [conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2")).all()
                for t in ("direct_payment_request", "subcontract", "event")]


def delays_of(engine, as_of: datetime) -> pd.DataFrame:  # noqa: F811
    data = report_data_from_frames(load_frames(engine), as_of)
    d = data.delays
    return d[d["contract_id"] == L02].set_index(["n", "payment"])


@pytest.fixture
def titulaire(engine):  # noqa: F811
    create_user(engine, TITULAIRE.email, "BCC", "BCC", "contractor", PASSWORD,
                now=datetime(2026, 6, 1), operations=[OPERATION])
    return TITULAIRE


def test_request_accepted_then_paid_late_has_its_own_delay_row(engine, titulaire):  # noqa: F811
    sub, treasury = actor("subcontractor"), actor("treasury")
    dp.request_direct_payment(engine, sub, SUB, 4, comment="Reprise de deux pieux",
                              now=datetime(2025, 7, 25, 9))
    dp.decide_direct_payment(engine, titulaire, SUB, 4, True, now=datetime(2025, 7, 30, 14))
    dp.pay_direct_payment(engine, treasury, SUB, 4, now=datetime(2025, 10, 1, 10))
    d = delays_of(engine, datetime(2026, 11, 30))
    row = d.loc[(4, "paiement direct")]
    # the delay runs from the express acceptance (30 July 2025): 50 days (health
    # establishment) -> 18 September; paid 1 October: 13 days late
    assert row["received_at"] == pd.Timestamp("2025-07-30")
    assert row["deadline_on"] == pd.Timestamp("2025-09-18")
    assert row["late_days"] == 13 and row["payee"] == "FPV"
    amount = row["amount_due_ttc"]
    ledger = report_data_from_frames(load_frames(engine), datetime(2026, 11, 30)).ledger
    direct = ledger.direct_payments.set_index(["contract_id", "n"])
    assert amount == direct.loc[(L02, 4), "paid_month"]
    # interest: ECB rate of 1 July 2025 (2,15 %) + 8 points, on what was paid, per 365 days
    interest = (Decimal(int(amount)) * Decimal("0.1015") * 13 / 365).quantize(
        Decimal("1"), rounding=ROUND_HALF_UP)
    assert row["late_interest"] == int(interest) and row["recovery_indemnity"] == 4000
    # the titulaire's own row is the état's net less what went to the subcontractor
    s = ledger.situations.set_index(["contract_id", "n"])
    assert d.loc[(4, "acompte"), "amount_due_ttc"] == s.loc[(L02, 4), "net_month"] - amount
    assert d.loc[(4, "acompte"), "payee"] == "BCC"


def test_sample_deemed_acceptance_and_late_payment(engine):  # noqa: F811
    """Request n°2 of the sample: deposited 30 May 2025, unanswered through the 15th day
    (14 June), deemed accepted on 15 June; 50 days -> 4 August; paid 12 August: 8 days late,
    on 97 776,42 €."""
    row = delays_of(engine, datetime(2026, 11, 30)).loc[(2, "paiement direct")]
    assert row["received_at"] == pd.Timestamp("2025-06-15")
    assert row["deadline_on"] == pd.Timestamp("2025-08-04") and row["late_days"] == 8
    assert row["amount_due_ttc"] == 9_777_642
    assert row["late_interest"] == 21_752  # 97 776,42 × 10,15 % × 8 / 365 = 217,519
    assert row["late_rate_bp"] == 215 + 800


def test_refusals_change_nothing(engine, titulaire):  # noqa: F811
    sub, treasury = actor("subcontractor"), actor("treasury")
    stranger = Actor("alu@mal.fr", "subcontractor", "MAL", operations=frozenset([OPERATION]))
    before = base(engine)
    with pytest.raises(PermissionDenied, match="n'est pas celui de votre entreprise"):
        dp.request_direct_payment(engine, stranger, SUB, 4, now=datetime(2025, 7, 25))
    with pytest.raises(ValidationError, match="n'a pas de situation n°40"):
        dp.request_direct_payment(engine, sub, SUB, 40, now=datetime(2025, 7, 25))
    with pytest.raises(InvalidTransition, match="déjà déposée"):
        dp.request_direct_payment(engine, sub, SUB, 1, now=datetime(2025, 7, 25))
    with pytest.raises(PermissionDenied, match="réservée au rôle « Entreprise titulaire »"):
        dp.decide_direct_payment(engine, sub, SUB, 1, True, now=datetime(2025, 7, 25))
    with pytest.raises(InvalidTransition, match="réputée acceptée depuis le 15/06/2025"):
        dp.decide_direct_payment(engine, titulaire, SUB, 2, False, reason="Trop tard",
                                 now=datetime(2025, 6, 15, 0, 5))
    with pytest.raises(InvalidTransition, match="déjà payée"):
        dp.pay_direct_payment(engine, treasury, SUB, 1, now=datetime(2025, 8, 1))
    assert base(engine) == before
    dp.request_direct_payment(engine, sub, SUB, 4, now=datetime(2025, 7, 25, 9))
    before = base(engine)
    with pytest.raises(ValidationError, match="Motif du refus : texte obligatoire"):
        dp.decide_direct_payment(engine, titulaire, SUB, 4, False, reason="  ",
                                 now=datetime(2025, 7, 26))
    with pytest.raises(InvalidTransition, match="pas encore accepté"):
        dp.pay_direct_payment(engine, treasury, SUB, 4, now=datetime(2025, 7, 26))
    other = Actor("tp@tpl.fr", "contractor", "TPL", operations=frozenset([OPERATION]))
    with pytest.raises(PermissionDenied, match="Seul le titulaire"):
        dp.decide_direct_payment(engine, other, SUB, 4, True, now=datetime(2025, 7, 26))
    assert base(engine) == before
    # refused with its reason: no delay row, not payable; a new deposit starts again
    dp.decide_direct_payment(engine, titulaire, SUB, 4, False, reason="Pieux non réceptionnés",
                             now=datetime(2025, 7, 28))
    assert (4, "paiement direct") not in delays_of(engine, datetime(2025, 9, 1)).index
    with pytest.raises(InvalidTransition, match="a refusé cette demande"):
        dp.pay_direct_payment(engine, treasury, SUB, 4, now=datetime(2025, 9, 1))
    dp.request_direct_payment(engine, sub, SUB, 4, now=datetime(2025, 8, 4, 8))
    d = delays_of(engine, datetime(2025, 8, 19, 23))
    assert (4, "paiement direct") not in d.index  # its 15 days run through 19 August
    d = delays_of(engine, datetime(2025, 8, 20))
    assert d.loc[(4, "paiement direct"), "received_at"] == pd.Timestamp("2025-08-20")
    events = pd.read_sql("SELECT action FROM event", engine)["action"].tolist()
    assert events[-3:] == ["request_direct_payment", "decide_direct_payment",
                           "request_direct_payment"]


def test_subcontractor_advance_row_and_payment(engine):  # noqa: F811
    """An 9 300 € advance for the subcontractor accepted on 28 March 2025: its deadline runs
    50 days from the acceptance (17 May 2025); paid on 27 May, 10 days late."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE subcontract SET advance_cents = 930000 "
                          "WHERE subcontract_id = :s"), {"s": SUB})
    dp.pay_subcontract_advance(engine, actor("treasury"), SUB, now=datetime(2025, 5, 27, 10))
    with pytest.raises(InvalidTransition, match="déjà payée"):
        dp.pay_subcontract_advance(engine, actor("treasury"), SUB, now=datetime(2025, 5, 28))
    d = delays_of(engine, datetime(2026, 11, 30))
    adv = d.loc[(0, "avance")]
    row = adv[adv["payee"] == "FPV"].iloc[0]
    assert row["deadline_on"] == pd.Timestamp("2025-05-17") and row["late_days"] == 10
    # ECB of 1 January 2025 (3,15 %) + 8 points on 9 300 € for 10 days
    assert row["late_interest"] == int((Decimal(930_000) * Decimal("0.1115") * 10 / 365)
                                       .quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def test_the_pages_carry_a_request_from_deposit_to_payment(engine, titulaire):  # noqa: F811
    """The subcontractor deposits from its page, the titulaire accepts from its own, the
    treasury pays from the payments page; each sees the request's state in French."""
    from gesprokit.session import connect
    from gesprokit.ui.direct_payments import DirectPaymentPage, view
    from gesprokit.ui.treasury import TreasuryPage

    def state(page, n: int) -> str:
        shown = view(page.rows, page.now).set_index(["Sous-traité", "Situation"])
        return shown.loc[(SUB, f"n°{n}"), "État"]

    sub_page = DirectPaymentPage(connect(engine, "pieux@fpv.fr", PASSWORD),
                                 now=datetime(2025, 7, 25, 9))
    assert state(sub_page, 4) == "pas de demande"
    assert state(sub_page, 2) == "payée le 12/08/2025"
    sub_page.to_request.value = (SUB, 4)
    sub_page.comment.value = "Reprise de deux pieux"
    sub_page.deposit()
    assert "Demande de paiement déposée" in sub_page.message.value
    assert state(sub_page, 4) == "en attente du titulaire (réponse jusqu'au 09/08/2025)"

    bcc = DirectPaymentPage(connect(engine, TITULAIRE.email, PASSWORD),
                            now=datetime(2025, 7, 30, 14))
    assert bcc.to_answer.options[0][1] == (SUB, 4)
    bcc.reason.value = "  "
    bcc.answer(False)  # a refusal needs its reason: nothing recorded
    assert "Motif du refus : texte obligatoire" in bcc.message.value
    bcc.answer(True)
    assert "Demande acceptée" in bcc.message.value
    assert state(bcc, 4) == "acceptée le 30/07/2025"

    treasury = TreasuryPage(connect(engine, "comptable@treso.fr", PASSWORD),
                            now=datetime(2025, 10, 1, 10))
    choices = dict((v, k) for k, v in treasury.direct_choice.options)
    assert (SUB, 4) in choices and (SUB, 3) in choices  # the sample's n°3 is still unpaid
    treasury.direct_choice.value = (SUB, 4)
    treasury.pay_direct()
    assert "Paiement direct enregistré" in treasury.message.value
    assert (SUB, 4) not in dict((v, k) for k, v in treasury.direct_choice.options)
    d = delays_of(engine, datetime(2026, 11, 30))
    assert d.loc[(4, "paiement direct"), "paid_at"] == pd.Timestamp("2025-10-01 10:00")


def test_a_subcontracts_own_formula_is_imported_and_checked(tmp_path, sqlite_engine):
    """subcontracts.csv may give the subcontract its own formula (same writing as a
    contract's); weights that do not add up with the fixed part are refused on its line."""
    import shutil

    from conftest import SAMPLE

    from gesprokit.errors import ImportRejected
    from gesprokit.importer import import_folder

    folder = tmp_path / "op"
    shutil.copytree(SAMPLE, folder)
    path = folder / "subcontracts.csv"
    header, line = path.read_text(encoding="utf-8").splitlines()
    path.write_text(f"{header};revision_fixed_part;revision_indices;revision_base_month\n"
                    f"{line};0,2;BT01=0,7;2024-11\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as refused:
        import_folder(folder, sqlite_engine)
    assert "subcontracts.csv:2:revision_indices: la partie fixe et les poids des index " \
           "doivent totaliser 1" in str(refused.value)
    path.write_text(f"{header};revision_fixed_part;revision_indices;revision_base_month\n"
                    f"{line};0,2;BT01=0,8;2024-11\n", encoding="utf-8")
    import_folder(folder, sqlite_engine)
    frames = load_frames(sqlite_engine)
    terms = frames.subcontract_revision_terms
    assert terms[["subcontract_id", "contract_id", "index_code", "weight_bp"]].values.tolist() \
        == [[SUB, L02, "BT01", 8000]]
    sub = frames.subcontracts.set_index("subcontract_id").loc[SUB]
    assert (sub["revision_fixed_bp"], sub["revision_base_month"]) == (2000, "2024-11")
