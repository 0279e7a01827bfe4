"""The ``gesprokit`` command: import, ledger, delays, reports, accounts, Chorus Pro, demo."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from gesprokit import schema
from gesprokit.db import database_url, get_engine
from gesprokit.errors import ImportRejected
from gesprokit.importer import import_folder
from gesprokit.ledger import LEDGER_COLUMNS, check_ledger, ledger_from_frames
from gesprokit.months import parse_date
from gesprokit.store import load_frames


def _write_frame(df: pd.DataFrame, fmt: str, out: str | None) -> None:
    if fmt == "csv":
        text = df.to_csv(index=False)
    elif fmt == "json":
        text = df.to_json(orient="records", force_ascii=False, indent=1) + "\n"
    elif df.empty:
        text = "Aucune situation : rien à afficher.\n"
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None,
                               "display.width", 250):
            text = df.to_string(index=False) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _as_of(text: str | None) -> datetime | None:
    return datetime.combine(parse_date(text), datetime.max.time()) if text else None


def cmd_import(args) -> int:
    engine = get_engine(args.db)
    try:
        written = import_folder(args.folder, engine)
    except ImportRejected as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problème(s) : rien n'a été importé.", file=sys.stderr)
        return 2
    total = sum(written.values())
    print(f"Import réussi : {total} lignes dans {database_url(args.db)}")
    for table, count in written.items():
        if count:
            print(f"  {table:<14} {count:>8}")
    return 0


def cmd_ledger(args) -> int:
    if getattr(args, "dataset", None):
        from gesprokit.scale.commands import cmd_ledger_dataset

        return cmd_ledger_dataset(args)
    engine = get_engine(args.db)
    frames = load_frames(engine, [args.contract] if args.contract else None)
    if args.contract and frames.contracts.empty:
        print(f"Marché « {args.contract} » inconnu.", file=sys.stderr)
        return 2
    as_of = _as_of(args.as_of)
    if args.known_at:
        from gesprokit.history import frames_as_of

        known_at = _as_of(args.known_at)
        frames, as_of = frames_as_of(frames, known_at), as_of or known_at
    ledger = ledger_from_frames(frames, as_of=as_of)
    _write_frame(ledger.situations[LEDGER_COLUMNS], args.format, args.output)
    return 0


def cmd_delays(args) -> int:
    from gesprokit.report_data import ledger_and_delays

    if getattr(args, "dataset", None):
        from gesprokit.scale.commands import cmd_delays_dataset

        return cmd_delays_dataset(args)
    engine = get_engine(args.db)
    _ledger, delays = ledger_and_delays(load_frames(engine), _as_of(args.as_of) or datetime.now())
    for col in ("received_at", "paid_at"):
        delays[col] = delays[col].dt.strftime("%Y-%m-%dT%H:%M:%S")
    delays["deadline_on"] = delays["deadline_on"].dt.strftime("%Y-%m-%d")
    _write_frame(delays, args.format, args.output)
    return 0


def cmd_final(args) -> int:
    """gesprokit final CONTRACT_ID: the décompte général (as signed by the MOA, else as it
    stands), the état du solde's récapitulation or the definitive revision, in cents."""
    import json

    from gesprokit.end_of_contract import account_of, final_state
    from gesprokit.errors import GesprokitError
    from gesprokit.money import format_eur

    engine = get_engine(args.db)
    as_of = _as_of(args.as_of) or datetime.now()
    try:
        account = account_of(engine, args.contract_id, as_of)
    except GesprokitError as exc:
        print(exc, file=sys.stderr)
        return 2
    frames = load_frames(engine, [args.contract_id])
    record = frames.final_accounts.iloc[0].to_dict()
    reception = frames.receptions.iloc[0].to_dict() if len(frames.receptions) else None
    state = final_state(record, reception, as_of.date())
    if args.pdf:
        from gesprokit.final_documents import document_kind, render_final

        kind = document_kind(record)
        Path(args.pdf).write_bytes(render_final(kind, frames, account, as_of, state.stage))
        print(f"PDF écrit : {args.pdf}")
        return 0
    if args.part == "solde":
        df = account.recap.rename(columns={"net": "amount"})[["kind", "n", "month", "amount"]]
    elif args.part == "revision":
        df = account.revision
    else:
        df = account.headings()
        if isinstance(record.get("figures"), str):  # the figures the MOA signed
            signed = json.loads(record["figures"])
            df["amount"] = df["key"].map(signed).astype("int64")
    if args.format == "table":
        print(f"Marché {args.contract_id} – {state.stage}"
              + (" – révision provisoire (index non publiés)" if account.provisional else ""))
        df = _french_final(df, format_eur)
    _write_frame(df, args.format, args.output)
    return 0


def _french_final(df: pd.DataFrame, format_eur) -> pd.DataFrame:
    """A part of `gesprokit final` as people read it: French headers, euros."""
    df = df.drop(columns=[c for c in ("key",) if c in df])
    for col in ("amount", "works_month", "paid", "definitive", "difference"):
        if col in df:
            df[col] = df[col].map(format_eur)
    for col in ("paid_coef", "definitive_coef"):
        if col in df:
            df[col] = df[col].map(lambda v: "" if pd.isna(v) else f"{v:.4f}".replace(".", ","))
    if "month" in df:
        from gesprokit.months import format_month_fr

        df["month"] = df["month"].map(format_month_fr)
    return df.rename(columns={
        "label": "Rubrique", "amount": "Montant", "kind": "Nature", "n": "N°", "month": "Mois",
        "works_month": "Travaux du mois HT", "paid_coef": "Coefficient payé",
        "paid": "Révision payée", "definitive_coef": "Coefficient définitif",
        "definitive": "Révision définitive", "difference": "Écart"})


def _report_data(args):
    """What reports show for `--operation` (None, after printing why, when it is unknown)."""
    from gesprokit.report_data import build_report_data

    try:
        return build_report_data(get_engine(args.db), args.operation, as_of=_as_of(args.as_of))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return None


def cmd_report(args) -> int:
    from gesprokit.workbook import write_workbook

    data = _report_data(args)
    if data is None:
        return 2
    path = write_workbook(data, args.output, progress=sys.stderr.isatty())
    print(f"Classeur d'audit écrit : {path} ({len(data.ledger.situations)} situations, "
          f"{len(data.ledger.lines)} lignes)")
    return 0


def cmd_export(args) -> int:
    from gesprokit.export import export_frames

    if getattr(args, "partitioned", False):
        from gesprokit.scale.commands import cmd_export_dataset

        return cmd_export_dataset(args)
    data = _report_data(args)
    if data is None:
        return 2
    written = export_frames(data, args.output, args.format)
    print(f"{len(written)} fichiers {args.format} écrits dans {args.output}")
    return 0


def cmd_audit_verify(args) -> int:
    from gesprokit.integrity import verify

    result = verify(get_engine(args.db))
    if result.problems:
        print(f"Journal altéré : {len(result.problems)} anomalie(s) — {result.problems[0]}",
              file=sys.stderr)
        for problem in result.problems[1:]:
            print(problem, file=sys.stderr)
        return 1
    print(f"Journal intègre : {result.events} événements signés et chaînés, point de contrôle "
          f"retrouvé, {result.groups} ensembles de données conformes à leur dernier événement, "
          f"{result.attachments} pièces ré-empreintées.")
    return 0


def _admin_actor() -> str:
    import getpass

    return f"console ({getpass.getuser()})"


def cmd_user_add(args) -> int:
    import getpass

    from gesprokit.accounts import create_user
    from gesprokit.errors import GesprokitError

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass(
        "Mot de passe : ")
    try:
        create_user(get_engine(args.db), args.email, args.name, args.company, args.role,
                    password, actor=_admin_actor(), operations=args.operation or ())
    except GesprokitError as exc:
        print(exc, file=sys.stderr)
        return 2
    from gesprokit.circuit import ROLE_LABELS

    granted = ", ".join(sorted({o.strip() for o in args.operation or ()})) or "aucune opération"
    print(f"Compte créé : {args.email.strip().lower()} ({ROLE_LABELS[args.role]}, "
          f"{args.company}) ; opérations : {granted}")
    return 0


def cmd_user_admin(args) -> int:
    """grant, revoke, disable, enable, reset: one audited change of an account."""
    from gesprokit import accounts
    from gesprokit.errors import GesprokitError

    engine = get_engine(args.db)
    actor = _admin_actor()
    try:
        if args.user_command == "grant":
            done = accounts.grant(engine, args.email, args.operation, actor)
            print(f"Opération {args.operation} accordée à {args.email}" if done else
                  f"{args.email} avait déjà l'opération {args.operation}")
        elif args.user_command == "revoke":
            done = accounts.revoke(engine, args.email, args.operation, actor)
            print(f"Opération {args.operation} retirée à {args.email}" if done else
                  f"{args.email} n'avait pas l'opération {args.operation}")
        elif args.user_command in ("disable", "enable"):
            done = accounts.set_disabled(engine, args.email, args.user_command == "disable",
                                         actor)
            state = "désactivé" if args.user_command == "disable" else "réactivé"
            print(f"Compte {args.email} {state}" if done else f"Compte {args.email} déjà {state}")
        else:
            return _reset(engine, args, actor)
    except GesprokitError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _reset(engine, args, actor: str) -> int:
    from gesprokit.accounts import start_password_reset
    from gesprokit.errors import GesprokitError
    from gesprokit.password_reset import send_reset_code

    code = start_password_reset(engine, args.email, actor)
    if args.smtp:
        host, _, port = args.smtp.partition(":")
        try:
            send_reset_code(args.email, code, host, int(port or 25), args.sender)
        except (GesprokitError, ValueError):
            print(f"Courriel non envoyé (serveur {args.smtp} injoignable).", file=sys.stderr)
        else:
            print(f"Code de réinitialisation envoyé à {args.email} (valable 24 heures).")
            return 0
    print(f"Code de réinitialisation de {args.email}, valable 24 heures, à transmettre à "
          f"la personne par un canal sûr : {code}")
    return 0


def cmd_user_password(args) -> int:
    """The user sets a new password with the one-time code received."""
    import getpass

    from gesprokit.accounts import finish_password_reset
    from gesprokit.errors import GesprokitError

    if args.stdin:
        code = sys.stdin.readline().strip()
        password = sys.stdin.readline().rstrip("\n")
    else:
        code = getpass.getpass("Code reçu : ")
        password = getpass.getpass("Nouveau mot de passe : ")
    try:
        finish_password_reset(get_engine(args.db), args.email, code, password)
    except GesprokitError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"Mot de passe de {args.email} changé.")
    return 0


def cmd_reference_import(args) -> int:
    """gesprokit index|ecb import FILE: one audited event, all or nothing."""
    from gesprokit.errors import ImportRejected
    from gesprokit.importer.reference import import_reference

    kind = "index" if args.command == "index" else "ecb"
    try:
        done = import_reference(args.file, get_engine(args.db), kind,
                                actor=_admin_actor(), code=getattr(args, "code", None))
    except ImportRejected as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problème(s) : rien n'a été importé.", file=sys.stderr)
        return 2
    if kind == "index":
        print(f"{done['added']} publication(s) d'index ajoutée(s), {done['known']} déjà "
              "connue(s).")
    else:
        print(f"{done['added']} taux BCE ajouté(s), {done['known']} déjà connu(s).")
    return 0


def cmd_index_list(args) -> int:
    from gesprokit.importer.reference import index_publications
    from gesprokit.money import format_number

    df = index_publications(get_engine(args.db))
    if args.index:
        df = df[df["index_code"] == args.index]
    if df.empty:
        print("Aucune publication d'index.")
        return 0
    print(f"{'Index':<10} {'Mois':<8} {'Valeur':>10} {'Publié le':<11} ")
    for r in df.itertuples():
        value = format_number(r.value_e4 / 10_000, 4)
        note = "correction" if r.correction else ""
        print(f"{r.index_code:<10} {r.month:<8} {value:>10} {r.published_on:%d/%m/%Y}  {note}")
    return 0


def cmd_notify(args) -> int:
    from gesprokit.errors import GesprokitError
    from gesprokit.links import configured_base_url
    from gesprokit.notifications import remind, send_notifications

    try:
        base_url = configured_base_url(args.base_url)
    except GesprokitError as exc:
        print(f"--base-url / GESPROKIT_BASE_URL : {exc} ; rien n'a été envoyé.",
              file=sys.stderr)
        return 2
    engine = get_engine(args.db)
    if args.remind_after is not None:
        from gesprokit.library.actions import remind_late_visas

        print(f"{remind(engine, args.remind_after)} relance(s) créée(s)")
        print(f"{remind_late_visas(engine)} relance(s) de visa en retard créée(s)")
    host, _, port = args.smtp.partition(":")
    try:
        count = send_notifications(engine, host, int(port or 25), args.sender,
                                   base_url=base_url)
    except OSError as exc:
        print(f"Serveur SMTP {args.smtp} injoignable ({exc}) : messages conservés.",
              file=sys.stderr)
        return 1
    print(f"{count} message(s) envoyé(s)")
    return 0


def cmd_serve(args) -> int:
    from gesprokit.serve import serve

    return serve(args.db, args.port, args.demo, tuple(args.host_name or ()))


def cmd_demo(args) -> int:
    from gesprokit.sample_operation import OPERATION_CODE, SHIPPED_DIR, write_sample
    from gesprokit.summary import contract_summary, format_summary, plot_s_curve, s_curve

    engine = get_engine(args.db)
    with engine.connect() as conn:
        present = conn.execute(select(schema.Operation.code).where(
            schema.Operation.code == OPERATION_CODE)).first()
    data = Path(args.data) if args.data else SHIPPED_DIR
    if not present:
        if not (data / "operation.csv").exists():
            data = write_sample(Path(args.out or ".") / "sample-data")
        try:
            import_folder(data, engine)
        except ImportRejected as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"Opération d'exemple importée depuis {data} dans {database_url(args.db)}")
    else:
        print(f"Opération d'exemple déjà présente dans {database_url(args.db)}")
    frames = load_frames(engine)
    ledger = ledger_from_frames(frames)
    problems = check_ledger(ledger)
    op = frames.operations.iloc[0]
    print(f"\n{op['name']}\nMaître d'ouvrage : {op['buyer_name']}\n")
    summary = contract_summary(ledger.situations, frames.contracts, frames.amendments,
                               frames.companies)
    print(format_summary(summary))
    print(f"\n{len(ledger.situations)} situations, {len(ledger.lines)} lignes d'avancement ; "
          + ("rapprochements vérifiés." if not problems else
             f"{len(problems)} écart(s) de rapprochement !"))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        ledger.situations.to_csv(out / "ledger.csv", index=False)
        plot_s_curve(s_curve(ledger.situations, frames.contracts, frames.amendments,
                             frames.planned_progress),
                     "Courbe en S – travaux cumulés de l'opération", out / "courbe_en_s.png")
        print(f"Fichiers écrits dans {out}/ : ledger.csv, courbe_en_s.png")
    return 0 if not problems else 1
