"""Operation scoping and account administration: an account acts and reads only within the
operations it is granted (and, for company roles, its company's contracts); granting,
revoking, disabling and resetting are audited events that open sessions feel at once."""

from __future__ import annotations

import io
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from conftest import SAMPLE, copy_base
from sqlalchemy import select, text

from gesprokit import accounts, schema, workflow
from gesprokit.cli import main
from gesprokit.errors import GesprokitError
from gesprokit.importer import import_folder
from gesprokit.integrity import verify
from gesprokit.session import connect
from gesprokit.workflow_errors import AuthenticationFailed, PermissionDenied

OP_A, OP_B = "CHMV-EHPAD", "CHMV-SMR2"
PASSWORD = "mot-de-passe-solide"
T0 = datetime(2026, 6, 30, 17, 0)


def second_operation(folder: Path) -> Path:
    """The sample folder as another operation of the same buyer with the same companies:
    every identifier renamed, the companies (and their SIRET) unchanged."""
    shutil.copytree(SAMPLE, folder)
    for path in folder.glob("*.csv"):
        content = path.read_text(encoding="utf-8").replace(OP_A, OP_B)
        content = content.replace("GAPD-MAL-01", "GAPD-MAL-02").replace("ST-GO-PIEUX",
                                                                        "ST-GO-PIEUX-2")
        path.write_text(content, encoding="utf-8")
    for path in (folder / "dpgf").iterdir():
        workbook = openpyxl.load_workbook(path)
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.value == "ST-GO-PIEUX":
                        cell.value = "ST-GO-PIEUX-2"
        workbook.save(path.with_name(path.name.replace(OP_A, OP_B)))
        path.unlink()
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """Two operations sharing every company; accounts of operation A only, of B only, of
    both; a subcontractor declared on one contract of A."""
    from gesprokit.db import get_engine

    folder = tmp_path_factory.mktemp("two-operations")
    engine = get_engine(f"sqlite:///{folder / 'base.db'}")
    import_folder(SAMPLE, engine, now=datetime(2026, 6, 1))
    import_folder(second_operation(folder / "second"), engine, now=datetime(2026, 6, 2))
    for email, company, role, ops in (
            ("alu@mal.fr", "MAL", "contractor", [OP_A]),
            ("opc-a@opc.fr", "OPC", "verifier", [OP_A]),
            ("opc-b@opc.fr", "OPC", "verifier", [OP_B]),
            ("moe@arc.fr", "ARC", "moe", [OP_A, OP_B]),
            ("moa-b@chmv.fr", "CHMV", "moa", [OP_B]),
            ("amo-b@amo.fr", "AMO", "amo", [OP_B]),
            ("audit-b@chmv.fr", "CHMV", "auditor", [OP_B]),
            ("pieux@fpv.fr", "FPV", "subcontractor", [OP_A, OP_B]),
            ("co@mal.fr", "MAL", "cocontractor", [OP_A]),
            ("nobody@opc.fr", "OPC", "verifier", []),
            ("admin@chmv.fr", "CHMV", "admin", [])):
        accounts.create_user(engine, email, email, company, role, PASSWORD,
                             now=datetime(2026, 6, 3), operations=ops)
    engine.dispose()
    return folder / "base.db"


@pytest.fixture
def engine(base, tmp_path):
    eng = copy_base(base, tmp_path / "copy.db")
    yield eng
    eng.dispose()


def dump(engine) -> list[str]:
    with sqlite3.connect(engine.url.database) as con:
        return list(con.iterdump())


def test_second_operation_shares_the_companies(engine):
    with engine.connect() as conn:
        ops = conn.execute(text("SELECT operation_code, count(*) FROM contract "
                                "GROUP BY operation_code ORDER BY 1")).all()
        companies = conn.execute(text("SELECT count(*) FROM company")).scalar()
    assert ops == [(OP_A, 12), (OP_B, 12)]
    assert companies == 19  # imported once, shared by both operations (sample: 19 companies)


def test_reads_are_limited_to_the_granted_operations_and_companies(engine):
    def contracts(email):
        return set(connect(engine, email, PASSWORD).frames().contracts["contract_id"])

    assert contracts("alu@mal.fr") == {f"{OP_A}-L05"}  # MAL also holds L05 of B
    assert contracts("co@mal.fr") == {f"{OP_A}-L05"}  # a cocontractor: its company only
    assert contracts("opc-b@opc.fr") == {f"{OP_B}-L{i:02d}" for i in range(1, 13)}
    assert contracts("moe@arc.fr") == {f"{op}-L{i:02d}" for op in (OP_A, OP_B)
                                       for i in range(1, 13)}
    assert contracts("pieux@fpv.fr") == {f"{OP_A}-L02", f"{OP_B}-L02"}  # where it is declared
    assert contracts("nobody@opc.fr") == set()
    assert contracts("admin@chmv.fr") == set()
    frames = connect(engine, "audit-b@chmv.fr", PASSWORD).frames()
    assert set(frames.operations["code"]) == {OP_B}
    assert set(frames.situations["contract_id"].str[:9]) == {OP_B}
    assert set(frames.events["contract_id"]) <= set(frames.contracts["contract_id"])
    assert len(frames.events) > 0


def test_a_draft_is_read_by_its_company_only_and_each_reads_its_own_contracts(engine):
    """MAL's draft of July on L05 (with its entered %) is in MAL's frames and in nobody
    else's; every row a session reads belongs to its contracts."""
    alu = connect(engine, "alu@mal.fr", PASSWORD)
    cid = f"{OP_A}-L05"
    n = alu.create_situation(cid, "2026-07", now=T0)
    alu.enter_progress(cid, n, {"05.01": 10_000}, now=T0)
    mine = alu.frames()
    assert ((mine.situations["contract_id"] == cid) & (mine.situations["n"] == n)).sum() == 1
    assert ((mine.progress["contract_id"] == cid) & (mine.progress["n"] == n)).sum() == 1
    for frame in (mine.situations, mine.progress, mine.price_lines, mine.events):
        assert set(frame["contract_id"]) == {cid}
    moe = connect(engine, "moe@arc.fr", PASSWORD).frames()
    for frame in (moe.situations, moe.progress):
        assert not ((frame["contract_id"] == cid) & (frame["n"] == n)).any()
    # everything else of L05 is still there for the MOE: only the draft is hidden
    assert (moe.situations["contract_id"] == cid).sum() == (
        mine.situations["contract_id"] == cid).sum() - 1


def test_actions_on_another_operation_are_refused_and_change_nothing(engine):
    moa_b = connect(engine, "moa-b@chmv.fr", PASSWORD)
    opc_b = connect(engine, "opc-b@opc.fr", PASSWORD)
    amo_b = connect(engine, "amo-b@amo.fr", PASSWORD)
    alu = connect(engine, "alu@mal.fr", PASSWORD)
    before = dump(engine)
    for attempt in (lambda: opc_b.verify(f"{OP_A}-L05", 6),
                    lambda: moa_b.interrupt(f"{OP_A}-L05", 6, ["Attestation"]),
                    lambda: amo_b.record_guarantee(f"{OP_A}-L05", "G-X", "gapd", 100, T0.date(),
                                                   "Banque"),
                    lambda: alu.create_situation(f"{OP_B}-L05", "2026-06", now=T0)):
        with pytest.raises(PermissionDenied, match="opération"):
            attempt()
    assert dump(engine) == before
    # the same accounts act in their own operation
    n = alu.create_situation(f"{OP_A}-L05", "2026-06", now=T0)
    assert n == 7
    assert opc_b.refusal("verify", f"{OP_A}-L05", 6) is not None


def test_library_is_scoped_too(engine):
    from gesprokit.library.actions import deposit
    from gesprokit.library.reports import documents
    from gesprokit.sample_operation import sample_pdf
    from gesprokit.workflow import File

    alu = connect(engine, "alu@mal.fr", PASSWORD)
    before = dump(engine)
    with pytest.raises(PermissionDenied, match="opération « CHMV-SMR2 »"):
        deposit(engine, alu.actor, operation_code=OP_B, title="Carnet de détails des seuils",
                folder_code="plans-execution", discipline="MEN",
                file=File("a.pdf", sample_pdf("a")), now=T0)
    assert dump(engine) == before
    doc, _ = deposit(engine, alu.actor, operation_code=OP_A, title="Carnet de détails des seuils",
                     folder_code="plans-execution", discipline="MEN",
                     file=File("a.pdf", sample_pdf("a")), now=T0)
    assert list(documents(engine, alu.actor)["document_id"]) == [doc]
    opc_b = connect(engine, "opc-b@opc.fr", PASSWORD)
    assert documents(engine, opc_b.actor).empty


def test_revoking_disabling_and_resetting_act_on_open_sessions(engine):
    alu = connect(engine, "alu@mal.fr", PASSWORD)
    accounts.revoke(engine, "alu@mal.fr", OP_A, actor="admin@chmv.fr")
    with pytest.raises(AuthenticationFailed, match="opérations"):
        alu.create_situation(f"{OP_A}-L05", "2026-06", now=T0)
    alu = connect(engine, "alu@mal.fr", PASSWORD)  # logs in, but sees and does nothing
    assert alu.frames().contracts.empty
    with pytest.raises(PermissionDenied):
        alu.create_situation(f"{OP_A}-L05", "2026-06", now=T0)
    assert accounts.grant(engine, "alu@mal.fr", OP_A) is True
    assert accounts.grant(engine, "alu@mal.fr", OP_A) is False  # already granted
    alu = connect(engine, "alu@mal.fr", PASSWORD)
    assert accounts.set_disabled(engine, "alu@mal.fr", True) is True
    with pytest.raises(AuthenticationFailed):
        alu.create_situation(f"{OP_A}-L05", "2026-06", now=T0)
    with pytest.raises(AuthenticationFailed, match="incorrect"):
        connect(engine, "alu@mal.fr", PASSWORD)
    accounts.set_disabled(engine, "alu@mal.fr", False)
    alu = connect(engine, "alu@mal.fr", PASSWORD)
    code = accounts.start_password_reset(engine, "alu@mal.fr", actor="admin@chmv.fr")
    with pytest.raises(GesprokitError, match="invalide"):
        accounts.finish_password_reset(engine, "opc-a@opc.fr", code, "nouveau-mot-de-passe")
    accounts.finish_password_reset(engine, "alu@mal.fr", code, "nouveau-mot-de-passe")
    with pytest.raises(GesprokitError, match="déjà utilisé"):
        accounts.finish_password_reset(engine, "alu@mal.fr", code, "encore-un-autre")
    with pytest.raises(AuthenticationFailed):  # the session of the old password
        alu.create_situation(f"{OP_A}-L05", "2026-06", now=T0)
    assert connect(engine, "alu@mal.fr", "nouveau-mot-de-passe").create_situation(
        f"{OP_A}-L05", "2026-06", now=T0) == 7
    with engine.connect() as conn:
        actions = conn.execute(select(schema.Event.action, schema.Event.actor).where(
            schema.Event.action.in_(("grant", "revoke", "disable_user", "enable_user",
                                     "reset_password", "set_password"))
        ).order_by(schema.Event.event_id)).all()
        stored = conn.execute(select(schema.PasswordReset.token_sha256)).scalar()
    assert [a for a, _ in actions] == ["revoke", "grant", "disable_user", "enable_user",
                                       "reset_password", "set_password"]
    assert actions[0][1] == "admin@chmv.fr" and code not in stored  # only its hash is kept
    assert verify(engine).problems == []  # every change sealed by its event


def test_an_expired_reset_code_is_refused(engine):
    code = accounts.start_password_reset(engine, "alu@mal.fr", now=datetime(2026, 6, 1, 8))
    with pytest.raises(GesprokitError, match="expiré"):
        accounts.finish_password_reset(engine, "alu@mal.fr", code, "nouveau-mot-de-passe",
                                       now=datetime(2026, 6, 2, 8, 1))  # 24 h + 1 min


def test_admin_commands(engine, monkeypatch, capsys):
    url = str(engine.url)
    assert main(["user", "grant", "opc-a@opc.fr", "--operation", OP_B, "--db", url]) == 0
    assert "accordée" in capsys.readouterr().out
    assert main(["user", "grant", "opc-a@opc.fr", "--operation", "INCONNUE", "--db", url]) == 2
    assert "opération « INCONNUE » inconnue" in capsys.readouterr().err
    assert main(["user", "revoke", "opc-a@opc.fr", "--operation", OP_A, "--db", url]) == 0
    frames = connect(engine, "opc-a@opc.fr", PASSWORD).frames()
    assert set(frames.contracts["operation_code"]) == {OP_B}
    assert main(["user", "disable", "opc-a@opc.fr", "--db", url]) == 0
    with pytest.raises(AuthenticationFailed):
        connect(engine, "opc-a@opc.fr", PASSWORD)
    assert main(["user", "enable", "opc-a@opc.fr", "--db", url]) == 0
    assert main(["user", "reset", "opc-a@opc.fr", "--db", url]) == 0
    code = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{code}\nun-tout-nouveau\n"))
    assert main(["user", "password", "opc-a@opc.fr", "--stdin", "--db", url]) == 0
    assert connect(engine, "opc-a@opc.fr", "un-tout-nouveau").actor.operations == {OP_B}
    monkeypatch.setattr("sys.stdin", io.StringIO("mot-de-passe-du-nouveau\n"))
    assert main(["user", "add", "new@opc.fr", "--name", "Nouveau", "--company", "OPC",
                 "--role", "verifier", "--operation", OP_A, "--password-stdin",
                 "--db", url]) == 0
    assert "opérations : CHMV-EHPAD" in capsys.readouterr().out
    with engine.connect() as conn:
        actors = set(conn.execute(select(schema.Event.actor).where(
            schema.Event.action.in_(("grant", "revoke", "create_user")))).scalars())
    assert any(a.startswith("console (") for a in actors)


def test_chorus_check_as_an_account_of_another_operation_is_refused(engine, capsys):
    url = str(engine.url)
    assert main(["chorus", "check", f"{OP_A}-L05", "A19", "EAV-L05-06", "--n", "6", "--as",
                 "moa-b@chmv.fr", "--db", url]) == 2
    assert "opération « CHMV-EHPAD »" in capsys.readouterr().err


def test_open_pages_stop_reading_and_acting_once_the_account_changes(engine):
    """A page opened before a revocation neither reads nor deposits afterwards."""
    from gesprokit.sample_operation import sample_pdf
    from gesprokit.ui.pages import DocumentsPage

    session = connect(engine, "alu@mal.fr", PASSWORD)
    page = DocumentsPage(session, T0.date(), now=T0)
    form = page.form
    content = sample_pdf("Plan")
    form.upload.value = ({"name": "plan.pdf", "type": "application/pdf", "size": len(content),
                          "content": memoryview(content), "last_modified": T0},)
    form.title.value, form.discipline.value = "Plan de calepinage du hall", "MEN"
    accounts.revoke(engine, "alu@mal.fr", OP_A)
    before = dump(engine)
    assert form.submit() is None and "reconnectez-vous" in form.message.value
    assert dump(engine) == before
    with pytest.raises(AuthenticationFailed):
        session.frames()


def test_an_account_needs_a_real_address_and_a_name(engine):
    for email, name in (("  ", "Quelqu'un"), ("pas un courriel", "Quelqu'un"),
                        ("ok@opc.fr", " ")):
        with pytest.raises(GesprokitError):
            accounts.create_user(engine, email, name, "OPC", "verifier", PASSWORD)
    with pytest.raises(AuthenticationFailed):
        connect(engine, "alu@mal.fr", None)


def test_an_administrator_does_not_disable_itself(engine):
    admin = connect(engine, "admin@chmv.fr", PASSWORD)
    with pytest.raises(PermissionDenied, match="propre compte"):
        admin.administer("set_disabled", "admin@chmv.fr", True)
    assert admin.administer("set_disabled", "nobody@opc.fr", True) is True


def test_the_refusal_names_the_operation_before_the_company(engine):
    alu = connect(engine, "alu@mal.fr", PASSWORD)
    assert "n'est pas dans votre périmètre" in str(alu.refusal("submit", f"{OP_B}-L05", 1))
    assert "opération « CHMV-SMR2 »" in str(workflow.refusal(
        alu.actor, "submit", "draft", "MAL", operation=OP_B))  # MAL's contract, elsewhere


def test_the_next_actors_told_are_those_of_the_operation(engine):
    """A situation of operation A sent for verification: the OPC of A is told, the OPC of B
    (same role, same company) is not, nor an OPC granted nothing."""
    alu = connect(engine, "alu@mal.fr", PASSWORD)
    n = alu.create_situation(f"{OP_A}-L05", "2026-07", now=T0)
    alu.submit(f"{OP_A}-L05", n, now=T0)
    with engine.connect() as conn:
        told = set(conn.execute(text(
            "SELECT recipient FROM notification WHERE contract_id = :c AND n = :n"),
            {"c": f"{OP_A}-L05", "n": n}).scalars())
    assert "opc-a@opc.fr" in told
    assert not told & {"opc-b@opc.fr", "nobody@opc.fr"}
