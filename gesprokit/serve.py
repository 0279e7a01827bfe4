"""`gesprokit serve`: the dashboards application served by Voilà on this machine.

The database is resolved to an absolute URL before any kernel starts (kernels run in the
notebooks' folder, where a relative SQLite path would open another, empty file). One
notebook is served, the application (login first, then the role's pages): Voilà's file
list and the analysis notebooks are not reachable from the browser.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from sqlalchemy import func, select

from gesprokit import schema
from gesprokit.db import absolute_database_url, get_engine

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
APP_NOTEBOOK = NOTEBOOKS / "gesprokit.ipynb"
NOTEBOOK_EXTRAS = "pip install -e '.[notebooks]'"


def voila_command(port: int, notebook: Path = APP_NOTEBOOK,
                  host_names: tuple[str, ...] = ()) -> list[str]:
    """Voilà on 127.0.0.1 serving `notebook` alone, with preheated kernels (imports and an
    empty login form only) and idle kernels culled (a page view keeps ~190 MiB).

    Requests must name this machine (127.0.0.1, localhost) or one of `host_names` (the
    public name a reverse proxy forwards) in their Host header: a page of another site that
    resolves its own name to 127.0.0.1 (DNS rebinding) gets 403. XSRF checks stay on."""
    settings = {"allow_remote_access": False,
                "local_hostnames": ["localhost", *host_names]}
    return [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
            "--Voila.ip=127.0.0.1", "--preheat_kernel=True",
            "--VoilaConfiguration.default_pool_size=2",
            "--MappingKernelManager.cull_idle_timeout=600",
            "--MappingKernelManager.cull_interval=60",
            f"--Voila.tornado_settings={settings!r}"]


def missing_extras() -> str | None:
    """The install command to run when the notebook extras are absent, else None."""
    if importlib.util.find_spec("voila") is None or importlib.util.find_spec(
            "ipykernel") is None:
        return NOTEBOOK_EXTRAS
    return None


def prepare_demo(url: str) -> list[str]:
    """Fill an empty base with the sample operation, its library and one account per role;
    on a base already holding the sample operation, create the demonstration accounts that
    are missing. Returns what was done, in French (refusal: GesprokitError)."""
    from gesprokit.errors import GesprokitError
    from gesprokit.importer import import_folder
    from gesprokit.sample_operation import (
        OPERATION_CODE,
        SHIPPED_DIR,
        seed_demo_accounts,
        seed_demo_chorus,
        seed_demo_mandate,
        seed_demo_messages,
        seed_demo_profiles,
        seed_library,
    )

    engine = get_engine(url)
    done = []
    with engine.connect() as conn:
        codes = conn.execute(select(schema.Operation.code)).scalars().all()
        documents = conn.execute(select(func.count()).select_from(schema.Document)).scalar()
    if not codes:
        import_folder(SHIPPED_DIR, engine)
        done.append("opération d'exemple importée")
        codes = [OPERATION_CODE]
    if OPERATION_CODE not in codes:
        raise GesprokitError(
            "la base contient une autre opération que celle de démonstration : aucun compte "
            "de démonstration n'est créé (créez les comptes avec « gesprokit user add »).")
    created = seed_demo_accounts(engine, only_missing=True)
    if created:
        done.append(f"{len(created)} compte(s) de démonstration créé(s)")
    seed_demo_profiles(engine)
    seed_demo_messages(engine)
    seed_demo_mandate(engine)
    if seed_demo_chorus(engine):
        done.append("dossier Chorus Pro d'exemple déposé (L05, mai 2026 ; l'A15 suspendue)")
    if not documents:
        seed_library(engine)
        done.append("bibliothèque de documents d'exemple créée")
    engine.dispose()
    return done


def account_count(url: str) -> int:
    engine = get_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(schema.User)).scalar()
    engine.dispose()
    return int(count)


def serve(db: str | None, port: int, demo: bool, host_names: tuple[str, ...] = ()) -> int:
    """Check what the server needs, say it in French, then run Voilà until Ctrl-C."""
    import os

    from gesprokit.errors import GesprokitError
    from gesprokit.sample_operation import DEMO_ACCOUNTS, DEMO_PASSWORD

    extras = missing_extras()
    if extras:
        print("Les tableaux de bord demandent Voilà, absent de cet environnement. "
              f"Installez-le depuis le dossier de gesprokit : {extras}", file=sys.stderr)
        return 2
    url = absolute_database_url(db)
    if demo:
        try:
            done = prepare_demo(url)
        except GesprokitError as exc:
            print(f"Démonstration : {exc}", file=sys.stderr)
            return 2
        print(f"Base de démonstration : {url}" + (f" ({', '.join(done)})" if done else ""))
        print(f"Comptes de démonstration (mot de passe « {DEMO_PASSWORD} », démonstration "
              "uniquement) : " + ", ".join(email for email, *_ in DEMO_ACCOUNTS))
    if account_count(url) == 0:
        print(f"La base {url} n'a aucun compte : personne ne pourrait se connecter. Créez un "
              "compte (gesprokit user add …) ou, pour la démonstration, lancez "
              "« gesprokit serve --demo ».", file=sys.stderr)
        return 2
    print(f"Tableaux de bord : http://127.0.0.1:{port}/ (base {url} ; Ctrl-C pour arrêter)")
    sys.stdout.flush()
    sys.stderr.flush()
    # Voilà takes this process's place: Ctrl-C and a stop signal reach the server itself,
    # which then shuts its kernels down (a child server would outlive a stopped parent).
    command = voila_command(port, host_names=host_names)
    os.execve(command[0], command, {**os.environ, "GESPROKIT_DB": url})
    return 0  # not reached
