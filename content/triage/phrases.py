"""Finding the lexicon's phrases in a list of words: longest match first, left to right."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from content.triage.schema import GAP
from content.triage.tokens import COMMA, SENTENCE_END

# How many words a ".." gap may skip.
GAP_WORDS = 3
_BREAKS = frozenset({SENTENCE_END, COMMA})


@dataclass(frozen=True, slots=True)
class Phrase:
    """A phrase of one concept; ``size`` counts its words (not gaps), to rank matches."""

    concept: str
    words: tuple[str, ...]
    size: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        """Count the words once: matching ranks phrases by it for every word of a message."""
        object.__setattr__(self, "size", sum(1 for w in self.words if w != GAP))


def _word_matches(pattern: str, word: str) -> bool:
    if "|" in pattern:
        return any(_word_matches(option, word) for option in pattern.split("|"))
    if pattern.endswith("*"):
        return word.startswith(pattern[:-1])
    return pattern == word


def _match(pattern: Sequence[str], words: Sequence[str], start: int) -> int | None:
    """Where a match of ``pattern`` beginning at ``words[start]`` ends (exclusive), or None."""
    position = start
    for index, part in enumerate(pattern):
        if part == GAP:
            rest = pattern[index + 1 :]
            for skip in range(GAP_WORDS + 1):
                at = position + skip
                # A gap is never last, so the rest needs a word at ``at``; it skips no breaks.
                if at >= len(words) or (skip and words[at - 1] in _BREAKS):
                    break
                end = _match(rest, words, at)
                if end is not None:
                    return end
            return None
        if position >= len(words) or not _word_matches(part, words[position]):
            return None
        position += 1
    return position


class PhraseIndex:
    """All phrases of a lexicon, indexed by their first word (or its prefix)."""

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        """Index the phrases; within a first word, the longest are tried first."""
        exact: dict[str, list[Phrase]] = {}
        prefixed: dict[str, list[Phrase]] = {}
        for phrase in phrases:
            for first in phrase.words[0].split("|"):
                if first.endswith("*"):
                    prefixed.setdefault(first[:-1], []).append(phrase)
                else:
                    exact.setdefault(first, []).append(phrase)
        self._exact = {k: sorted(v, key=lambda p: -p.size) for k, v in exact.items()}
        self._prefixed = {k: sorted(v, key=lambda p: -p.size) for k, v in prefixed.items()}
        self._prefix_lengths = sorted({len(k) for k in self._prefixed})
        self.candidates = functools.lru_cache(maxsize=8192)(self._candidates)

    def _candidates(self, word: str) -> tuple[Phrase, ...]:
        """The phrases that could start at ``word``, longest first (cached as ``candidates``)."""
        found = list(self._exact.get(word, ()))
        for length in self._prefix_lengths:
            if length > len(word):
                break
            found.extend(self._prefixed.get(word[:length], ()))
        if len(found) > 1:
            found.sort(key=lambda p: -p.size)
        return tuple(found)

    def find(self, words: Sequence[str]) -> list[tuple[Phrase, int, int]]:
        """Non-overlapping matches as (phrase, start, end), the longest at each position.

        Among phrases of as many words, the one that skips fewest words wins ("eye area hurts"
        is the eye area, not "eye .. hurts").
        """
        matches: list[tuple[Phrase, int, int]] = []
        position = 0
        while position < len(words):
            best: tuple[Phrase, int] | None = None
            for phrase in self.candidates(words[position]):
                if best is not None and phrase.size < best[0].size:
                    break
                end = _match(phrase.words, words, position)
                if end is not None and (
                    best is None or phrase.size > best[0].size or end < best[1]
                ):
                    best = (phrase, end)
            if best is None:
                position += 1
                continue
            matches.append((best[0], position, best[1]))
            position = best[1]
        return matches
