"""``gesprokit audit verify`` detects each tamper: on the journal (edited, deleted, inserted,
re-chained, forged, truncated, replaced), on the state tables outside it (progress, validated
figures, status, penalty, price line, guarantee, account role, password hash, grant), on the
stored files; and says nothing on an untouched base."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from datetime import datetime

import pytest
from conftest import SAMPLE, copy_base
from sqlalchemy import select, text

from gesprokit import journal, schema, workflow
from gesprokit.accounts import create_user
from gesprokit.audit import chain_events, event_hash
from gesprokit.cli import main
from gesprokit.db import get_engine
from gesprokit.importer import import_folder
from gesprokit.integrity import verify
from gesprokit.library.actions import deposit
from gesprokit.sample_operation import sample_pdf
from gesprokit.workflow import Actor, File

OP = "CHMV-EHPAD"
L05 = f"{OP}-L05"
ACTORS = {role: Actor(email, role, company, operations=frozenset({OP}))
          for role, email, company in (
              ("contractor", "alu@mal.fr", "MAL"), ("verifier", "opc@opc.fr", "OPC"),
              ("moe", "archi@arc.fr", "ARC"), ("amo", "amo@amo.fr", "AMO"),
              ("moa", "direction@chmv.fr", "CHMV"), ("treasury", "comptable@treso.fr", "TRESO"))}


def at(day: int) -> datetime:
    return datetime(2026, 7, day, 10, 0)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The sample, its accounts, a month of L05 through payment (with its PDFs), a deposited
    document: a base whose journal proves everything."""
    folder = tmp_path_factory.mktemp("integrity")
    engine = get_engine(f"sqlite:///{folder / 'base.db'}")
    import_folder(SAMPLE, engine, now=datetime(2026, 6, 1))
    for role, who in ACTORS.items():
        create_user(engine, who.email, who.email, who.company_code, role, "mot-de-passe-1",
                    operations=[OP])
    a = ACTORS
    workflow.create_situation(engine, a["contractor"], L05, "2026-06", now=at(1))
    workflow.enter_progress(engine, a["contractor"], L05, 7, {"05.04": 10_000}, now=at(1))
    workflow.submit(engine, a["contractor"], L05, 7, now=at(2))
    workflow.verify(engine, a["verifier"], L05, 7, now=at(3))
    workflow.issue(engine, a["moe"], L05, 7, now=at(4))
    workflow.accept(engine, a["amo"], L05, 7, now=at(5))
    workflow.validate(engine, a["moa"], L05, 7, now=at(6))
    workflow.pay(engine, a["treasury"], L05, 7, now=at(7))
    deposit(engine, a["contractor"], operation_code=OP, title="Carnet de détails des seuils",
            folder_code="plans-execution", discipline="MEN",
            file=File("seuils.pdf", sample_pdf("Seuils")), now=at(8))
    engine.dispose()
    return folder / "base.db"


@pytest.fixture
def copy(base, tmp_path):
    """A copy of the base at another address, with its checkpoint carried along."""
    engine = copy_base(base, tmp_path / "copy.db")
    yield engine
    engine.dispose()


def sql(engine, *statements: str, **params) -> None:
    """Statements run straight on the file, foreign keys off: what someone holding the base
    (not the application) can do."""
    with sqlite3.connect(engine.url.database) as con:
        con.execute("PRAGMA foreign_keys = OFF")
        for statement in statements:
            con.execute(statement, params)


def problems(engine, capsys) -> str:
    """Run the command as an auditor would; its exit code must say 'tampered'."""
    assert main(["audit", "verify", "--db", str(engine.url)]) == 1
    return capsys.readouterr().err


def last_event_id(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT max(event_id) FROM event")).scalar()


def test_an_untouched_base_verifies(copy, capsys):
    assert main(["audit", "verify", "--db", str(copy.url)]) == 0
    out = capsys.readouterr().out
    result = verify(copy)
    assert result.problems == [] and result.events > 540 and result.attachments == 4
    assert f"Journal intègre : {result.events} événements signés et chaînés" in out


def test_editing_an_event(copy, capsys):
    sql(copy, "UPDATE event SET at = '2025-05-01 00:00:00' WHERE event_id = 12")
    assert "événement n°12 : contenu modifié après coup" in problems(copy, capsys)


def test_deleting_an_event_in_the_middle(copy, capsys):
    sql(copy, "DELETE FROM event WHERE event_id = 40")
    assert "événement n°41 : lien rompu" in problems(copy, capsys)


def test_inserting_an_event_in_the_middle(copy, capsys):
    sql(copy, "UPDATE event SET event_id = event_id + 1000 WHERE event_id > 100",
        "UPDATE event SET event_id = event_id - 999 WHERE event_id > 1000")
    with copy.begin() as conn:
        row = dict(conn.execute(text("SELECT * FROM event WHERE event_id = 100")).mappings().one())
        row.update(event_id=101, comment="inséré")
        conn.execute(text("INSERT INTO event VALUES (:event_id, :at, :actor, :role, :action, "
                          ":contract_id, :n, :before, :after, :comment, :attachments, :seal, "
                          ":prev_hash, :hash || 'x', :mac)"), row)
    assert "lien rompu" in problems(copy, capsys)


def test_deleting_the_last_events(copy, capsys):
    newest = last_event_id(copy)
    sql(copy, f"DELETE FROM event WHERE event_id > {newest - 3}")
    err = problems(copy, capsys)
    assert f"journal tronqué : l'événement n°{newest}" in err


def test_truncation_stays_visible_after_a_later_action(copy, capsys):
    """Events deleted, then a legitimate action writes a new checkpoint: the lost one is
    kept, so the truncation is still reported."""
    newest = last_event_id(copy)
    sql(copy, f"DELETE FROM event WHERE event_id = {newest}")
    deposit(copy, ACTORS["contractor"], operation_code=OP, title="Notice des garde-corps",
            folder_code="plans-execution", discipline="MEN",
            file=File("gc.pdf", sample_pdf("GC")), now=at(9))
    assert f"point de contrôle disparu : l'événement n°{newest}" in problems(copy, capsys)


def rechain(engine, edit) -> None:
    """Rewrite the whole journal with `edit` applied, every hash recomputed (as an attacker
    without the key can), signatures left as they were."""
    with engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(text("SELECT * FROM event ORDER BY event_id"))
                .mappings()]
        prev = "0" * 64
        for row in rows:
            edit(row)
            row["at"] = datetime.fromisoformat(str(row["at"]))
            row["prev_hash"] = prev
            row["hash"] = prev = event_hash(row)
            conn.execute(text("UPDATE event SET actor = :actor, comment = :comment, "
                              "prev_hash = :prev_hash, hash = :hash WHERE event_id = :event_id"),
                         row)


def test_editing_an_event_and_recomputing_every_hash(copy, capsys):
    def edit(row):
        if row["action"] == "validate":
            row["actor"] = "quelqu-un@ailleurs.fr"
    rechain(copy, edit)
    assert verify_chain_only(copy) == []  # the plain chain is fooled …
    assert "signature invalide" in problems(copy, capsys)  # … the key is not


def verify_chain_only(engine) -> list[str]:
    from gesprokit.audit import verify_chain
    from gesprokit.store import read_table

    return verify_chain(read_table(engine, schema.Event.__table__))


def test_appending_a_forged_validate_event(copy, capsys):
    with copy.begin() as conn:
        prev = conn.execute(text("SELECT hash FROM event ORDER BY event_id DESC LIMIT 1")).scalar()
        forged = chain_events([{"at": at(20), "actor": "direction@chmv.fr", "role": "moa",
                                "action": "validate", "contract_id": L05, "n": 6}], prev,
                              key=b"not the journal key")
        conn.execute(schema.Event.__table__.insert(), forged)
    assert "signature invalide" in problems(copy, capsys)


def test_an_unsigned_event(copy, capsys):
    sql(copy, f"UPDATE event SET mac = NULL WHERE event_id = {last_event_id(copy)}")
    assert "non signé" in problems(copy, capsys)


@pytest.mark.parametrize("statement, expected", [
    ("UPDATE progress SET pct_bp = 9000 WHERE contract_id = :c AND n = 7 AND line_no = '05.04'",
     "situation n°7 du marché CHMV-EHPAD-L05 : modifié hors de l'application"),
    ("UPDATE payment_statement SET net_month = net_month + 100000 WHERE contract_id = :c "
     "AND n = 7", "situation n°7 du marché CHMV-EHPAD-L05 : modifié"),
    ("UPDATE situation SET status = 'validated', paid_at = NULL WHERE contract_id = :c AND n = 7",
     "situation n°7 du marché CHMV-EHPAD-L05 : modifié"),
    ("UPDATE adjustment SET days = 2 WHERE contract_id = :c AND n = 4",
     "situation n°4 du marché CHMV-EHPAD-L05 : modifié"),
    ("UPDATE price_line SET amount_cents = amount_cents + 1 WHERE contract_id = :c "
     "AND line_no = '05.04'", "marché CHMV-EHPAD-L05 : modifié"),
    ("UPDATE guarantee SET amount_cents = 1 WHERE contract_id = :c",
     "marché CHMV-EHPAD-L05 : modifié"),
    ("UPDATE app_user SET role = 'moa' WHERE email = 'alu@mal.fr'",
     "compte alu@mal.fr : modifié"),
    ("UPDATE app_user SET password_hash = 'scrypt$1024$8$1$00$00' WHERE email = 'alu@mal.fr'",
     "compte alu@mal.fr : modifié"),
    ("INSERT INTO operation_grant VALUES ('alu@mal.fr', 'CHMV-EHPAD-BIS', '2026-07-01', 'x')",
     "compte alu@mal.fr : modifié"),
    ("DELETE FROM progress WHERE contract_id = :c AND n = 3",
     "situation n°3 du marché CHMV-EHPAD-L05 : modifié"),
    ("INSERT INTO ecb_rate VALUES ('2027-01-01', 1)", "taux de la BCE : modifié"),
    # a reset code planted to take over the owner's account
    ("INSERT INTO password_reset VALUES ('" + hashlib.sha256(b"pirate").hexdigest() + "', "
     "'direction@chmv.fr', '2026-01-01 00:00:00', '2099-01-01 00:00:00', NULL)",
     "compte direction@chmv.fr : modifié"),
    ("UPDATE visa SET status = 'VSO'", "document CHMV-EHPAD-MAL-MEN-0001 : modifié"),
    ("UPDATE folder_right SET can_write = 1", "dossier comptes-rendus : modifié"),
])
def test_state_changed_outside_the_application(copy, capsys, statement, expected):
    sql(copy, statement, c=L05)
    assert expected in problems(copy, capsys)


def test_rows_added_without_any_event(copy, capsys):
    sql(copy, "INSERT INTO app_user (email, name, company_code, role) VALUES "
              "('intrus@x.fr', 'Intrus', 'CHMV', 'moa')")
    assert "compte intrus@x.fr : lignes présentes sans aucun événement" in problems(copy, capsys)


def test_a_stored_pdf_replaced(copy, capsys):
    with copy.begin() as conn:
        sha, name = conn.execute(select(schema.Attachment.sha256, schema.Attachment.name)
                                 ).first()
        conn.execute(text("UPDATE attachment SET content = :c WHERE sha256 = :s"),
                     {"c": sample_pdf("Autre contenu"), "s": sha})
    assert f"pièce « {name} » : contenu remplacé" in problems(copy, capsys)


def test_a_stored_pdf_removed(copy, capsys):
    with copy.connect() as conn:
        sha = conn.execute(text("SELECT sha256 FROM document_version")).scalar()
    sql(copy, "DELETE FROM attachment WHERE sha256 = :s", s=sha)
    assert f"pièce {sha[:12]}… citée par le journal ou un document : introuvable" in \
        problems(copy, capsys)


def test_the_base_replaced_by_another_journal(copy, capsys, tmp_path):
    other = get_engine(f"sqlite:///{tmp_path / 'other.db'}")
    import_folder(SAMPLE, other, now=datetime(2026, 6, 2))
    other.dispose()
    copy.dispose()
    shutil.copy(tmp_path / "other.db", copy.url.database)
    assert "la base a été remplacée par un autre journal" in problems(copy, capsys)


def test_the_journal_emptied(copy, capsys):
    sql(copy, "DELETE FROM event")
    assert "journal vidé" in problems(copy, capsys)


def test_a_forged_checkpoint(copy, capsys):
    path = journal.checkpoint_path(copy)
    data = json.loads(path.read_text())
    for entry in data.values():
        entry["hash"] = hashlib.sha256(b"x").hexdigest()
    path.write_text(json.dumps(data))
    err = problems(copy, capsys)
    assert "point de contrôle falsifié" in err


def test_without_the_key_nothing_is_called_intact(copy, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GESPROKIT_SECRETS_DIR", str(tmp_path / "ailleurs"))
    err = problems(copy, capsys)
    assert "clé du journal introuvable" in err and "aucun point de contrôle" in err


def test_opening_the_documents_page_writes_nothing(base, tmp_path):
    """A page that only shows must not change the base (a fresh base has no folder yet)."""
    from gesprokit.session import connect
    from gesprokit.ui.pages import DocumentsPage

    engine = get_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    import_folder(SAMPLE, engine, now=datetime(2026, 6, 1))
    create_user(engine, "alu@mal.fr", "Alu", "MAL", "contractor", "mot-de-passe-1",
                operations=[OP])
    page = DocumentsPage(connect(engine, "alu@mal.fr", "mot-de-passe-1"), at(1).date())
    page.widget()
    assert [v for _, v in page.form.folder.options] == ["plans-execution"]
    assert verify(engine).problems == []


def test_no_new_key_for_a_signed_journal(copy, monkeypatch, tmp_path):
    """A command run with another secrets folder refuses to sign instead of making a key
    that would make every later event unverifiable; nothing is written."""
    from gesprokit.errors import GesprokitError

    before = last_event_id(copy)
    monkeypatch.setenv("GESPROKIT_SECRETS_DIR", str(tmp_path / "autre-dossier"))
    with pytest.raises(GesprokitError, match="clé du journal introuvable .* journal signé"):
        workflow.create_situation(copy, ACTORS["contractor"], L05, "2026-07", now=at(20))
    assert last_event_id(copy) == before
    assert not (tmp_path / "autre-dossier" / "journal.key").exists()


def test_a_wrong_key_is_said_once(copy, capsys, monkeypatch, tmp_path):
    folder = tmp_path / "autre-dossier"
    folder.mkdir()
    (folder / "journal.key").write_text("00" * 32)
    monkeypatch.setenv("GESPROKIT_SECRETS_DIR", str(folder))
    err = problems(copy, capsys)
    assert "aucune des" in err and "n'est pas celle de cette base" in err
    assert "signature invalide" not in err


TAMPERINGS = {
    "written in bulk": (  # texts to escape, times with and without microseconds
        "UPDATE app_user SET name = 'Zoé \"la\" \\ ' || char(10, 9, 1, 8232) "
        "WHERE email = 'alu@mal.fr'",
        "UPDATE situation SET paid_at = '2026-07-07 10:00:00', verified_at = "
        "'2026-07-03 10:00:00.250000' WHERE contract_id = :c AND n = 7",
        "UPDATE event SET comment = 'vu' || char(13, 10, 12) || '\"ok\"' WHERE event_id = 20"),
    "left to the row code": (  # values of another type than the schema's
        "UPDATE event SET n = 6.5 WHERE event_id = 30",
        "UPDATE event SET at = '2026-07-01T10:00:00' WHERE event_id = 31",
        "UPDATE progress SET pct_bp = 12.5 WHERE contract_id = :c AND n = 7",
        "UPDATE price_line SET may_exceed = 2 WHERE contract_id = :c AND line_no = '05.04'",
        "UPDATE guarantee SET received_on = '2026-W02-1' WHERE contract_id = :c"),
}


@pytest.mark.parametrize("statements", TAMPERINGS.values(), ids=TAMPERINGS)
def test_the_bulk_reading_finds_what_the_row_code_finds(copy, statements):
    """audit verify reads a base in bulk; every event and state row it cannot write as the
    row code does is left to it: both readings of a tampered base are the same."""
    from gesprokit import bulk_audit
    from gesprokit.integrity import read_by_rows, read_in_bulk

    sql(copy, *statements, c=L05)
    key = journal.journal_key(create=False)
    with copy.connect() as conn, bulk_audit.reader(copy) as bulk, \
            bulk_audit.reader(copy) as side:
        in_bulk = read_in_bulk(conn, bulk, side, key)
        by_rows = read_by_rows(conn, key)
    assert in_bulk is not None and in_bulk.chain and in_bulk == by_rows


def test_the_bulk_reading_on_postgresql(postgres_engine):
    """PostgreSQL writes the texts itself too (booleans, dates, times with microseconds,
    escapes): the bulk reading is the row code's, on an intact base and a tampered one."""
    from datetime import date

    from sqlalchemy import insert

    from gesprokit import bulk_audit
    from gesprokit.audit import append_events, writing
    from gesprokit.integrity import read_by_rows, read_in_bulk

    with writing(postgres_engine) as conn:
        conn.execute(insert(schema.Company), [{"code": "E1", "name": 'Zoé "la" \\ \n\t\x01',
                                               "siret": "12345678200010", "is_sme": True}])
        conn.execute(insert(schema.EcbRate), [{"effective_on": date(2024, 6, 12),
                                               "rate_bp": 425}])
        conn.execute(insert(schema.User), [{
            "email": "zoe@e1.fr", "name": "Zoé", "company_code": "E1", "role": "moa",
            "disabled_at": datetime(2026, 7, 1, 10, 0, 0, 250_000)}])
        append_events(conn, [{"at": at(1), "actor": "console", "role": "admin",
                              "action": "import", "comment": "premier\tjet"}],
                      sealed=[("company", "E1"), ("ecb",), ("account", "zoe@e1.fr")])
    key = journal.journal_key(create=False)

    def readings():
        with postgres_engine.connect() as conn, bulk_audit.reader(postgres_engine) as bulk, \
                bulk_audit.reader(postgres_engine) as side:
            return read_in_bulk(conn, bulk, side, key), read_by_rows(conn, key)

    in_bulk, by_rows = readings()
    assert in_bulk == by_rows and verify(postgres_engine).problems == []
    with postgres_engine.begin() as conn:
        conn.execute(text("UPDATE company SET is_sme = false"))
        conn.execute(text("UPDATE event SET comment = 'retouché' WHERE action = 'import'"))
    in_bulk, by_rows = readings()
    assert in_bulk == by_rows and len(in_bulk.chain) == 1
    assert in_bulk.current["company|E1"] != in_bulk.sealed["company|E1"]


def test_chained_events_hash_as_event_hash_does():
    """chain_events writes each event's canonical JSON field by field: the hash is
    event_hash's on escapes, numbers, None, other types, times and seals; a changed field
    changes it."""
    from decimal import Decimal
    from random import Random

    values = [None, "", 'Zoé "la" \\ \n\t\x01\u2028\U0001F600', 5, -3, True, 1.5,
              Decimal("2.50"), {"b": 1, "a": [1, "x"]}, datetime(2026, 7, 1).date(), "vu"]
    pick = Random(7).choice
    events = [{"at": datetime(2026, 7, 1, 10, 0, 0, pick([0, 250_000])),
               **{k: pick(values) for k in ("actor", "role", "action", "contract_id", "n",
                                            "before", "after", "comment", "attachments",
                                            "seal")}} for _ in range(500)]
    key = b"k" * 32
    chained = chain_events(events, "0" * 64, key)
    prev = "0" * 64
    for ev in chained:
        assert ev["prev_hash"] == prev and ev["hash"] == event_hash(ev)
        assert ev["mac"] == journal.mac(key, ev["hash"])
        prev = ev["hash"]
    assert event_hash({**chained[3], "comment": "retouché"}) != chained[3]["hash"]


def test_the_seals_read_in_bulk_are_those_of_the_row_code():
    """A seal of one group is cut at fixed places; any other (several groups, a key to
    escape, a digest not in hex, unreadable) is read by json: the last seals are the row
    code's, in event order."""
    import pyarrow as pa

    from gesprokit import bulk_audit
    from gesprokit.integrity import last_seals

    rnd = __import__("random").Random(3)

    def digest() -> str:
        return f"{rnd.getrandbits(256):064x}"

    texts = []
    for _ in range(3000):
        r = rnd.random()
        if r < 0.5:
            texts.append(json.dumps({rnd.choice(["a|1", "é|3", 'c"d', "x\\y", "t\tb"]): digest()},
                                    ensure_ascii=rnd.random() < 0.5))
        elif r < 0.6:
            texts.append(json.dumps({"a|1": digest(), "z": digest()}, sort_keys=True))
        elif r < 0.7:
            texts.append(rnd.choice([None, "", "pas du JSON", json.dumps({"a|1": None})]))
        else:  # tampered: a digest one character off hex, or cut
            texts.append('{"a|1": "' + digest()[:-1] + rnd.choice(['G"}', '"}']))
    assert bulk_audit.last_seals(pa.array(texts, pa.string())) == last_seals(texts)


def test_rows_inserted_in_bulk_are_stored_as_sqlalchemy_stores_them(tmp_path):
    """bulk_insert goes through each column type's bind processor: times (with and without
    microseconds), dates, booleans and NULLs read back as an insert() stores them."""
    from datetime import date

    from sqlalchemy import insert

    from gesprokit.bulk_insert import insert_dicts

    engine = get_engine(f"sqlite:///{tmp_path / 'b.db'}")
    rows = [{"email": f"{i}@x.fr", "name": "Zoé", "company_code": "E1", "role": "moa",
             "disabled_at": datetime(2026, 7, 1, 10, 0, 0, 250_000 * (i % 2)) if i else None}
            for i in range(4)]
    with engine.begin() as conn:
        conn.execute(insert(schema.Company), [{"code": "E1", "name": "E", "is_sme": True,
                                               "siret": "12345678200010"}])
        insert_dicts(conn, schema.User.__table__, rows[:2])
        conn.execute(insert(schema.User), rows[2:])
        insert_dicts(conn, schema.EcbRate.__table__, [{"effective_on": date(2024, 6, 12),
                                                      "rate_bp": 425}])
    with sqlite3.connect(engine.url.database) as con:
        stored = con.execute("SELECT email, disabled_at, typeof(disabled_at) FROM app_user "
                             "ORDER BY email").fetchall()
        assert con.execute("SELECT effective_on FROM ecb_rate").fetchall() == \
            [("2024-06-12",)]
    assert [s[1] for s in stored] == [None, "2026-07-01 10:00:00.250000",
                                      "2026-07-01 10:00:00.000000",
                                      "2026-07-01 10:00:00.250000"]
    engine.dispose()


def test_events_appended_a_slice_at_a_time_chain_as_one_by_one(tmp_path, monkeypatch):
    """append_events chains, signs and inserts a long list a slice at a time: across the
    slices' edges each event links to the one before, the hashes are event_hash's, the
    last one carries the seal, and the base verifies."""
    from gesprokit import audit
    from gesprokit.audit import append_events, writing

    monkeypatch.setattr(audit, "CHAIN_SLICE", 3)
    engine = get_engine(f"sqlite:///{tmp_path / 'tranches.db'}")
    with writing(engine) as conn:
        conn.execute(schema.Company.__table__.insert(), [
            {"code": "E1", "name": "Entreprise", "siret": "12345678200010", "is_sme": True}])
        hashes = append_events(conn, [
            {"at": at(1 + k), "actor": "console", "role": "admin", "action": "import",
             "comment": f"pas {k}"} for k in range(8)], sealed=[("company", "E1")])
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(
            select(schema.Event).order_by(schema.Event.event_id)).mappings()]
    assert [r["hash"] for r in rows] == hashes and len(rows) == 9  # the journal's opening
    prev = "0" * 64
    for row in rows:
        assert row["prev_hash"] == prev and row["hash"] == event_hash(row)
        prev = row["hash"]
    assert [r["comment"] for r in rows[1:]] == [f"pas {k}" for k in range(8)]
    assert rows[-1]["seal"] is not None and all(r["seal"] is None for r in rows[:-1])
    assert verify(engine).problems == []
