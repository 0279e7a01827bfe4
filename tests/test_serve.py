"""`gesprokit serve` before it starts Voilà: the database it opens, the demonstration
accounts, and the French reasons it stops for."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from gesprokit import schema, serve
from gesprokit.cli import main
from gesprokit.db import get_engine
from gesprokit.errors import GesprokitError
from gesprokit.sample_operation import DEMO_ACCOUNTS


def users(url: str) -> set[str]:
    engine = get_engine(url)
    with engine.connect() as conn:
        found = set(conn.execute(select(schema.User.email)).scalars())
    engine.dispose()
    return found


def test_without_voila_it_stops_before_any_address(monkeypatch, capsys, sqlite_url):
    monkeypatch.setattr(serve, "missing_extras", lambda: serve.NOTEBOOK_EXTRAS)
    assert main(["serve", "--db", sqlite_url]) == 2
    out, err = capsys.readouterr()
    assert "http://" not in out
    assert "pip install -e '.[notebooks]'" in err


def test_a_base_without_accounts_is_not_served(capsys, sqlite_url):
    assert main(["demo", "--db", sqlite_url]) == 0
    capsys.readouterr()
    assert main(["serve", "--db", sqlite_url]) == 2
    out, err = capsys.readouterr()
    assert "http://" not in out and "aucun compte" in err and "--demo" in err


def test_demo_after_demo_creates_the_missing_accounts(sqlite_url):
    assert main(["demo", "--db", sqlite_url]) == 0  # the README's command 1: no account
    assert users(sqlite_url) == set()
    engine = get_engine(sqlite_url)
    with engine.begin() as conn:  # one account already exists, made by an administrator
        conn.execute(text("INSERT INTO app_user (email, name, company_code, role, "
                          "password_hash) VALUES ('opc@opc.fr', 'OPC', 'OPC', 'verifier', "
                          "NULL)"))
    engine.dispose()
    done = serve.prepare_demo(sqlite_url)
    assert f"{len(DEMO_ACCOUNTS) - 1} compte(s) de démonstration créé(s)" in done
    assert users(sqlite_url) == {email for email, *_ in DEMO_ACCOUNTS}
    # L05's May billing file went through the local stand-in of Chorus Pro: the MOA
    # suspended the MOE's A15, with its reason
    from gesprokit.chorus.billing import billing_files
    from gesprokit.integrity import verify

    assert "dossier Chorus Pro d'exemple déposé (L05, mai 2026 ; l'A15 suspendue)" in done
    files = billing_files(get_engine(sqlite_url))
    assert files[["contract_id", "file_key", "frame", "number", "status_label"]].values.tolist(
    ) == [["CHMV-EHPAD-L05", "n6", "A4", "PD-L05-06", "déposée"],
          ["CHMV-EHPAD-L05", "n6", "A15", "EA-L05-06", "suspendue"]]
    assert files["reason"].iloc[1] == ("pièce justificative manquante : Attestation "
                                       "d'assurance décennale 2026 de MAL à joindre à l'état "
                                       "d'acompte.")
    assert verify(get_engine(sqlite_url)).problems == []
    assert serve.prepare_demo(sqlite_url) == []  # nothing left to do the second time


def test_demo_refuses_a_base_of_another_operation(sqlite_url):
    from gesprokit.portfolio import portfolio, write_portfolio

    engine = get_engine(sqlite_url)
    write_portfolio(engine, portfolio(500))
    with pytest.raises(GesprokitError, match="autre opération"):
        serve.prepare_demo(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.User)).scalar() == 0
    engine.dispose()


def test_the_served_notebook_is_the_application_alone():
    command = serve.voila_command(8866)
    assert command[3].endswith("notebooks/gesprokit.ipynb")
    assert "--Voila.ip=127.0.0.1" in command
    # cross-site requests stay checked: no option turns the XSRF check off
    assert not any("xsrf" in part for part in command)
