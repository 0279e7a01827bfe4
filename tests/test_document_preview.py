"""The inline preview of « Documents et visas »: the first pages of a PDF as images, bounded
in pages and pixels; a file that is not a PDF keeps its link; nothing of a document the
account may not read."""

from __future__ import annotations

import base64
import html
import io
import os
import re
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image
from test_library import OP, when
from test_workflow import PASSWORD, actor, engine, sample_base  # noqa: F401 - fixture

from gesprokit.library.actions import OpenedFile, deposit, open_version
from gesprokit.library.preview import (
    MAX_HEIGHT_PX,
    MAX_PAGES,
    MAX_WIDTH_PX,
    PreviewUnavailable,
    page_scale,
    render_pages,
)
from gesprokit.session import connect
from gesprokit.ui.document_viewer import preview_html
from gesprokit.workflow import File
from gesprokit.workflow_errors import PermissionDenied

SHOTS = Path(os.environ.get("GESPROKIT_SCREENSHOTS", "/tmp/gesprokit-screenshots"))


def pages_pdf(count: int, size: tuple[float, float] | str = "A4") -> bytes:
    pdf = FPDF(format=size)
    pdf.set_auto_page_break(False)
    for k in range(1, count + 1):
        pdf.add_page()
        pdf.set_font("helvetica", size=28)
        pdf.cell(text=f"CCTP lot 05 - page {k} sur {count}")
        pdf.rect(20, 40, 120, 60)
    return bytes(pdf.output())


def images(value: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(data)))
            for data in re.findall(r"src='data:image/png;base64,([^']+)'", value)]


def common_document(engine, content: bytes, name: str = "cctp.pdf", **kw):  # noqa: F811
    return deposit(engine, actor("moa"), operation_code=OP,
                   title=kw.pop("title", "Cahier des clauses techniques particulières"),
                   folder_code="documents-marche", discipline="ADM", file=File(name, content),
                   now=when(1), **kw)[0]


def test_a_long_pdf_shows_its_first_pages_and_says_how_many_more(engine):  # noqa: F811
    from gesprokit.ui.pages import DocumentsPage

    doc = common_document(engine, pages_pdf(7))
    page = DocumentsPage(connect(engine, "alu@mal.fr", PASSWORD), when(2).date(), now=when(2))
    page.open_document(doc)
    shown = page.review.viewer.opened.value
    assert shown.count("<img ") == MAX_PAGES == 3
    assert [i.size for i in images(shown)] == [(MAX_WIDTH_PX, 1160)] * 3  # A4 at 820 px
    assert "Page 1 sur 7" in shown and "4 pages de plus : ouvrez le PDF." in shown
    assert f"download='{doc}-A.pdf'" in shown  # the link stays
    SHOTS.mkdir(parents=True, exist_ok=True)
    images(shown)[0].save(SHOTS / "apercu-document-page-1.png")


def test_a_short_pdf_is_shown_whole(engine):  # noqa: F811
    doc = common_document(engine, pages_pdf(2))
    opened = open_version(engine, actor("contractor", frozenset({OP})), doc)
    shown = preview_html(opened)
    assert shown.count("<img ") == 2 and "de plus" not in shown


def test_a_file_that_is_not_a_pdf_is_not_previewed_and_keeps_its_link(engine):  # noqa: F811
    dwg = b"AC1032 drawing of the patio"
    doc = common_document(engine, dwg, name="Patio (v2).dwg", title="Plan du patio du DCE",
                          format_exception="Fichier DWG demandé par la MOE pour la synthèse")
    shown = html.unescape(preview_html(open_version(engine, actor("contractor"), doc)))
    assert "<img" not in shown
    assert "Aperçu impossible : ce document n'est pas un PDF (patio_v2.dwg)" in shown
    assert f"download='{doc}-A.dwg'" in shown
    assert base64.b64encode(dwg).decode() in shown


def test_a_damaged_pdf_says_so_and_keeps_its_link():
    opened = OpenedFile("CHMV-EHPAD-CHMV-ADM-0001", "A", "cctp.pdf", b"%PDF-1.7\n garbage")
    with pytest.raises(PreviewUnavailable, match="illisible"):
        render_pages(opened.content)
    shown = html.unescape(preview_html(opened))
    assert "<img" not in shown and "Aperçu impossible : PDF illisible" in shown
    assert "download='CHMV-EHPAD-CHMV-ADM-0001-A.pdf'" in shown


@pytest.mark.parametrize("size", [(2000, 2000), (5000, 400), (30, 30), (841, 1189)])
def test_rendering_is_bounded_whatever_the_page_size(size):
    shown = render_pages(pages_pdf(1, size))
    (picture,) = [Image.open(io.BytesIO(png)) for png in shown.pages]
    assert picture.width <= MAX_WIDTH_PX and picture.height <= MAX_HEIGHT_PX
    assert page_scale(30 * 72 / 25.4, 30 * 72 / 25.4) == 2.0  # a small page: 144 dpi at most
    with pytest.raises(PreviewUnavailable):
        page_scale(0, 100)


def test_nothing_is_rendered_for_an_account_that_may_not_read(engine):  # noqa: F811
    from gesprokit.ui.pages import DocumentsPage

    own, _ = deposit(engine, actor("moa"), operation_code=OP,
                     title="Rapport d'analyse des offres", folder_code="marche",
                     discipline="ADM", file=File("rao.pdf", pages_pdf(2)), now=when(1))
    common = common_document(engine, pages_pdf(2))
    with pytest.raises(PermissionDenied, match="pas accès au dossier « marche »"):
        open_version(engine, actor("contractor", frozenset({OP})), own)
    with pytest.raises(PermissionDenied, match="opération « CHMV-EHPAD »"):
        open_version(engine, actor("other_contractor", frozenset({"CHMV-SMR2"})), common)
    page = DocumentsPage(connect(engine, "alu@mal.fr", PASSWORD), when(2).date(), now=when(2))
    assert page.open_document(own) is None
    assert page.review.viewer.opened.value == ""
    assert "ne peut pas le lire" in html.unescape(page.message.value)
    # the MOA reads it
    moa = DocumentsPage(connect(engine, "direction@ch.fr", PASSWORD), when(2).date(),
                        now=when(2))
    moa.open_document(own)
    assert moa.review.viewer.opened.value.count("<img ") == 2
