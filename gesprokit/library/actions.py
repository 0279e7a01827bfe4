"""Library actions: deposit, new version, visa, acknowledgement, reminders; and the reads
that respect folder rights. Each action runs in one transaction and writes one event."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select, update

from gesprokit import schema
from gesprokit.audit import append_events, writing
from gesprokit.library.identifiers import (
    DISCIPLINES,
    InvalidIdentifier,
    format_document_id,
    index_from_number,
    index_number,
    next_index,
    validate,
)
from gesprokit.notifications import inform
from gesprokit.workflow import Actor, File, out_of_scope, store_attachment
from gesprokit.workflow_errors import InvalidTransition, PermissionDenied, ValidationError

MAX_FILE_BYTES = 50 * 1024 * 1024
READ_ALL = ("contractor", "cocontractor", "subcontractor", "verifier", "moe", "amo", "moa",
            "treasury")
# folder -> (name, readers, writers); the auditor reads every folder
DEFAULT_FOLDERS = {
    "plans-execution": ("Plans et notes d'exécution des entreprises", READ_ALL,
                        ("contractor", "moe", "verifier")),
    "plans-moe": ("Pièces de la maîtrise d'œuvre", READ_ALL, ("moe",)),
    "comptes-rendus": ("Comptes rendus de réunion", READ_ALL, ("moe", "moa", "verifier")),
    "marche": ("Pièces du marché et documents du maître d'ouvrage",
               ("verifier", "moe", "amo", "moa", "treasury"), ("moa", "amo")),
    # what every company of the operation works from: read by all, written by the buyer's side
    "documents-marche": ("Documents du marché communs (CCAP, CCTP, planning, plans du DCE)",
                         READ_ALL, ("moa", "amo", "moe")),
}
VISA_RULES = {"plans-execution": ("moe", "verifier")}  # folder -> reviewers expected
VISA_DAYS = 15
VISA_STATUSES = {"VSO": "visa sans observation", "VAO": "visa avec observations",
                 "REF": "refusé", "HM": "hors mission"}
MEETING_FOLDER = "comptes-rendus"
_MONTHS = ("janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|"
           "novembre|décembre|decembre")
_DATE = re.compile(rf"\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b|"
                   rf"\b(?:{_MONTHS})\s+\d{{4}}\b|\b(?:19|20)\d{{2}}\b", re.IGNORECASE)
_INDEX = re.compile(r"\b(?:ind(?:ice)?|r[ée]v(?:ision)?)\.?\s*[A-Z]{1,2}\b", re.IGNORECASE)


def install_folders(conn: Connection) -> list[str]:
    """Create the default folders and their rights where they do not exist yet; returns the
    folders created (the action's event seals them)."""
    known = set(conn.execute(select(schema.Folder.folder_code)).scalars())
    created = []
    for code, (name, readers, writers) in DEFAULT_FOLDERS.items():
        if code in known:
            continue
        created.append(code)
        conn.execute(insert(schema.Folder).values(folder_code=code, name=name))
        roles = set(readers) | set(writers)
        conn.execute(insert(schema.FolderRight), [
            dict(folder_code=code, role=r, company_code="*", can_read=r in readers,
                 can_write=r in writers) for r in sorted(roles)])
    return created


def rights(conn: Connection, actor: Actor, folder_code: str) -> tuple[bool, bool]:
    """(may read, may write) `folder_code` for the actor."""
    if actor.role == "auditor":
        return True, False
    rows = conn.execute(select(schema.FolderRight).where(
        schema.FolderRight.folder_code == folder_code, schema.FolderRight.role == actor.role,
        schema.FolderRight.company_code.in_(("*", actor.company_code)))).mappings().all()
    return any(r["can_read"] for r in rows), any(r["can_write"] for r in rows)


def writable_folders(conn: Connection, actor: Actor) -> list[str]:
    """The default folders the actor may deposit in, read without writing anything (before
    the first deposit creates them, from their default rights)."""
    if conn.execute(select(schema.Folder.folder_code).limit(1)).first() is None:
        return [code for code, (_, _, writers) in DEFAULT_FOLDERS.items()
                if actor.role in writers]
    return [code for code in DEFAULT_FOLDERS if rights(conn, actor, code)[1]]


def check_title(conn: Connection, title: str) -> str:
    """A meaningful title: no revision index, no issuer name, no date (they are fields)."""
    title = " ".join(title.split())
    if len(title) < 5:
        raise ValidationError("Titre trop court : décrire le contenu du document.")
    if _INDEX.search(title):
        raise ValidationError("Le titre ne doit pas contenir d'indice : l'indice est un champ.")
    if _DATE.search(title):
        raise ValidationError("Le titre ne doit pas contenir de date : la date de dépôt est "
                              "enregistrée.")
    for code, name in conn.execute(select(schema.Company.code, schema.Company.name)):
        if re.search(rf"\b{re.escape(code)}\b", title, re.IGNORECASE) or \
                name.lower() in title.lower():
            raise ValidationError(f"Le titre ne doit pas contenir le nom d'un émetteur "
                                  f"(« {name} ») : l'émetteur est un champ.")
    return title


def safe_file_name(name: str) -> str:
    """A file name safe everywhere: no path, ASCII letters, digits, dot, dash, underscore."""
    base = re.split(r"[\\/]", name)[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem, dot, ext = ascii_name.rpartition(".")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem if dot else ascii_name).strip("_") or "document"
    return (stem[:80] + ("." + re.sub(r"[^A-Za-z0-9]", "", ext)[:8] if dot else "")).lower()


def _event(conn: Connection, actor: Actor, action: str, now: datetime, after: dict,
           comment: str | None = None, hashes: list[str] | None = None,
           folders: list[str] = ()) -> None:
    """The action's event, sealing its document (and the folders it created, if any)."""
    append_events(conn, [{"at": now, "actor": actor.email, "role": actor.role,
                          "action": action, "after": json.dumps(after, ensure_ascii=False,
                                                                sort_keys=True),
                          "comment": comment,
                          "attachments": json.dumps(hashes) if hashes else None}],
                  sealed=[("document", after["document_id"]),
                          *(("folder", f) for f in folders)])


def _in_scope(actor: Actor, operation_code: str) -> None:
    refused = out_of_scope(actor, operation_code)
    if refused:
        raise refused


def _document(conn: Connection, actor: Actor, document_id: str) -> dict:
    """The document, refused in French when unknown or outside the actor's operations."""
    document = conn.execute(select(schema.Document).where(
        schema.Document.document_id == document_id)).mappings().first()
    if document is None:
        raise ValidationError(f"Document « {document_id} » inconnu.")
    _in_scope(actor, document["operation_code"])
    return dict(document)


def _add_version(conn: Connection, actor: Actor, document: dict, index: str, file: File,
                 description: str | None, exception: str | None,
                 recipients: list[str] | None, now: datetime) -> str:
    sha = store_attachment(conn, file, safe_file_name(file.name), MAX_FILE_BYTES,
                           exception or "")
    conn.execute(insert(schema.DocumentVersion).values(
        document_id=document["document_id"], revision_index=index,
        index_number=index_number(index), description=description,
        file_name=safe_file_name(file.name), sha256=sha,
        format_exception=exception.strip() if exception else None, deposited_at=now,
        deposited_by=actor.email))
    conn.execute(update(schema.Visa).where(
        schema.Visa.document_id == document["document_id"],
        schema.Visa.status == "pending").values(status="superseded"))
    reviewers = VISA_RULES.get(document["folder_code"], ())
    if reviewers:
        due = (now + timedelta(days=VISA_DAYS)).date()
        conn.execute(insert(schema.Visa), [
            dict(document_id=document["document_id"], revision_index=index, reviewer_role=r,
                 due_on=due, status="pending") for r in reviewers])
        _notify(conn, reviewers_of(conn, document["operation_code"], reviewers), document,
                index, "info", now, f"Visa attendu : {document['title']} ({index})",
                f"Votre visa est attendu sur ce document avant le {due:%d/%m/%Y}. Rendez-le "
                "depuis la page « Documents et visas ».")
    if document["folder_code"] == MEETING_FOLDER:
        _distribute(conn, document, index, recipients, now)
    return sha


def _distribute(conn: Connection, document: dict, index: str, recipients: list[str] | None,
                now: datetime) -> None:
    people = sorted({r.strip().lower() for r in recipients or [] if r.strip()})
    if not people:
        raise ValidationError("Un compte rendu se diffuse : indiquer ses destinataires.")
    known = set(conn.execute(select(schema.User.email).where(
        schema.User.email.in_(people))).scalars())
    unknown = [p for p in people if p not in known]
    if unknown:
        raise ValidationError(f"Destinataires inconnus : {', '.join(unknown)}.")
    conn.execute(insert(schema.Distribution), [
        dict(document_id=document["document_id"], revision_index=index, recipient=p,
             notified_at=now) for p in people])
    _notify(conn, people, document, index, "info", now,
            f"Nouveau compte rendu : {document['title']} ({index})",
            "Un compte rendu vous est diffusé. Merci d'en accuser réception.")


def reviewers_of(conn: Connection, operation_code: str, roles) -> list[str]:
    """The enabled accounts of these roles granted the operation."""
    from gesprokit.accounts import granted_accounts

    return [a.email for a in granted_accounts(conn, operation_code, roles)]


def remind_late_visas(engine: Engine, now: datetime | None = None) -> int:
    """One reminder to the reviewers of each visa past its due date, once per visa and
    version; returns how many reminders were created."""
    now = (now or datetime.now()).replace(microsecond=0)
    created = 0
    with engine.begin() as conn:
        late = conn.execute(select(schema.Visa, schema.Document.title,
                                   schema.Document.operation_code).join(
            schema.Document, schema.Document.document_id == schema.Visa.document_id).where(
            schema.Visa.status == "pending", schema.Visa.due_on < now.date())).mappings().all()
        for visa in late:
            subject = (f"RELANCE – visa en retard : {visa['title']} ({visa['revision_index']}, "
                       f"{visa['reviewer_role']})")
            done = conn.execute(select(schema.Notification.notification_id).where(
                schema.Notification.document_id == visa["document_id"],
                schema.Notification.subject == f"[gesprokit] {subject}").limit(1)).first()
            people = reviewers_of(conn, visa["operation_code"], [visa["reviewer_role"]])
            if done or not people:
                continue
            days = (now.date() - visa["due_on"]).days
            _notify(conn, people, dict(document_id=visa["document_id"]),
                    visa["revision_index"], "reminder", now, subject,
                    f"Ce visa était attendu le {visa['due_on']:%d/%m/%Y} : {days} jour(s) de "
                    "retard. Rendez-le depuis la page « Documents et visas ».")
            created += len(people)
    return created


def _notify(conn: Connection, people: list[str], document: dict, index: str, kind: str,
            now: datetime, subject: str, text: str) -> None:
    if not people:  # nobody to tell (no reviewer granted the operation yet)
        return
    inform(conn, people, f"[gesprokit] {subject}", f"Bonjour,\n\n{text}\n\nDocument "
           f"{document['document_id']}, indice {index}.\n\n— gesprokit\n", now, kind=kind,
           document_id=document["document_id"])


def _pick_index(requested: str | None, last: str | None) -> str:
    """The proposed index (the next one) or a later one; never back, never reused."""
    proposed = next_index(last)
    if requested is None:
        return proposed
    try:
        index = validate(requested)
    except InvalidIdentifier as exc:
        raise ValidationError(str(exc)) from None
    if last is not None and index_number(index) <= index_number(last):
        raise ValidationError(f"Indice {index} refusé : le dernier indice est {last} (on ne "
                              f"revient pas en arrière et on ne réutilise pas un indice ; "
                              f"proposé : {proposed}).")
    return index


def deposit(engine: Engine, actor: Actor, *, operation_code: str, title: str,
            folder_code: str, discipline: str, file: File, lot_code: str | None = None,
            description: str | None = None, revision_index: str | None = None,
            format_exception: str | None = None, recipients: list[str] | None = None,
            now: datetime | None = None) -> tuple[str, str]:
    """Deposit a new document (first version); returns (identifier, index)."""
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        created_folders = install_folders(conn)
        if not conn.execute(select(schema.Operation.code).where(
                schema.Operation.code == operation_code)).first():
            raise ValidationError(f"Opération « {operation_code} » inconnue.")
        _in_scope(actor, operation_code)
        if lot_code is not None and not conn.execute(select(schema.Lot.code).where(
                schema.Lot.operation_code == operation_code,
                schema.Lot.code == lot_code)).first():
            raise ValidationError(f"Lot « {lot_code} » inconnu dans l'opération "
                                  f"« {operation_code} ».")
        if folder_code not in DEFAULT_FOLDERS and not conn.execute(select(
                schema.Folder.folder_code).where(schema.Folder.folder_code == folder_code)).first():
            raise ValidationError(f"Dossier « {folder_code} » inconnu.")
        if not rights(conn, actor, folder_code)[1]:
            raise PermissionDenied(f"Vous n'avez pas le droit de déposer dans « {folder_code} ».")
        if discipline not in DISCIPLINES:
            raise ValidationError(f"Spécialité « {discipline} » inconnue "
                                  f"({', '.join(DISCIPLINES)}).")
        clean_title = check_title(conn, title)
        sequence = (conn.execute(select(func.max(schema.Document.sequence)).where(
            schema.Document.operation_code == operation_code,
            schema.Document.issuer_code == actor.company_code,
            schema.Document.discipline == discipline)).scalar() or 0) + 1
        document_id = format_document_id(operation_code, actor.company_code, discipline,
                                         sequence)
        document = dict(document_id=document_id, operation_code=operation_code,
                        issuer_code=actor.company_code, discipline=discipline,
                        sequence=sequence, lot_code=lot_code, folder_code=folder_code,
                        title=clean_title, created_at=now, created_by=actor.email)
        conn.execute(insert(schema.Document).values(**document))
        index = _pick_index(revision_index, None)
        sha = _add_version(conn, actor, document, index, file, description, format_exception,
                           recipients, now)
        _event(conn, actor, "deposit", now, {"document_id": document_id, "index": index,
                                             "folder": folder_code, "title": clean_title},
               description, [sha], created_folders)
    return document_id, index


def new_version(engine: Engine, actor: Actor, document_id: str, file: File, *,
                revision_index: str | None = None, description: str | None = None,
                format_exception: str | None = None, recipients: list[str] | None = None,
                now: datetime | None = None) -> str:
    """A new version keeps every field of the document but its description and index."""
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        document = _document(conn, actor, document_id)
        if not rights(conn, actor, document["folder_code"])[1] or (
                actor.company_code != document["issuer_code"]):
            raise PermissionDenied("Seul l'émetteur du document en dépose un nouvel indice.")
        last = conn.execute(select(func.max(schema.DocumentVersion.index_number)).where(
            schema.DocumentVersion.document_id == document_id)).scalar()
        index = _pick_index(revision_index, index_from_number(last) if last else None)
        sha = _add_version(conn, actor, document, index, file, description, format_exception,
                           recipients, now)
        _event(conn, actor, "new_version", now, {"document_id": document_id, "index": index},
               description, [sha])
    return index


def give_visa(engine: Engine, actor: Actor, document_id: str, revision_index: str,
              status: str, observations: str | None = None,
              now: datetime | None = None) -> dict:
    """The reviewer's visa on a version: VSO, VAO, REF or HM (observations for VAO/REF)."""
    now = (now or datetime.now()).replace(microsecond=0)
    if status not in VISA_STATUSES:
        raise ValidationError(f"Visa « {status} » inconnu ({', '.join(VISA_STATUSES)}).")
    if status in ("VAO", "REF") and not (observations or "").strip():
        raise ValidationError("Un visa avec observations ou un refus exige ses observations.")
    with writing(engine) as conn:
        _document(conn, actor, document_id)
        visa = conn.execute(select(schema.Visa).where(
            schema.Visa.document_id == document_id, schema.Visa.revision_index == revision_index,
            schema.Visa.reviewer_role == actor.role)).mappings().first()
        if visa is None:
            raise PermissionDenied("Aucun visa n'est attendu de votre rôle sur cette version.")
        if visa["status"] != "pending":
            raise InvalidTransition(f"Visa déjà rendu ou sans objet ({visa['status']}).")
        conn.execute(update(schema.Visa).where(
            schema.Visa.document_id == document_id, schema.Visa.revision_index == revision_index,
            schema.Visa.reviewer_role == actor.role).values(
            status=status, observations=observations, given_at=now, given_by=actor.email))
        after = {"document_id": document_id, "index": revision_index, "visa": status,
                 "new_index_required": status == "REF" or (status == "VAO"
                                                           and bool(observations))}
        _event(conn, actor, "visa", now, after, observations)
    return after


def acknowledge(engine: Engine, actor: Actor, document_id: str, revision_index: str,
                now: datetime | None = None) -> None:
    """A recipient acknowledges receipt of a meeting report."""
    now = (now or datetime.now()).replace(microsecond=0)
    with writing(engine) as conn:
        _document(conn, actor, document_id)
        row = conn.execute(select(schema.Distribution).where(
            schema.Distribution.document_id == document_id,
            schema.Distribution.revision_index == revision_index,
            schema.Distribution.recipient == actor.email)).mappings().first()
        if row is None:
            raise PermissionDenied("Ce compte rendu ne vous a pas été diffusé.")
        if row["acknowledged_at"] is not None:
            raise InvalidTransition("Réception déjà accusée.")
        conn.execute(update(schema.Distribution).where(
            schema.Distribution.document_id == document_id,
            schema.Distribution.revision_index == revision_index,
            schema.Distribution.recipient == actor.email).values(acknowledged_at=now))
        _event(conn, actor, "acknowledge", now, {"document_id": document_id,
                                                 "index": revision_index})


def read_receipts(engine: Engine, actor: Actor, document_id: str) -> pd.DataFrame:
    """Who has acknowledged a meeting report (MOA and MOE only)."""
    if actor.role not in ("moa", "moe", "auditor"):
        raise PermissionDenied("Les accusés de réception sont suivis par le MOA et le MOE.")
    with engine.connect() as conn:
        _document(conn, actor, document_id)
        rows = conn.execute(select(schema.Distribution).where(
            schema.Distribution.document_id == document_id).order_by(
            schema.Distribution.revision_index, schema.Distribution.recipient)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[
        c.name for c in schema.Distribution.__table__.columns])


def remind_unread(engine: Engine, actor: Actor, document_id: str, revision_index: str,
                  now: datetime | None = None) -> list[str]:
    """Remind the recipients who have not acknowledged the report; returns them."""
    now = (now or datetime.now()).replace(microsecond=0)
    if actor.role not in ("moa", "moe"):
        raise PermissionDenied("Seuls le MOA et le MOE relancent les destinataires.")
    with writing(engine) as conn:
        document = _document(conn, actor, document_id)
        unread = conn.execute(select(schema.Distribution.recipient).where(
            schema.Distribution.document_id == document_id,
            schema.Distribution.revision_index == revision_index,
            schema.Distribution.acknowledged_at.is_(None))).scalars().all()
        if unread:
            _notify(conn, list(unread), document, revision_index, "reminder", now,
                    f"RELANCE – compte rendu à lire : {document['title']} ({revision_index})",
                    "Ce compte rendu attend votre accusé de réception.")
            conn.execute(update(schema.Distribution).where(
                schema.Distribution.document_id == document_id,
                schema.Distribution.revision_index == revision_index,
                schema.Distribution.acknowledged_at.is_(None)).values(reminded_at=now))
        _event(conn, actor, "remind_readers", now, {"document_id": document_id,
                                                    "index": revision_index,
                                                    "reminded": list(unread)})
    return list(unread)


def readable_document(conn: Connection, actor: Actor, document_id: str) -> dict:
    """The document if the actor may read it (its operation granted, its folder readable by
    the actor's role and company); refused in French otherwise. Whoever reads a document's
    file reads its thread (gesprokit.document_messages)."""
    document = _document(conn, actor, document_id)
    if not rights(conn, actor, document["folder_code"])[0]:
        raise PermissionDenied(f"Vous n'avez pas accès au dossier « "
                               f"{document['folder_code']} ».")
    return document


@dataclass(frozen=True)
class OpenedFile:
    """A version's file as a reader receives it."""

    document_id: str
    revision_index: str
    file_name: str
    content: bytes


def open_version(engine: Engine, actor: Actor, document_id: str,
                 revision_index: str | None = None) -> OpenedFile:
    """The file of a version (the last one by default), with its index and stored name, if
    the actor may read its folder (the one permission path of every read of a file)."""
    with engine.connect() as conn:
        readable_document(conn, actor, document_id)
        query = select(schema.DocumentVersion.revision_index, schema.DocumentVersion.file_name,
                       schema.Attachment.content).join(
            schema.DocumentVersion, schema.DocumentVersion.sha256 == schema.Attachment.sha256
        ).where(schema.DocumentVersion.document_id == document_id)
        if revision_index:
            query = query.where(schema.DocumentVersion.revision_index == revision_index)
        row = conn.execute(query.order_by(
            schema.DocumentVersion.index_number.desc()).limit(1)).first()
    if row is None:
        raise ValidationError(f"Indice « {revision_index} » inconnu pour {document_id}.")
    return OpenedFile(document_id, row.revision_index, row.file_name, row.content)


def read_document(engine: Engine, actor: Actor, document_id: str,
                  revision_index: str | None = None) -> bytes:
    """The file of a version (the last one by default), if the actor may read its folder."""
    return open_version(engine, actor, document_id, revision_index).content
