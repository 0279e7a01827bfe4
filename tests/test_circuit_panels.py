"""The role panels driven as a user would, handlers called directly: a full month."""

from __future__ import annotations

import json
from datetime import datetime
from html import unescape

from test_workflow import L05, PASSWORD, PDF, engine, pdf_bytes, sample_base  # noqa: F401 - fixture

from gesprokit.session import connect
from gesprokit.store import load_frames
from gesprokit.ui.circuit_panels import (
    AmoPanel,
    ContractorPanel,
    MoaPanel,
    MoePanel,
    VerifierPanel,
)
from gesprokit.ui.common import LoginForm

NOW = datetime(2026, 7, 1, 9, 0)


def upload(panel, content: bytes, name: str = "constat.pdf"):
    panel.upload.value = ({"name": name, "type": "application/pdf", "size": len(content),
                           "content": memoryview(content), "last_modified": NOW},)


def test_login_form(engine):  # noqa: F811
    opened = []
    form = LoginForm(engine, opened.append, roles=("verifier",))
    form.email.value, form.password.value = "opc@opc.fr", "faux"
    assert form.login() is None and "mot de passe incorrect" in form.message.value
    form.email.value, form.password.value = "alu@mal.fr", PASSWORD
    assert form.login() is None and "cette page est celle du rôle OPC / BET" in form.message.value
    form.email.value, form.password.value = "opc@opc.fr", PASSWORD
    assert form.login() is not None and opened[0].actor.role == "verifier"


def test_a_full_month_through_the_panels(engine):  # noqa: F811
    def session(email):
        return connect(engine, email, PASSWORD)

    contractor = ContractorPanel(session("alu@mal.fr"), NOW)
    contractor.contract.value = L05
    contractor.month.value = "2026-06"
    assert contractor.on_create() == 7 and contractor.selected == (L05, 7)
    contractor.grid.inputs["05.04"].value = "95,5"
    contractor.grid.comments["05.04"].value = "Deux brise-soleil déposés pour reprise"
    assert contractor.on_save() is not None and "enregistré" in contractor.message.value
    contractor.grid.inputs["05.01"].value = "abc"
    assert contractor.on_submit() is None and "poste 05.01" in contractor.message.value
    contractor.reload(keep=(L05, 7))
    assert contractor.on_submit() is not None
    assert contractor.submit.disabled and "transmise" in contractor.submit_reason.value

    verifier = VerifierPanel(session("opc@opc.fr"), NOW)
    assert verifier.selected == (L05, 7)
    verifier.grid.inputs["05.04"].value = "90"
    assert "-5,50" in verifier.grid.diffs["05.04"].value
    assert verifier.on_verify() is None and "commentaire" in verifier.message.value
    verifier.comment.value = "Constat du 30/06 : quatre BSO non motorisés"
    upload(verifier, pdf_bytes("Constat"))
    assert verifier.on_verify() is not None

    moe = MoePanel(session("archi@arc.fr"), NOW)
    # the most urgent first: submitted on 01/07/2026, a hospital pays within 50 days
    assert moe.selected == (L05, 7)
    assert moe.queue.label.endswith("– paiement dû le 20/08/2026")
    assert ("CHMV-EHPAD-L01", 18) in [v for _, v in moe.queue.options]  # VRD's September
    moe.queue.value = ("CHMV-EHPAD-L01", 18)
    moe.days.value, moe.reason_text.value = "2", "Retard sur la situation de VRD"
    moe.on_add()
    assert "Pénalité : 2 jours" in moe.listing.value
    moe.queue.value = (L05, 7)  # a penalty typed for another situation does not follow
    assert moe.pending == [] and moe.listing.value == ""
    moe.days.value, moe.reason_text.value = "deux", "Retard de nettoyage de fin de chantier"
    moe.on_add()
    assert "Jours de retard : « deux » n'est pas un nombre entier" in unescape(
        moe.message.value)
    moe.days.value = "2"
    moe.on_add()
    assert "Pénalité : 2 jours" in moe.listing.value
    # the statement shows the penalty before it is issued: L05 is waived (≤ 1 000 € in all)
    assert "avec les valeurs saisies" in moe.statement.value
    children = list(moe.detail.children)
    heading = next(i for i, c in enumerate(children)
                   if "Suivi de la situation" in str(getattr(c, "value", "")))
    timeline = unescape(children[heading + 1].children[1].value)
    assert "quatre BSO non motorisés" in timeline  # the OPC's comment reaches the MOE
    assert "05.04 Brise-soleil orientables motorisés : 95,50\xa0% → 90,00\xa0%" in timeline
    assert "Deux brise-soleil déposés pour reprise" in timeline  # the contractor's reason
    moe.button.click()  # first the confirmation, with the net about to be issued
    assert "Vous allez <b>émettre l'état d'acompte de</b> la situation n°7" in unescape(
        moe.confirm.children[0].value)
    assert moe.on_issue() is not None
    link = moe.document.value
    assert f"download='etat-{L05}-n7.pdf'" in link and "data:application/pdf;base64,JVBER" in link

    amo = AmoPanel(session("amo@amo.fr"), NOW)
    assert amo.selected == (L05, 7)
    assert amo.on_accept() is not None
    moa = MoaPanel(session("direction@ch.fr"), NOW)
    assert (L05, 7) in [v for _, v in moa.queue.options]  # among the open situations
    moa.queue.value = (L05, 7)
    assert not moa.validate.disabled and moa.resume.disabled
    assert "Aucune interruption" in moa.resume_reason.value
    assert moa.on_validate() is not None and "net à payer" in moa.message.value

    frames = load_frames(engine)
    sit = frames.situations.query("contract_id == @L05 and n == 7").iloc[0]
    assert sit["status"] == "validated"
    line = frames.progress.query("contract_id == @L05 and n == 7 and line_no == '05.04'")
    assert line["pct_bp"].item() == 9000
    assert frames.adjustments.query("contract_id == @L05 and n == 7")["days"].item() == 2


def test_amo_declares_a_subcontractor(engine):  # noqa: F811
    from sqlalchemy import text

    from gesprokit.ui.circuit_panels import AmoDesk

    desk = AmoDesk(connect(engine, "amo@amo.fr", PASSWORD), NOW)
    form = desk.subcontracts
    form.contract.value = L05
    form.reference.value = "ST-MAL-POSE"
    form.company.value = "FPV"
    form.scope.value = "Pose des brise-soleil (DC4 accepté)"
    form.amount.value = "12 500,50"
    form.accepted.value = datetime(2026, 6, 20).date()
    assert form.on_declare() is not None
    assert form.message.value.endswith(
        "ST-MAL-POSE, 12\u202f500,50\xa0€ HT, payé directement.</span>")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT contract_id, company_code, amount_cents, direct_payment "
                                "FROM subcontract WHERE subcontract_id = 'ST-MAL-POSE'")).one()
    assert tuple(row) == (L05, "FPV", 1_250_050, True)
    form.amount.value = "0"
    assert form.on_declare() is None and "montant positif" in form.message.value
    # a contractor's session may not declare one: the workflow refuses, the form says so
    other = AmoDesk(connect(engine, "alu@mal.fr", PASSWORD), NOW).subcontracts
    other.contract.value, other.reference.value, other.company.value = L05, "ST-X", "FPV"
    other.scope.value, other.amount.value = "Essai", "100"
    assert other.on_declare() is None and "réservée au rôle « AMO »" in other.message.value


def test_amo_records_a_guarantee(engine):  # noqa: F811
    from sqlalchemy import text

    from gesprokit.ui.circuit_panels import AmoDesk

    form = AmoDesk(connect(engine, "amo@amo.fr", PASSWORD), NOW).guarantees
    form.contract.value = L05
    form.reference.value = "CAUTION-MAL-02"
    form.kind.value = "caution"
    form.amount.value = "1 234,56"
    form.received.value = datetime(2026, 6, 25).date()
    form.issuer.value = "Banque de Savoie"
    assert form.on_record() is not None and "Garantie enregistrée" in form.message.value
    with engine.connect() as conn:
        row = conn.execute(text("SELECT kind, amount_cents, received_on, issuer FROM guarantee "
                                "WHERE guarantee_id = 'CAUTION-MAL-02'")).one()
    assert (row[0], row[1], str(row[2])[:10], row[3]) == ("caution", 123_456, "2026-06-25",
                                                          "Banque de Savoie")
    assert form.on_record() is None and "déjà enregistrée" in form.message.value


def test_a_long_schedule_is_paged_filtered_and_totalled():
    """500 lines: 40 shown at a time; typed values survive paging; search and « lignes
    modifiées » filter; totals stay in view."""
    import pandas as pd

    from gesprokit.ui.circuit_panels import PercentGrid

    lines = pd.DataFrame({"line_no": [f"{i:04d}" for i in range(1, 501)],
                          "label": [f"Ouvrage {i}" for i in range(1, 501)],
                          "amount_cents": [100_000] * 500,  # 1 000,00 € each
                          "current_bp": [5000] * 500, "reference_bp": [5000] * 500})
    grid = PercentGrid(lines, "Précédent", with_comment=True)
    assert len(grid.inputs) == 40 and "1 / 13" in grid.page_label.value
    assert "500 postes – travaux cumulés saisis : 250\u202f000,00\xa0€ HT" in grid.totals.value
    grid.inputs["0003"].value = "75"
    grid.comments["0003"].value = "Reprise"
    grid.next_page.click()
    assert "0041" in grid.inputs and "0003" not in grid.inputs
    grid.inputs["0045"].value = "12,5"  # 37,5 points below: a decrease
    grid.previous_page.click()
    assert grid.inputs["0003"].value == "75" and grid.comments["0003"].value == "Reprise"
    assert grid.changed() == {"0003": 7500, "0045": 1250}
    # 1 000 € × (+25 % − 37,5 %) = −125,00 €, by hand
    assert "écart avec « Précédent » : -125,00\xa0€ HT" in grid.totals.value
    grid.only_changed.value = True
    assert sorted(grid.inputs) == ["0003", "0045"]
    grid.only_changed.value = False
    grid.search.value = "ouvrage 250"
    assert list(grid.inputs) == ["0250"]
    assert grid.justifications() == {"0003": "Reprise"}


def test_a_stale_tab_cannot_overwrite_another(engine):  # noqa: F811
    """Two tabs on the same draft: the second one's save is refused, in French, and the
    first one's figure stays."""
    from sqlalchemy import text

    contractor = connect(engine, "alu@mal.fr", PASSWORD)
    first = ContractorPanel(contractor, NOW)
    first.contract.value = L05
    first.month.value = "2026-06"
    assert first.on_create() == 7
    second = ContractorPanel(connect(engine, "alu@mal.fr", PASSWORD), NOW)
    assert second.selected == (L05, 7)  # both tabs show situation 7, version 1
    first.grid.inputs["05.04"].value = "95,5"
    first.grid.comments["05.04"].value = "Deux brise-soleil déposés"
    assert first.on_save() is not None
    second.grid.inputs["05.04"].value = "80"
    second.grid.comments["05.04"].value = "Autre saisie"
    assert second.on_save() is None
    assert "a été modifiée par ailleurs" in second.message.value
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pct_bp FROM progress WHERE contract_id = :c AND n = 7 "
                                 "AND line_no = '05.04'"), {"c": L05}).scalar() == 9550
    second.reload(keep=(L05, 7))  # « Actualiser »: the tab now shows the saved figure
    assert second.grid.inputs["05.04"].value == "95,50"


def test_the_grid_differences_are_the_ledgers_to_the_cent():
    """A line of 0,03 € from 50 % to 83,33 %: the ledger rounds each cumulative amount
    (0,015 → 0,02 € and 0,024999 → 0,02 €), so the month adds nothing; rounding the
    difference instead (0,009999 → 0,01 €) would show a cent the ledger never pays."""
    import pandas as pd

    from gesprokit.ui.circuit_panels import PercentGrid

    lines = pd.DataFrame({"line_no": ["01"], "label": ["Petit poste"], "amount_cents": [3],
                          "current_bp": [5000], "reference_bp": [5000]})
    grid = PercentGrid(lines, "Précédent", with_comment=False)
    grid.inputs["01"].value = "83,33"
    assert "+33,33\xa0% (0,00\xa0€)" in grid.diffs["01"].value
    assert "travaux cumulés saisis : 0,02\xa0€ HT" in grid.totals.value
    assert "écart avec « Précédent » : 0,00\xa0€ HT" in grid.totals.value


def june_opened(engine) -> ContractorPanel:  # noqa: F811
    """The contractor's panel on L05's situation 7 (June 2026), just opened."""
    contractor = ContractorPanel(connect(engine, "alu@mal.fr", PASSWORD), NOW)
    contractor.contract.value = L05
    contractor.month.value = "2026-06"
    contractor.on_create()
    contractor.reload(keep=(L05, 7))
    return contractor


def test_the_opc_and_the_moe_move_a_situations_month_from_their_page(engine):  # noqa: F811
    """The month of a situation corrected from the page: justified by a comment and a PDF
    (for the MOE as for the OPC), kept between its neighbours' months, recorded with its
    before/after in the journal."""
    def session(email):
        return connect(engine, email, PASSWORD)

    contractor = june_opened(engine)
    contractor.request_comment.value = "  "  # blank: no comment is recorded
    assert contractor.on_submit() is not None

    verifier = VerifierPanel(session("opc@opc.fr"), NOW)
    assert verifier.selected == (L05, 7) and verifier.month.value == "2026-06"
    assert verifier.request_from_contractor() == []  # nothing joined, nothing said
    verifier.month.value = "2026-05"  # the month of situation 6
    verifier.comment.value = "Travaux de juin constatés en juillet"
    upload(verifier, pdf_bytes("Constat"))
    assert verifier.on_verify() is None
    assert "Mois : 2026-05 doit suivre celui de la situation n°6 (2026-05)" in unescape(
        verifier.message.value)
    verifier.month.value = "2026-07"
    assert verifier.on_verify() is not None, verifier.message.value

    moe = MoePanel(session("archi@arc.fr"), NOW)
    assert moe.selected == (L05, 7) and moe.month.value == "2026-07"
    moe.month.value = "2026-08"
    moe.comment.value = "Mois d'exécution selon le journal de chantier"
    assert moe.on_issue() is None
    assert "Toute modification exige une pièce jointe PDF" in unescape(moe.message.value)
    upload(moe, pdf_bytes("Journal de chantier"))
    assert moe.on_issue() is not None, moe.message.value
    frames = load_frames(engine, [L05])
    assert frames.situations.set_index("n").loc[7, "month"] == "2026-08"
    moves = frames.events[frames.events["action"].isin(["verify", "issue"])
                          & (frames.events["n"] == 7)]
    def moved(text):  # the month and state an event records (the état's hash aside)
        return {k: v for k, v in json.loads(text).items() if k in ("month", "status")}

    assert [(moved(b), moved(a)) for b, a in zip(moves["before"], moves["after"], strict=True)
            if '"month"' in b] == [
        ({"month": "2026-06", "status": "submitted"}, {"month": "2026-07", "status": "verified"}),
        ({"month": "2026-07", "status": "verified"}, {"month": "2026-08", "status": "issued"})]


def test_the_contractors_comment_and_joined_invoice_reach_the_opc(engine):  # noqa: F811
    """The contractor sends its request with a comment and a subcontractor's invoice; the
    OPC's page shows the comment and opens the invoice, as it was joined."""
    def session(email):
        return connect(engine, email, PASSWORD)

    contractor = june_opened(engine)
    invoice = pdf_bytes("Facture ST pose BSO")
    upload(contractor, b"pas un PDF", name="facture.pdf")
    assert contractor.on_submit() is None and "facture.pdf" in unescape(
        contractor.message.value)
    contractor.request_comment.value = "Facture du sous-traitant de pose jointe (juin)"
    upload(contractor, invoice, name="facture-ST-pose-juin.pdf")
    assert contractor.on_submit() is not None, contractor.message.value

    verifier = VerifierPanel(session("opc@opc.fr"), NOW)
    assert verifier.selected == (L05, 7)
    shown = " ".join(getattr(item, "value", "") for item in verifier.request_from_contractor())
    assert "Commentaire : Facture du sous-traitant de pose jointe (juin)" in shown
    assert "download='facture-ST-pose-juin.pdf'" in shown
    import base64

    assert base64.b64encode(invoice).decode() in shown  # the file itself, as joined


def test_the_moa_rectifies_the_etat_from_its_page(engine):  # noqa: F811
    """A rectification typed the French way (typographic minus) with its justification: a
    bad amount or a missing reason is refused in French, naming the field; then the
    validated net is the MOE's 1 710,00 € less 500,00 €."""
    from test_chorus_client import month_with_bonus

    month_with_bonus(engine, validate=False)
    moa = MoaPanel(connect(engine, "direction@ch.fr", PASSWORD), NOW)
    moa.queue.value = (L05, 7)
    moa.rectification.value = "cinq cents"
    moa.ask_validation()
    assert "Rectification TTC : montant illisible « cinq cents »" in unescape(moa.message.value)
    moa.rectification.value = "\u2212500,00"
    moa.ask_validation()
    assert "dont rectification -500,00\xa0€ TTC" in unescape(
        " ".join(getattr(c, "value", "") for c in moa.confirm.children))
    assert moa.on_validate() is None
    assert "justification est obligatoire" in unescape(moa.message.value)
    moa.justification.value = "Brise-soleil du patio non réceptionnés"
    assert moa.on_validate() is not None
    assert ("Validé : net à payer 1\u202f210,00\xa0€ TTC (rectification de -500,00\xa0€ TTC "
            "notifiée à l'entreprise)") in unescape(moa.message.value)
