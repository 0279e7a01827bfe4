"""``gesprokit chorus …``: the parser alone; each command's code
(:mod:`gesprokit.chorus.commands`) is imported when it runs."""

from __future__ import annotations

import argparse

from gesprokit.cli import _lazy


def add_commands(sub, db_help: str) -> None:
    """Register ``gesprokit chorus …`` on the main parser's subcommands."""
    p = sub.add_parser("chorus", help="Chorus Pro : contrôle, dépôt et suivi des pièces")
    chorus = p.add_subparsers(dest="chorus_command", required=True)

    def piece_parser(name: str, help_: str, func) -> argparse.ArgumentParser:
        q = chorus.add_parser(name, help=help_)
        q.add_argument("contract")
        q.add_argument("frame", help="cadre de facturation (A4, A15, A19, A7 …)")
        q.add_argument("number", help="numéro de la pièce (unique pour le déposant)")
        q.add_argument("--n", type=int, help="situation (absent : dossier de fin de marché)")
        q.add_argument("--as", dest="as_user", required=True,
                       help="compte (e-mail) au nom duquel la pièce est déposée")
        q.add_argument("--file", action="append", help="pièce jointe (répétable ; la première "
                       "est la pièce principale quand aucun document n'est produit)")
        for flag in ("--ht", "--tva", "--ttc", "--a-payer"):
            q.add_argument(flag, help="montant en euros (pièces de fin de marché)")
        q.add_argument("--db", help=db_help)
        q.set_defaults(func=func)
        return q

    piece_parser("check", "contrôler une pièce avant dépôt (tous les problèmes)",
                 _lazy("gesprokit.chorus.commands", "cmd_check"))
    piece_parser("deposit", "contrôler puis déposer une pièce (configuration "
                            "GESPROKIT_PISTE_*)", _lazy("gesprokit.chorus.commands",
                                                        "cmd_deposit"))
    q = chorus.add_parser("poll", help="relever les statuts des pièces en cours")
    q.add_argument("--db", help=db_help)
    q.set_defaults(func=_lazy("gesprokit.chorus.commands", "cmd_poll"))
    q = chorus.add_parser("structure", help="relire dans Chorus Pro les paramètres et services "
                                            "d'une structure publique")
    q.add_argument("siret")
    q.add_argument("--moa-mode", choices=["avec_moa", "exclusivement_moa", "sans_moa"],
                   help="paramètre MOA (absent de l'API ; obligatoire la première fois)")
    q.add_argument("--db", help=db_help)
    q.set_defaults(func=_lazy("gesprokit.chorus.commands", "cmd_structure"))
    q = chorus.add_parser("files", help="pièces déposées et leur statut")
    q.add_argument("--db", help=db_help)
    q.set_defaults(func=_lazy("gesprokit.chorus.commands", "cmd_files"))
    q = chorus.add_parser("pdf", help="écrire le PDF de l'état d'acompte validé à déposer")
    q.add_argument("contract")
    q.add_argument("n", type=int)
    q.add_argument("-o", "--output", required=True, help="dossier de sortie")
    q.add_argument("--db", help=db_help)
    q.set_defaults(func=_lazy("gesprokit.chorus.commands", "cmd_pdf"))
    q = chorus.add_parser("serve-local", help="serveur de contrat PISTE local (démonstration)")
    q.add_argument("--port", type=int, default=8780)
    q.add_argument("--db", help=db_help)
    q.set_defaults(func=_lazy("gesprokit.chorus.commands", "cmd_serve_local"))
