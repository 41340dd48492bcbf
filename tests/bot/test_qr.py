"""Invite links and their QR codes: the link's shape, its validation, and a PNG that decodes to
the same QR code (read back with pypng, which ``qrcode[png]`` brings; no zbar here)."""

from __future__ import annotations

import png  # type: ignore[import-untyped]
import pytest

from bot.qr import BORDER, BOX_SIZE, CAPTION_MARGIN, invite_link, qr_matrix, qr_png
from scheduler.clinics.codes import new_code

CODE = "Ab3_-" + "x" * 27


def read_png(data: bytes) -> tuple[int, int, list[list[int]]]:
    """Width, height and greyscale rows (0 black, 1 white) of a PNG."""
    width, height, rows, info = png.Reader(bytes=data).asDirect()
    pixels = [list(row) for row in rows]
    assert info["greyscale"] and not info["alpha"]
    top = (1 << info["bitdepth"]) - 1
    return width, height, [[1 if value == top else 0 for value in row] for row in pixels]


def modules_of(rows: list[list[int]], size: int) -> list[list[bool]]:
    """The QR modules read back from the image: the centre pixel of each box."""
    middle = BOX_SIZE // 2
    return [
        [rows[y * BOX_SIZE + middle][x * BOX_SIZE + middle] == 0 for x in range(size)]
        for y in range(size)
    ]


def test_the_link_is_a_telegram_deep_link() -> None:
    """https://t.me/<bot>?start=<code>, with or without the @ of the username."""
    assert invite_link("aftercare_bot", CODE) == f"https://t.me/aftercare_bot?start={CODE}"
    assert invite_link("@Aftercare_Bot", CODE) == f"https://t.me/Aftercare_Bot?start={CODE}"
    code = new_code()
    assert invite_link("abcd", code).endswith(f"?start={code}")


@pytest.mark.parametrize(
    "username",
    ["", "@", "abc", "1bot", "_bot", "bot-name", "bot name", "a" * 33, "bot/../x", "bøt_name"],
)
def test_a_username_telegram_would_refuse_is_a_value_error(username: str) -> None:
    """5-32 characters of letters, digits and _, starting with a letter."""
    with pytest.raises(ValueError, match="username"):
        invite_link(username, CODE)


@pytest.mark.parametrize("code", ["", "a b", "a+b", "a/b", "a=b", "é", "x" * 65, "a\nb"])
def test_a_code_telegram_would_refuse_is_a_value_error(code: str) -> None:
    """A /start payload is 1-64 characters of A-Z, a-z, 0-9, _ and -."""
    with pytest.raises(ValueError, match="code"):
        invite_link("aftercare_bot", code)


def test_the_longest_username_and_code_still_make_a_link() -> None:
    """The limits themselves are accepted."""
    link = invite_link("a" * 32, "x" * 64)
    assert link == f"https://t.me/{'a' * 32}?start={'x' * 64}"


def test_the_png_is_the_qr_code_of_the_link() -> None:
    """A square PNG whose boxes, read back, are the modules qrcode makes for the same data."""
    link = invite_link("aftercare_demo_bot", new_code())
    data = qr_png(link)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height, rows = read_png(data)
    matrix = qr_matrix(link)
    size = len(matrix)
    assert width == height == size * BOX_SIZE
    assert modules_of(rows, size) == matrix
    # Every box is one colour, and the quiet zone is white.
    for y in range(height):
        for x in range(width):
            assert rows[y][x] == (0 if matrix[y // BOX_SIZE][x // BOX_SIZE] else 1)
    quiet = BORDER * BOX_SIZE
    assert all(value == 1 for row in rows[:quiet] for value in row)
    assert all(value == 1 for row in rows for value in row[:quiet])


def test_the_matrix_is_the_codes_own_and_depends_on_the_data() -> None:
    """Built twice from the same data it is the same; from another code it differs. The
    finder patterns sit in three corners, inside the quiet zone."""
    link = invite_link("aftercare_demo_bot", CODE)
    matrix = qr_matrix(link)
    assert matrix == qr_matrix(link)
    assert matrix != qr_matrix(invite_link("aftercare_demo_bot", "y" * 32))
    size = len(matrix)
    assert all(len(row) == size for row in matrix)
    finder = [row[BORDER : BORDER + 7] for row in matrix[BORDER : BORDER + 7]]
    assert finder[0] == [True] * 7 and finder[1] == [True, *[False] * 5, True]
    assert finder[3] == [True, False, True, True, True, False, True]
    assert matrix[BORDER][size - BORDER - 7 : size - BORDER] == [True] * 7
    assert matrix[size - BORDER - 1][BORDER : BORDER + 7] == [True] * 7


def test_a_caption_is_drawn_under_the_code() -> None:
    """Same width, taller; the code itself unchanged; black text in the band below it."""
    link = invite_link("aftercare_demo_bot", CODE)
    plain_width, plain_height, plain_rows = read_png(qr_png(link))
    width, height, rows = read_png(qr_png(link, caption="Scan to get aftercare reminders"))
    assert width == plain_width and height > plain_height
    assert height < plain_height * 1.5  # square-ish: a band, not a page
    assert rows[:plain_height] == plain_rows
    band = rows[plain_height:]
    assert any(0 in row for row in band), "the caption is drawn"
    assert all(value == 1 for value in band[-1]), "with a white margin below"


def test_a_long_or_foreign_caption_wraps_and_still_renders() -> None:
    """Long text wraps onto at most three lines; letters the font lacks do not break it."""
    link = invite_link("aftercare_demo_bot", CODE)
    _, short_height, _ = read_png(qr_png(link, caption="Hi"))
    _, long_height, _ = read_png(qr_png(link, caption="Clínica Łódź Zürich 東京 " * 20))
    _, longer_height, _ = read_png(qr_png(link, caption="word " * 500))
    assert short_height < long_height == longer_height  # three lines at most
    assert read_png(qr_png(link, caption="   ")) == read_png(qr_png(link))


def test_an_urdu_clinic_name_is_drawn_in_its_own_letters() -> None:
    """The caption of a clinic with an Urdu name is not the row of "?" an ASCII font makes: it
    differs from it, from another name's, and its ink stays inside the side margins."""
    link = invite_link("aftercare_demo_bot", CODE)
    _, plain_height, _ = read_png(qr_png(link))

    def band(caption: str) -> list[list[int]]:
        return read_png(qr_png(link, caption=caption))[2][plain_height:]

    name = band("Scan to get aftercare reminders from شفا کلینک اسلام آباد")
    assert name != band("Scan to get aftercare reminders from ??? ????? ????? ????")
    assert name != band("Scan to get aftercare reminders from صحت کلینک راولپنڈی")
    assert sum(row.count(0) for row in name) > 500
    assert all(
        row[:CAPTION_MARGIN] == row[-CAPTION_MARGIN:] == [1] * CAPTION_MARGIN for row in name
    )
