"""Opening a role's panel in a started kernel (libraries imported, the account logged in):
the contractor's « Mes situations », the OPC's « Vérification » and the MOE's « États
d'acompte », on SQLite bases of growing size. Each account is granted one operation (12
contracts), as on a real platform; the reference is what the same panel cost when a session
read the whole base and then kept the account's contracts (measured in the same run)."""

from __future__ import annotations

import tempfile
from datetime import datetime

from common import median_time

from gesprokit import accounts, session
from gesprokit.db import get_engine
from gesprokit.portfolio import portfolio, with_every_rule, write_portfolio
from gesprokit.store import load_frames
from gesprokit.ui.circuit_panels import ContractorPanel, MoePanel, VerifierPanel

TARGET = 0.5  # seconds, 1 000 000 progress rows
PASSWORD = "mot-de-passe-du-banc"
NOW = datetime(2026, 11, 23, 10)
PANELS = (("entreprise", "contractor", ContractorPanel), ("OPC", "verifier", VerifierPanel),
          ("MOE", "moe", MoePanel))


def _whole_base_frames(self):
    """The former reading: every row of the base, then the account's contracts kept."""
    from gesprokit.store import restrict_to_contracts

    frames = load_frames(self.engine)
    keep = self.visible_contracts(frames)
    frames = restrict_to_contracts(frames, keep)
    frames.events = frames.events[frames.events["contract_id"].isin(keep)]
    return frames


def _accounts(engine, p) -> dict[str, str]:
    first = p.contracts.iloc[0]
    other = p.companies["code"].iloc[-1]  # the OPC's and the MOE's own firm
    emails = {}
    for _label, role, _panel in PANELS:
        email = f"{role}@banc.fr"
        company = first["company_code"] if role == "contractor" else other
        accounts.create_user(engine, email, f"Compte {role}", company, role, PASSWORD,
                             now=NOW, operations=[first["operation_code"]])
        emails[role] = email
    return emails


def run(sizes: list[int], runs: int) -> None:
    print(f"\n{'lignes':>10} {'panneau':<11} {'ouverture (s)':>13} {'base entière (s)':>17} "
          f"{'ratio':>7} {'vs cible':>9}")
    for size in sizes:
        p = with_every_rule(portfolio(size))
        engine = get_engine(f"sqlite:///{tempfile.mkdtemp()}/panels.db")
        write_portfolio(engine, p)
        emails = _accounts(engine, p)
        for label, role, panel in PANELS:
            s = session.connect(engine, emails[role], PASSWORD)
            panel(s, NOW)  # a first opening warms what a started kernel has warm

            def forget(s=s):  # each opening reads the base, as after someone else's action
                s._read = None
            ours = median_time(lambda panel=panel, s=s: panel(s, NOW), runs, setup=forget)
            original = session.Session.frames
            session.Session.frames = _whole_base_frames
            try:
                before = median_time(lambda panel=panel, s=s: panel(s, NOW), max(1, runs // 2))
            finally:
                session.Session.frames = original
            versus = f"{ours / TARGET:>8.2f}×" if size >= 1_000_000 else f"{'—':>9}"
            print(f"{len(p.progress):>10} {label:<11} {ours:>13.3f} {before:>17.3f} "
                  f"{before / ours:>6.1f}× {versus}")
        engine.dispose()
    print(f"cible : {TARGET} s sur 1 000 000 de lignes (noyau déjà démarré) ; « base entière » : "
          "la lecture d'avant (toute la base, puis les marchés du compte).")
