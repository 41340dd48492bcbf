"""Urdu script and Roman Urdu spelling: one form for the many ways patients type a word.

Urdu script comes from several keyboards: Arabic yeh and kaf (ي/ك) for the Urdu ی/ک, three
forms of heh (ه/ە/ھ for ہ), vowel marks (U+064B-U+065F, U+0670), zero-width joiners and the
kashida, and Urdu-Indic or Arabic-Indic digits. ``fold_urdu`` writes each of these one way, so
the lexicon's Urdu phrases and the patient's message meet in the same form.

Roman Urdu has no spelling: bohat, bahut and buhat are one word, as are sojan, soojan and
sujan. ``roman_key`` is a consonant skeleton that keeps where vowels were but not which ones
(or how many), so the variants of a word share one key.
"""

from __future__ import annotations

import re
import unicodedata

_FOLD = str.maketrans(
    {
        "\u064a": "\u06cc",  # Arabic yeh -> Farsi/Urdu yeh
        "\u0649": "\u06cc",  # alef maksura
        "\u0643": "\u06a9",  # Arabic kaf -> keheh
        "\u0647": "\u06c1",  # Arabic heh -> heh goal
        "\u06d5": "\u06c1",  # ae
        "\u06be": "\u06c1",  # do-chashmi heh: typed for heh goal and back, read as one
        "\u06c3": "\u06c1",  # teh marbuta goal
        "\u0629": "\u06c1",  # teh marbuta
        "\u06d3": "\u06d2",  # yeh barree with hamza
        "\u0640": None,  # kashida (tatweel)
        "\u200c": None,  # zero-width non-joiner
        "\u200d": None,  # zero-width joiner
        "\u200e": None,  # left-to-right mark
        "\u200f": None,  # right-to-left mark
        "\u061c": None,  # Arabic letter mark
        "\u06d4": ".",  # Urdu full stop
        "\u060c": ",",  # Arabic comma
        "\u061b": ";",  # Arabic semicolon
        "\u061f": "?",  # Arabic question mark
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Urdu-Indic digits
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
    }
)
# Vowel marks and the superscript alef: written by some, left out by most.
_MARKS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")
# The letters of Arabic script (after folding); a word is a run of them.
ARABIC_LETTERS = "\u0621-\u063a\u0641-\u064a\u066e-\u066f\u0671-\u06d3\u06d5\u06fa-\u06ff"
_ARABIC = re.compile(f"[{ARABIC_LETTERS}]")

_VOWELS = re.compile(r"[aeiouy]+")
_DOUBLES = re.compile(r"([^V])\1+")
_SOUNDS = (("w", "v"), ("q", "k"), ("ph", "f"))
# Shorter words are not keyed: too many short words share a skeleton.
MIN_KEYED = 4


def fold_urdu(text: str) -> str:
    """``text`` with Urdu letters, marks, joiners, punctuation and digits in one form each.

    Accents and vowel marks go (NFKD, then every combining mark), so "ئ" and "ی", "آ" and "ا"
    are one letter.
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _MARKS.sub("", text).translate(_FOLD)


def has_urdu_script(text: str) -> bool:
    """Whether ``text`` holds any letter of Arabic script (Urdu)."""
    return _ARABIC.search(text) is not None


def roman_key(word: str) -> str | None:
    """The spelling-free key of a Roman Urdu word ("bohat", "bahut" -> "bVhVt"), or None.

    Vowel runs become one "V" (the first letter is kept as it is), doubled consonants one, a
    final "h" after a vowel goes ("yeh", "wajah"), and w/v, q/k, ph/f are one sound.
    """
    if len(word) < MIN_KEYED or not word.isascii() or not word.isalpha():
        return None
    for written, sound in _SOUNDS:
        word = word.replace(written, sound)
    if word.endswith("h") and word[-2] in "aeiouy":
        word = word[:-1]
    head = "V" if word[0] in "aeiou" else word[0]
    key = _VOWELS.sub("V", head + _VOWELS.sub("V", word[1:]))
    return _DOUBLES.sub(r"\1", key).replace("VV", "V")
