"""The document library: identifiers, indices, PDF checks, rights, visas and meeting reports."""

from __future__ import annotations

import html
from datetime import datetime

import pytest
from test_workflow import PDF, actor, engine, pdf_bytes, sample_base  # noqa: F401 - fixture

from gesprokit.library import identifiers as ids
from gesprokit.library.actions import (
    acknowledge,
    deposit,
    give_visa,
    new_version,
    read_document,
    read_receipts,
    remind_unread,
    safe_file_name,
)
from gesprokit.library.reports import indices_before_vso, visa_queue, visa_turnaround
from gesprokit.notifications import send_notifications
from gesprokit.store import load_frames
from gesprokit.workflow import File
from gesprokit.workflow_errors import InvalidTransition, PermissionDenied, ValidationError

OP = "CHMV-EHPAD"


def when(day: int, month: int = 9) -> datetime:
    return datetime(2026, month, day, 10, 0)


def test_index_sequence():
    assert [ids.next_index(i) for i in (None, "A", "Y", "Z", "AZ", "BA", "ZZ")] == \
        ["A", "B", "Z", "AA", "BA", "BB", "AAA"]
    assert ids.index_number("Z") == 26 and ids.index_number("AA") == 27
    assert all(ids.index_from_number(k) == idx for k, idx in ((1, "A"), (52, "AZ"), (53, "BA")))
    assert ids.validate(" ab ") == "AB" and ids.format("c") == "ind. C"
    assert not ids.is_valid("A1") and not ids.is_valid("")


def test_document_identifier_round_trip():
    doc = ids.format_document_id(OP, "MAL", "MEN", 12)
    assert doc == "CHMV-EHPAD-MAL-MEN-0012"
    assert ids.parse_document_id(doc) == (OP, "MAL", "MEN", 12)
    with pytest.raises(ids.InvalidIdentifier, match="spécialité"):
        ids.format_document_id(OP, "MAL", "XYZ", 1)
    with pytest.raises(ids.InvalidIdentifier):
        ids.parse_document_id("CHMV-EHPAD-MAL-MEN-12")


def plan(engine, title="Carnet de détails des menuiseries du patio", **kw):  # noqa: F811
    return deposit(engine, actor("contractor"), operation_code=OP, title=title,
                   folder_code="plans-execution", discipline="MEN", file=kw.pop("file", PDF),
                   lot_code="05", now=kw.pop("now", when(1)), **kw)


def test_deposit_proposes_a_then_skips_forward_never_back(engine):  # noqa: F811
    doc, index = plan(engine)
    assert (doc, index) == ("CHMV-EHPAD-MAL-MEN-0001", "A")
    assert plan(engine, title="Calepinage des brise-soleil orientables")[0].endswith("-0002")
    assert new_version(engine, actor("contractor"), doc, PDF, now=when(2)) == "B"
    assert new_version(engine, actor("contractor"), doc, PDF, revision_index="D",
                       now=when(3)) == "D"  # skipping forward is allowed
    for back in ("C", "D", "B"):
        with pytest.raises(ValidationError, match="on ne revient pas en arrière"):
            new_version(engine, actor("contractor"), doc, PDF, revision_index=back)
    versions = load_frames(engine).events
    assert versions["action"].tolist()[-4:] == ["deposit", "deposit", "new_version",
                                                "new_version"]


@pytest.mark.parametrize("title,reason", [
    ("Plan de façade ind B", "indice"), ("Plan de façade rév. C", "indice"),
    ("Plan de façade du 12/03/2026", "date"), ("Notice de façade mars 2026", "date"),
    ("Plan de façade Menuiseries Alu Lyonnaises", "émetteur"), ("Plan MAL façade", "émetteur"),
    ("Plan", "trop court"),
])
def test_titles_carry_no_index_date_or_issuer(engine, title, reason):  # noqa: F811
    with pytest.raises(ValidationError, match=reason):
        plan(engine, title=title)


def test_pdf_checked_by_content(engine):  # noqa: F811
    exe = File("notice.pdf", b"MZ\x90\x00\x03\x00\x00\x00 renamed program")
    with pytest.raises(ValidationError, match="n'est pas un PDF"):
        plan(engine, file=exe)
    assert load_frames(engine).events["action"].iloc[-1] != "deposit"
    dwg = File("Façade Nord (v2).dwg", b"AC1032 drawing")
    doc, _ = plan(engine, file=dwg, format_exception="Fichier DWG demandé par la MOE pour "
                                                     "la synthèse")
    assert read_document(engine, actor("moe"), doc) == dwg.content
    assert safe_file_name("../../Façade Nord (v2).dwg") == "facade_nord_v2.dwg"


def test_rights_per_folder(engine):  # noqa: F811
    contract_doc, _ = deposit(engine, actor("moa"), operation_code=OP,
                              title="Acte d'engagement signé du lot menuiseries",
                              folder_code="marche", discipline="ADM", file=PDF, now=when(1))
    with pytest.raises(PermissionDenied, match="pas accès au dossier « marche »"):
        read_document(engine, actor("contractor"), contract_doc)
    assert read_document(engine, actor("auditor"), contract_doc) == PDF.content
    with pytest.raises(PermissionDenied, match="droit de déposer"):
        deposit(engine, actor("contractor"), operation_code=OP, title="Note sur le marché",
                folder_code="marche", discipline="ADM", file=PDF)
    with pytest.raises(PermissionDenied):
        deposit(engine, actor("auditor"), operation_code=OP, title="Note de l'auditeur",
                folder_code="plans-moe", discipline="GEN", file=PDF)


def test_visas_calls_for_new_index_and_analytics(engine):  # noqa: F811
    doc, _ = plan(engine, now=when(1))
    queue = visa_queue(engine, when(20))
    assert queue[["reviewer_role", "days_late"]].values.tolist() == [["moe", 4], ["verifier", 4]]
    with pytest.raises(ValidationError, match="observations"):
        give_visa(engine, actor("moe"), doc, "A", "REF")
    with pytest.raises(PermissionDenied):
        give_visa(engine, actor("amo"), doc, "A", "VSO")
    result = give_visa(engine, actor("moe"), doc, "A", "REF", "Pièces d'appui non conformes",
                       now=when(5))
    assert result["new_index_required"]
    give_visa(engine, actor("verifier"), doc, "A", "VSO", now=when(20))
    with pytest.raises(InvalidTransition, match="déjà rendu"):
        give_visa(engine, actor("verifier"), doc, "A", "VAO", "Autre avis")
    new_version(engine, actor("contractor"), doc, PDF, now=when(22))
    give_visa(engine, actor("moe"), doc, "B", "VSO", now=when(24))
    give_visa(engine, actor("verifier"), doc, "B", "VSO", now=when(29))
    assert indices_before_vso(engine).to_dict("records") == [{"document_id": doc,
                                                              "indices": 2}]
    stats = visa_turnaround(engine).set_index("reviewer_role")
    assert stats.loc["moe", "visas"] == 2 and stats.loc["moe", "median_days"] == 3  # 4 and 2
    assert stats.loc["verifier", "late"] == 1  # 20 Sep for a visa due on 16 Sep
    assert visa_queue(engine, when(30)).empty


def test_meeting_report_receipts_and_reminders_to_non_readers(engine, tmp_path):  # noqa: F811
    recipients = ["alu@mal.fr", "tp@tpl.fr", "opc@opc.fr"]
    with pytest.raises(ValidationError, match="destinataires"):
        deposit(engine, actor("moe"), operation_code=OP, title="Compte rendu de chantier n°12",
                folder_code="comptes-rendus", discipline="CR", file=PDF)
    doc, index = deposit(engine, actor("moe"), operation_code=OP,
                         title="Compte rendu de chantier n°12", folder_code="comptes-rendus",
                         discipline="CR", file=PDF, recipients=recipients, now=when(3))
    acknowledge(engine, actor("contractor"), doc, index, now=when(4))
    with pytest.raises(InvalidTransition, match="déjà accusée"):
        acknowledge(engine, actor("contractor"), doc, index)
    with pytest.raises(PermissionDenied, match="pas été diffusé"):
        acknowledge(engine, actor("amo"), doc, index)
    receipts = read_receipts(engine, actor("moa"), doc)
    assert receipts.set_index("recipient")["acknowledged_at"].notna().to_dict() == {
        "alu@mal.fr": True, "opc@opc.fr": False, "tp@tpl.fr": False}
    with pytest.raises(PermissionDenied):
        read_receipts(engine, actor("contractor"), doc)
    assert remind_unread(engine, actor("moe"), doc, index, now=when(10)) == ["opc@opc.fr",
                                                                             "tp@tpl.fr"]
    notes = load_frames(engine)
    reminders = notes.events.iloc[-1]
    assert reminders["action"] == "remind_readers"

    import socket

    from aiosmtpd.controller import Controller

    class Collect:
        def __init__(self):
            self.rcpt = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.rcpt.append((envelope.rcpt_tos[0], "RELANCE" in envelope.content.decode()))
            return "250 OK"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        send_notifications(engine, "127.0.0.1", port, "cr@chmv.fr", now=when(10, 9))
    finally:
        controller.stop()
    assert sorted(r for r, relance in handler.rcpt if relance) == ["opc@opc.fr", "tp@tpl.fr"]
    assert sorted(r for r, relance in handler.rcpt if not relance) == sorted(recipients)


def test_deposit_form_calls_the_action_and_shows_its_message(engine):  # noqa: F811
    from gesprokit.ui.library_form import DepositForm

    form = DepositForm(engine, actor("contractor"), OP, now=when(5))
    assert [v for _, v in form.folder.options] == ["plans-execution"]  # where it may write
    assert form.submit() is None and "Choisir un fichier" in form.message.value
    content = pdf_bytes("Plan")
    form.upload.value = ({"name": "plan.pdf", "type": "application/pdf", "size": len(content),
                          "content": memoryview(content), "last_modified": when(5)},)
    form.title.value = "Plan de calepinage ind C"
    form.discipline.value = "MEN"
    assert form.submit() is None
    assert "Le titre ne doit pas contenir d'indice" in html.unescape(form.message.value)
    form.title.value = "Plan de calepinage des vitrages du hall"
    assert form.submit() == ("CHMV-EHPAD-MAL-MEN-0001", "A")
    assert "Déposé : CHMV-EHPAD-MAL-MEN-0001, indice A." in form.message.value
    moa_form = DepositForm(engine, actor("auditor"), OP)
    assert moa_form.button.disabled and "aucun dossier" in moa_form.message.value


@pytest.mark.parametrize(("content", "exception", "reason"), [
    (b"MZ\x90\x00 a program", "Programme de calcul demandé par le BET", "ni un format admis"),
    (b"\x7fELF\x02\x01 a program", "Outil de métré fourni par l'entreprise", "ni un format admis"),
    (b"AC1032 drawing", "x", "doit être justifiée"),
    (b"%PDF-", None, "PDF incomplet"),
    (b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF", None, "page web"),
    (b"%PDF-1.4\n1 0 obj\nendobj\nPK\x03\x04zip inside PK\x05\x06\n%%EOF", None, "archive ZIP"),
])
def test_executables_bare_headers_and_polyglots_are_refused(engine, content, exception,  # noqa: F811
                                                            reason):
    before = len(load_frames(engine).events)
    with pytest.raises(ValidationError, match=reason):
        plan(engine, file=File("piece.pdf", content), format_exception=exception)
    assert len(load_frames(engine).events) == before


def test_unknown_lot_or_operation_and_another_issuers_index(engine):  # noqa: F811
    with pytest.raises(ValidationError, match="Opération « NOPE » inconnue"):
        deposit(engine, actor("contractor"), operation_code="NOPE", title="Plan de façade nord",
                folder_code="plans-execution", discipline="MEN", file=PDF)
    with pytest.raises(ValidationError, match="Lot « 99 » inconnu"):
        deposit(engine, actor("contractor"), operation_code=OP, lot_code="99",
                title="Plan de façade nord", folder_code="plans-execution", discipline="MEN",
                file=PDF)
    doc, _ = plan(engine)
    with pytest.raises(PermissionDenied, match="Seul l'émetteur"):
        new_version(engine, actor("moe"), doc, PDF)  # the MOE may not index the contractor's


def test_a_visa_and_a_receipt_given_from_the_documents_page(engine):  # noqa: F811
    """The MOE sees the visa its role owes, is refused a VAO without observations, gives a
    VSO; the OPC acknowledges the report sent to it. Each in its own name, the lists
    refreshed at once."""
    from test_workflow import PASSWORD

    from gesprokit.session import connect
    from gesprokit.ui.pages import DocumentsPage

    doc, _ = plan(engine, now=when(1))
    report, index = deposit(engine, actor("moe"), operation_code=OP,
                            title="Compte rendu de chantier n°12",
                            folder_code="comptes-rendus", discipline="CR", file=PDF,
                            recipients=["alu@mal.fr", "opc@opc.fr"], now=when(3))
    moe = DocumentsPage(connect(engine, "archi@arc.fr", PASSWORD), when(4).date(), now=when(4))
    assert [v for _, v in moe.review.document.options] == [(doc, "A")]
    assert moe.review.report.options == ()  # the report was not sent to the MOE
    moe.review.status.value, moe.review.observations.value = "VAO", "   "
    assert moe.review.give() is None
    assert "exige ses observations" in html.unescape(moe.message.value)
    moe.review.status.value = "VSO"
    assert moe.review.give() is not None
    assert (f"Visa rendu sur {doc} indice A : visa sans observation."
            in html.unescape(moe.message.value))
    assert moe.review.document.options == ()  # nothing more owed by the MOE
    assert moe.queue["reviewer_role"].tolist() == ["verifier"]

    opc = DocumentsPage(connect(engine, "opc@opc.fr", PASSWORD), when(5).date(), now=when(5))
    assert [v for _, v in opc.review.report.options] == [(report, index)]
    assert opc.review.acknowledge() is True
    assert opc.review.report.options == ()
    receipts = read_receipts(engine, actor("moa"), report).set_index("recipient")
    assert receipts.loc["opc@opc.fr", "acknowledged_at"] == when(5)
    assert receipts["acknowledged_at"].isna().tolist() == [True, False]  # alu, opc
    events = load_frames(engine).events
    assert events[events["action"].isin(["visa", "acknowledge"])][["action", "actor"]
                                                                  ].values.tolist()[-2:] == [
        ["visa", "archi@arc.fr"], ["acknowledge", "opc@opc.fr"]]


def test_the_contractor_reads_the_common_contract_documents_not_the_buyers_own(
        engine):  # noqa: F811
    """The CCTP the MOA files in « Documents du marché communs » is opened by the contractor
    from its page; the MOA's own pieces (« marche ») stay closed to it."""
    from test_workflow import PASSWORD

    from gesprokit.session import connect
    from gesprokit.ui.pages import DocumentsPage

    common, _ = deposit(engine, actor("moa"), operation_code=OP,
                        title="Cahier des clauses techniques particulières du lot 05",
                        folder_code="documents-marche", discipline="ADM",
                        file=File("cctp.pdf", pdf_bytes("CCTP lot 05")), now=when(1))
    own, _ = deposit(engine, actor("moa"), operation_code=OP,
                     title="Rapport d'analyse des offres", folder_code="marche",
                     discipline="ADM", file=PDF, now=when(1))
    page = DocumentsPage(connect(engine, "alu@mal.fr", PASSWORD), when(2).date(), now=when(2))
    readable = [v for _, v in page.review.readable.options]
    assert common in readable and own not in readable
    page.review.readable.value = common
    page.review.open()
    assert f"download='{common}-A.pdf'" in page.review.viewer.opened.value
    assert "data:application/pdf;base64,JVBER" in page.review.viewer.opened.value
    with pytest.raises(PermissionDenied, match="pas accès au dossier « marche »"):
        read_document(engine, actor("contractor"), own)


def test_reviewers_are_told_of_a_visa_and_reminded_once_when_it_is_late(engine):  # noqa: F811
    """A plan deposited on 1 September: the MOE and the OPC granted the operation are told
    it awaits their visa before the 16th; on the 20th, the OPC (whose visa is still
    awaited) gets one reminder, the MOE (visa given) none; a second run adds nothing."""
    from sqlalchemy import text

    from gesprokit.library.actions import remind_late_visas

    doc, _ = plan(engine, now=when(1))
    with engine.connect() as conn:
        told = conn.execute(text("SELECT recipient, subject, body FROM notification WHERE "
                                 "document_id = :d ORDER BY recipient"), {"d": doc}).all()
    assert [t.recipient for t in told] == ["archi@arc.fr", "opc@opc.fr"]
    assert told[0].subject == ("[gesprokit] Visa attendu : Carnet de détails des menuiseries "
                               "du patio (A)")
    assert "avant le 16/09/2026" in told[0].body
    give_visa(engine, actor("moe"), doc, "A", "VSO", now=when(10))
    assert remind_late_visas(engine, now=when(20)) == 1
    assert remind_late_visas(engine, now=when(21)) == 0
    with engine.connect() as conn:
        reminders = conn.execute(text("SELECT recipient, body FROM notification WHERE "
                                      "document_id = :d AND kind = 'reminder'"),
                                 {"d": doc}).all()
    assert [r.recipient for r in reminders] == ["opc@opc.fr"]
    assert "4 jour(s) de retard" in reminders[0].body
