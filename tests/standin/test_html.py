"""Telegram's HTML parse mode: tdlib's own test cases, entities, and the trimming."""

from __future__ import annotations

import pytest

from bot.standin.html import EntityParseError, parse_formatted, parse_html, trim

SURROGATES = (
    "Text contains invalid Unicode characters after decoding HTML entities, "
    "check for unmatched surrogate code units"
)


@pytest.mark.parametrize(
    ("markup", "detail"),
    [
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
        ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
        ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        (
            "🏟 🏟&lt;<i>a</em   >",
            'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
        ),
        ("&#57311;", SURROGATES),
        ("&#xDFDF", SURROGATES),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<tg-emoji>x</tg-emoji>", "Invalid custom emoji identifier specified"),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("Tom &nbsp; Jerry", 'Unsupported HTML entity "&nbsp;" at byte offset 4'),
    ],
)
def test_errors_are_telegrams(markup: str, detail: str) -> None:
    with pytest.raises(EntityParseError) as error:
        parse_html(markup)
    assert str(error.value) == detail


def test_unknown_entities_are_text_when_not_strict() -> None:
    assert parse_html("&laquo;&#12345678;&foo", strict_entities=False) == "&laquo;&#12345678;&foo"


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("&lt;&gt;&amp;&quot;&#33;&#x41;&lt", '<>&"!A<', []),
        ("AT&T & co", "AT&T & co", []),
        ("➡️ ➡️<i>➡️ ➡️</i>", "➡️ ➡️➡️ ➡️", [{"type": "italic", "offset": 5, "length": 5}]),
        ("<B>x</B><STRONG>y</>", "xy", [
            {"type": "bold", "offset": 0, "length": 1},
            {"type": "bold", "offset": 1, "length": 1},
        ]),
        ("<u>a</u><ins>b</ins><s>c</s><del>d</del>", "abcd", [
            {"type": "underline", "offset": 0, "length": 1},
            {"type": "underline", "offset": 1, "length": 1},
            {"type": "strikethrough", "offset": 2, "length": 1},
            {"type": "strikethrough", "offset": 3, "length": 1},
        ]),
        ('<span class="tg-spoiler">a</span><tg-spoiler>b</tg-spoiler>', "ab", [
            {"type": "spoiler", "offset": 0, "length": 1},
            {"type": "spoiler", "offset": 1, "length": 1},
        ]),
        ("<a href=telegram.org>site</a>", "site", [
            {"type": "text_link", "offset": 0, "length": 4, "url": "http://telegram.org/"},
        ]),
        ("<a href='javascript:alert(1)'>x</a>", "x", []),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", [
            {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        ]),
        ("<code>a</code>", "a", [{"type": "code", "offset": 0, "length": 1}]),
        ("<blockquote expandable>q</blockquote>", "q", [
            {"type": "expandable_blockquote", "offset": 0, "length": 1},
        ]),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍", [
            {"type": "custom_emoji", "offset": 0, "length": 2,
             "custom_emoji_id": "5368324170671202286"},
        ]),
        ("<b></b>", "", []),
    ],
)  # fmt: skip
def test_text_and_entities(markup: str, text: str, entities: list[dict[str, object]]) -> None:
    parsed = parse_formatted(markup)
    assert parsed.text == text
    assert [e.to_json() for e in parsed.entities] == entities


def test_offsets_count_utf16_code_units() -> None:
    parsed = parse_formatted("😀 <b>x</b>")
    assert [e.to_json() for e in parsed.entities] == [{"type": "bold", "offset": 3, "length": 1}]


def test_trim_drops_outer_spaces_and_newlines_and_shifts_entities() -> None:
    parsed = trim(parse_formatted("\n \n<b>Day 1</b>  \n\n"))
    assert parsed.text == "Day 1"
    assert [e.to_json() for e in parsed.entities] == [{"type": "bold", "offset": 0, "length": 5}]
    assert trim(parse_formatted(" <b> x </b> ")).text == " x"
