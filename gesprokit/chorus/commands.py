"""``gesprokit chorus …``: check, deposit and follow billing files from the command line."""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

from gesprokit.db import get_engine
from gesprokit.errors import GesprokitError
from gesprokit.money import format_eur, parse_cents
from gesprokit.workflow import Actor, File


def _reported(code: int):
    """Turn a refusal into its French message on stderr and exit `code` (2 for a piece the
    checker refused: nothing was sent)."""
    def wrap(command):
        @functools.wraps(command)
        def run(args) -> int:
            from gesprokit.chorus.billing import DepositRejected

            try:
                return command(args)
            except DepositRejected as exc:
                print(exc, file=sys.stderr)
                return 2
            except GesprokitError as exc:
                print(exc, file=sys.stderr)
                return code
        return run
    return wrap


def _actor(engine, email: str) -> Actor:
    from gesprokit.session import account

    found = account(engine, email)
    if found is None:
        raise GesprokitError(f"Compte « {email} » inconnu.")
    return found[0]


def _piece_args(engine, args) -> tuple[Actor, dict]:
    from gesprokit.chorus.checker import Amounts

    amounts = None
    given = [args.ht, args.tva, args.ttc, args.a_payer]
    if any(v is not None for v in given):
        if any(v is None for v in given):
            raise GesprokitError("Montants : donner --ht, --tva, --ttc et --a-payer ensemble.")
        amounts = Amounts(*(parse_cents(v) for v in given))
    files = [File(Path(f).name, Path(f).read_bytes()) for f in args.file or []]
    return _actor(engine, args.as_user), dict(n=args.n, amounts=amounts, files=files)


@_reported(2)
def cmd_check(args) -> int:
    from gesprokit.chorus.billing import check

    engine = get_engine(args.db)
    actor, kwargs = _piece_args(engine, args)
    problems = check(engine, actor, args.contract, args.frame, args.number, **kwargs)
    for problem in problems:
        print(f"- {problem}")
    print(f"{len(problems)} problème(s) : dépôt impossible en l'état." if problems
          else "Aucun problème : la pièce peut être déposée.")
    return 2 if problems else 0


@_reported(1)
def cmd_deposit(args) -> int:
    from gesprokit.chorus.billing import deposit
    from gesprokit.chorus.piste import PisteClient, PisteConfig

    engine = get_engine(args.db)
    actor, kwargs = _piece_args(engine, args)
    with PisteClient(PisteConfig.from_env()) as client:
        result = deposit(engine, client, actor, args.contract, args.frame, args.number,
                         **kwargs)
    from gesprokit.chorus.frames import status_label

    print(f"Déposé : facture Chorus Pro {result['chorus_id']} "
          f"({status_label(result['status'])}).")
    return 0


@_reported(1)
def cmd_poll(args) -> int:
    from gesprokit.chorus.billing import poll
    from gesprokit.chorus.frames import EFFECTS, status_label
    from gesprokit.chorus.piste import PisteClient, PisteConfig

    with PisteClient(PisteConfig.from_env()) as client:
        changes = poll(get_engine(args.db), client)
    for c in changes:
        effect = f" — {EFFECTS[c['effect']]}" if c["effect"] else ""
        print(f"{c['contract_id']} {c['file_key']} {c['frame']} n°{c['number']} : "
              f"{status_label(c['from'])} → {status_label(c['to'])} "
              f"({c['at']:%d/%m/%Y %H:%M}){effect}")
    print(f"{len(changes)} pièce(s) ont changé de statut.")
    return 0


@_reported(1)
def cmd_structure(args) -> int:
    from gesprokit.chorus.billing import refresh_structure
    from gesprokit.chorus.piste import PisteClient, PisteConfig

    with PisteClient(PisteConfig.from_env()) as client:
        s = refresh_structure(get_engine(args.db), client, args.siret, args.moa_mode)
    required = [label for flag, label in ((s.service_required, "code service"),
                                          (s.engagement_required, "engagement juridique"),
                                          (s.service_or_engagement,
                                           "code service ou engagement")) if flag]
    print(f"{s.name} ({s.siret}) : {s.moa_mode} ; exige : {', '.join(required) or 'rien'} ; "
          f"services actifs : {', '.join(sorted(s.services)) or 'aucun'}")
    return 0


def cmd_files(args) -> int:
    from gesprokit.chorus.billing import billing_files

    df = billing_files(get_engine(args.db))
    if df.empty:
        print("Aucune pièce déposée.")
        return 0
    for row in df.itertuples():
        effect = f" — {row.effect}" if row.effect else ""
        reason = f" — motif : {row.reason}" if row.reason else ""
        print(f"{row.contract_id} {row.file_key:<6} {row.frame:<4} n°{row.number:<20} "
              f"{format_eur(row.amount_to_pay):>16}  {row.status_label}"
              f" ({row.status_at:%d/%m/%Y}){reason}{effect}")
    return 0


@_reported(2)
def cmd_pdf(args) -> int:
    from gesprokit.chorus.billing import export_validated_pdf

    path = export_validated_pdf(get_engine(args.db), args.contract, args.n, args.output)
    print(f"État d'acompte validé écrit : {path}")
    return 0


def cmd_serve_local(args) -> int:
    """Run the contract server with the database's structures (demonstrations, tests)."""
    from gesprokit.chorus.contract_server import ContractServer
    from gesprokit.chorus.local import state_from_base

    state = state_from_base(get_engine(args.db))
    with ContractServer(state, port=args.port) as server:
        print(f"Serveur de contrat Chorus Pro sur {server.url} ({len(state.structures)} "
              "structures ; identifiants de démonstration). Variables à définir :")
        # the stand-in's own demonstration credentials, not those of a real account
        print(f"  export GESPROKIT_PISTE_OAUTH_URL={server.token_url}\n"
              f"  export GESPROKIT_PISTE_API_URL={server.url}\n"
              f"  export GESPROKIT_PISTE_CLIENT_ID={state.client_id}\n"
              f"  export GESPROKIT_PISTE_CLIENT_SECRET={state.client_secret}\n"
              f"  export GESPROKIT_PISTE_LOGIN={state.login}\n"
              f"  export GESPROKIT_PISTE_PASSWORD='{state.password}'", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
