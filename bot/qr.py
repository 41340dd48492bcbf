"""Invite links and their QR codes, as PNG bytes to print at the reception.

Pure: no Telegram, no database. The PNG is written with ``qrcode`` (error correction M) and
``pypng``, which ``qrcode[png]`` brings; the caption under the code (English, Urdu script or
both: a clinic's name may be either) is laid out and drawn by ``bot.caption``.
"""

from __future__ import annotations

import io
import re

import png  # type: ignore[import-untyped]
import qrcode  # type: ignore[import-untyped]
from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped]

from bot.caption import render as render_caption

USERNAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
PAYLOAD_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BOX_SIZE = 10  # pixels a module
BORDER = 4  # modules of quiet zone, as the QR standard asks
CAPTION_MARGIN = BOX_SIZE * 2  # white pixels either side of the caption and below it


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
    rows: list[list[int]] = []  # 8-bit greyscale: 255 is white, 0 is black
    for modules in matrix:
        row = [0 if dark else 255 for dark in modules for _ in range(BOX_SIZE)]
        rows.extend(list(row) for _ in range(BOX_SIZE))
    if caption and caption.strip():
        rows.extend(_caption_rows(caption, width))
    buffer = io.BytesIO()
    writer = png.Writer(width=width, height=len(rows), greyscale=True, bitdepth=8)
    writer.write(buffer, rows)
    return buffer.getvalue()


def _caption_rows(caption: str, width: int) -> list[list[int]]:
    """Pixel rows of the caption, centred in ``width`` less the margins, then a white margin."""
    margin = [255] * CAPTION_MARGIN
    inked = render_caption(caption, width - 2 * CAPTION_MARGIN)
    rows = [[*margin, *(255 - ink for ink in line), *margin] for line in inked]
    rows.extend([255] * width for _ in range(CAPTION_MARGIN))
    return rows


__all__ = ["invite_link", "qr_matrix", "qr_png"]
