"""Bidi levels for one caption line: the same visual order as python-bidi (the unicode-bidi
crate) on mixed Urdu, Latin, digits and punctuation, and the runs a shaper needs."""

from __future__ import annotations

from bidi import get_display
from hypothesis import given
from hypothesis import strategies as st

from bot.bidi import Run, display, levels, paragraph_level, visual_runs

NAME = "شفا کلینک اسلام آباد"
# Latin, Urdu letters and a mark, both kinds of digit, separators, terminators, neutrals, marks.
ALPHABET = (
    "abcXYZ" + "شفاکلینکہے" + "\u064b" + "0123456789" + "۰۳۴" + " .,:-+/%$#()[]{}" + "\u200e\u200f"
)


def test_the_paragraph_takes_the_direction_of_its_first_strong_letter() -> None:
    """Digits and punctuation are not strong; a right-to-left mark is."""
    assert paragraph_level(NAME) == 1
    assert paragraph_level(f"Scan {NAME}") == 0
    assert paragraph_level(f"24/7 {NAME}") == 1
    assert paragraph_level(f"\u200fSPF 30 {NAME}") == 1
    assert paragraph_level("0300 1234567") == 0


def test_urdu_reads_right_to_left_and_latin_inside_it_left_to_right() -> None:
    """An Urdu run is reversed on screen; a Latin word or a number within it is not."""
    assert display(NAME) == NAME[::-1]
    assert display(f"from {NAME}") == f"from {NAME[::-1]}"
    assert display("کلینک Skin Studio") == "Skin Studio کنیلک"
    assert display("فون 24") == "24 نوف"


def test_a_line_is_cut_into_runs_in_drawing_order() -> None:
    """Left to right: the Latin word, then the Urdu name as one right-to-left run."""
    text = f"from {NAME}"
    assert visual_runs(text, 0) == [Run(0, 5, 0), Run(5, len(text), 1)]
    assert levels("ab شف 12", 1) == [2, 2, 1, 1, 1, 1, 2, 2]  # digits after Urdu: Arabic
    assert visual_runs("", 0) == []


@given(st.text(alphabet=ALPHABET, min_size=1, max_size=16).map(str.strip).filter(bool))
def test_the_visual_order_is_the_unicode_bidi_crates(text: str) -> None:
    """Whatever the mix, the characters come out in the order python-bidi puts them."""
    assert display(text) == get_display(text)
