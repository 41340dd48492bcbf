"""From what a patient typed to a list of normalised words, typos repaired.

Lower-casing, accents, emoji, contractions and slang are handled by data (lexicon.yaml); a word
we do not know is repaired when it is a near miss of a word the lexicon uses: repeated letters
("itchyyy"), a plural ("pimpless"), or a typo within one edit (two for long words) that keeps
its first letter ("redess" -> "redness"). Real English words (words.yaml) are never changed.

Urdu script is folded to one form of each letter first (script.py); a Roman Urdu word we do not
know is read as the Roman Urdu word of the lexicon with the same consonant skeleton ("bahut",
"buhat" -> "bohat"), before any typo repair.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from content.triage.schema import EMOJI_NOISE, Lexicon
from content.triage.script import ARABIC_LETTERS, fold_urdu, roman_key

SENTENCE_END = "."
COMMA = ","
_TOKEN = re.compile(rf"[a-z]+|[{ARABIC_LETTERS}]+|\d+(?:\.\d+)?|[.!?;\n]|,")
_REPEATS = re.compile(r"(.)\1{2,}")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
# Shorter words are not corrected: too many real words are one letter away from each other.
MIN_CORRECTED = 4
LONG_WORD = 8
_SUFFIXES = (("ies", "y"), ("es", ""), ("s", ""))


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a message: normalised, as written, and whether a typo was corrected."""

    word: str
    raw: str
    corrected: bool = False


class Normalizer:
    """Turns a message into tokens with the spellings and vocabulary of one lexicon."""

    def __init__(
        self,
        lexicon: Lexicon,
        vocabulary: Iterable[str],
        known: Iterable[str],
        roman: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """Compile the rewrites and emoji, and index the vocabulary by first letter.

        ``roman`` maps the Roman Urdu words of the lexicon to the concepts they are words of:
        their skeletons ("bVhVt") are indexed, except a skeleton shared by words with no
        concept in common ("nahi" and "naha": no and bathe), which would be a guess.
        """
        self._rewrites = [(re.compile(r.pattern), r.replace) for r in lexicon.rewrite]
        table: dict[int, str | None] = {ord(c): None for c in EMOJI_NOISE}
        for key, word in lexicon.emoji.items():
            [char] = [c for c in key if c not in EMOJI_NOISE]
            table[ord(char)] = f" {word} "
        self._emoji = table
        self._replace = {key: tuple(value.split()) for key, value in lexicon.replace.items()}
        self.vocabulary = frozenset(vocabulary)
        self._known = frozenset(known) | self._replace.keys()
        by_initial: dict[str, list[str]] = {}
        roman = roman or {}
        # Roman Urdu is spelt freely: its variants are read by skeleton, not as typos of it.
        for word in sorted(self.vocabulary - roman.keys()):
            if word.isalpha() and len(word) >= MIN_CORRECTED - 1:
                by_initial.setdefault(word[0], []).append(word)
        self._by_initial = by_initial
        keyed: dict[str, set[str]] = {}
        for word in roman:
            skeleton = roman_key(word)
            if skeleton is not None:
                keyed.setdefault(skeleton, set()).add(word)
        self._roman: dict[str, str] = {}
        # Each Roman Urdu word of a phrase, written one way: "chilke" and "chhilke" are one word,
        # so a phrase written with either matches both.
        self._canonical: dict[str, str] = {}
        for skeleton, words in keyed.items():
            meant = sorted(w for w in words if roman[w])  # number and unit words mean nothing
            meanings = [roman[w] for w in meant]
            if not meanings or frozenset.intersection(*meanings):
                self._roman[skeleton] = meant[0] if meant else min(words)
                self._canonical.update((w, meant[0]) for w in meant)
        # Two neighbouring letters swapped in a Roman Urdu or Urdu script word ("buhkar",
        # "زیداہ"): the fuzzy repair above is for English, and vowels are the skeleton's.
        swapped: dict[str, set[str]] = {}
        for word in self.vocabulary:
            if (word in roman or not word.isascii()) and len(word) >= MIN_CORRECTED - 1:
                for i in range(len(word) - 1):
                    typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
                    if typo != word and typo not in self.vocabulary:
                        swapped.setdefault(typo, set()).add(self.canonical(word))
        self._swapped = {typo: min(ws) for typo, ws in swapped.items() if len(ws) == 1}
        self._spell = functools.lru_cache(maxsize=8192)(self._repair)

    def tokens(self, text: str) -> list[Token]:
        """The tokens of ``text``: words, and "." and "," where sentences and lists break."""
        text = self.clean(text)
        tokens: list[Token] = []
        for piece in _TOKEN.findall(text):
            if piece in ".!?;\n":
                tokens.append(Token(SENTENCE_END, piece))
            elif piece == COMMA:
                tokens.append(Token(COMMA, piece))
            elif piece in self._replace:
                tokens.extend(Token(self.canonical(w), piece) for w in self._replace[piece])
            else:
                word = self._spell(piece)
                tokens.append(Token(word, piece, corrected=word != piece))
        return tokens

    def clean(self, text: str) -> str:
        """Lower-cased text with accents, quotes, emoji and rewrites applied, before splitting."""
        text = fold_urdu(text.translate(self._emoji))
        text = text.lower().translate(_QUOTES)
        for pattern, replacement in self._rewrites:
            text = pattern.sub(replacement, text)
        return text

    def canonical(self, word: str) -> str:
        """The one spelling of a Roman Urdu word that phrases and messages are read in."""
        return self._canonical.get(word, word)

    def _repair(self, word: str) -> str:
        if word in self._canonical:
            return self._canonical[word]
        if word in self.vocabulary or word in self._known or not word.isalpha():
            return word
        if _REPEATS.search(word):
            for candidate in (_REPEATS.sub(r"\1\1", word), _REPEATS.sub(r"\1", word)):
                if candidate in self.vocabulary:
                    return self.canonical(candidate)
            word = _REPEATS.sub(r"\1\1", word)
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix):
                stem = word[: -len(suffix)] + replacement
                if stem in self.vocabulary:
                    return self.canonical(stem)
        # A Roman Urdu spelling and an English typo may both fit: the nearer one wins, and a tie
        # goes to the Roman Urdu word ("sauns" is "saans", breath; "finsih" is "finish", not
        # the Roman "phunsi", which is further away).
        if word in self._swapped:
            return self._swapped[word]
        typo = self._typo(word)
        skeleton = roman_key(word)
        roman = self._roman.get(skeleton) if skeleton is not None else None
        if roman is not None and (typo is None or OSA.distance(word, roman) <= typo[1]):
            return roman
        return typo[0] if typo is not None else word

    def _typo(self, word: str) -> tuple[str, int] | None:
        """The English lexicon word ``word`` is a typo of, and how far it is, if it is one."""
        if len(word) < MIN_CORRECTED or not word.isascii():
            return None
        limit = 1 if len(word) < LONG_WORD else 2
        found = process.extractOne(
            word, self._by_initial.get(word[0], ()), scorer=OSA.distance, score_cutoff=limit
        )
        return (str(found[0]), int(found[1])) if found is not None else None
