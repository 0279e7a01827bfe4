"""The served application in Debian's Chromium: the login form of a preheated page, each
role's pages after the login (target 2 s), and the entry grid of a 500-line contract (time to
usable, target 3 s). Median of `loads` runs."""

from __future__ import annotations

import re
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROLE_PAGES = {
    "alu@mal.fr": ["Mes situations", "Chorus Pro", "Synthèse", "Documents et visas"],
    "opc@opc.fr": ["Vérification"],
    "archi@arc.fr": ["États d'acompte"],
    "amo@amo.fr": ["Acceptation et garanties", "Délais de paiement", "Audit"],
    "direction@chmv.fr": ["Validation"],
}
GRID_ACCOUNT = "grille@bench.fr"


def prepare_base(folder: Path) -> str:
    """The demonstration base plus one 500-line contract (12 months of history) whose
    contractor has an account, with a draft 13th situation."""
    from gesprokit import workflow
    from gesprokit.accounts import create_user
    from gesprokit.db import get_engine
    from gesprokit.portfolio import portfolio, write_portfolio
    from gesprokit.sample_operation import DEMO_PASSWORD
    from gesprokit.serve import prepare_demo
    from gesprokit.workflow import Actor

    url = f"sqlite:///{folder / 'bench.db'}"
    prepare_demo(url)
    engine = get_engine(url)
    p = portfolio(500 * 12, lines=500, months=12)
    write_portfolio(engine, p)
    contract = p.contracts.iloc[0]
    create_user(engine, GRID_ACCOUNT, "Grille", contract["company_code"], "contractor",
                DEMO_PASSWORD, operations=[contract["operation_code"]])
    actor = Actor(GRID_ACCOUNT, "contractor", contract["company_code"])
    last = p.situations[p.situations["contract_id"] == contract["contract_id"]]["month"].max()
    year, month = int(last[:4]), int(last[5:])
    following = f"{year + month // 12}-{month % 12 + 1:02d}"
    with engine.begin() as conn:  # the history is validated: a new month may be opened
        conn.exec_driver_sql("UPDATE situation SET status = 'paid' WHERE contract_id = ?",
                             (contract["contract_id"],))
    workflow.create_situation(engine, actor, contract["contract_id"], following,
                              now=datetime(2026, 11, 2, 9))
    engine.dispose()
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _field(page, label: str):
    return page.locator(".widget-inline-hbox", has=page.locator(
        f"label:text-is(\"{label}\")")).locator("input").first


def _login(browser, base: str, email: str):
    from gesprokit.sample_operation import DEMO_PASSWORD

    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"),
               lambda r: r.fulfill(status=200, body=""))
    start = time.perf_counter()
    page.goto(base + "/", wait_until="commit", timeout=240_000)
    page.get_by_text("Connexion", exact=True).wait_for(timeout=240_000)
    form = time.perf_counter() - start
    for label, value in (("Adresse électronique", email), ("Mot de passe", DEMO_PASSWORD)):
        _field(page, label).click()
        _field(page, label).type(value)
        _field(page, label).press("Tab")
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_text(f"Connecté : {email}").wait_for(timeout=120_000)
    return page, form


def _open(page, title: str, ready: str | None = None) -> float:
    start = time.perf_counter()
    page.get_by_role("button", name=title, exact=True).click()
    page.locator("h3", has_text=title).first.wait_for(timeout=120_000)
    if ready:
        page.locator(ready).first.wait_for(timeout=120_000)
    return time.perf_counter() - start


def run(loads: int = 3) -> None:
    from playwright.sync_api import sync_playwright

    from gesprokit.serve import voila_command

    folder = Path(tempfile.mkdtemp(prefix="gesprokit-bench-"))
    url = prepare_base(folder)
    port = free_port()
    proc = subprocess.Popen(voila_command(port), env={"GESPROKIT_DB": url,
                                                      **_environ()},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(base + "/", timeout=5)
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(10)  # let the pool fill
        figures: dict[str, list[float]] = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for _ in range(loads):
                for email, titles in ROLE_PAGES.items():
                    page, form = _login(browser, base, email)
                    figures.setdefault("formulaire de connexion", []).append(form)
                    for title in titles:
                        figures.setdefault(title, []).append(_open(page, title))
                    page.close(run_before_unload=True)
                page, _ = _login(browser, base, GRID_ACCOUNT)
                figures.setdefault("grille de 500 lignes", []).append(
                    _open(page, "Mes situations", "input[placeholder='001']"))
                page.close(run_before_unload=True)
                time.sleep(5)  # the pool refills
            browser.close()
        print(f"\n{'page (après connexion)':<32} {'médiane (s)':>12} {'cible':>7} {'ratio':>7}")
        for name, times in figures.items():
            target = 3.0 if name.startswith("grille") else 2.0
            median = statistics.median(times)
            print(f"{name:<32} {median:>12.2f} {target:>6.0f}s {median / target:>6.2f}×")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _environ() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "GESPROKIT_DB"}


if __name__ == "__main__":
    run()
