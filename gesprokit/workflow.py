"""Workflow actions: the only way a situation changes.

Each action, in ONE transaction: reads the situation, checks the actor's role,
company and the situation's state (:func:`refusal`, from the circuit table),
validates its input, writes its rows, bumps the situation's version (a
concurrent change makes it fail with :class:`StaleState`) and appends exactly
one event to the audit log. A refused action raises a French error and
leaves the database as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from gesprokit import inputs, schema
from gesprokit.audit import append_events, writing
from gesprokit.circuit import (
    AMOUNT_REASON,
    RETURN_REASONS,
    ROLE_LABELS,
    STATE_LABELS,
    TRANSITIONS,
)
from gesprokit.contract_rules import before_amendment_problem
from gesprokit.file_checks import check_file
from gesprokit.notifications import notify_next
from gesprokit.workflow_errors import (
    InvalidTransition,
    PermissionDenied,
    StaleState,
    ValidationError,
)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Actor:
    """The person acting: e-mail, role and company (from their account)."""

    email: str
    role: str
    company_code: str
    name: str = ""
    # the operations the account is granted; None for the application's own actors (import,
    # Chorus Pro's status feed), which are not accounts
    operations: frozenset[str] | None = None


def out_of_scope(actor: Actor, operation: str | None) -> PermissionDenied | None:
    """The refusal for an account acting on an operation it is not granted (None: granted)."""
    if actor.operations is None or operation is None or operation in actor.operations:
        return None
    return PermissionDenied(f"Votre compte n'a pas de droit sur l'opération « {operation} » : "
                            "demandez-le à l'administrateur.")


@dataclass(frozen=True)
class File:
    """An attachment given to an action: its name and bytes (PDF only)."""

    name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def refusal(actor: Actor, action: str, status: str | None, contract_company: str | None,
            interrupted: bool = False, resumed: bool = False, *, operation: str | None = None
            ) -> PermissionDenied | InvalidTransition | None:
    """Why `actor` may not do `action` on a situation in `status`: the error the action
    would raise (not raised here), or None when it is allowed.

    The single permission rule, used by the actions and by the dashboards (which show
    ``str(refusal(...))`` beside a disabled button)."""
    t = TRANSITIONS[action]
    if actor.role == "auditor":
        return PermissionDenied("Un auditeur consulte tout mais ne modifie rien.")
    if actor.role != t.role:
        return PermissionDenied(f"Action « {t.label} » réservée au rôle "
                                f"« {ROLE_LABELS[t.role]} » (vous êtes "
                                f"« {ROLE_LABELS.get(actor.role, actor.role)} »).")
    scope = out_of_scope(actor, operation)
    if scope:
        return scope
    if actor.role == "contractor" and contract_company != actor.company_code:
        return PermissionDenied("Ce marché n'est pas celui de votre entreprise.")
    if status is None:
        return InvalidTransition("Situation inconnue.")
    if status not in t.from_states:
        expected = ", ".join(STATE_LABELS[s] for s in t.from_states)
        return InvalidTransition(f"Action « {t.label} » impossible : la situation est "
                                 f"« {STATE_LABELS[status]} » (attendu : {expected}).")
    if action == "interrupt" and interrupted:
        return InvalidTransition("Le délai de paiement a déjà été interrompu une fois "
                                 "(art. R2192-27).")
    if action == "resume" and (not interrupted or resumed):
        return InvalidTransition("Aucune interruption en cours à lever.")
    return None


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True,
                                                 default=str)


def store_attachment(conn: Connection, file: File, stored_name: str, max_bytes: int,
                     format_exception: str | None = None) -> str:
    """Check a file (PDF by its content, unless another format is justified; size) and store
    it once by its SHA-256, never overwritten; returns the hash."""
    if len(file.content) > max_bytes:
        raise ValidationError(f"« {file.name} » dépasse {max_bytes // 2**20} Mo.")
    check_file(file.name, file.content, format_exception)
    if not conn.execute(select(schema.Attachment.sha256).where(
            schema.Attachment.sha256 == file.sha256)).first():
        conn.execute(insert(schema.Attachment).values(
            sha256=file.sha256, name=stored_name[:200], size=len(file.content),
            content=file.content))
    return file.sha256


def _store_files(conn: Connection, files: list[File]) -> list[str]:
    return [store_attachment(conn, f, f.name, MAX_ATTACHMENT_BYTES) for f in files]


@dataclass
class _Context:
    conn: Connection
    actor: Actor
    contract: dict
    situation: dict | None
    now: datetime
    cache: dict = field(default_factory=dict)  # frames and ledger, read once per action
    mandate: dict | None = None  # the MOA mandate the actor acts under (gesprokit.mandates)

    def frames_and_ledger(self):
        """The contract's frames and ledger as they stand in the transaction (read once):
        what the ledger and the situation's documents read — the parties, and the journal
        of this situation only."""
        if "ledger" not in self.cache:
            from gesprokit.ledger import LINE_INPUT_COLUMNS, ledger_from_frames
            from gesprokit.store import LEDGER_TABLES, load_frames, read_table

            cid = self.contract["contract_id"]
            frames = load_frames(self.conn, [cid], (LEDGER_TABLES - {"progress"})
                                 | {"operations", "companies"})
            # the documents show no progress row: only what the ledger's line amounts read
            frames.progress = read_table(self.conn, schema.Progress.__table__, [cid],
                                         columns=LINE_INPUT_COLUMNS)
            if self.situation is not None:
                frames.events = read_table(self.conn, schema.Event.__table__, [cid],
                                           self.situation["n"])
            self.cache["frames"] = frames
            self.cache["ledger"] = ledger_from_frames(frames, as_of=self.now)
        return self.cache["frames"], self.cache["ledger"]


def _load(conn: Connection, contract_id: str, n: int | None, lock: bool = False
          ) -> tuple[dict, dict | None]:
    """The contract and situation `n` (if any); `lock`: the contract row is locked until the
    transaction ends (PostgreSQL), so that acts on the contract as a whole — opening a
    situation, the end of the contract — run one after the other."""
    query = select(schema.Contract).where(schema.Contract.contract_id == contract_id)
    contract = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if contract is None:
        raise ValidationError(f"Marché « {contract_id} » inconnu.")
    situation = None
    if n is not None:
        situation = conn.execute(select(schema.Situation).where(
            schema.Situation.contract_id == contract_id,
            schema.Situation.n == n)).mappings().first()
        if situation is None:
            raise ValidationError(f"Situation n°{n} du marché {contract_id} inconnue.")
    return dict(contract), dict(situation) if situation else None


MAX_SITUATIONS = 10_000  # monthly situations: centuries of them


def _run(engine: Engine, actor: Actor, action: str, contract_id: str, n: int,
         body: Callable[[_Context], dict], *, now: datetime | None,
         expected_version: int | None, comment: str | None = None,
         files: list[File] | None = None, document: str | None = None) -> dict:
    """The frame every situation action runs in (see the module docstring); `document`
    is the kind of PDF the action produces (gesprokit.documents), stored with its hash."""
    n = inputs.whole_number(n, "Numéro de situation", 1, MAX_SITUATIONS)
    if expected_version is not None:
        expected_version = inputs.whole_number(expected_version, "Version", 1, 10**9)
    now = (now or datetime.now()).replace(microsecond=0)
    t = TRANSITIONS[action]
    with writing(engine) as conn:
        contract, situation = _load(conn, contract_id, n)
        refused = refusal(actor, action, situation["status"], contract["company_code"],
                          situation["interrupted_at"] is not None,
                          situation["resumed_at"] is not None,
                          operation=contract["operation_code"])
        if refused:
            raise refused
        from gesprokit.mandates import acting_mandate, mandate_record

        mandate = acting_mandate(conn, actor, contract["operation_code"], action, now.date())
        version = situation["version"]
        if expected_version is not None and expected_version != version:
            raise StaleState(f"La situation n°{n} a été modifiée par ailleurs (version {version}, "
                             f"vous aviez la version {expected_version}) : rechargez-la.")
        # Claim the situation first: the version-guarded update takes its row lock, so a
        # concurrent action on it waits here and then finds the version changed.
        claimed = conn.execute(update(schema.Situation).where(
            schema.Situation.contract_id == contract_id, schema.Situation.n == n,
            schema.Situation.version == version).values(version=version + 1))
        if claimed.rowcount != 1:
            raise StaleState(f"La situation n°{n} vient d'être modifiée par un autre acteur : "
                             "rechargez-la.")
        ctx = _Context(conn, actor, contract, situation, now, mandate=mandate)
        details = body(ctx) or {}
        values = {}
        if t.to_state:
            values["status"] = t.to_state
        if t.stamp:
            values[t.stamp] = now
        values.update(details.pop("situation", {}))
        if values:
            conn.execute(update(schema.Situation).where(
                schema.Situation.contract_id == contract_id,
                schema.Situation.n == n).values(**values))
        hashes = _store_files(conn, files or [])
        before = {"status": situation["status"], **details.pop("before", {})}
        after = {"status": values.get("status", situation["status"]), **details.pop("after", {})}
        if mandate:
            after["mandate"] = mandate_record(mandate)
        pending = _pending_document(ctx, document) if document else None
        if pending:
            after["document"] = {"kind": document, "content_sha256": pending["sha256"]}
        notify_next(conn, action, contract, n, after["status"], now, comment)
        chained = append_events(
            conn, [{"at": now, "actor": actor.email, "role": actor.role, "action": action,
                    "contract_id": contract_id, "n": n, "before": _json(before),
                    "after": _json(after), "comment": comment,
                    "attachments": _json(hashes or None)}],
            sealed=[("situation", contract_id, n)])
        if pending:
            conn.execute(insert(schema.PendingDocument).values(
                event_hash=chained[-1], contract_id=contract_id, n=n, kind=document,
                name=pending["name"], content=pending["text"]))
    if document:
        after_commit(engine)
    after.pop("document", None)
    return after


def _lay_out_now(engine: Engine) -> None:
    from gesprokit.situation_documents import produce_documents

    produce_documents(engine)


# What runs once an action that produces a document has committed: the layout of its PDF
# (and of any left pending by an interrupted process). A caller that wants to answer first
# may replace it and run gesprokit.situation_documents.produce_documents itself.
after_commit: Callable[[Engine], None] = _lay_out_now


def _pending_document(ctx: _Context, kind: str) -> dict:
    """The action's document content, every figure taken from the ledger as it stands inside
    the transaction: its canonical JSON, SHA-256 and file name (laid out after the commit)."""
    from gesprokit.documents import content
    from gesprokit.situation_documents import content_text

    cid, n = ctx.contract["contract_id"], ctx.situation["n"]
    if kind == "demande":
        from gesprokit.ledger import ledger_from_frames

        frames = demande_frames(ctx.conn, cid, n)
        ledger = ledger_from_frames(frames, as_of=ctx.now)
    else:
        frames, ledger = ctx.frames_and_ledger()
    from gesprokit.company_profile import profile

    payee = profile(ctx.conn, ctx.contract["company_code"])
    signatory = None
    if ctx.mandate:
        mandataire = ctx.conn.execute(select(schema.Company.name).where(
            schema.Company.code == ctx.mandate["company_code"])).scalar()
        signatory = (f"{ctx.actor.name or ctx.actor.email} ({mandataire}), mandataire "
                     f"({ctx.mandate['reference']})")
    text, sha = content_text(content(kind, frames, ledger, cid, n, ctx.now, payee, signatory))
    return {"name": f"{kind}-{cid}-n{n}.pdf", "text": text, "sha256": sha}


def demande_frames(conn: Connection, contract_id: str, n: int):
    """The frames the demande d'acompte of situation `n` needs, read without the history:
    each line's % before the situation stands as situation n-1's entry, then situation
    `n`'s own entries. The ledger's cumulative works are sums of line changes, so they
    come out the same as from the whole history (a test compares both); the demande
    shows no revision, penalty or retention, whose tables are not read."""
    import pandas as pd

    from gesprokit.store import LEDGER_TABLES, load_frames, read_table, typed_frame

    # the demande shows works at initial prices only: no revision, penalty, guarantee or
    # direct payment to compute (their tables are left empty)
    frames = load_frames(conn, [contract_id], (LEDGER_TABLES - {
        "progress", "revision_terms", "subcontract_revision_terms", "price_index",
        "subcontracts", "adjustments", "guarantees", "rectifications"})
        | {"operations", "companies"})
    situations = frames.situations
    frames.situations = situations[situations["n"].between(n - 1, n)].reset_index(drop=True)
    frames.contracts = frames.contracts.assign(price_form="firm")  # at initial prices
    previous = _previous_pct(conn, contract_id, n)
    table = schema.Progress.__table__
    before = typed_frame(pd.DataFrame({
        "contract_id": [contract_id] * len(previous), "n": [n - 1] * len(previous),
        "line_no": list(previous), "pct_bp": list(previous.values()),
        "comment": [None] * len(previous)}), table)
    current = read_table(conn, table, [contract_id], n)
    frames.progress = pd.concat([before, current], ignore_index=True) if len(before) else current
    frames.events = read_table(conn, schema.Event.__table__, [contract_id], n)
    return frames


def _previous_pct(conn: Connection, contract_id: str, n: int) -> dict[str, int]:
    """Each line's cumulative % as of the situation before `n`: its entry in the latest
    situation that entered it (lines never entered are absent). One seek per price line in
    the index of each line's entries, not the whole history."""
    p, lines = schema.Progress.__table__, schema.PriceLine.__table__
    latest = (select(p.c.pct_bp)
              .where(p.c.contract_id == lines.c.contract_id, p.c.line_no == lines.c.line_no,
                     p.c.n < n)
              .order_by(p.c.n.desc()).limit(1).scalar_subquery())
    rows = conn.execute(select(lines.c.line_no, latest)
                        .where(lines.c.contract_id == contract_id)).all()
    return {line: pct for line, pct in rows if pct is not None}


def _write_progress(ctx: _Context, pcts: dict[str, int], comments: dict[str, str] | None,
                    require_reason: str | None) -> dict:
    """Check and write cumulative % per line; returns before/after for the event."""
    conn, cid, n = ctx.conn, ctx.contract["contract_id"], ctx.situation["n"]
    lines = {r.line_no: r for r in conn.execute(select(schema.PriceLine).where(
        schema.PriceLine.contract_id == cid))}
    current = {r.line_no: r.pct_bp for r in conn.execute(select(schema.Progress).where(
        schema.Progress.contract_id == cid, schema.Progress.n == n))}
    previous = _previous_pct(conn, cid, n)
    signed = dict(conn.execute(select(schema.Amendment.amendment_no, schema.Amendment.signed_on)
                               .where(schema.Amendment.contract_id == cid)).all())
    comments = {k: v.strip() for k, v in (comments or {}).items()
                if isinstance(v, str) and v.strip()}  # a blank comment justifies nothing
    problems = []
    for line_no, pct in pcts.items():
        line = lines.get(line_no)
        if line is None:
            problems.append(f"ligne « {line_no} » inconnue")
            continue
        if isinstance(pct, bool) or not isinstance(pct, int) or pct < 0:
            problems.append(f"ligne {line_no} : avancement invalide « {pct} »")
        elif pct > 10_000 and not line.may_exceed:
            problems.append(f"ligne {line_no} : avancement supérieur à 100 % non autorisé")
        elif pct < previous.get(line_no, 0) and not (comments.get(line_no) or require_reason):
            problems.append(f"ligne {line_no} : avancement en baisse "
                            f"({previous[line_no] / 100:g} % → {pct / 100:g} %) sans justification")
        elif line.amendment_no in signed:
            early = before_amendment_problem(line.amendment_no, signed[line.amendment_no],
                                             ctx.situation["month"], pct)
            if early:
                problems.append(f"ligne {line_no} : {early}")
    if problems:
        raise ValidationError("Avancement refusé : " + " ; ".join(problems) + ".")
    before, after, updates, inserts = {}, {}, [], []
    for line_no, pct in pcts.items():
        old = current.get(line_no, previous.get(line_no))
        if old == pct and line_no in current:
            continue
        before[line_no], after[line_no] = old, pct
        row = {"line": line_no, "pct": pct, "comment": comments.get(line_no) or require_reason}
        (updates if line_no in current else inserts).append(row)
    if updates:  # one statement for all the lines (executemany)
        conn.execute(update(schema.Progress).where(
            schema.Progress.contract_id == cid, schema.Progress.n == n,
            schema.Progress.line_no == bindparam("line")).values(
            pct_bp=bindparam("pct"), comment=bindparam("comment")), updates)
    if inserts:
        conn.execute(insert(schema.Progress), [
            {"contract_id": cid, "n": n, "line_no": r["line"], "pct_bp": r["pct"],
             "comment": r["comment"]} for r in inserts])
    if not after:
        return {}
    reasons = {line: comments[line] for line in after if line in comments}
    return {"before": {"pct_bp": before},
            "after": {"pct_bp": after, **({"justifications": reasons} if reasons else {})}}


def _require_justification(changed: bool, comment: str | None, files: list[File] | None,
                           need_file: bool) -> None:
    if not changed:
        return
    if not comment or not comment.strip():
        raise ValidationError("Toute modification exige un commentaire.")
    if need_file and not files:
        raise ValidationError("Toute modification exige une pièce jointe PDF.")


# --- contractor -----------------------------------------------------------------------


def create_situation(engine: Engine, actor: Actor, contract_id: str, month: str,
                     now: datetime | None = None) -> int:
    """Open the next situation (draft) of a contract; returns its number."""
    month = inputs.month(month)
    now = (now or datetime.now()).replace(microsecond=0)
    with _same_record_race("Cette situation vient d'être ouverte par un autre utilisateur : "
                           "actualisez la page."), writing(engine) as conn:
        contract, _ = _load(conn, contract_id, None, lock=True)
        refused = refusal(actor, "enter_progress", "draft", contract["company_code"],
                          operation=contract["operation_code"])
        if refused:
            raise refused
        if conn.execute(select(schema.FinalAccountRecord.claimed_at).where(
                schema.FinalAccountRecord.contract_id == contract_id)).first():
            raise InvalidTransition("Le projet de décompte final est transmis : le reste des "
                                    "travaux se règle par le décompte final, plus par une "
                                    "situation mensuelle.")
        last = conn.execute(select(schema.Situation).where(
            schema.Situation.contract_id == contract_id).order_by(
            schema.Situation.n.desc()).limit(1)).mappings().first()
        if last is not None and last["status"] not in ("validated", "paid"):
            raise InvalidTransition(
                f"La situation n°{last['n']} n'est pas encore validée par le maître d'ouvrage : "
                "un nouveau projet de décompte ne peut pas être ouvert.")
        if last is not None and month <= last["month"]:
            raise ValidationError(f"Le mois {month} doit suivre celui de la situation "
                                  f"n°{last['n']} ({last['month']}).")
        n = 1 if last is None else last["n"] + 1
        conn.execute(insert(schema.Situation).values(contract_id=contract_id, n=n, month=month,
                                                     status="draft", version=1))
        append_events(conn, [{"at": now, "actor": actor.email, "role": actor.role,
                              "action": "create", "contract_id": contract_id, "n": n,
                              "after": _json({"status": "draft", "month": month})}],
                      sealed=[("situation", contract_id, n)])
    return n


def enter_progress(engine: Engine, actor: Actor, contract_id: str, n: int,
                   pcts: dict[str, int], comments: dict[str, str] | None = None, *,
                   now: datetime | None = None, expected_version: int | None = None) -> dict:
    """Contractor: cumulative % per line (basis points) on its draft."""
    return _run(engine, actor, "enter_progress", contract_id, n,
                lambda ctx: _write_progress(ctx, pcts, comments, None), now=now,
                expected_version=expected_version)


def submit(engine: Engine, actor: Actor, contract_id: str, n: int, *,
           files: list[File] | None = None, comment: str | None = None,
           now: datetime | None = None, expected_version: int | None = None) -> dict:
    """Contractor validates its projet de décompte: the payment deadline starts now. Its
    comment and the files it joins (subcontractors' invoices…) go with it to the OPC."""
    comment = comment.strip() or None if isinstance(comment, str) else None
    return _run(engine, actor, "submit", contract_id, n, lambda ctx: {}, now=now,
                expected_version=expected_version, comment=comment, files=files,
                document="demande")


def joined(conn: Connection, contract_id: str, n: int, action: str
           ) -> tuple[str | None, list[File]]:
    """The comment and the files a person joined to the latest `action` on the situation
    (the document the action produced is bound by its own event)."""
    row = conn.execute(select(schema.Event.comment, schema.Event.attachments,
                              schema.Event.after).where(
        schema.Event.contract_id == contract_id, schema.Event.n == n,
        schema.Event.action == action).order_by(schema.Event.event_id.desc())).first()
    if row is None:
        return None, []
    hashes = json.loads(row.attachments) if row.attachments else []
    from gesprokit.situation_documents import binds_document

    if action in ("submit", "issue", "validate") and not binds_document(row.after):
        hashes = hashes[:-1]  # an older base stored the action's own PDF last in its event
    files = []
    for sha in hashes:
        found = conn.execute(select(schema.Attachment.name, schema.Attachment.content).where(
            schema.Attachment.sha256 == sha)).one()
        files.append(File(found.name, found.content))
    return row.comment, files


# --- verifier and MOE ----------------------------------------------------------------------


def _month_moved(ctx: _Context, month: str | None) -> bool:
    """Whether the situation's month changes; the new month must stay between its
    neighbours' (a situation covers its month, after the previous one, before the next)."""
    if month is None or month == ctx.situation["month"]:
        return False
    n = ctx.situation["n"]
    months = dict(ctx.conn.execute(select(schema.Situation.n, schema.Situation.month).where(
        schema.Situation.contract_id == ctx.contract["contract_id"],
        schema.Situation.n.in_([n - 1, n + 1]))).all())
    if n - 1 in months and month <= months[n - 1]:
        raise ValidationError(f"Mois : {month} doit suivre celui de la situation n°{n - 1} "
                              f"({months[n - 1]}).")
    if n + 1 in months and month >= months[n + 1]:
        raise ValidationError(f"Mois : {month} doit précéder celui de la situation n°{n + 1} "
                              f"({months[n + 1]}).")
    return True


def _with_month(details: dict, ctx: _Context, month: str) -> dict:
    """The action's details with the month change recorded (before/after, and the row)."""
    details.setdefault("before", {})["month"] = ctx.situation["month"]
    details.setdefault("after", {})["month"] = month
    details["situation"] = {"month": month}
    return details


def verify(engine: Engine, actor: Actor, contract_id: str, n: int, *,
           corrections: dict[str, int] | None = None, month: str | None = None,
           comment: str | None = None, files: list[File] | None = None,
           now: datetime | None = None, expected_version: int | None = None) -> dict:
    """OPC/BET: checks, may correct the month and cumulative % (comment + PDF required)."""
    month = None if month is None else inputs.month(month)
    def body(ctx: _Context) -> dict:
        moved = _month_moved(ctx, month)
        _require_justification(bool(corrections) or moved, comment, files, need_file=True)
        details = _write_progress(ctx, corrections or {}, None, comment) if corrections else {}
        return _with_month(details, ctx, month) if moved else details
    return _run(engine, actor, "verify", contract_id, n, body, now=now,
                expected_version=expected_version, comment=comment, files=files)


def issue(engine: Engine, actor: Actor, contract_id: str, n: int, *,
          corrections: dict[str, int] | None = None, adjustments: list[dict] | None = None,
          month: str | None = None, comment: str | None = None,
          files: list[File] | None = None, now: datetime | None = None,
          expected_version: int | None = None) -> dict:
    """MOE: may correct the month and the %, as the OPC may (a comment and a PDF justify
    it), applies penalties/bonuses (each with its reason) and issues the état d'acompte
    provisoire."""
    month = None if month is None else inputs.month(month)

    def body(ctx: _Context) -> dict:
        moved = _month_moved(ctx, month)
        _require_justification(bool(corrections) or moved, comment, files, need_file=True)
        details = _write_progress(ctx, corrections or {}, None, comment) if corrections else {}
        if moved:
            details = _with_month(details, ctx, month)
        added = []
        for adj in adjustments or []:
            kind, days, amount = adj.get("kind"), adj.get("days"), adj.get("amount_cents")
            if kind not in ("penalty", "bonus"):
                raise ValidationError("Ajustement : « penalty » (pénalité) ou « bonus » (prime).")
            if not (adj.get("reason") or "").strip():
                raise ValidationError("Chaque pénalité ou prime exige sa justification.")
            if (days is None) == (amount is None) or (kind == "bonus" and days is not None):
                raise ValidationError("Une pénalité se donne en jours ou en montant, une prime "
                                      "en montant.")
            days = None if days is None else inputs.days(days)
            amount = None if amount is None else inputs.amount(amount, "Montant de l'ajustement")
            ctx.conn.execute(insert(schema.Adjustment).values(
                contract_id=contract_id, n=n, kind=kind, days=days, amount_cents=amount,
                reason=adj["reason"].strip()))
            added.append({"kind": kind, "days": days, "amount_cents": amount})
        if added:
            details.setdefault("after", {})["adjustments"] = added
        return details
    return _run(engine, actor, "issue", contract_id, n, body, now=now,
                expected_version=expected_version, comment=comment, files=files,
                document="etat")


# --- AMO ---------------------------------------------------------------------------------


def accept(engine: Engine, actor: Actor, contract_id: str, n: int, *,
           comment: str | None = None, now: datetime | None = None,
           expected_version: int | None = None) -> dict:
    """AMO accepts the état d'acompte and passes it to the MOA."""
    return _run(engine, actor, "accept", contract_id, n, lambda ctx: {}, now=now,
                expected_version=expected_version, comment=comment)


def return_to_moe(engine: Engine, actor: Actor, contract_id: str, n: int, reason_code: str,
                  comment: str, files: list[File], *, now: datetime | None = None,
                  expected_version: int | None = None) -> dict:
    """AMO returns the état d'acompte to the MOE with a reason code, a comment and a PDF."""
    def body(ctx: _Context) -> dict:
        if reason_code == AMOUNT_REASON:
            raise ValidationError(
                "Un retour pour désaccord sur le montant n'est pas admis (Chorus Pro, depuis le "
                "19/02/2025) : le montant se corrige dans l'état d'acompte, puis se transmet.")
        if reason_code not in RETURN_REASONS:
            raise ValidationError(f"Motif de retour « {reason_code} » inconnu (motifs : "
                                  f"{', '.join(RETURN_REASONS)}).")
        if not comment or not comment.strip() or not files:
            raise ValidationError("Un retour exige un motif, un commentaire et une pièce PDF.")
        return {"after": {"reason_code": reason_code}}
    return _run(engine, actor, "return", contract_id, n, body, now=now,
                expected_version=expected_version, comment=comment, files=files)


def contract_action(engine: Engine, actor: Actor, contract_id: str, role: str, action: str,
                     write: Callable[[Connection], dict], now: datetime | None,
                     produced: list[File] | None = None) -> dict:
    """An action on a contract as a whole: the role's permission and scope, `write` in one
    transaction, one chained event sealing the contract; the PDFs `write` put in `produced`
    are stored by their hash and bound to the event."""
    now = (now or datetime.now()).replace(microsecond=0)
    with _same_record_race("Cet enregistrement vient d'être fait par un autre utilisateur : "
                           "actualisez la page."), writing(engine) as conn:
        contract, _ = _load(conn, contract_id, None, lock=True)
        if actor.role != role:
            raise PermissionDenied(f"Action réservée au rôle « {ROLE_LABELS[role]} » (vous "
                                   f"êtes « {ROLE_LABELS.get(actor.role, actor.role)} »).")
        refused = out_of_scope(actor, contract["operation_code"])
        if refused:
            raise refused
        from gesprokit.mandates import acting_mandate, mandate_record

        mandate = acting_mandate(conn, actor, contract["operation_code"], action, now.date())
        after = write(conn)
        if mandate:
            after = {**(after or {}), "mandate": mandate_record(mandate)}
        hashes = _store_files(conn, produced or [])
        append_events(conn, [{"at": now, "actor": actor.email, "role": actor.role,
                              "action": action, "contract_id": contract["contract_id"],
                              "after": _json(after), "attachments": _json(hashes or None)}],
                      sealed=[("contract", contract_id)])
    return after


@contextmanager
def _same_record_race(message: str):
    """Two users inserting the same key at the same instant (PostgreSQL): the loser's
    transaction is rolled back and gets a French StaleState instead of the driver's error."""
    try:
        yield
    except IntegrityError:
        raise StaleState(message) from None


def record_guarantee(engine: Engine, actor: Actor, contract_id: str, guarantee_id: str,
                     kind: str, amount_cents: int, received_on: date, issuer: str, *,
                     now: datetime | None = None) -> dict:
    """AMO records a garantie à première demande or caution replacing the retention."""
    amount_cents = inputs.amount(amount_cents, "Montant de la garantie")
    if kind not in ("gapd", "caution") or not isinstance(issuer, str) or not issuer.strip():
        raise ValidationError("Garantie : type gapd ou caution, montant positif, garant nommé.")

    def write(conn: Connection) -> dict:
        if conn.execute(select(schema.Guarantee.guarantee_id).where(
                schema.Guarantee.guarantee_id == guarantee_id)).first():
            raise ValidationError(f"La garantie « {guarantee_id} » est déjà enregistrée.")
        row = dict(guarantee_id=guarantee_id, contract_id=contract_id, kind=kind,
                   amount_cents=amount_cents, received_on=received_on, issuer=issuer.strip())
        conn.execute(insert(schema.Guarantee).values(**row))
        return row
    return contract_action(engine, actor, contract_id, "amo", "record_guarantee", write, now)


def declare_subcontract(engine: Engine, actor: Actor, contract_id: str, subcontract_id: str,
                        company_code: str, scope: str, amount_cents: int, accepted_on: date,
                        direct_payment: bool = True, *, now: datetime | None = None) -> dict:
    """AMO records an accepted subcontractor (DC4) and its direct payment."""
    amount_cents = inputs.amount(amount_cents, "Montant HT du sous-traité")
    scope = inputs.text(scope, "Objet du sous-traité")
    subcontract_id = inputs.text(subcontract_id, "Référence du sous-traité")

    def write(conn: Connection) -> dict:
        if conn.execute(select(schema.Company.code).where(
                schema.Company.code == company_code)).first() is None:
            raise ValidationError(f"Entreprise « {company_code} » inconnue.")
        if conn.execute(select(schema.Subcontract.subcontract_id).where(
                schema.Subcontract.subcontract_id == subcontract_id)).first():
            raise ValidationError(f"Le sous-traité « {subcontract_id} » est déjà déclaré.")
        row = dict(subcontract_id=subcontract_id, contract_id=contract_id,
                   company_code=company_code, scope=scope, amount_cents=amount_cents,
                   accepted_on=accepted_on, direct_payment=direct_payment)
        conn.execute(insert(schema.Subcontract).values(**row))
        return row
    return contract_action(engine, actor, contract_id, "amo", "declare_subcontract", write,
                            now)


# --- MOA and treasury ----------------------------------------------------------------------


def validate(engine: Engine, actor: Actor, contract_id: str, n: int, *,
             comment: str | None = None, now: datetime | None = None,
             expected_version: int | None = None, rectification_cents: int | None = None,
             justification: str | None = None) -> dict:
    """MOA validates the état d'acompte; its figures are recorded as validated.

    `rectification_cents`: the MOA's rectification of what this acompte makes due (signed,
    TTC), with its `justification`; the validated figures, the PDF, the A19 and the delays
    follow the rectified amount."""
    rect = 0 if rectification_cents is None else inputs.whole_number(
        rectification_cents, "Rectification (centimes)", -10**13, 10**13)
    reason = " ".join((justification or "").split())
    if rect and not reason:
        raise ValidationError("Rectification : la justification est obligatoire (elle figure "
                              "sur l'état validé et est notifiée à l'entreprise).")
    if rect and len(reason) > 2000:
        raise ValidationError("Motif de la rectification : 2 000 caractères au plus.")

    def body(ctx: _Context) -> dict:
        key = and_(schema.Rectification.contract_id == contract_id,
                   schema.Rectification.n == n)
        ctx.conn.execute(delete(schema.Rectification).where(key))
        if rect:
            ctx.conn.execute(insert(schema.Rectification).values(
                contract_id=contract_id, n=n, amount_cents=rect, reason=reason))
        row = ctx.frames_and_ledger()[1].situations
        row = row[row["n"] == n].iloc[0]
        if abs(rect) > int(row["total_ttc_cum"]):
            from gesprokit.money import format_eur

            raise ValidationError(
                f"Rectification de {format_eur(rect)} : plus grande que le total TTC cumulé "
                f"des travaux ({format_eur(int(row['total_ttc_cum']))}) ; vérifiez le montant.")
        figures = {c: int(row[c]) for c in schema.STATEMENT_COLUMNS}
        ctx.conn.execute(delete(schema.PaymentStatement).where(and_(
            schema.PaymentStatement.contract_id == contract_id,
            schema.PaymentStatement.n == n)))
        ctx.conn.execute(insert(schema.PaymentStatement).values(
            contract_id=contract_id, n=n, validated_at=ctx.now, **figures))
        after = {"net_month": figures["net_month"], "due_cum": figures["due_cum"]}
        if rect:
            after["rectification"] = {"amount_cents": rect, "reason": reason,
                                      "moe_net_month": figures["net_month"] - rect}
        return {"after": after}
    return _run(engine, actor, "validate", contract_id, n, body, now=now,
                expected_version=expected_version, comment=comment, document="valide")


def interrupt(engine: Engine, actor: Actor, contract_id: str, n: int,
              missing_pieces: list[str], *, now: datetime | None = None,
              expected_version: int | None = None) -> dict:
    """MOA interrupts the payment deadline once, listing the missing pieces (R2192-27/28)."""
    pieces = [p.strip() for p in missing_pieces if p and p.strip()]

    def body(ctx: _Context) -> dict:
        from gesprokit.delays import deadline_days, late_interruption_problem

        if not pieces:
            raise ValidationError("L'interruption doit lister les pièces manquantes.")
        operation = ctx.conn.execute(select(
            schema.Operation.buyer_kind, schema.Operation.deadline_days_override).where(
            schema.Operation.code == ctx.contract["operation_code"])).one()
        late = late_interruption_problem(ctx.situation["submitted_at"], ctx.now,
                                         deadline_days(*operation))
        if late:
            raise InvalidTransition(late[0].upper() + late[1:] + ".")
        return {"situation": {"interruption_reason": " ; ".join(pieces)},
                "after": {"missing_pieces": pieces}}
    return _run(engine, actor, "interrupt", contract_id, n, body, now=now,
                expected_version=expected_version, comment=" ; ".join(pieces))


def resume(engine: Engine, actor: Actor, contract_id: str, n: int, *,
           now: datetime | None = None, expected_version: int | None = None) -> dict:
    """MOA records the receipt of the missing pieces: a new delay starts (R2192-29)."""
    return _run(engine, actor, "resume", contract_id, n, lambda ctx: {}, now=now,
                expected_version=expected_version)


def pay(engine: Engine, actor: Actor, contract_id: str, n: int, *,
        now: datetime | None = None, expected_version: int | None = None) -> dict:
    """Treasury records the mise en paiement (``paid_at`` = now)."""
    return _run(engine, actor, "pay", contract_id, n, lambda ctx: {}, now=now,
                expected_version=expected_version)


def pay_advance(engine: Engine, actor: Actor, contract_id: str, *,
                now: datetime | None = None) -> dict:
    """Treasury records the payment of the contract's advance (paid without a payment
    request; its deadline runs from the date the contract sets, see gesprokit.delays)."""
    paid_at = (now or datetime.now()).replace(microsecond=0)

    def write(conn: Connection) -> dict:
        cents = record_advance_payment(conn, schema.Contract.contract_id, contract_id,
                                       f"marché {contract_id}", paid_at)
        return {"advance_paid_at": paid_at.isoformat(), "advance_cents": cents}
    return contract_action(engine, actor, contract_id, "treasury", "pay_advance", write, now)


def record_advance_payment(conn: Connection, key_column, key: str, named: str,
                           paid_at: datetime) -> int:
    """Record that the advance of the row `key_column == key` (a contract's or a
    subcontract's, `named` « marché … » / « sous-traité « … » ») is paid; returns its amount.
    Refused when there is none or it is paid already; guarded on the value read, so that of
    two treasurers at once the second one changes nothing."""
    table = key_column.class_
    row = conn.execute(select(table.advance_cents, table.advance_paid_at).where(
        key_column == key)).one()
    if not row.advance_cents:
        raise ValidationError(f"Le {named} ne prévoit pas d'avance.")
    if row.advance_paid_at is not None:
        raise InvalidTransition(f"L'avance du {named} est déjà payée (le "
                                f"{row.advance_paid_at:%d/%m/%Y}).")
    done = conn.execute(update(table).where(key_column == key,
                                            table.advance_paid_at.is_(None)).values(
        advance_paid_at=paid_at))
    if done.rowcount != 1:
        raise StaleState(f"L'avance du {named} vient d'être payée par un autre utilisateur : "
                         "actualisez la page.")
    return int(row.advance_cents)


def count_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.Event)).scalar()
