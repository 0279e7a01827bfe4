"""The ``gesprokit`` command line: the parser alone. Each command's code is imported when
the command runs (:mod:`gesprokit.commands`), so that ``gesprokit --help`` answers at once
without loading pandas, SQLAlchemy or the data model."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable


def _lazy(module: str, name: str) -> Callable:
    """The command `name` of `module`, imported on its first call."""
    def run(args) -> int:
        return getattr(importlib.import_module(module), name)(args)
    run.__name__ = name
    return run


def _dataset_options(p: argparse.ArgumentParser) -> None:
    """--dataset and --scheduler: the command on a partitioned dataset, with Dask."""
    p.add_argument("--dataset", metavar="DOSSIER",
                   help="jeu de données Parquet partitionné (export --partitioned) : calcul "
                        "distribué avec Dask, résultats en Parquet dans le dossier -o")
    p.add_argument("--scheduler", metavar="ADRESSE",
                   help="ordonnanceur Dask existant (tcp://hôte:8786 ; défaut : grappe locale)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gesprokit", description="Suivi financier des marchés publics de travaux.")
    sub = parser.add_subparsers(dest="command", required=True)
    db_help = "URL SQLAlchemy de la base (défaut : $GESPROKIT_DB ou sqlite:///gesprokit.db)"

    p = sub.add_parser("import", help="importer un dossier de données (CSV/XLSX)")
    p.add_argument("folder")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_import"))

    p = sub.add_parser("ledger", help="décompte cumulé de chaque situation (centimes)")
    p.add_argument("--db", help=db_help)
    p.add_argument("--contract", help="un seul marché")
    p.add_argument("--format", choices=["csv", "json", "table"], default="table")
    p.add_argument("--as-of", help="date de calcul (AAAA-MM-JJ) des situations non émises")
    p.add_argument("--known-at", help="le décompte tel qu'il était connu à cette date "
                                      "(AAAA-MM-JJ), reconstruit depuis le journal")
    p.add_argument("-o", "--output", help="fichier de sortie (défaut : sortie standard)")
    _dataset_options(p)
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_ledger"))

    p = sub.add_parser("delays", help="délais de paiement, retards et intérêts moratoires")
    p.add_argument("--db", help=db_help)
    p.add_argument("--format", choices=["csv", "json", "table"], default="table")
    p.add_argument("--as-of", help="date (AAAA-MM-JJ) à laquelle mesurer les situations non payées")
    p.add_argument("-o", "--output", help="fichier de sortie (défaut : sortie standard)")
    _dataset_options(p)
    p.add_argument("--summary", metavar="FICHIER.xlsx",
                   help="avec --dataset : synthèse de l'auditeur (intérêts par acheteur, année "
                        "et entreprise ; jours par acteur ; part des situations payées en retard)")
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_delays"))

    p = sub.add_parser("final", help="décompte général, état du solde et révision définitive "
                                     "d'un marché")
    p.add_argument("contract_id")
    p.add_argument("--db", help=db_help)
    p.add_argument("--part", choices=["general", "solde", "revision"], default="general",
                   help="décompte général (défaut), récapitulation des acomptes et du solde, "
                        "ou révision définitive mois par mois")
    p.add_argument("--format", choices=["csv", "json", "table"], default="table")
    p.add_argument("--as-of", help="date de calcul (AAAA-MM-JJ)")
    p.add_argument("-o", "--output", help="fichier de sortie (défaut : sortie standard)")
    p.add_argument("--pdf", help="écrire le document du décompte (projet de décompte final, "
                                 "projet de décompte général ou décompte général) en PDF")
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_final"))

    p = sub.add_parser("report", help="classeur Excel de l'auditeur")
    p.add_argument("--db", help=db_help)
    p.add_argument("--operation", help="code de l'opération (défaut : toutes)")
    p.add_argument("--as-of", help="date de calcul (AAAA-MM-JJ)")
    p.add_argument("-o", "--output", required=True, help="fichier .xlsx à écrire")
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_report"))

    p = sub.add_parser("export", help="exporter chaque tableau en CSV ou Parquet")
    p.add_argument("--db", help=db_help)
    p.add_argument("--operation", help="code de l'opération (défaut : toutes)")
    p.add_argument("--as-of", help="date de calcul (AAAA-MM-JJ)")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--partitioned", action="store_true",
                   help="avec --format parquet : les tables en jeu de données partitionné par "
                        "opération (pour ledger/delays --dataset)")
    p.add_argument("-o", "--output", required=True, help="dossier de sortie")
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_export"))

    p = sub.add_parser("user", help="comptes")
    users = p.add_subparsers(dest="user_command", required=True)
    p = users.add_parser("add", help="créer un compte (mot de passe demandé)")
    p.add_argument("email")
    p.add_argument("--name", required=True)
    p.add_argument("--company", required=True, help="code de l'entreprise")
    p.add_argument("--role", required=True)
    p.add_argument("--operation", action="append",
                   help="opération où le compte peut agir (répétable)")
    p.add_argument("--password-stdin", action="store_true",
                   help="lire le mot de passe sur l'entrée standard")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_user_add"))
    for name, text, on_operation in (
            ("grant", "accorder une opération à un compte", True),
            ("revoke", "retirer une opération à un compte", True),
            ("disable", "désactiver un compte (sessions ouvertes refusées)", False),
            ("enable", "réactiver un compte", False)):
        p = users.add_parser(name, help=text)
        p.add_argument("email")
        if on_operation:
            p.add_argument("--operation", required=True)
        p.add_argument("--db", help=db_help)
        p.set_defaults(func=_lazy("gesprokit.commands", "cmd_user_admin"))
    p = users.add_parser("reset", help="code de réinitialisation du mot de passe (courriel)")
    p.add_argument("email")
    p.add_argument("--smtp", help="serveur SMTP hôte:port (sans lui, le code est affiché)")
    p.add_argument("--sender", default="gesprokit@localhost")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_user_admin"))
    p = users.add_parser("password", help="choisir un nouveau mot de passe avec le code reçu")
    p.add_argument("email")
    p.add_argument("--stdin", action="store_true",
                   help="lire le code puis le mot de passe sur l'entrée standard")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_user_password"))

    p = sub.add_parser("index", help="publications d'index (révision des prix)")
    index = p.add_subparsers(dest="index_command", required=True)
    p = index.add_parser("import", help="ajouter les publications d'un fichier "
                                        "(index_code;month;value;published_on, ou le fichier "
                                        "de série téléchargé de l'INSEE)")
    p.add_argument("file")
    p.add_argument("--code", help="code de l'index d'un fichier INSEE dont le libellé ne le "
                                  "donne pas (ex. BT01)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_reference_import"))
    p = index.add_parser("list", help="publications enregistrées, corrections comprises")
    p.add_argument("--index", help="un seul index (ex. BT01)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_index_list"))
    p = sub.add_parser("ecb", help="taux directeurs de la BCE (intérêts moratoires)")
    ecb = p.add_subparsers(dest="ecb_command", required=True)
    p = ecb.add_parser("import", help="ajouter les taux d'un fichier (effective_on;rate)")
    p.add_argument("file")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_reference_import"))

    p = sub.add_parser("notify", help="envoyer les notifications en attente (et relancer)")
    p.add_argument("--smtp", default="127.0.0.1:25", help="serveur SMTP hôte:port")
    p.add_argument("--sender", default="gesprokit@localhost")
    p.add_argument("--remind-after", type=int, help="relancer les actions en attente depuis "
                                                    "N jours")
    p.add_argument("--base-url", help="adresse publique de l'application servie, pour les "
                                      "liens des courriels (défaut : $GESPROKIT_BASE_URL ; "
                                      "sans elle, le courriel nomme la page et l'identifiant)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_notify"))

    p = sub.add_parser("audit", help="vérifications d'audit")
    audit = p.add_subparsers(dest="audit_command", required=True)
    p = audit.add_parser("verify", help="vérifier le journal : chaîne, signatures, point de "
                                        "contrôle, état des tables et pièces")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_audit_verify"))

    p = sub.add_parser("serve", help="servir les tableaux de bord (Voilà) sur 127.0.0.1")
    p.add_argument("--db", help=db_help)
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--demo", action="store_true",
                   help="remplir une base vide avec l'opération et les comptes de démonstration")
    p.add_argument("--host-name", action="append",
                   help="nom public admis dans l'en-tête Host (derrière un mandataire inverse ; "
                        "répétable)")
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_serve"))

    from gesprokit.chorus.cli import add_commands as add_chorus_commands

    add_chorus_commands(sub, db_help)

    p = sub.add_parser("demo", help="charger l'opération d'exemple et afficher sa synthèse")
    p.add_argument("--db", help=db_help)
    p.add_argument("--data", help="dossier de données (défaut : data/ du projet)")
    p.add_argument("--out", help="dossier où écrire ledger.csv et la courbe en S")
    p.set_defaults(func=_lazy("gesprokit.commands", "cmd_demo"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
