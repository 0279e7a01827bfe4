"""Pre-deposit checker: every problem of a piece before anything is sent to Chorus Pro.

Like a compiler, it reports all problems at once (references, SIRET, amounts, attachments,
number, frame) so that the person depositing fixes them in one go. Pure: the draft carries
everything it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from gesprokit.chorus.frames import Piece, frame_problems
from gesprokit.chorus.structures import (
    NUMBER_MAX_LEN,
    Structure,
    reference_problems,
    role_problems,
    siret_problem,
)
from gesprokit.money import format_eur, format_number

NAME_MAX_LEN = 50
FILE_MAX_BYTES = 10 * 1024 * 1024  # each file strictly below 10 Mo
TOTAL_MAX_BYTES = 120 * 1024 * 1024  # piece and attachments together
ALLOWED_EXTENSIONS = frozenset({
    "pdf", "xml", "jpg", "jpeg", "png", "gif", "tif", "tiff", "bmp", "xlsx", "xls", "ods",
    "docx", "doc", "odt", "pptx", "ppt", "odp", "txt", "csv", "rtf", "zip", "p7s",
})


@dataclass(frozen=True)
class Amounts:
    """A piece's amounts in cents: HT, VAT, TTC and the amount to pay."""

    ht: int
    vat: int
    ttc: int
    to_pay: int


@dataclass(frozen=True)
class AttachedFile:
    """A file joined to the piece: its name and size (the first one is the piece itself)."""

    name: str
    size: int
    content: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class DepositDraft:
    """Everything a piece needs before it is deposited."""

    kind: str
    frame: str
    role: str
    number: str
    supplier_siret: str | None
    depositor_siret: str | None
    moa: Structure | None
    payer: Structure | None
    service_code: str | None
    engagement_number: str | None
    market_number: str | None
    amounts: Amounts
    expected: Amounts | None  # the figures of the document it transmits (None: not checked)
    expected_source: str  # the document, after "de": "de l'état d'acompte validé"
    attachments: tuple[AttachedFile, ...]
    pieces: tuple[Piece, ...] = ()
    used_numbers: frozenset[str] = frozenset()
    on: date | None = None
    main_piece: str = "PDF du document transmis"  # what to join when it is missing
    # what the TTC total does not pay, as the piece states it
    discount_reason: str = "retenue de garantie, pénalités et remboursement d'avance"


def check_deposit(draft: DepositDraft) -> list[str]:
    """Every reason the piece may not be deposited yet ([] when it may)."""
    problems = frame_problems(draft.kind, draft.frame, draft.role, list(draft.pieces),
                              draft.on)
    problems += [p for p in (siret_problem(draft.supplier_siret, "du titulaire"),
                             siret_problem(draft.depositor_siret, "du déposant")) if p]
    if draft.moa is None:
        problems.append("structure Chorus Pro du maître d'ouvrage inconnue "
                        "(fiche d'identité du marché)")
    if draft.payer is None:
        problems.append("service financier destinataire inconnu (fiche d'identité du marché)")
    if draft.moa and draft.payer:
        problems += role_problems(draft.moa, draft.payer)
    if draft.payer:
        problems += reference_problems(draft.payer, draft.service_code, draft.engagement_number)
    if not (draft.market_number or "").strip():
        problems.append("numéro de marché manquant")
    problems += _number_problems(draft)
    problems += amount_problems(draft.amounts, draft.expected, draft.expected_source)
    problems += attachment_problems(draft.attachments, draft.main_piece)
    return problems


def _number_problems(draft: DepositDraft) -> list[str]:
    number = draft.number.strip()
    if not number:
        return ["numéro de facture manquant"]
    problems = []
    if len(number) > NUMBER_MAX_LEN:
        problems.append(f"numéro « {number} » trop long ({len(number)} caractères, "
                        f"{NUMBER_MAX_LEN} au plus)")
    if number in draft.used_numbers:
        problems.append(f"numéro « {number} » déjà utilisé par ce déposant (un numéro par "
                        "pièce et par fournisseur)")
    return problems


def amount_problems(amounts: Amounts, expected: Amounts | None, source: str) -> list[str]:
    """The amounts add up, and equal those of the document transmitted."""
    problems = []
    if amounts.ht + amounts.vat != amounts.ttc:
        problems.append(f"montants incohérents : HT {format_eur(amounts.ht)} + TVA "
                        f"{format_eur(amounts.vat)} ≠ TTC {format_eur(amounts.ttc)}")
    if expected is not None:
        for label, attr in (("HT", "ht"), ("TVA", "vat"), ("TTC", "ttc"),
                            ("net à payer", "to_pay")):
            got, want = getattr(amounts, attr), getattr(expected, attr)
            if got != want:
                problems.append(f"montant {label} {format_eur(got)} différent de celui "
                                f"{source} ({format_eur(want)})")
    return problems


def attachment_problems(files: tuple[AttachedFile, ...] | list[AttachedFile],
                        main_piece: str = "PDF du document transmis") -> list[str]:
    """Chorus Pro's rules for attachments (name, extension, size, total)."""
    if not files:
        return [f"pièce principale ({main_piece}) manquante"]
    problems = []
    if files[0].name.rsplit(".", 1)[-1].lower() != "pdf":
        problems.append(f"la pièce principale « {files[0].name} » doit être un PDF")
    seen = set()
    for f in files:
        if len(f.name) > NAME_MAX_LEN:
            problems.append(f"nom de pièce jointe trop long « {f.name} » ({len(f.name)} "
                            f"caractères, {NAME_MAX_LEN} au plus)")
        ext = f.name.rsplit(".", 1)[-1].lower() if "." in f.name else ""
        if ext not in ALLOWED_EXTENSIONS:
            problems.append(f"extension non admise pour « {f.name} » "
                            f"(admises : {', '.join(sorted(ALLOWED_EXTENSIONS))})")
        if f.size >= FILE_MAX_BYTES:
            problems.append(f"« {f.name} » pèse {_mb(f.size)} Mo (moins de 10 Mo "
                            "par fichier)")
        if f.size == 0:
            problems.append(f"« {f.name} » est vide")
        if f.name in seen:
            problems.append(f"pièce jointe « {f.name} » en double")
        seen.add(f.name)
    total = sum(f.size for f in files)
    if total > TOTAL_MAX_BYTES:
        problems.append(f"pièces jointes : {_mb(total)} Mo au total (120 Mo au plus)")
    return problems


def _mb(size: int) -> str:
    return format_number(size / 2**20, 1)
