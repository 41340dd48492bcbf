"""The caption under the QR code: a font that has every Urdu letter, text shaped and ordered
right to left (Latin inside it left to right), long text shrunk, wrapped and cut to fit."""

from __future__ import annotations

import pytest

from bot.caption import (
    MAX_LINES,
    SIZES,
    caption_font,
    drawable,
    layout,
    render,
)

NAME = "شفا کلینک اسلام آباد"
# The letters Urdu adds to Arabic, Urdu-Indic digits and punctuation.
URDU = "ٹڈڑںھہۂۓےیکگچپژ" + "۰۱۲۳۴۵۶۷۸۹" + "،۔؟"
WIDTH = 330  # the caption's room under a QR code of a 32-character invite link


def test_the_font_has_a_glyph_for_every_urdu_and_latin_character() -> None:
    """No .notdef box and no "?": every letter of the name, of Urdu and of Latin is drawn."""
    font = caption_font(SIZES[0])
    latin = "".join(chr(code) for code in range(0x21, 0x7F)) + "ÉéÜüÖöŁłØøßÆæ‘’“”–—…"
    missing = [char for char in NAME + URDU + latin if not char.isspace() and not font.has(char)]
    assert missing == []
    assert drawable(NAME) == NAME
    assert drawable(f"Scan: {NAME} ({URDU})") == f"Scan: {NAME} ({URDU})"


def test_what_the_font_lacks_is_a_question_mark_and_controls_go() -> None:
    """CJK is not in the font; tabs and newlines are spaces; bidi embeddings are dropped, the
    zero-width non-joiner that Urdu spelling needs is kept."""
    assert drawable("Clinic 東京\tIslamabad\n") == "Clinic ?? Islamabad"
    assert drawable("\u202bشفا\u202c\u200cکلینک\x07") == "شفا\u200cکلینک"


def test_urdu_is_shaped_and_drawn_right_to_left() -> None:
    """The first letter of the name is at the right end of its line, the last at the left, and
    a letter joined to its neighbour takes another glyph than the letter alone."""
    font, (line,) = layout(NAME, WIDTH)
    first = [glyph.x for glyph in line.glyphs if glyph.cluster == 0]
    last = [glyph.x for glyph in line.glyphs if glyph.cluster == len(NAME) - 1]
    assert first and last
    assert max(first) == max(glyph.x for glyph in line.glyphs)
    assert min(last) == min(glyph.x for glyph in line.glyphs)
    word = font.line("کلینک", 1).glyphs  # keheh at the start and at the end of a word
    alone = {glyph.glyph_id for glyph in font.line("ک", 1).glyphs}
    start = {glyph.glyph_id for glyph in word if glyph.cluster == 0}
    end = {glyph.glyph_id for glyph in word if glyph.cluster == 4}
    assert len({frozenset(alone), frozenset(start), frozenset(end)}) == 3


def test_a_latin_word_inside_an_urdu_line_keeps_its_order() -> None:
    """English before the Urdu name: the English on the left, left to right; then the name."""
    text = f"from {NAME}"
    _, (line,) = layout(text, WIDTH)
    x = {glyph.cluster: glyph.x for glyph in line.glyphs}
    assert x[0] < x[1] < x[2] < x[3]  # f r o m
    assert x[3] < x[len(text) - 1] < x[5]  # the name after it, its first letter at the right


def test_the_caption_is_ink_under_each_line_and_nothing_beyond_the_width() -> None:
    """Pixels are ink coverage; an Urdu caption has some, and its width is the given one."""
    rows = render(NAME, WIDTH)
    assert all(len(row) == WIDTH for row in rows)
    assert sum(value > 128 for row in rows for value in row) > 300
    assert render(NAME, WIDTH) == rows


def test_a_long_name_shrinks_then_wraps_and_is_cut_only_at_the_smallest_size() -> None:
    """A short caption is drawn large; a long one smaller, on at most three lines that fit;
    one word longer than a line is cut, and what does not fit ends in an ellipsis."""
    short, _ = layout(NAME, WIDTH)
    assert short.size == SIZES[0]
    long_text = " ".join([NAME] * 6)
    font, lines = layout(long_text, WIDTH)
    assert font.size < SIZES[0]
    assert len(lines) <= MAX_LINES and all(line.width <= WIDTH for line in lines)
    assert " ".join(line.text for line in lines) == long_text  # nothing lost
    font, lines = layout("کلینک" * 40 + " " + NAME * 30, WIDTH)
    assert font.size == SIZES[-1] and len(lines) == MAX_LINES
    assert all(line.width <= WIDTH for line in lines)
    assert lines[-1].text.endswith("…")


@pytest.mark.parametrize("text", ["x", "ش", "0300 1234567", "(" * 80, "\u200f", "؟"])
def test_odd_captions_still_render(text: str) -> None:
    """A single letter, only digits, only brackets, only a direction mark."""
    rows = render(text, WIDTH)
    assert rows and all(len(row) == WIDTH for row in rows)
