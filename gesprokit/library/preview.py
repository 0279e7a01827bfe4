"""The first pages of a PDF as PNG images, for an inline preview (pypdfium2: PDFium in a
wheel, no system program). Bounded: a few pages, each at most so many pixels wide and high,
whatever the PDF says its page size is."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from gesprokit.errors import GesprokitError
from gesprokit.file_checks import PDF_MAGIC

MAX_PAGES = 3
MAX_WIDTH_PX = 820
MAX_HEIGHT_PX = 1600
MAX_SCALE = 2.0  # a small page is not blown up beyond 144 dpi
_PDFIUM = threading.Lock()  # PDFium is not thread-safe


class PreviewUnavailable(GesprokitError):
    """A PDF that PDFium cannot open (damaged, protected by a password)."""


@dataclass(frozen=True)
class Preview:
    """The PNG of each page shown and the PDF's page count."""

    pages: list[bytes]
    total: int

    @property
    def more(self) -> int:
        """How many pages are not shown."""
        return self.total - len(self.pages)


def is_pdf(content: bytes) -> bool:
    return content[:len(PDF_MAGIC)] == PDF_MAGIC


def page_scale(width_pt: float, height_pt: float) -> float:
    """The render scale (1 = 72 dpi) fitting a page in MAX_WIDTH_PX × MAX_HEIGHT_PX."""
    if width_pt <= 0 or height_pt <= 0:
        raise PreviewUnavailable("page de taille nulle")
    return min(MAX_WIDTH_PX / width_pt, MAX_HEIGHT_PX / height_pt, MAX_SCALE)


def render_pages(content: bytes, max_pages: int = MAX_PAGES) -> Preview:
    """The first `max_pages` pages of the PDF `content` as PNG images."""
    import pypdfium2 as pdfium

    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(content)
        except pdfium.PdfiumError:
            raise PreviewUnavailable("PDF illisible ou protégé par un mot de passe") from None
        try:
            total = len(pdf)
            pages = []
            for number in range(min(total, max(max_pages, 0))):
                page = pdf[number]
                try:
                    bitmap = page.render(scale=page_scale(*page.get_size()))
                    out = io.BytesIO()
                    bitmap.to_pil().save(out, format="PNG")
                    pages.append(out.getvalue())
                finally:
                    page.close()
        except pdfium.PdfiumError:
            raise PreviewUnavailable("une page du PDF est illisible") from None
        finally:
            pdf.close()
    return Preview(pages, total)
