"""The caption under a printed QR code, in Latin and Urdu script, as greyscale pixel rows.

The font is Noto Sans Arabic (OFL-1.1), which ``fontpkg-noto-sans-arabic`` ships: one design for
Latin and for Urdu, with the letters Urdu adds to Arabic (ٹ ڈ ڑ ں ہ ھ ے) and its own forms.
Levels and line order come from ``bot.bidi``, each run is shaped by HarfBuzz (``uharfbuzz``) in
its direction and drawn by FreeType (``freetype-py``); both wheels carry their library, so nothing
is needed from the system. Pillow's Raqm layout would do all three, but Pillow's wheels load
FriBiDi from the system at run time and fall back, unshaped, without it.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import fontpkg  # type: ignore[import-untyped]
import freetype  # type: ignore[import-untyped]
import uharfbuzz as hb  # type: ignore[import-untyped]

from bot.bidi import EXPLICIT_CONTROLS, paragraph_level, visual_runs

FAMILY = "Noto Sans Arabic"
LANGUAGE = "ur"  # selects the font's Urdu forms (digits, heh goal) in Arabic-script runs
SIZES = range(24, 13, -2)  # pixels an em, tried from the largest down
MAX_LINES = 3
ASCENT = 1.05  # ems above the baseline kept on a line: Urdu marks reach about 0.95
DESCENT = 0.5  # and below it: about 0.45
LINE_PITCH = 1.45  # ems from one baseline to the next
ELLIPSIS = "…"
MISSING = "?"
# Invisible characters that shape or order the text: ZWNJ, ZWJ, LRM, RLM, ALM.
_KEPT_FORMATS = frozenset("\u200c\u200d\u200e\u200f\u061c")


@dataclass(frozen=True)
class Glyph:
    """One shaped glyph of a line: its id, the logical index of its character, and where it
    goes (pen position in pixels from the left of the line, plus the shaper's offsets)."""

    glyph_id: int
    cluster: int
    x: float
    dx: float
    dy: float


@dataclass(frozen=True)
class Line:
    """A line of the caption: its text in logical order, its glyphs left to right, its width."""

    text: str
    glyphs: tuple[Glyph, ...]
    width: float


class CaptionFont:
    """The caption font at one size, for HarfBuzz (shaping) and FreeType (pixels)."""

    def __init__(self, path: Path, size: int) -> None:
        self.size = size
        self._hb = hb.Font(hb.Face(hb.Blob.from_file_path(str(path))))
        self._hb.scale = (size * 64, size * 64)  # positions in 26.6 fixed point
        self._ft = freetype.Face(str(path))
        self._ft.set_pixel_sizes(0, size)

    def has(self, char: str) -> bool:
        """Whether the font has a glyph for ``char`` (not the .notdef box)."""
        return bool(self._ft.get_char_index(ord(char)))

    def line(self, text: str, base: int) -> Line:
        """``text`` laid out on one line of a paragraph of direction ``base``."""
        glyphs: list[Glyph] = []
        pen = 0.0
        for run in visual_runs(text, base):
            buffer = hb.Buffer()
            buffer.add_str(text[run.start : run.end])
            buffer.guess_segment_properties()
            buffer.direction = "rtl" if run.rtl else "ltr"
            buffer.language = LANGUAGE
            hb.shape(self._hb, buffer, {})
            for info, position in zip(buffer.glyph_infos, buffer.glyph_positions, strict=True):
                glyphs.append(
                    Glyph(
                        glyph_id=info.codepoint,
                        cluster=run.start + info.cluster,
                        x=pen,
                        dx=position.x_offset / 64,
                        dy=position.y_offset / 64,
                    )
                )
                pen += position.x_advance / 64
        return Line(text=text, glyphs=tuple(glyphs), width=pen)

    def draw(self, line: Line, canvas: list[bytearray], left: float, baseline: int) -> None:
        """Ink ``line`` onto ``canvas`` (coverage 0-255 a pixel), its pen starting at ``left``."""
        height, width = len(canvas), len(canvas[0])
        for glyph in line.glyphs:
            self._ft.load_glyph(
                glyph.glyph_id, freetype.FT_LOAD_RENDER | freetype.FT_LOAD_TARGET_LIGHT
            )
            slot = self._ft.glyph
            bitmap = slot.bitmap
            x0 = round(left + glyph.x + glyph.dx) + slot.bitmap_left
            y0 = baseline - round(glyph.dy) - slot.bitmap_top
            for row in range(bitmap.rows):
                y = y0 + row
                if not 0 <= y < height:
                    continue
                target = canvas[y]
                source = bitmap.buffer[row * bitmap.pitch : row * bitmap.pitch + bitmap.width]
                for column, coverage in enumerate(source):
                    x = x0 + column
                    if coverage and 0 <= x < width and coverage > target[x]:
                        target[x] = coverage


@functools.cache
def caption_font(size: int) -> CaptionFont:
    """The caption font at ``size`` pixels an em, loaded once."""
    return CaptionFont(Path(fontpkg.path(FAMILY)), size)


def drawable(text: str) -> str:
    """``text`` on one line, with what the font cannot draw made "?" and spaces collapsed.

    Control characters go; embedding and isolate controls too (``bot.bidi`` does not apply
    them); the invisible joiners and direction marks stay.
    """
    font = caption_font(SIZES[0])
    chars = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char.isspace():
            chars.append(" ")
        elif char in _KEPT_FORMATS:
            chars.append(char)
        elif category in ("Cc", "Cf", "Cs", "Co", "Cn") or char in EXPLICIT_CONTROLS:
            continue
        elif font.has(char):
            chars.append(char)
        elif not unicodedata.combining(char):
            chars.append(MISSING)
    return " ".join("".join(chars).split())


def layout(text: str, width: int) -> tuple[CaptionFont, list[Line]]:
    """The largest size at which ``text`` fits ``width`` pixels in MAX_LINES lines, and the
    lines; at the smallest size, a word too long for a line is cut and the last line ends in
    an ellipsis."""
    words = drawable(text).split(" ")
    base = paragraph_level(" ".join(words))
    for size in SIZES:
        font = caption_font(size)
        lines = _wrap(font, words, base, width)
        if lines is not None:
            return font, lines
    font = caption_font(SIZES[-1])
    return font, _cut(font, words, base, width)


def render(text: str, width: int) -> list[bytearray]:
    """Rows of ink coverage (0 none, 255 full), ``width`` pixels wide, each line centred."""
    font, lines = layout(text, width)
    ascent = round(ASCENT * font.size)
    pitch = round(LINE_PITCH * font.size)
    height = ascent + (len(lines) - 1) * pitch + round(DESCENT * font.size)
    canvas = [bytearray(width) for _ in range(height)]
    for number, line in enumerate(lines):
        font.draw(line, canvas, (width - line.width) / 2, ascent + number * pitch)
    return canvas


def _wrap(font: CaptionFont, words: list[str], base: int, width: int) -> list[Line] | None:
    """Words onto lines no wider than ``width``; None if they need more than MAX_LINES."""
    lines: list[Line] = []
    current: Line | None = None
    for word in words:
        candidate = font.line(word if current is None else f"{current.text} {word}", base)
        if candidate.width <= width:
            current = candidate
            continue
        if current is not None:
            lines.append(current)
        current = font.line(word, base)
        if current.width > width or len(lines) >= MAX_LINES:
            return None
    if current is not None:
        lines.append(current)
    return lines


def _cut(font: CaptionFont, words: list[str], base: int, width: int) -> list[Line]:
    """MAX_LINES full lines: long words cut where they overflow, the rest after an ellipsis."""
    lines: list[Line] = []
    rest = " ".join(words)
    while rest and len(lines) < MAX_LINES:
        last = len(lines) == MAX_LINES - 1
        fits = _longest_prefix(font, rest, base, width, ellipsis=last and bool(rest))
        text = rest[:fits].rstrip()
        rest = rest[fits:].lstrip()
        if last and rest:
            text = f"{text}{ELLIPSIS}"
        lines.append(font.line(text, base))
    return lines


def _longest_prefix(font: CaptionFont, text: str, base: int, width: int, *, ellipsis: bool) -> int:
    """How many characters of ``text`` fit on a line, ending at a space if one does."""
    if font.line(text, base).width <= width:
        return len(text)
    suffix = ELLIPSIS if ellipsis else ""
    low, high = 1, len(text)  # a line holds at least one character
    while low < high:
        middle = (low + high + 1) // 2
        if font.line(text[:middle].rstrip() + suffix, base).width <= width:
            low = middle
        else:
            high = middle - 1
    space = text.rfind(" ", 0, low + 1)
    if space > 0:
        return space
    while low < len(text) and unicodedata.combining(text[low]):
        low += 1  # never part a letter from its marks
    return low


__all__ = ["CaptionFont", "Glyph", "Line", "caption_font", "drawable", "layout", "render"]
