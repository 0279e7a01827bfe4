"""The layout of gesprokit's PDFs (fpdf2, DejaVu for the € sign): pages with a title and a
numbered footer, facts, sections, ruled tables. Kept apart from the figures so that an action
computes a document's content without loading fpdf2 (gesprokit.documents)."""

from __future__ import annotations

import copy
import io
from datetime import datetime
from pathlib import Path

from fpdf import FPDF

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


FONTS = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
_parsed: dict[str, tuple] = {}  # style -> (parsed font, file bytes), once per process


def _font_for(pdf: FPDF, style: str):
    """DejaVu in `style` for `pdf`: the font file is parsed once per process (its metrics,
    ~30 ms a style), and each document gets its own copy of what its output changes (the
    glyph subset and the font tables fpdf2 subsets in place)."""
    from fontTools import ttLib
    from fpdf.fonts import SubsetMap

    if style not in _parsed:
        template = FPDF()
        path = FONT_DIR / FONTS[style]
        template.add_font("DejaVu", style=style, fname=str(path))
        _parsed[style] = (template.fonts[f"dejavu{style}"], path.read_bytes())
    parsed, data = _parsed[style]
    font = copy.copy(parsed)
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)
    font.subset = SubsetMap(font)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    return font


class Pdf(FPDF):
    """An A4 page in DejaVu 9 pt with the document's title on top and a numbered footer."""

    def __init__(self, title: str, footer: str):
        super().__init__(format="A4")
        self._title, self._footer = title, footer
        for style in FONTS:
            self.fonts[f"dejavu{style}"] = _font_for(self, style)
        self.set_font("DejaVu", size=9)
        self.set_auto_page_break(True, margin=18)

    def header(self):
        self.set_font("DejaVu", "B", 13)
        self.cell(0, 8, self._title, new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", size=9)
        self.ln(1)

    def footer(self):
        self.set_y(-13)
        self.set_font("DejaVu", size=7)
        self.cell(0, 5, f"{self._footer} – page {self.page_no()}/{{nb}}", align="C")


def facts(pdf: Pdf, rows: list[tuple[str, str]]) -> None:
    for label, value in rows:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(48, 5, label)
        pdf.set_font("DejaVu", size=9)
        pdf.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def table(pdf: Pdf, header: list[str], rows: list[list[str]], widths: tuple,
           text_columns: int = 1) -> None:
    """A ruled table: a coloured header row, then one line per row; the first
    `text_columns` columns are left-aligned (and shortened to fit), figures right-aligned."""
    height = 5
    pdf.set_font("DejaVu", "B", 8)
    pdf.set_fill_color(31, 95, 139)
    pdf.set_text_color(255, 255, 255)
    for title, width in zip(header, widths, strict=True):
        pdf.cell(width, height + 1, _fit(pdf, title, width), border=1, fill=True, align="C")
    pdf.ln()
    pdf.set_font("DejaVu", size=8)
    pdf.set_text_color(0, 0, 0)
    for row in rows:
        if pdf.will_page_break(height):
            pdf.add_page()
        for i, (value, width) in enumerate(zip(row, widths, strict=True)):
            pdf.cell(width, height, _fit(pdf, value, width), border=1,
                     align="L" if i < text_columns else "R")
        pdf.ln()
    pdf.set_font("DejaVu", size=9)
    pdf.ln(3)


def _fit(pdf: Pdf, text: str, width: float) -> str:
    """`text` shortened with an ellipsis so that it fits in `width` mm: the longest prefix
    that fits, found by halving (a width grows with the prefix)."""
    text, room = str(text), width - 2
    if pdf.get_string_width(text) <= room:
        return text
    lo, hi = 0, len(text) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if pdf.get_string_width(text[:mid] + "…") <= room:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def section(pdf: Pdf, title: str) -> None:
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)


def render_content(content: dict) -> bytes:
    """The PDF of a document's blocks (:func:`content`): a pure function of them, dated by
    the document's own date."""
    when = datetime.fromisoformat(content["when"])
    pdf = Pdf(content["title"], content["footer"])
    pdf.set_creation_date(when.astimezone())
    pdf.add_page()
    for block in content["blocks"]:
        kind, args = block[0], block[1:]
        if kind == "facts":
            facts(pdf, [tuple(r) for r in args[0]])
        elif kind == "section":
            section(pdf, args[0])
        elif kind == "table":
            header, rows, widths, text_columns = args
            table(pdf, header, rows, tuple(widths), text_columns)
        elif kind == "text":
            value, bold, gap = args
            if gap:
                pdf.ln(gap)
            if bold:
                pdf.set_font("DejaVu", "B", 9)
            pdf.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("DejaVu", size=9)
        elif kind == "small":
            pdf.set_x(pdf.l_margin)
            pdf.set_font("DejaVu", size=8)
            for line in args[0]:
                pdf.multi_cell(0, 4, line, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("DejaVu", size=9)
            pdf.ln(2)
    return bytes(pdf.output())
