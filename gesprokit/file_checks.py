"""What a deposited or attached file is, judged by its content (never by its name): a
complete PDF, or one of the few other formats a works file may justify (plans, models,
pictures, office documents). Executables, bare headers and polyglots are refused."""

from __future__ import annotations

import io
import zipfile

from gesprokit.workflow_errors import ValidationError

PDF_MAGIC = b"%PDF-"
# the formats an exception to the PDF rule may bring, by their first bytes
EXCEPTION_FORMATS = {
    "plan DWG": (b"AC10",),
    "maquette IFC": (b"ISO-10303-21",),
    "image PNG": (b"\x89PNG\r\n\x1a\n",),
    "image JPEG": (b"\xff\xd8\xff",),
}
OFFICE_ZIP = "document bureautique (XLSX, DOCX)"
MIN_JUSTIFICATION = 15  # characters: a reason, not a dot


def _is_office_zip(content: bytes) -> bool:
    if not content.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return False
    return "[Content_Types].xml" in names and all(
        not n.lower().endswith((".exe", ".dll", ".bat", ".cmd", ".js", ".vbs", ".ps1", ".sh"))
        for n in names)


def other_format(content: bytes) -> str | None:
    """The accepted non-PDF format of `content`, or None."""
    for label, magics in EXCEPTION_FORMATS.items():
        if content.startswith(magics):
            return label
    return OFFICE_ZIP if _is_office_zip(content) else None


def check_pdf(name: str, content: bytes) -> None:
    """A PDF that is only a PDF: its end marker present, no ZIP or HTML riding along."""
    if b"%%EOF" not in content[-2048:]:
        raise ValidationError(f"« {name} » : PDF incomplet (pas de fin de fichier %%EOF).")
    if b"PK\x05\x06" in content or b"PK\x03\x04" in content[:4096]:
        raise ValidationError(f"« {name} » : PDF qui contient aussi une archive ZIP, refusé.")
    head = content[:4096].lower()
    if any(marker in head for marker in (b"<html", b"<script", b"<!doctype", b"<svg")):
        raise ValidationError(f"« {name} » : PDF qui contient aussi une page web, refusé.")


def check_file(name: str, content: bytes, format_exception: str | None) -> None:
    """Refuse (French ValidationError) a file that is not a clean PDF, unless it is one of
    the accepted formats and the exception is justified in words."""
    if content.startswith(PDF_MAGIC):
        check_pdf(name, content)
        return
    reason = (format_exception or "").strip()
    if format_exception is None:
        raise ValidationError(f"« {name} » n'est pas un PDF (contenu vérifié, pas le nom).")
    kind = other_format(content)
    if kind is None:
        accepted = ", ".join([*EXCEPTION_FORMATS, OFFICE_ZIP])
        raise ValidationError(f"« {name} » n'est pas un PDF ni un format admis en exception "
                              f"({accepted}).")
    if len(reason) < MIN_JUSTIFICATION:
        raise ValidationError(f"« {name} » ({kind}) n'est pas un PDF : une exception au format "
                              f"doit être justifiée ({MIN_JUSTIFICATION} caractères au moins).")
