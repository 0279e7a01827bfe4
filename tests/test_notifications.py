"""Inbox items for the next actors, e-mailed through a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from test_workflow import L05, T0, actor, at, engine, sample_base  # noqa: F401 - fixture

from gesprokit import workflow
from gesprokit.notifications import inbox, remind, send_notifications


class Collect:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8")))
        return "250 OK"


@pytest.fixture
def smtp():
    handler = Collect()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller.hostname, controller.port, handler
    controller.stop()


def test_next_actors_are_told_and_mailed(engine, smtp):  # noqa: F811
    host, port, handler = smtp
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    assert [i["n"] for i in inbox(engine, "opc@opc.fr")] == [7]
    assert inbox(engine, "archi@arc.fr") == []
    assert send_notifications(engine, host, port, "gesprokit@chmv.fr", now=at(1, 11)) == 1
    (rcpt, content), = handler.messages
    assert rcpt == ["opc@opc.fr"]
    assert "Subject: [gesprokit] CHMV-EHPAD-L05 situation" in content
    assert "To: opc@opc.fr" in content
    workflow.verify(engine, actor("verifier"), L05, 7, now=at(3))
    assert inbox(engine, "opc@opc.fr") == []  # done: out of the verifier's inbox
    assert [i["n"] for i in inbox(engine, "archi@arc.fr")] == [7]
    assert send_notifications(engine, host, port, "gesprokit@chmv.fr", now=at(3, 11)) == 1
    assert send_notifications(engine, host, port, "gesprokit@chmv.fr", now=at(3, 12)) == 0
    assert [m[0] for m in handler.messages] == [["opc@opc.fr"], ["archi@arc.fr"]]


def test_reminders_only_for_untreated_items(engine, smtp):  # noqa: F811
    host, port, handler = smtp
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    workflow.verify(engine, actor("verifier"), L05, 7, now=at(2))  # the verifier did its part
    # the MOE has not issued anything 10 days later
    assert remind(engine, after_days=7, now=at(2) + timedelta(days=10)) == 1
    assert remind(engine, after_days=7, now=at(2) + timedelta(days=11)) == 0  # once only
    send_notifications(engine, host, port, "gesprokit@chmv.fr", now=datetime(2026, 7, 13))
    reminders = [(r, c) for r, c in handler.messages if "RELANCE" in c]
    assert [r for r, _ in reminders] == [["archi@arc.fr"]]
    assert [i["kind"] for i in inbox(engine, "archi@arc.fr")] == ["todo", "reminder"]


def test_unreachable_server_keeps_items_pending(engine):  # noqa: F811
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    with pytest.raises(OSError):
        send_notifications(engine, "127.0.0.1", 9, "gesprokit@chmv.fr", timeout=2)
    assert inbox(engine, "opc@opc.fr")  # still there, still unsent
