"""The circuit's PDFs: their content computed inside the action from what it needs, their
layout after the commit, with the fonts parsed once per process."""

from __future__ import annotations

from datetime import datetime

from gesprokit import pdf_layout, workflow
from gesprokit.documents import content
from gesprokit.ledger import ledger_from_frames
from gesprokit.store import load_frames

WHEN = datetime(2026, 6, 10, 9, 30)


def test_the_demande_read_without_history_shows_the_figures_of_the_whole_history(
        sample_engine):
    """The demande d'acompte's content from each line's % before the situation (one grouped
    query) is the content computed from the whole history, for a middle and the last
    situation of every contract of the sample (amendments, subcontracts, revisable prices
    and lines left out of a month included)."""
    frames = load_frames(sample_engine)
    ledger = ledger_from_frames(frames, as_of=WHEN)
    checked = 0
    with sample_engine.connect() as conn:
        for cid, numbers in frames.situations.groupby("contract_id")["n"]:
            numbers = sorted(numbers)
            for n in {numbers[len(numbers) // 2], numbers[-1]}:
                whole = content("demande", frames, ledger, cid, int(n), WHEN)
                reduced = workflow.demande_frames(conn, cid, int(n))
                assert len(reduced.progress) < len(frames.progress)
                assert content("demande", reduced, ledger_from_frames(reduced, as_of=WHEN),
                               cid, int(n), WHEN) == whole, (cid, n)
                checked += 1
    assert checked >= 15


def test_fonts_parsed_once_lay_out_the_same_pdf_as_fonts_parsed_for_the_document(
        monkeypatch):
    """Two documents in a row from the fonts parsed once are byte-identical to the document
    laid out with the font files parsed for it (fpdf2's own `add_font`): each document gets
    its own subset, nothing leaks from one to the next."""
    blocks = {"title": "État d'acompte provisoire", "footer": "EHPAD – Lot 05 – situation n°3",
              "when": WHEN.isoformat(),
              "blocks": [["facts", [["Opération", "Œuvre – EHPAD"], ["Net", "1 234,56 €"]]],
                         ["section", "Avancement"],
                         ["table", ["Poste", "Désignation", "Cumul HT"],
                          [[f"05.{i:02d}", "Maçonnerie, désignation bien trop longue pour "
                            "la colonne", "12 345,67 €"] for i in range(60)], [20, 60, 40], 2],
                         ["text", "Solde créditeur", True, 2], ["small", ["– ligne ✓"]]]}
    first = pdf_layout.render_content(blocks)
    other = dict(blocks, blocks=[["text", "Un autre document : ÀÉÎÕÜ ½", False, 0]])
    pdf_layout.render_content(other)
    again = pdf_layout.render_content(blocks)

    def parsed_for_the_document(pdf, style):
        scratch = pdf_layout.FPDF()
        scratch.add_font("DejaVu", style=style,
                         fname=str(pdf_layout.FONT_DIR / pdf_layout.FONTS[style]))
        font = scratch.fonts[f"dejavu{style}"]
        font.i = len(pdf.fonts) + 1
        return font

    monkeypatch.setattr(pdf_layout, "_font_for", parsed_for_the_document)
    assert first == again == pdf_layout.render_content(blocks)
    assert first.startswith(b"%PDF-") and b"MPDFAA+DejaVuSans" in first
