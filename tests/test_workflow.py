"""The situation circuit through its actions: rights, states, one event per action, no partial
writes, optimistic concurrency, and the audit chain."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import SAMPLE, engine_on_copy
from fpdf import FPDF
from sqlalchemy import text

from gesprokit import workflow
from gesprokit.accounts import create_user
from gesprokit.audit import verify_chain
from gesprokit.db import get_engine
from gesprokit.importer import import_folder
from gesprokit.session import connect
from gesprokit.store import load_frames
from gesprokit.workflow import Actor, File
from gesprokit.workflow_errors import (
    AuthenticationFailed,
    InvalidTransition,
    PermissionDenied,
    StaleState,
    ValidationError,
)

OPERATION = "CHMV-EHPAD"
L05 = "CHMV-EHPAD-L05"  # Menuiseries Alu Lyonnaises: 6 situations, all paid
PASSWORD = "mot-de-passe-solide"
USERS = {
    "contractor": ("alu@mal.fr", "MAL"), "other_contractor": ("tp@tpl.fr", "TPL"),
    "verifier": ("opc@opc.fr", "OPC"), "moe": ("archi@arc.fr", "ARC"),
    "amo": ("amo@amo.fr", "AMO"), "moa": ("direction@ch.fr", "CHMV"),
    "treasury": ("comptable@treso.fr", "TRESO"), "auditor": ("audit@chmv.fr", "CHMV"),
    "admin": ("admin@chmv.fr", "CHMV"), "subcontractor": ("pieux@fpv.fr", "FPV"),
}


def actor(key: str, operations: frozenset[str] | None = None) -> Actor:
    email, company = USERS[key]
    role = "contractor" if key == "other_contractor" else key
    return Actor(email=email, role=role, company_code=company, operations=operations)


def pdf_bytes(text_line: str = "Constat contradictoire") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text_line)
    return bytes(pdf.output())


PDF = File("constat.pdf", pdf_bytes())
T0 = datetime(2026, 6, 30, 17, 0)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 7, day, hour, 0)


@pytest.fixture(scope="session")
def sample_base(tmp_path_factory):
    """The sample imported on 1 June 2026 with one account per role, made once per run (an
    import takes a second; every test gets its own copy)."""
    return make_base(SAMPLE, tmp_path_factory.mktemp("sample-base") / "base.db")


def make_base(folder: Path, path: Path) -> Path:
    """Import `folder` into a new SQLite base at `path`, with one account per role."""
    from gesprokit import accounts

    made = get_engine(f"sqlite:///{path}")
    import_folder(folder, made, now=datetime(2026, 6, 1))
    with pytest.MonkeyPatch.context() as patch:  # the tests' low scrypt cost
        patch.setattr(accounts, "SCRYPT", {"n": 2**10, "r": 8, "p": 1})
        for key, (email, company) in USERS.items():
            role = "contractor" if key == "other_contractor" else key
            create_user(made, email, key, company, role, PASSWORD, now=datetime(2026, 6, 1),
                        operations=[OPERATION])
    made.dispose()
    return path


@pytest.fixture
def engine(sample_base, sqlite_url):
    """A copy of the sample base (with its journal checkpoint) at the test's own address."""
    yield from engine_on_copy(sample_base, sqlite_url)


def situation(engine, n: int = 7) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM situation WHERE contract_id = :c AND n = :n"),
                                 {"c": L05, "n": n}).mappings().one())


def test_login_and_password_storage(engine):
    session = connect(engine, "ALU@mal.fr ", PASSWORD)
    assert session.actor.role == "contractor" and session.actor.company_code == "MAL"
    with pytest.raises(AuthenticationFailed, match="mot de passe incorrect"):
        connect(engine, "alu@mal.fr", "autre chose")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM app_user")).scalars().all()
    assert all(h.startswith("scrypt$") and PASSWORD not in h for h in stored)


def full_month(engine, n: int = 7) -> None:
    """One month of the circuit, every actor in turn."""
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, n, now=at(1))
    workflow.verify(engine, actor("verifier"), L05, n, now=at(3))
    workflow.issue(engine, actor("moe"), L05, n, now=at(5))
    workflow.accept(engine, actor("amo"), L05, n, now=at(8))
    workflow.validate(engine, actor("moa"), L05, n, now=at(12))
    workflow.pay(engine, actor("treasury"), L05, n, now=at(28))


def test_a_full_month_writes_one_event_per_action(engine):
    before = workflow.count_events(engine)
    full_month(engine)
    s = situation(engine)
    assert s["status"] == "paid" and s["version"] == 7  # created at 1, six actions
    assert pd.Timestamp(s["submitted_at"]) == pd.Timestamp(at(1))
    events = load_frames(engine).events
    # seven actions; the three that produce a PDF are each followed by the event binding it
    assert workflow.count_events(engine) == before + 10
    assert events["action"].tolist()[-10:] == [
        "create", "submit", "document", "verify", "issue", "document", "accept", "validate",
        "document", "pay"]
    assert verify_chain(events) == []
    mine = events.iloc[-10:].reset_index(drop=True)
    for i in (2, 5, 8):  # each binds the PDF of the action just before, at the action's date
        action, document = mine.iloc[i - 1], mine.iloc[i]
        assert json.loads(document["after"])["for_event"] == action["hash"]
        assert document["at"] == action["at"] and document["actor"] == action["actor"]
        assert len(json.loads(document["attachments"])) == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pending_document")).scalar() == 0


def test_new_projet_only_after_moa_validation(engine):
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    with pytest.raises(InvalidTransition, match="n'est pas encore validée"):
        workflow.create_situation(engine, actor("contractor"), L05, "2026-07", now=at(2))


def test_contractor_enters_progress_with_rules(engine):
    contractor = actor("contractor")
    workflow.create_situation(engine, contractor, L05, "2026-06", now=T0)
    with pytest.raises(ValidationError) as caught:
        workflow.enter_progress(engine, contractor, L05, 7, {"05.01": 9000, "05.99": 100,
                                                             "05.02": 10_500})
    message = str(caught.value)
    assert "05.01 : avancement en baisse (100 % → 90 %) sans justification" in message
    assert "ligne « 05.99 » inconnue" in message
    assert "05.02 : avancement supérieur à 100 % non autorisé" in message
    assert load_frames(engine).progress.query("contract_id == @L05 and n == 7").empty
    workflow.enter_progress(engine, contractor, L05, 7, {"05.01": 9000},
                            {"05.01": "Dépose de 17 châssis non conformes (constat du 24/06)"},
                            now=at(1))
    assert load_frames(engine).progress.query("contract_id == @L05 and n == 7")[
        "pct_bp"].tolist() == [9000]


def test_verifier_correction_needs_comment_and_pdf(engine):
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    with pytest.raises(ValidationError, match="commentaire"):
        workflow.verify(engine, actor("verifier"), L05, 7, corrections={"05.04": 9500})
    with pytest.raises(ValidationError, match="pièce jointe PDF"):
        workflow.verify(engine, actor("verifier"), L05, 7, corrections={"05.04": 9500},
                        comment="Brise-soleil du R+2 non posés")
    with pytest.raises(ValidationError, match="n'est pas un PDF"):
        workflow.verify(engine, actor("verifier"), L05, 7, corrections={"05.04": 9500},
                        comment="Brise-soleil du R+2 non posés",
                        files=[File("constat.pdf", b"MZ\x90\x00 an exe renamed")])
    assert situation(engine)["status"] == "submitted"
    workflow.verify(engine, actor("verifier"), L05, 7, corrections={"05.04": 9500},
                    comment="Brise-soleil du R+2 non posés", files=[PDF], now=at(3))
    events = load_frames(engine).events
    last = events.iloc[-1]
    assert last["action"] == "verify" and PDF.sha256 in last["attachments"]
    assert '"05.04": 9500' in last["after"] and '"05.04": 10000' in last["before"]


def test_moe_penalty_and_amo_return_rules(engine):
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    workflow.verify(engine, actor("verifier"), L05, 7, now=at(3))
    with pytest.raises(ValidationError, match="justification"):
        workflow.issue(engine, actor("moe"), L05, 7,
                       adjustments=[{"kind": "penalty", "days": 4, "reason": " "}])
    workflow.issue(engine, actor("moe"), L05, 7, now=at(5), adjustments=[
        {"kind": "penalty", "days": 4, "reason": "Retard de levée des réserves (OS n°12)"}])
    with pytest.raises(ValidationError, match="désaccord sur le montant n'est pas admis"):
        workflow.return_to_moe(engine, actor("amo"), L05, 7, "MONTANT", "Montant contesté",
                               [PDF])
    workflow.return_to_moe(engine, actor("amo"), L05, 7, "SOUS_TRAITANT",
                           "DC4 du sous-traitant de pose non joint", [PDF], now=at(6))
    assert situation(engine)["status"] == "verified"  # back to the MOE
    assert '"reason_code": "SOUS_TRAITANT"' in load_frames(engine).events.iloc[-1]["after"]


def test_interruption_only_once(engine):
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    with pytest.raises(InvalidTransition, match="Aucune interruption"):
        workflow.resume(engine, actor("moa"), L05, 7)
    with pytest.raises(ValidationError, match="pièces manquantes"):
        workflow.interrupt(engine, actor("moa"), L05, 7, [" "])
    workflow.interrupt(engine, actor("moa"), L05, 7, ["Attestation URSSAF de moins de 6 mois"],
                       now=at(10))
    workflow.resume(engine, actor("moa"), L05, 7, now=at(15))
    with pytest.raises(InvalidTransition, match="déjà été interrompu une fois"):
        workflow.interrupt(engine, actor("moa"), L05, 7, ["Autre pièce"])
    s = situation(engine)
    assert s["interruption_reason"] == "Attestation URSSAF de moins de 6 mois"


def test_no_interruption_once_the_deadline_has_passed(engine):
    """The sample's buyer is a health establishment: 50 days from the receipt on 1 July 2026
    (10:00), i.e. until 20 August. On 21 August the interruption is refused and nothing
    changes; on 20 August it is still possible."""
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    before = workflow.count_events(engine)
    with pytest.raises(InvalidTransition, match="expiré le 20/08/2026 : il ne peut plus être "
                                                "interrompu"):
        workflow.interrupt(engine, actor("moa"), L05, 7, ["Attestation"],
                           now=datetime(2026, 8, 21, 8, 0))
    assert workflow.count_events(engine) == before
    assert situation(engine)["interrupted_at"] is None
    workflow.interrupt(engine, actor("moa"), L05, 7, ["Attestation"],
                       now=datetime(2026, 8, 20, 17, 0))
    assert str(situation(engine)["interrupted_at"]).startswith("2026-08-20 17:00")


def test_no_progress_on_an_amendment_line_before_its_signature(engine):
    """An amendment of L05 signed on 10 July 2026: its line stays at 0 % in the June 2026
    situation; in the July one it may progress."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO amendment VALUES (:c, 1, '2026-07-10', 500000, "
                          "'Avenant 1 – brise-soleil')"), {"c": L05})
        conn.execute(text("INSERT INTO price_line (contract_id, line_no, label, amount_cents, "
                          "may_exceed, amendment_no) VALUES (:c, 'AV1.01', 'Brise-soleil', "
                          "500000, 0, 1)"), {"c": L05})
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    with pytest.raises(ValidationError, match="ligne AV1.01 : ligne de l'avenant n°1, signé le "
                                              "10/07/2026 : pas d'avancement avant sa "
                                              "signature \\(situation de 06/2026\\)"):
        workflow.enter_progress(engine, actor("contractor"), L05, 7, {"AV1.01": 2_000},
                                now=T0)
    workflow.enter_progress(engine, actor("contractor"), L05, 7, {"AV1.01": 0}, now=T0)


def test_stale_version_is_refused(engine):
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    version = situation(engine)["version"]
    workflow.submit(engine, actor("contractor"), L05, 7, now=at(1), expected_version=version)
    with pytest.raises(StaleState, match="rechargez"):
        workflow.verify(engine, actor("verifier"), L05, 7, expected_version=version)


def test_validation_records_the_figures_and_guarantee_is_amo_only(engine):
    full_month(engine)
    frames = load_frames(engine)
    statement = frames.payment_statements.query("contract_id == @L05 and n == 7").iloc[0]
    assert statement["net_month"] == 0  # nothing new entered in June: nothing to pay
    with pytest.raises(PermissionDenied, match="réservée au rôle « AMO »"):
        workflow.record_guarantee(engine, actor("moe"), L05, "G2", "caution", 100_000,
                                  date(2026, 7, 1), "Banque")
    workflow.record_guarantee(engine, actor("amo"), L05, "G2", "caution", 100_000,
                              date(2026, 7, 1), "Banque", now=at(20))
    assert load_frames(engine).events.iloc[-1]["action"] == "record_guarantee"


def test_session_visibility(engine):
    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    mine = connect(engine, "alu@mal.fr", PASSWORD).situations()
    assert set(mine["contract_id"]) == {L05} and 7 in mine["n"].tolist()
    other = connect(engine, "tp@tpl.fr", PASSWORD).situations()
    assert set(other["contract_id"]) == {"CHMV-EHPAD-L01"}
    moe = connect(engine, "archi@arc.fr", PASSWORD).situations()
    assert len(moe["contract_id"].unique()) == 12
    assert moe.query("contract_id == @L05")["n"].max() == 6  # the draft is not shown
    auditor = connect(engine, "audit@chmv.fr", PASSWORD)
    assert str(auditor.refusal("validate", L05, 6)) == \
        "Un auditeur consulte tout mais ne modifie rien."


# --- the permission matrix -----------------------------------------------------------------

ALLOWED = {  # action -> (role, states), from the circuit of the issue, written independently
    "enter_progress": ("contractor", {"draft"}), "submit": ("contractor", {"draft"}),
    "verify": ("verifier", {"submitted"}), "issue": ("moe", {"verified"}),
    "accept": ("amo", {"issued"}), "return": ("amo", {"issued"}),
    "validate": ("moa", {"accepted"}),
    "interrupt": ("moa", {"submitted", "verified", "issued", "accepted"}),
    "resume": ("moa", set()),  # nothing interrupted in these states
    "pay": ("treasury", {"validated"}),
}
STEPS_TO = ["draft", "submitted", "verified", "issued", "accepted", "validated", "paid"]


def call(action: str, engine, who: Actor):
    n, kw = 7, {"now": at(20)}
    return {
        "enter_progress": lambda: workflow.enter_progress(engine, who, L05, n, {"05.04": 10_000},
                                                          **kw),
        "submit": lambda: workflow.submit(engine, who, L05, n, **kw),
        "verify": lambda: workflow.verify(engine, who, L05, n, **kw),
        "issue": lambda: workflow.issue(engine, who, L05, n, **kw),
        "accept": lambda: workflow.accept(engine, who, L05, n, **kw),
        "return": lambda: workflow.return_to_moe(engine, who, L05, n, "PIECE_MANQUANTE",
                                                 "Attestation manquante", [PDF], **kw),
        "validate": lambda: workflow.validate(engine, who, L05, n, **kw),
        "interrupt": lambda: workflow.interrupt(engine, who, L05, n, ["Attestation"], **kw),
        "resume": lambda: workflow.resume(engine, who, L05, n, **kw),
        "pay": lambda: workflow.pay(engine, who, L05, n, **kw),
    }[action]()


@pytest.fixture(scope="module")
def state_files(tmp_path_factory):
    """One database file per state of situation n°7 of L05."""
    folder = tmp_path_factory.mktemp("states")
    base = folder / "base.db"
    eng = get_engine(f"sqlite:///{base}")
    import_folder(SAMPLE, eng, now=datetime(2026, 6, 1))
    workflow.create_situation(eng, actor("contractor"), L05, "2026-06", now=T0)
    files = {}
    steps = [lambda e: None,
             lambda e: workflow.submit(e, actor("contractor"), L05, 7, now=at(1)),
             lambda e: workflow.verify(e, actor("verifier"), L05, 7, now=at(2)),
             lambda e: workflow.issue(e, actor("moe"), L05, 7, now=at(3)),
             lambda e: workflow.accept(e, actor("amo"), L05, 7, now=at(4)),
             lambda e: workflow.validate(e, actor("moa"), L05, 7, now=at(5)),
             lambda e: workflow.pay(e, actor("treasury"), L05, 7, now=at(6))]
    for state, step in zip(STEPS_TO, steps, strict=True):
        step(eng)
        files[state] = folder / f"{state}.db"
        shutil.copy(base, files[state])
    eng.dispose()
    return files


def dump(path) -> list[str]:
    with sqlite3.connect(path) as con:
        return list(con.iterdump())


@pytest.mark.parametrize("state", STEPS_TO)
def test_permission_matrix(state, state_files, tmp_path):
    """Every role × action × state × own/other company × granted/other operation: forbidden
    cases raise and change nothing; allowed ones succeed."""
    granted, elsewhere = frozenset({OPERATION}), frozenset({"AUTRE-OPERATION"})
    who_list = [(k, scope, actor(k, ops)) for k in USERS
                for scope, ops in (("granted", granted), ("elsewhere", elsewhere))]
    checked = 0
    for action, (role, states) in ALLOWED.items():
        for key, scope, who in who_list:
            path = tmp_path / f"{action}-{key}-{scope}.db"
            shutil.copy(state_files[state], path)
            eng = get_engine(f"sqlite:///{path}", create=False)
            allowed = (who.role == role and state in states and key != "other_contractor"
                       and scope == "granted")
            before = dump(path)
            if allowed:
                call(action, eng, who)
                assert dump(path) != before
            else:
                with pytest.raises((PermissionDenied, InvalidTransition)):
                    call(action, eng, who)
                assert dump(path) == before, (action, key, scope, state)
            eng.dispose()
            path.unlink()
            checked += 1
    assert checked == len(ALLOWED) * len(USERS) * 2


def test_circuit_documents_are_stored_with_their_hash(engine):
    """Each PDF is bound by a `document` event to the action whose event vouches for the
    content it lays out (the content's SHA-256 was committed with the action)."""
    full_month(engine)
    events = load_frames(engine).events
    with engine.connect() as conn:
        stored = {r.sha256: r for r in conn.execute(text(
            "SELECT sha256, name, size, content FROM attachment"))}
    bound = {json.loads(e.after)["for_event"]: json.loads(e.attachments)
             for e in events[events["action"] == "document"].itertuples()}
    for action, kind in (("submit", "demande"), ("issue", "etat"), ("validate", "valide")):
        event = events[events["action"] == action].iloc[-1]
        assert json.loads(event["after"])["document"]["kind"] == kind
        (digest,) = bound[event["hash"]]
        doc = stored[digest]
        assert doc.name == f"{kind}-{L05}-n7.pdf"
        assert doc.content.startswith(b"%PDF-") and doc.size == len(doc.content) > 10_000
        assert hashlib.sha256(doc.content).hexdigest() == digest


def test_a_pending_document_whose_content_was_altered_is_not_produced(engine):
    """Content changed between the commit and the layout (by hand in the base): the hash in
    the action's event no longer matches, so no PDF is stored and the row stays for the
    administrator."""
    from gesprokit.errors import GesprokitError
    from gesprokit.situation_documents import produce_documents, produced_document

    workflow.create_situation(engine, actor("contractor"), L05, "2026-06", now=T0)
    laid_out = workflow.after_commit
    workflow.after_commit = lambda engine: None  # the layout waits
    try:
        workflow.submit(engine, actor("contractor"), L05, 7, now=at(1))
    finally:
        workflow.after_commit = laid_out
    with engine.begin() as conn:
        assert produced_document(conn, L05, 7, "submit") is None  # not laid out yet
        conn.execute(text("UPDATE pending_document SET content = "
                          "replace(content, 'Total des travaux', 'Total')"))
    before = workflow.count_events(engine)
    with pytest.raises(GesprokitError, match="ne correspond pas"):
        produce_documents(engine)
    assert workflow.count_events(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pending_document")).scalar() == 1
        assert produced_document(conn, L05, 7, "submit") is None


def test_the_etat_states_the_contracts_own_settings(engine, tmp_path):
    """L05 set to a 3,5 % retention on the HT, penalties of 1/2 000 per day capped at 7,5 %
    and waived up to 500 €: the état's annexes say exactly that."""
    import shutil
    import subprocess

    from gesprokit.documents import render
    from gesprokit.ledger import ledger_from_frames
    from gesprokit.store import load_frames

    with engine.begin() as conn:
        conn.execute(text("UPDATE contract SET retention_rate_bp = 350, retention_base = 'ht', "
                          "penalty_denominator = 2000, penalty_cap_bp = 750, "
                          "penalty_waiver_cents = 50000 WHERE contract_id = :c"), {"c": L05})
    frames = load_frames(engine)
    pdf = tmp_path / "etat.pdf"
    pdf.write_bytes(render("etat", frames, ledger_from_frames(frames), L05, 4,
                           datetime(2026, 7, 1)))
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext absent : apt-get install poppler-utils")
    words = " ".join(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                                    capture_output=True, text=True).stdout.split())
    assert "Retenue cumulée (3,5 % du HT, moins les garanties)" in words
    assert ("1/2 000 du montant du marché HT par jour ; plafond 7,5 % du marché HT ; non "
            "appliquées jusqu'à 500,00 € HT") in words.replace("\u202f", " ")


def test_the_summary_rows_carry_the_amendments(engine, capsys):
    """L06's row shows its initial 739 600,00 € plus its amendment of 24 850,00 €, so that
    the rows add up to the printed total."""
    from gesprokit.store import load_frames
    from gesprokit.summary import contract_summary, format_summary

    frames = load_frames(engine)
    summary = contract_summary(frames.situations.assign(works_cum=0, revision_cum=0, due_cum=0,
                                                        retention_cum=0, penalty_cum=0,
                                                        advance_repaid_cum=0),
                               frames.contracts, frames.amendments, frames.companies)
    text_table = format_summary(summary)
    row = next(line for line in text_table.splitlines() if line.startswith("Lot 06"))
    assert "764\u202f450,00\xa0€" in row
    assert summary["contract_total_ht"].sum() == frames.contracts["initial_total_ht"].sum() \
        + 2_485_000


def test_the_treasury_records_the_advance_payment(engine):
    """L02 has an advance, imported as paid on 10 April 2025: paying it again is refused;
    L05 has none; only the treasury pays. L09's payment date cleared, the treasury records
    it through its session, once, as a sealed event."""
    from gesprokit.integrity import verify
    from gesprokit.session import connect

    with pytest.raises(InvalidTransition, match="déjà payée \\(le 10/04/2025\\)"):
        workflow.pay_advance(engine, actor("treasury"), "CHMV-EHPAD-L02", now=at(1))
    with pytest.raises(ValidationError, match="ne prévoit pas d'avance"):
        workflow.pay_advance(engine, actor("treasury"), L05, now=at(1))
    with pytest.raises(PermissionDenied):
        workflow.pay_advance(engine, actor("moa"), "CHMV-EHPAD-L02", now=at(1))
    with engine.begin() as conn:
        conn.execute(text("UPDATE contract SET advance_paid_at = NULL "
                          "WHERE contract_id = 'CHMV-EHPAD-L09'"))
    treasury = connect(engine, USERS["treasury"][0], PASSWORD)
    assert treasury.pay_advance("CHMV-EHPAD-L09", now=at(2))["advance_cents"] == 10_185_600
    with pytest.raises(InvalidTransition, match="déjà payée"):
        treasury.pay_advance("CHMV-EHPAD-L09", now=at(3))
    assert verify(engine).problems == []  # the action sealed the contract as it left it
