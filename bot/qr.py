"""Invite links and their QR codes, as PNG bytes to print at the reception.

Pure: no Telegram, no database. The PNG is written with ``qrcode`` (error correction M) and
``pypng``, which ``qrcode[png]`` brings; a caption under the code is drawn with a small
built-in bitmap font (printable ASCII; accents are dropped, anything else becomes "?"), so
no imaging library or font file is needed.
"""

from __future__ import annotations

import io
import re
import unicodedata

import png  # type: ignore[import-untyped]
import qrcode  # type: ignore[import-untyped]
from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped]

USERNAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
PAYLOAD_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BOX_SIZE = 10  # pixels a module
BORDER = 4  # modules of quiet zone, as the QR standard asks
CAPTION_SCALE = 2  # pixels a font dot
CAPTION_MAX_LINES = 3
GLYPH_WIDTH = 5
GLYPH_HEIGHT = 7
ADVANCE = GLYPH_WIDTH + 1  # one dot between letters
LINE_GAP = 3  # dots between caption lines

# A classic 5x7 font, printable ASCII from " " to "~": five columns a glyph, bit 0 the top row.
_FONT_DATA = bytes.fromhex(
    "0000000000"  # space
    "00005f0000"  # !
    "0007000700"  # "
    "147f147f14"  # #
    "242a7f2a12"  # $
    "2313086462"  # %
    "3649552250"  # &
    "0005030000"  # '
    "001c224100"  # (
    "0041221c00"  # )
    "14083e0814"  # *
    "08083e0808"  # +
    "0050300000"  # ,
    "0808080808"  # -
    "0060600000"  # .
    "2010080402"  # /
    "3e5149453e"  # 0
    "00427f4000"  # 1
    "4261514946"  # 2
    "2141454b31"  # 3
    "1814127f10"  # 4
    "2745454539"  # 5
    "3c4a494930"  # 6
    "0171090503"  # 7
    "3649494936"  # 8
    "064949291e"  # 9
    "0036360000"  # :
    "0056360000"  # ;
    "0814224100"  # <
    "1414141414"  # =
    "0041221408"  # >
    "0201510906"  # ?
    "324979413e"  # @
    "7e1111117e"  # A
    "7f49494936"  # B
    "3e41414122"  # C
    "7f4141221c"  # D
    "7f49494941"  # E
    "7f09090901"  # F
    "3e4149497a"  # G
    "7f0808087f"  # H
    "00417f4100"  # I
    "2040413f01"  # J
    "7f08142241"  # K
    "7f40404040"  # L
    "7f020c027f"  # M
    "7f0408107f"  # N
    "3e4141413e"  # O
    "7f09090906"  # P
    "3e4151215e"  # Q
    "7f09192946"  # R
    "4649494931"  # S
    "01017f0101"  # T
    "3f4040403f"  # U
    "1f2040201f"  # V
    "3f4038403f"  # W
    "6314081463"  # X
    "0708700807"  # Y
    "6151494543"  # Z
    "007f414100"  # [
    "0204081020"  # backslash
    "0041417f00"  # ]
    "0402010204"  # ^
    "4040404040"  # _
    "0001020400"  # `
    "2054545478"  # a
    "7f48444438"  # b
    "3844444420"  # c
    "384444487f"  # d
    "3854545418"  # e
    "087e090102"  # f
    "0c5252523e"  # g
    "7f08040478"  # h
    "00447d4000"  # i
    "2040443d00"  # j
    "7f10284400"  # k
    "00417f4000"  # l
    "7c04180478"  # m
    "7c08040478"  # n
    "3844444438"  # o
    "7c14141408"  # p
    "081414187c"  # q
    "7c08040408"  # r
    "4854545420"  # s
    "043f444020"  # t
    "3c4040207c"  # u
    "1c2040201c"  # v
    "3c4030403c"  # w
    "4428102844"  # x
    "0c5050503c"  # y
    "4464544c44"  # z
    "0008364100"  # {
    "00007f0000"  # |
    "0041360800"  # }
    "0201020402"  # ~
)
_FIRST, _LAST = 0x20, 0x7E
# Letters and marks that do not decompose into ASCII with NFKD.
_ASCII = str.maketrans(
    {
        "Ł": "L",
        "ł": "l",
        "Ø": "O",
        "ø": "o",
        "Đ": "D",
        "đ": "d",
        "ı": "i",
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
    }
)


def invite_link(bot_username: str, code: str) -> str:
    """The deep link that opens the bot with ``code`` as the /start payload.

    A leading "@" of the username is ignored; a username or code Telegram would not accept
    is a ValueError.
    """
    username = bot_username.strip().removeprefix("@")
    if not USERNAME_PATTERN.match(username):
        raise ValueError(f"{bot_username!r} is not a Telegram bot username")
    if not PAYLOAD_PATTERN.match(code):
        raise ValueError("an invite code is 1-64 characters of A-Z, a-z, 0-9, _ and -")
    return f"https://t.me/{username}?start={code}"


def qr_matrix(data: str) -> list[list[bool]]:
    """The modules of the QR code of ``data`` (True: dark), quiet zone included."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=BOX_SIZE, border=BORDER)
    code.add_data(data)
    code.make(fit=True)
    return [[bool(module) for module in row] for row in code.get_matrix()]


def qr_png(data: str, *, caption: str | None = None) -> bytes:
    """A PNG of the QR code of ``data``, with ``caption`` written under it if given."""
    matrix = qr_matrix(data)
    width = len(matrix) * BOX_SIZE
    rows: list[list[int]] = []  # 1 is white, 0 is black (greyscale, one bit a pixel)
    for modules in matrix:
        row = [0 if dark else 1 for dark in modules for _ in range(BOX_SIZE)]
        rows.extend(list(row) for _ in range(BOX_SIZE))
    if caption and caption.strip():
        rows.extend(_caption_rows(caption, width))
    buffer = io.BytesIO()
    writer = png.Writer(width=width, height=len(rows), greyscale=True, bitdepth=1)
    writer.write(buffer, rows)
    return buffer.getvalue()


def _caption_rows(caption: str, width: int) -> list[list[int]]:
    """Pixel rows of the caption, centred, wrapped to ``width`` and followed by a margin."""
    dots = CAPTION_SCALE
    per_line = max(1, (width - 2 * BORDER * dots) // (ADVANCE * dots))
    lines = _wrap(_printable(caption), per_line)
    margin = BOX_SIZE * 2
    rows: list[list[int]] = []
    for number, line in enumerate(lines):
        if number:
            rows.extend([1] * width for _ in range(LINE_GAP * dots))
        line_width = (len(line) * ADVANCE - 1) * dots
        left = max(0, (width - line_width) // 2)
        for y in range(GLYPH_HEIGHT):
            row = [1] * width
            for index, char in enumerate(line):
                columns = _glyph(char)
                for x, column in enumerate(columns):
                    if column >> y & 1:
                        start = left + (index * ADVANCE + x) * dots
                        row[start : start + dots] = [0] * dots
            rows.extend(list(row[:width]) for _ in range(dots))
    rows.extend([1] * width for _ in range(margin))
    return rows


def _glyph(char: str) -> bytes:
    code = ord(char)
    if not _FIRST <= code <= _LAST:
        code = ord("?")
    start = (code - _FIRST) * GLYPH_WIDTH
    return _FONT_DATA[start : start + GLYPH_WIDTH]


def _printable(text: str) -> str:
    """ASCII the font can draw: accents dropped, other letters "?", spaces collapsed."""
    plain = unicodedata.normalize("NFKD", text.translate(_ASCII))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = "".join(c if _FIRST <= ord(c) <= _LAST else " " if c.isspace() else "?" for c in plain)
    return " ".join(plain.split())


def _wrap(text: str, per_line: int) -> list[str]:
    """Words onto lines of at most ``per_line`` characters; at most CAPTION_MAX_LINES."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        while len(word) > per_line:  # a word longer than a line is cut
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:per_line])
            word = word[per_line:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= per_line:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > CAPTION_MAX_LINES:
        lines = lines[:CAPTION_MAX_LINES]
        last = lines[-1][: per_line - 3].rstrip()
        lines[-1] = f"{last}..."
    return lines


__all__ = ["invite_link", "qr_matrix", "qr_png"]
