"""A situation's message thread: a question from the OPC answered by the contractor, read
by every role that reads the situation and by no one else, each message journaled."""

from __future__ import annotations

from datetime import datetime
from html import unescape

import pytest
from sqlalchemy import text
from test_workflow import L05, PASSWORD, actor, engine, sample_base  # noqa: F401 - fixture

from gesprokit import workflow
from gesprokit.integrity import verify
from gesprokit.messages import post_message, thread
from gesprokit.session import connect
from gesprokit.workflow_errors import PermissionDenied, ValidationError

NOW = datetime(2026, 7, 2, 9, 0)


def test_a_question_and_its_answer_reach_the_readers_of_the_situation(engine):  # noqa: F811
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=NOW)
    # a draft's thread is the contractor's company's only
    with pytest.raises(PermissionDenied, match="périmètre"):
        post_message(engine, actor("verifier"), L05, 7, "Où en est la pose ?", now=NOW)
    workflow.submit(engine, actor("contractor"), L05, 7, now=NOW)
    with pytest.raises(ValidationError, match="Message vide"):
        post_message(engine, actor("verifier"), L05, 7, "  \n ", now=NOW)
    post_message(engine, actor("verifier"), L05, 7,
                 "Les BSO du patio sont-ils posés ?\nPhoto à joindre.", now=NOW)
    post_message(engine, actor("contractor"), L05, 7, "Posés le 30 juin, photo jointe au "
                 "journal de chantier.", now=NOW.replace(hour=11))
    # another company's contractor neither reads nor writes it
    with pytest.raises(PermissionDenied):
        thread(engine, actor("other_contractor"), L05, 7)
    with pytest.raises(PermissionDenied):
        post_message(engine, actor("other_contractor"), L05, 7, "Et nous ?", now=NOW)
    seen = thread(engine, actor("moa"), L05, 7)
    assert seen[["role", "body"]].values.tolist() == [
        ["OPC / BET", "Les BSO du patio sont-ils posés ?\nPhoto à joindre."],
        ["Entreprise titulaire", "Posés le 30 juin, photo jointe au journal de chantier."]]
    with engine.connect() as conn:
        told = conn.execute(text("SELECT recipient, subject FROM notification WHERE subject "
                                 "LIKE '%message de%' ORDER BY notification_id")).all()
        events = conn.execute(text("SELECT actor, comment FROM event WHERE action = "
                                   "'post_message' ORDER BY event_id")).all()
    first = {r for r, s in told if "opc@opc.fr" in s}
    # every account granted the operation that reads L05, the author and the other
    # company's contractor excepted
    assert "opc@opc.fr" not in first and "tp@tpl.fr" not in first
    assert {"alu@mal.fr", "archi@arc.fr", "amo@amo.fr", "direction@ch.fr"} <= first
    assert [e.actor for e in events] == ["opc@opc.fr", "alu@mal.fr"]
    assert events[0].comment.startswith("Les BSO du patio")
    assert verify(engine).intact


def test_the_thread_is_written_and_read_from_the_role_pages(engine):  # noqa: F811
    from gesprokit.ui.circuit_panels import ContractorPanel, VerifierPanel

    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=NOW)
    workflow.submit(engine, actor("contractor"), L05, 7, now=NOW)
    opc = VerifierPanel(connect(engine, "opc@opc.fr", PASSWORD), NOW)
    assert opc.selected == (L05, 7)
    assert opc.on_post() is None and "Message vide" in unescape(opc.message.value)
    opc.message_text.value = "Merci de préciser l'avancement du lot <b>05.04</b>."
    assert opc.on_post() is not None
    contractor = ContractorPanel(connect(engine, "alu@mal.fr", PASSWORD), NOW)
    contractor.reload(keep=(L05, 7))
    shown = " ".join(getattr(c, "value", "") for c in contractor.detail.children
                     if isinstance(getattr(c, "value", None), str))
    # the OPC's words, escaped, under its name and role
    assert "(OPC / BET)" in shown and "&lt;b&gt;05.04&lt;/b&gt;" in shown
    contractor.message_text.value = "05.04 : 90 %, reste la motorisation."
    assert contractor.on_post() is not None
    assert len(thread(engine, actor("verifier"), L05, 7)) == 2
