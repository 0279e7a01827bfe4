"""A document's message thread: the MOE's question on a contractor's plan, read and answered
by the contractor, told to every reader of the document and to no one else; each message one
sealed event; refusals (blank, too long, not a reader) change nothing."""

from __future__ import annotations

import html
import sqlite3
from datetime import datetime

import pytest
from sqlalchemy import inspect, text
from test_library import OP, plan, when
from test_workflow import PASSWORD, PDF, actor, engine, sample_base  # noqa: F401 - fixture

from gesprokit import accounts
from gesprokit.db import get_engine
from gesprokit.document_messages import document_thread, post_document_message
from gesprokit.integrity import verify
from gesprokit.library.actions import deposit
from gesprokit.messages import MAX_MESSAGE
from gesprokit.session import connect
from gesprokit.workflow_errors import PermissionDenied, ValidationError

QUESTION = "Le détail du seuil du patio (page 2) tient-il compte du relevé d'étanchéité ?"
ANSWER = "Oui : relevé de 15 cm, voir la coupe C3.\nIndice B déposé vendredi."
# every account granted the operation whose role reads « plans-execution »
PLAN_READERS = ["alu@mal.fr", "amo@amo.fr", "archi@arc.fr", "audit@chmv.fr",
                "comptable@treso.fr", "direction@ch.fr", "opc@opc.fr", "pieux@fpv.fr",
                "tp@tpl.fr"]


def dump(engine) -> list[str]:  # noqa: F811
    with sqlite3.connect(engine.url.database) as con:
        return list(con.iterdump())


def told(engine, document_id: str) -> list[tuple[str, str]]:  # noqa: F811
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT recipient, subject FROM notification WHERE document_id = :d AND subject "
            "LIKE '%message de%' ORDER BY notification_id, recipient"), {"d": document_id})]


def test_the_moe_asks_on_a_plan_and_the_contractor_reads_and_answers(engine):  # noqa: F811
    doc, _ = plan(engine, now=when(1))
    granted = frozenset({OP})
    first = post_document_message(engine, actor("moe", granted), doc, f"  {QUESTION}\n",
                                  now=when(2))
    seen = document_thread(engine, actor("contractor", granted), doc)
    assert seen.values.tolist() == [[when(2), "moe", "Maître d'œuvre", QUESTION]]
    second = post_document_message(engine, actor("contractor", granted), doc, ANSWER,
                                   now=when(3))
    assert second == first + 1
    assert document_thread(engine, actor("moe", granted), doc)[["author", "role", "body"]
                                                                ].values.tolist() == [
        ["moe", "Maître d'œuvre", QUESTION], ["contractor", "Entreprise titulaire", ANSWER]]
    notes = told(engine, doc)
    subject = ("[gesprokit] Carnet de détails des menuiseries du patio "
               f"({doc}) : message de archi@arc.fr (Maître d'œuvre)")
    assert [r for r, s in notes if s == subject] == [r for r in PLAN_READERS
                                                      if r != "archi@arc.fr"]
    assert [r for r, s in notes if "alu@mal.fr" in s] == [r for r in PLAN_READERS
                                                           if r != "alu@mal.fr"]
    with engine.connect() as conn:
        events = conn.execute(text("SELECT actor, role, comment, after, contract_id FROM event "
                                   "WHERE action = 'post_document_message' ORDER BY event_id"
                                   )).all()
        body = conn.execute(text("SELECT body FROM notification WHERE recipient = 'alu@mal.fr' "
                                 "AND document_id = :d AND subject LIKE '%message%'"),
                            {"d": doc}).scalar()
    assert [tuple(e) for e in events] == [
        ("archi@arc.fr", "moe", QUESTION, f'{{"document_id": "{doc}", "message_id": {first}}}',
         None),
        ("alu@mal.fr", "contractor", ANSWER,
         f'{{"document_id": "{doc}", "message_id": {second}}}', None)]
    assert f"archi@arc.fr a écrit sur le document {doc}" in body and QUESTION in body
    assert verify(engine).intact  # each message sealed by its event


def test_a_message_changed_in_the_base_is_reported_by_audit_verify(engine):  # noqa: F811
    doc, _ = plan(engine, now=when(1))
    post_document_message(engine, actor("moe"), doc, QUESTION, now=when(2))
    with engine.begin() as conn:
        conn.execute(text("UPDATE document_message SET body = 'Rien à signaler.'"))
    problems = verify(engine).problems
    assert any("sur un document : modifié hors de l'application" in p for p in problems)


def test_who_may_not_read_the_document_is_refused_and_nothing_changes(engine):  # noqa: F811
    doc, _ = plan(engine, now=when(1))
    own, _ = deposit(engine, actor("moa"), operation_code=OP,
                     title="Rapport d'analyse des offres", folder_code="marche",
                     discipline="ADM", file=PDF, now=when(1))
    post_document_message(engine, actor("moe"), doc, QUESTION, now=when(2))
    before = dump(engine)
    # a contractor does not read the buyer's own pieces: neither their thread
    with pytest.raises(PermissionDenied, match="pas accès au dossier « marche »"):
        post_document_message(engine, actor("contractor", frozenset({OP})), own, "Et nous ?")
    with pytest.raises(PermissionDenied, match="pas accès au dossier « marche »"):
        document_thread(engine, actor("contractor", frozenset({OP})), own)
    # another company's account granted another operation only reads nothing of this one
    elsewhere = actor("other_contractor", frozenset({"CHMV-SMR2"}))
    with pytest.raises(PermissionDenied, match="opération « CHMV-EHPAD »"):
        document_thread(engine, elsewhere, doc)
    with pytest.raises(PermissionDenied, match="opération « CHMV-EHPAD »"):
        post_document_message(engine, elsewhere, doc, "Et nous ?")
    for blank in ("", "   \n\t ", None):
        with pytest.raises(ValidationError, match="Message vide"):
            post_document_message(engine, actor("moe"), doc, blank)
    with pytest.raises(ValidationError, match=f"{MAX_MESSAGE} caractères au plus"):
        post_document_message(engine, actor("moe"), doc, "x" * (MAX_MESSAGE + 1))
    with pytest.raises(ValidationError, match="caractère de contrôle"):
        post_document_message(engine, actor("moe"), doc, "seuil\x00patio")
    with pytest.raises(ValidationError, match="inconnu"):
        post_document_message(engine, actor("moe"), "../../etc/passwd", QUESTION)
    assert dump(engine) == before
    # the company's account whose grant is withdrawn: refused, told nothing afterwards
    accounts.revoke(engine, "tp@tpl.fr", OP)
    revoked = connect(engine, "tp@tpl.fr", PASSWORD)
    with pytest.raises(PermissionDenied, match="opération « CHMV-EHPAD »"):
        document_thread(engine, revoked.actor, doc)
    post_document_message(engine, actor("contractor"), doc, ANSWER, now=when(3))
    assert "tp@tpl.fr" not in [r for r, s in told(engine, doc) if "alu@mal.fr" in s]


def test_the_thread_and_the_reply_box_on_the_documents_page(engine):  # noqa: F811
    """The MOE opens the plan, writes under it; the contractor opens it, sees the question,
    is refused a blank reply, answers; the page of an account that may not read a document
    shows none of it."""
    from gesprokit.ui.pages import DocumentsPage

    doc, _ = plan(engine, now=when(1))
    other, _ = plan(engine, title="Calepinage des brise-soleil orientables", now=when(1))
    own, _ = deposit(engine, actor("moa"), operation_code=OP,
                     title="Rapport d'analyse des offres", folder_code="marche",
                     discipline="ADM", file=PDF, now=when(1))
    moe = DocumentsPage(connect(engine, "archi@arc.fr", PASSWORD), when(2).date(), now=when(2))
    assert moe.review.viewer.discussion.layout.display == "none"  # nothing opened yet
    moe.open_document(doc)
    viewer = moe.review.viewer
    assert viewer.document_id == doc and viewer.discussion.layout.display == "flex"
    assert "Aucun message" in viewer.thread.value
    viewer.reply.value = QUESTION
    assert viewer.post() is not None
    assert "Message envoyé" in html.unescape(moe.message.value)
    assert viewer.reply.value == "" and QUESTION in html.unescape(viewer.thread.value)

    alu = DocumentsPage(connect(engine, "alu@mal.fr", PASSWORD), when(3).date(), now=when(3))
    alu.review.readable.value = doc
    alu.review.open()
    viewer = alu.review.viewer
    assert "<b>moe</b> (Maître d&#x27;œuvre), le 02/09/2026 à 10:00" in viewer.thread.value
    viewer.reply.value = "  \n "
    assert viewer.post() is None
    assert "Refusé" in alu.message.value and "Message vide" in alu.message.value
    viewer.reply.value = "<script>alert(1)</script>"
    assert viewer.post() is not None
    assert "&lt;script&gt;" in viewer.thread.value and "<script>" not in viewer.thread.value
    # choosing another document forgets the opened one and its thread
    alu.review.readable.value = other
    assert viewer.document_id is None and viewer.thread.value == ""
    assert viewer.post() is None
    # a document this account may not read: refused, nothing of it shown
    before = dump(engine)
    assert alu.open_document(own) is None
    assert "n'existe pas ou votre compte ne peut pas le lire" in html.unescape(
        alu.message.value)
    assert viewer.opened.value == "" and viewer.discussion.layout.display == "none"
    assert dump(engine) == before


def test_a_page_left_open_after_a_revocation_writes_nothing(engine):  # noqa: F811
    from gesprokit.ui.pages import DocumentsPage

    doc, _ = plan(engine, now=when(1))
    page = DocumentsPage(connect(engine, "archi@arc.fr", PASSWORD), when(2).date(), now=when(2))
    page.open_document(doc)
    accounts.revoke(engine, "archi@arc.fr", OP)
    before = dump(engine)
    page.review.viewer.reply.value = QUESTION
    assert page.review.viewer.post() is None
    assert "reconnectez-vous" in page.message.value
    assert page.review.open() is None  # nor reads the document again
    assert dump(engine) == before


def test_a_base_made_before_the_threads_gets_their_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    get_engine(url).dispose()
    with sqlite3.connect(tmp_path / "old.db") as con:
        con.execute("DROP TABLE document_message")
    made = get_engine(url)
    assert "document_message" in inspect(made).get_table_names()
    assert verify(made).events == 0
    made.dispose()


def test_the_threads_are_sealed_at_a_time_known_to_the_journal(engine):  # noqa: F811
    doc, _ = plan(engine, now=when(1))
    post_document_message(engine, actor("moe"), doc, QUESTION, now=datetime(2026, 9, 2, 10))
    with engine.connect() as conn:
        seal = conn.execute(text("SELECT seal FROM event WHERE action = "
                                 "'post_document_message'")).scalar()
    assert seal.startswith('{"document_message|1": "')
