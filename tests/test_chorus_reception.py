# ruff: noqa: F811 - the fixtures imported from test_chorus_client are parameters here
"""The recipient's side of a billing file in Chorus Pro: the MOA suspends the MOE's A15 with
its reason, the MOE completes it, the MOA then refuses it and the file starts again from the
A4; everyone who must act is told, and every refusal of the action leaves Chorus Pro and the
database as they were."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from test_chorus_client import (  # noqa: F401 - fixtures
    CLOCK,
    CONTRACTOR,
    L05,
    MOA,
    MOE,
    at,
    client,
    month_with_bonus,
    server,
)

from gesprokit import schema
from gesprokit.chorus import billing, reception
from gesprokit.chorus.frames import Piece, next_frames
from gesprokit.workflow import Actor, File
from gesprokit.workflow_errors import PermissionDenied, ValidationError

TREAT_PATHS = ("/cpro/facturesTravaux/v1/traiter/moa", "/cpro/facturesTravaux/v1/traiter/moe",
               "/cpro/facturesTravaux/v1/completer")


@pytest.fixture
def engine(sample_engine):
    """The sample with its titulaires' profiles and one account per role (to be told)."""
    from gesprokit.sample_operation import seed_demo_accounts, seed_demo_profiles

    seed_demo_profiles(sample_engine)
    seed_demo_accounts(sample_engine)
    return sample_engine


def _deposited(engine, client) -> dict[str, int]:
    """Situation 7 issued and accepted; the A4 and the A15 in Chorus Pro."""
    month_with_bonus(engine, validate=False)
    a4 = billing.deposit(engine, client, CONTRACTOR, L05, "A4", "PD-L05-07", n=7,
                         now=at(12, 14))
    CLOCK[0] = at(12, 15)
    a15 = billing.deposit(engine, client, MOE, L05, "A15", "EA-L05-07", n=7, now=at(12, 15))
    return {"A4": a4["piece_id"], "A15": a15["piece_id"]}


def _state(engine) -> tuple:
    with engine.connect() as conn:
        return (conn.execute(text("SELECT piece_id, status, status_at FROM chorus_piece "
                                  "ORDER BY piece_id")).all(),
                conn.execute(select(func.count()).select_from(schema.ChorusStatus)).scalar(),
                conn.execute(select(func.count()).select_from(schema.Event)).scalar(),
                conn.execute(select(func.count()).select_from(schema.Notification)).scalar())


def _notices(engine, since: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT recipient, subject FROM notification WHERE notification_id > :s "
            "ORDER BY recipient"), {"s": since})]


def _last_notice(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.max(
            schema.Notification.notification_id), 0))).scalar()


def test_suspend_complete_then_refuse(engine, server, client):
    ids = _deposited(engine, client)
    received = reception.received_pieces(engine, MOA)
    assert received[["frame", "number", "amount_to_pay", "status_label"]].values.tolist() == [
        ["A15", "EA-L05-07", 171_000, "déposée"]]  # 1 800,00 TTC − 90,00 withheld
    assert reception.received_pieces(engine, MOE).empty  # the A4 already has its answer

    # the MOA suspends the A15: the piece's new status comes from Chorus Pro, with its reason
    CLOCK[0] = at(13, 9)
    since = _last_notice(engine)
    result = reception.treat(engine, client, MOA, ids["A15"], "suspend", "PIECE_MANQUANTE",
                             "  Joindre l'attestation d'assurance décennale de MAL.  ",
                             now=at(13, 9))
    assert (result["status"], result["at"], result["effect"]) == (
        "SUSPENDUE", at(13, 9), "pièce suspendue, à compléter par son déposant ; le délai de "
        "paiement court toujours : seul l'ordonnateur l'interrompt, une fois, avant son "
        "échéance (R2192-27)")
    chorus_id = billing.billing_files(engine, L05).set_index("frame").loc["A15", "chorus_id"]
    a15 = server.state.invoices[int(chorus_id)]
    assert a15.history[-1] == ("SUSPENDUE", at(13, 9))
    reason = ("pièce justificative manquante : Joindre l'attestation d'assurance décennale "
              "de MAL.")
    files = billing.billing_files(engine, L05).set_index("frame")
    assert (files.loc["A15", "status_label"], files.loc["A15", "reason"]) == (
        "suspendue", reason)
    # the MOE (depositor) is told; the titulaire is not (its A4 is not touched)
    assert _notices(engine, since) == [
        ("archi@arc.fr", f"[gesprokit] {L05} : pièce A15 n°EA-L05-07 suspendue par le "
                         "maître d'ouvrage")]
    # a second suspension is refused before anything is sent
    calls = list(server.state.calls)
    with pytest.raises(ValidationError, match="déjà suspendue"):
        reception.treat(engine, client, MOA, ids["A15"], "suspend", "PIECE_MANQUANTE", "x")
    assert server.state.calls == calls

    # the MOE completes it with the certificate; the MOA is told
    CLOCK[0] = at(14, 10)
    since = _last_notice(engine)
    done = reception.complete(engine, client, MOE, ids["A15"],
                              "Attestation décennale 2026 jointe.",
                              [File("attestation-decennale.pdf", b"%PDF-1.4 attestation")],
                              now=at(14, 10))
    assert (done["status"], done["at"]) == ("COMPLETEE", at(14, 10))
    assert _notices(engine, since) == [
        ("direction@chmv.fr", f"[gesprokit] {L05} : pièce A15 n°EA-L05-07 complétée")]
    assert [f["name"] for f in server.state.files.values()][-1] == "attestation-decennale.pdf"

    # the MOA then refuses it: the file stops, the titulaire and the MOE are told
    CLOCK[0] = at(15, 11)
    since = _last_notice(engine)
    refused = reception.treat(engine, client, MOA, ids["A15"], "refuse", "REFERENCES",
                              "Engagement juridique erroné (EJ2025-0005 clos).", now=at(15, 11))
    assert refused["status"] == "REFUSEE_MOA"
    assert _notices(engine, since) == [
        ("alu@mal.fr", f"[gesprokit] {L05} : pièce A15 n°EA-L05-07 refusée par le maître "
                       "d'ouvrage"),
        ("archi@arc.fr", f"[gesprokit] {L05} : pièce A15 n°EA-L05-07 refusée par le maître "
                         "d'ouvrage")]
    pieces = [Piece(r.frame, r.status, r.deposited_at)
              for r in billing.billing_files(engine, L05, "n7").itertuples()]
    assert next_frames("acompte", pieces) == ("A4",)  # a new A4, under a new number
    assert reception.received_pieces(engine, MOA).empty

    with engine.connect() as conn:
        history = conn.execute(text(
            "SELECT status, comment FROM chorus_status WHERE piece_id = :p ORDER BY at"),
            {"p": ids["A15"]}).all()
        events = conn.execute(text(
            "SELECT action, actor, comment FROM event WHERE action LIKE 'chorus_%' "
            "ORDER BY event_id")).all()
    assert [tuple(h) for h in history] == [
        ("DEPOSEE", None), ("SUSPENDUE", reason),
        ("COMPLETEE", "Attestation décennale 2026 jointe."),
        ("REFUSEE_MOA", "références du marché, SIRET ou engagement juridique erronés : "
                        "Engagement juridique erroné (EJ2025-0005 clos).")]
    assert [(e.action, e.actor) for e in events] == [
        ("chorus_deposit", "alu@mal.fr"), ("chorus_deposit", "archi@arc.fr"),
        ("chorus_receive", "direction@ch.fr"), ("chorus_complete", "archi@arc.fr"),
        ("chorus_receive", "direction@ch.fr")]
    # polling Chorus Pro afterwards finds nothing new: the statuses were recorded as dated
    assert billing.poll(engine, client, now=at(16)) == []

    from gesprokit.integrity import verify

    assert verify(engine).problems == []  # the piece's seal follows each of its statuses


@pytest.mark.parametrize(("who", "piece", "decision", "reason", "comment", "error", "match"), [
    (CONTRACTOR, "A15", "suspend", "PIECE_MANQUANTE", "x", PermissionDenied,
     "reçue par le maître d'ouvrage"),
    (MOE, "A15", "refuse", "REFERENCES", "x", PermissionDenied, "reçue par le maître d'ouvrage"),
    (Actor("direction@ch.fr", "moa", "CHMV", operations=frozenset({"AUTRE-OP"})), "A15",
     "refuse", "REFERENCES", "x", PermissionDenied, "CHMV-EHPAD"),
    (MOA, "A15", "refuse", "MONTANT", "trop cher", ValidationError, "rectifie l'état validé"),
    (MOA, "A15", "refuse", "REFERENCES", "   ", ValidationError, "Commentaire"),
    (MOA, "A15", "refuse", None, "x", ValidationError, "Motif"),
    (MOA, "A15", "delete", "REFERENCES", "x", ValidationError, "Décision"),
    (MOA, "A15", "refuse", "REFERENCES", "x" * 1001, ValidationError, "1000 caractères"),
    (MOE, "A4", "suspend", "PIECE_MANQUANTE", "x", ValidationError, "déjà reçu sa réponse"),
    (MOA, 999_999, "refuse", "REFERENCES", "x", ValidationError, "inconnue"),
    (Actor("moa@autre.fr", "moa", "ARC"), "A15", "refuse", "REFERENCES", "x",
     PermissionDenied, "n'est pas le maître d'ouvrage de l'opération"),
])
def test_refused_treatments_send_and_change_nothing(engine, server, client, who, piece,
                                                    decision, reason, comment, error, match):
    ids = _deposited(engine, client)
    before, calls = _state(engine), list(server.state.calls)
    with pytest.raises(error, match=match):
        reception.treat(engine, client, who, ids.get(piece, piece), decision, reason, comment,
                        now=at(13))
    assert _state(engine) == before
    assert not [c for c in server.state.calls[len(calls):] if c in TREAT_PATHS]


def test_only_the_depositor_completes_a_suspended_piece(engine, server, client):
    ids = _deposited(engine, client)
    with pytest.raises(ValidationError, match="n'est pas suspendue"):
        reception.complete(engine, client, MOE, ids["A15"], "rien à compléter")
    reception.treat(engine, client, MOA, ids["A15"], "suspend", "GARANTIE",
                    "Caution de l'avance à joindre.", now=at(13))
    before = _state(engine)
    for who in (MOA, CONTRACTOR, Actor("x@other.fr", "moe", "OTHER")):
        with pytest.raises(PermissionDenied, match="Seul le déposant"):
            reception.complete(engine, client, who, ids["A15"], "voici")
    with pytest.raises(ValidationError, match="Complément"):
        reception.complete(engine, client, MOE, ids["A15"], "")
    assert _state(engine) == before


def test_the_moe_suspends_the_titulaires_a4(engine, server, client):
    """Before its own A15, the MOE is the A4's recipient; the titulaire completes it."""
    month_with_bonus(engine, validate=False)
    a4 = billing.deposit(engine, client, CONTRACTOR, L05, "A4", "PD-L05-07", n=7,
                         now=at(12, 14))["piece_id"]
    assert reception.received_pieces(engine, MOE)["piece_id"].tolist() == [a4]
    assert reception.received_pieces(engine, MOA).empty
    CLOCK[0] = at(13, 8)
    reception.treat(engine, client, MOE, a4, "suspend", "SOUS_TRAITANT",
                    "Déclaration du sous-traitant poseur à régulariser.", now=at(13, 8))
    CLOCK[0] = at(13, 17)
    assert reception.complete(engine, client, CONTRACTOR, a4, "DC4 signé joint.",
                              now=at(13, 17))["status"] == "COMPLETEE"


def test_the_pages_suspend_then_complete(engine, server):
    """The MOA's Chorus page lists the A15 it received and suspends it; the MOE's page shows
    its piece suspended with the reason and completes it; codes never reach the page."""
    from test_chorus_client import config_for

    from gesprokit.chorus.piste import PisteClient
    from gesprokit.sample_operation import DEMO_PASSWORD
    from gesprokit.session import connect
    from gesprokit.ui.chorus_panel import ChorusPanel

    with PisteClient(config_for(server)) as setup:
        ids = _deposited(engine, setup)

    def panel(email: str, now) -> ChorusPanel:
        return ChorusPanel(connect(engine, email, DEMO_PASSWORD), now,
                           client_factory=lambda: PisteClient(config_for(server)))

    CLOCK[0] = at(13, 9)
    moa = panel("direction@chmv.fr", at(13, 9))
    received = moa.received
    assert [v for _, v in received.piece.options] == [ids["A15"]]
    assert received.piece.options[0][0] == (f"{L05} – A15 n°EA-L05-07 (état d'acompte du "
                                            "maître d'œuvre) – 1\u202f710,00\xa0€ – déposée")
    received.reason.value, received.comment.value = "PIECE_MANQUANTE", ""
    received.on_treat()
    assert "Commentaire : expliquez ce qui est attendu" in received.message.value
    received.comment.value = "Attestation décennale manquante."
    received.on_treat()
    assert "Enregistré dans Chorus Pro : pièce suspendue le 13/07/2026 à 09:00." in \
        received.message.value
    # suspended, it stays on the list: the MOA may still refuse it
    assert received.piece.options[0][0].endswith("– suspendue")

    moe = panel("archi@arc.fr", at(14, 10))
    # the MOE's page opens on the situation whose piece waits for it, and says so
    assert moe.queue.value == (L05, 7)
    assert "À compléter :</b> A15 n°EA-L05-07 (CHMV-EHPAD-L05, situation n°7), suspendue" \
        in moe.pending.value
    assert moe.suspended.box.layout.display is None
    assert "Attestation décennale manquante." in moe.suspended.notice.value
    assert "suspendue" in moe.file.value and "SUSPENDUE" not in moe.file.value
    CLOCK[0] = at(14, 10)
    moe.suspended.comment.value = "Attestation jointe."
    moe.suspended.on_complete()
    assert "Pièce complétée dans Chorus Pro le 14/07/2026 à 10:00." in \
        moe.suspended.message.value
    assert moe.suspended.box.layout.display == "none" and "complétée" in moe.file.value
    moe.reload()
    assert moe.pending.value == ""


def test_a_mandataire_treats_the_moas_pieces_only_under_its_mandate(engine, server, client):
    """SPL Forez, the MOA's mandataire, suspends the A15 with the MOA's structure once its
    mandate covers Chorus Pro; before that it is refused, nothing sent."""
    from datetime import date

    from gesprokit.mandates import grant_mandate

    owner = Actor("direction@chmv.fr", "moa", "CHMV")
    spl = Actor("mandat@spl-forez.fr", "moa", "SPL", name="Sophie Roche")
    ids = _deposited(engine, client)
    grant_mandate(engine, owner, "CHMV-EHPAD", "SPL", ["validate"], date(2026, 7, 1), None,
                  "Convention n°2026-04", now=at(1))
    before, calls = _state(engine), list(server.state.calls)
    with pytest.raises(PermissionDenied, match="ne couvre pas « refuser ou suspendre"):
        reception.treat(engine, client, spl, ids["A15"], "suspend", "PIECE_MANQUANTE", "x",
                        now=at(13))
    assert _state(engine) == before and server.state.calls == calls
    from gesprokit.mandates import revoke_mandate

    with engine.connect() as conn:
        first = conn.execute(text("SELECT mandate_id FROM moa_mandate")).scalar()
    revoke_mandate(engine, owner, first, "Étendue au Chorus Pro", now=at(2))
    grant_mandate(engine, owner, "CHMV-EHPAD", "SPL", ["chorus", "validate"], date(2026, 7, 3),
                  None, "Convention n°2026-04 avenant 1", now=at(2, 11))
    CLOCK[0] = at(13, 9)
    result = reception.treat(engine, client, spl, ids["A15"], "suspend", "PIECE_MANQUANTE",
                             "Attestation décennale manquante.", now=at(13, 9))
    assert result["status"] == "SUSPENDUE"
    import json

    with engine.connect() as conn:
        after = conn.execute(text("SELECT after FROM event WHERE action = 'chorus_receive'")
                             ).scalar()
    assert json.loads(after)["mandate"]["reference"] == "Convention n°2026-04 avenant 1"
