"""The Unicode bidirectional algorithm (UAX #9) for one line of plain text, as a caption needs it.

Urdu reads right to left, and a caption mixes it with Latin names and Western digits. HarfBuzz
shapes a run of one direction but does not split or order the runs; python-bidi returns only a
reordered string, which cannot be shaped (the letters lose their joining context). So the levels
are resolved here, following the rules for a paragraph without explicit embeddings: P2-P3,
W1-W7, N0 (for the brackets ( ), [ ] and { }), N1-N2, I1-I2 and L2. Embedding, override and
isolate controls are not supported: the caller drops them; the marks LRM, RLM and ALM work as
the strong characters they are.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

_STRONG = {"L": 0, "R": 1, "AL": 1}
_NEUTRAL = {"B", "S", "WS", "ON"}
_NUMBER = {"EN", "AN"}
_DIRECTED = {"L", "R", "EN", "AN"}
_OPENING = {"(": ")", "[": "]", "{": "}"}
_CLOSING = frozenset(_OPENING.values())
# Explicit formatting characters that the rules below do not implement (X1-X10).
EXPLICIT_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Run:
    """Characters ``start``..``end`` (logical indices) of one embedding level; odd is RTL."""

    start: int
    end: int
    level: int

    @property
    def rtl(self) -> bool:
        """Whether the run reads right to left."""
        return self.level % 2 == 1


def paragraph_level(text: str) -> int:
    """0 (left to right) or 1 (right to left): the direction of the first strong character."""
    for char in text:
        direction = _STRONG.get(unicodedata.bidirectional(char))
        if direction is not None:
            return direction
    return 0


def levels(text: str, base: int) -> list[int]:
    """The resolved embedding level of each character of ``text`` in a paragraph of ``base``."""
    types = [unicodedata.bidirectional(char) or "L" for char in text]
    edge = "R" if base % 2 else "L"
    # W1: a mark (and a boundary neutral such as ZWNJ, removed by X9) takes the previous type.
    previous = edge
    for index, kind in enumerate(types):
        if kind in ("NSM", "BN"):
            types[index] = previous
        previous = types[index]
    # W2, W3: a European number after Arabic letters is an Arabic number; AL becomes R.
    strong = edge
    for index, kind in enumerate(types):
        if kind in ("L", "R", "AL"):
            strong = kind
        elif kind == "EN" and strong == "AL":
            types[index] = "AN"
    types = ["R" if kind == "AL" else kind for kind in types]
    # W4: one separator between two numbers of a type joins them.
    for index in range(1, len(types) - 1):
        before, kind, after = types[index - 1], types[index], types[index + 1]
        if before == after == "EN" and kind in ("ES", "CS"):
            types[index] = "EN"
        elif before == after == "AN" and kind == "CS":
            types[index] = "AN"
    # W5: terminators (%, currency) next to a European number are part of it.
    index = 0
    while index < len(types):
        if types[index] != "ET":
            index += 1
            continue
        end = index
        while end < len(types) and types[end] == "ET":
            end += 1
        touches = (index > 0 and types[index - 1] == "EN") or (
            end < len(types) and types[end] == "EN"
        )
        if touches:
            types[index:end] = ["EN"] * (end - index)
        index = end
    # W6: the separators and terminators left are neutral. W7: numbers in Latin text are L.
    types = ["ON" if kind in ("ES", "ET", "CS") else kind for kind in types]
    strong = edge
    for index, kind in enumerate(types):
        if kind in ("L", "R"):
            strong = kind
        elif kind == "EN" and strong == "L":
            types[index] = "L"
    _pair_brackets(text, types, edge)
    # N1, N2: neutrals between two of one direction take it (numbers count as R); else the base.
    index = 0
    while index < len(types):
        if types[index] not in _NEUTRAL:
            index += 1
            continue
        end = index
        while end < len(types) and types[end] in _NEUTRAL:
            end += 1
        before = _side(types[index - 1]) if index > 0 else edge
        after = _side(types[end]) if end < len(types) else edge
        types[index:end] = [before if before == after else edge] * (end - index)
        index = end
    # I1, I2.
    resolved = []
    for kind in types:
        if base % 2 == 0:
            resolved.append(base + {"L": 0, "R": 1}.get(kind, 2))
        else:
            resolved.append(base + (0 if kind == "R" else 1))
    return resolved


def _pair_brackets(text: str, types: list[str], edge: str) -> None:
    """N0: a pair of brackets takes the direction of what it encloses, or of its context."""
    pairs = []
    stack: list[tuple[str, int]] = []
    for index, char in enumerate(text):
        if types[index] != "ON":
            continue
        if char in _OPENING:
            if len(stack) == 63:  # BD16: too deep, no more pairs
                break
            stack.append((_OPENING[char], index))
        elif char in _CLOSING:
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == char:
                    pairs.append((stack[depth][1], index))
                    del stack[depth:]
                    break
    for opening, closing in sorted(pairs):
        inside = {_side(kind) for kind in types[opening + 1 : closing] if kind in _DIRECTED}
        if not inside:
            continue
        if edge in inside:
            direction = edge
        else:  # only the other direction inside: the brackets follow the text before them
            direction = next(
                (_side(kind) for kind in reversed(types[:opening]) if kind in _DIRECTED), edge
            )
        types[opening] = types[closing] = direction
        for index in (opening, closing):  # marks after a bracket follow it (W1 made them ON)
            follow = index + 1
            while follow < len(text) and unicodedata.bidirectional(text[follow]) == "NSM":
                types[follow] = direction
                follow += 1


def _side(kind: str) -> str:
    return "R" if kind in _NUMBER or kind == "R" else "L"


def visual_runs(text: str, base: int) -> list[Run]:
    """The level runs of one line, left to right as they are drawn (L2).

    Each run is to be shaped in its own direction; the glyphs of an RTL run come out of the
    shaper already left to right.
    """
    resolved = levels(text, base)
    runs: list[Run] = []
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or resolved[index] != resolved[start]:
            runs.append(Run(start, index, resolved[start]))
            start = index
    if not runs:
        return runs
    lowest_odd = min(run.level for run in runs) | 1
    for level in range(max(run.level for run in runs), lowest_odd - 1, -1):
        index = 0
        while index < len(runs):
            if runs[index].level < level:
                index += 1
                continue
            end = index
            while end < len(runs) and runs[end].level >= level:
                end += 1
            runs[index:end] = runs[index:end][::-1]
            index = end
    return runs


def display(text: str, base: int | None = None) -> str:
    """The characters of ``text`` in the order they are seen, left to right (no mirroring)."""
    level = paragraph_level(text) if base is None else base
    return "".join(
        text[run.start : run.end][:: -1 if run.rtl else 1] for run in visual_runs(text, level)
    )


__all__ = ["EXPLICIT_CONTROLS", "Run", "display", "levels", "paragraph_level", "visual_runs"]
