"""Telegram's HTML parse mode, checked and parsed the way the Bot API does it.

A port of tdlib's ``parse_html`` (td/telegram/MessageEntity.cpp), which the Bot API server
runs for ``parse_mode=HTML``: the same tags, the same entity decoding, the same error
details with byte offsets into the UTF-8 text, the same entity offsets in UTF-16 code
units. Then the trimming Telegram applies to every message text (``fix_formatted_text``).

One deliberate difference: Telegram shows an unknown named entity such as ``&nbsp;`` as
literal text; the stand-in refuses it (``strict_entities``), since a patient reading
"&nbsp;" is a bug in our texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "tg-time", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_SPACE = frozenset(b" \t\r\n\x00\x0b")
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SURROGATES = (
    "Text contains invalid Unicode characters after decoding HTML entities, "
    "check for unmatched surrogate code units"
)


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's own detail."""


@dataclass(frozen=True)
class Entity:
    """A MessageEntity as the Bot API returns it (offsets in UTF-16 code units)."""

    type: str
    offset: int
    length: int
    extra: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The entity as Bot API JSON."""
        return {"type": self.type, "offset": self.offset, "length": self.length, **dict(self.extra)}


@dataclass(frozen=True)
class FormattedText:
    """Plain text and its entities, as Telegram stores a message."""

    text: str
    entities: tuple[Entity, ...] = field(default_factory=tuple)


def parse_html(text: str, *, strict_entities: bool = True) -> str:
    """The plain text Telegram shows for ``text`` (before trimming), or EntityParseError."""
    return parse_formatted(text, strict_entities=strict_entities).text


def parse_formatted(text: str, *, strict_entities: bool = True) -> FormattedText:
    """Parse Telegram HTML into plain text and entities, or raise EntityParseError."""
    return _Parser(text.encode("utf-8", "surrogatepass"), strict_entities).run()


def trim(formatted: FormattedText) -> FormattedText:
    """Telegram's trimming of a message text: trailing spaces and newlines go, and so do
    leading ones before the first entity; entities are clipped and shifted to match."""
    text, entities = formatted.text, list(formatted.entities)
    kept = text.rstrip(" \n")
    end = _utf16_length(kept)
    entities = [
        Entity(e.type, e.offset, min(e.length, end - e.offset), e.extra)
        for e in entities
        if e.offset < end
    ]
    first = min((e.offset for e in entities), default=end)
    lead = 0
    while lead < len(kept) and kept[lead] in " \n" and lead < first:
        lead += 1
    entities = [Entity(e.type, e.offset - lead, e.length, e.extra) for e in entities]
    return FormattedText(kept[lead:], tuple(e for e in entities if e.length > 0))


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass
class _Open:
    tag: str
    argument: str
    date: int
    utf16_offset: int
    byte_offset: int


class _Parser:
    """One run of tdlib's parser over the UTF-8 bytes (a NUL past the end, as in C)."""

    def __init__(self, data: bytes, strict_entities: bool) -> None:
        self.data = data
        self.strict = strict_entities
        self.out = bytearray()
        self.utf16 = 0
        self.surrogates = False
        self.entities: list[Entity] = []
        self.open: list[_Open] = []

    def at(self, index: int) -> int:
        return self.data[index] if index < len(self.data) else 0

    def run(self) -> FormattedText:
        i = 0
        size = len(self.data)
        while i < size:
            c = self.data[i]
            if c == ord("&"):
                code, after = self.entity(i)
                if code:
                    self.append_code(code)
                    i = after
                    continue
                if self.strict:
                    self.refuse_unknown_entity(i)
            if c != ord("<"):
                if c & 0xC0 != 0x80:
                    self.utf16 += 1 + (c >= 0xF0)
                self.out.append(c)
                i += 1
                continue
            i = self.end_tag(i) if self.at(i + 1) == ord("/") else self.start_tag(i)
        if self.open:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.open[-1].tag}"'
            )
        if self.surrogates:
            raise EntityParseError(_SURROGATES)
        entities = [
            Entity(e.type, e.offset, e.length, tuple(kv for kv in e.extra if kv[0] != "language"))
            if e.type == "code"
            else e
            for e in self.entities
        ]
        entities.sort(key=lambda e: (e.offset, -e.length))
        return FormattedText(self.out.decode("utf-8", "surrogatepass"), tuple(entities))

    # -- entities (&...;) -----------------------------------------------------------------

    def entity(self, pos: int) -> tuple[int, int]:
        """tdlib's decode_html_entity: (code point, next position), or (0, pos)."""
        end = pos + 1
        code = 0
        if self.at(pos + 1) == ord("#"):
            end += 1
            if self.at(pos + 2) == ord("x"):
                end += 1
                while chr(self.at(end)) in "0123456789abcdefABCDEF":
                    code = code * 16 + int(chr(self.at(end)), 16)
                    end += 1
            else:
                while ord("0") <= self.at(end) <= ord("9"):
                    code = code * 10 + self.at(end) - ord("0")
                    end += 1
            if code == 0 or code >= 0x10FFFF or end - pos >= 10:
                return 0, pos
        else:
            while _is_alpha(self.at(end)):
                end += 1
            name = self.data[pos + 1 : end]
            if name not in _NAMED:
                return 0, pos
            code = ord(_NAMED[name])
        if self.at(end) == ord(";"):
            end += 1
        return code, end

    def refuse_unknown_entity(self, pos: int) -> None:
        end = pos + 1
        while _is_alpha(self.at(end)):
            end += 1
        if end > pos + 1 and self.at(end) == ord(";"):
            name = self.data[pos : end + 1].decode("utf-8", "replace")
            raise EntityParseError(f'Unsupported HTML entity "{name}" at byte offset {pos}')

    def append_code(self, code: int) -> None:
        self.utf16 += 1 + (code > 0xFFFF)
        if 0xD800 <= code <= 0xDFFF:
            self.surrogates = True
        self.out += chr(code).encode("utf-8", "surrogatepass")

    # -- tags -----------------------------------------------------------------------------

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while self.at(i) not in _SPACE and self.at(i) != ord(">"):
            i += 1
        if self.at(i) == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        tag = self.data[begin + 1 : i].lower().decode("utf-8", "replace")
        if tag not in TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = ""
        date = 0
        while self.at(i) != ord(">"):
            while self.at(i) != 0 and self.at(i) in _SPACE:
                i += 1
            if self.at(i) == ord(">"):
                break
            name_begin = i
            while self.at(i) not in _SPACE and chr(self.at(i)) not in "=>/\"'":
                i += 1
            name = self.data[name_begin:i]
            if not name:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                )
            while self.at(i) != 0 and self.at(i) in _SPACE:
                i += 1
            if self.at(i) != ord("="):
                if self.at(i) == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if tag == "blockquote" and name == b"expandable":
                    argument = "1"
                continue
            i += 1
            while self.at(i) != 0 and self.at(i) in _SPACE:
                i += 1
            if self.at(i) == 0:
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            value, i = self.attribute_value(i)
            if self.at(i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            if tag == "a" and name == b"href":
                argument = value
            elif tag == "code" and name == b"class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif tag == "span" and name == b"class" and value.startswith("tg-"):
                argument = value[3:]
            elif tag == "tg-emoji" and name == b"emoji-id":
                argument = value
            elif tag == "blockquote" and name == b"expandable":
                argument = "1"
            elif tag == "tg-time" and name == b"unix":
                date = _int(value)
            elif tag == "tg-time" and name == b"format":
                argument = value
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        self.open.append(_Open(tag, argument, date, self.utf16, len(self.out)))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in (ord("'"), ord('"')):
            # A name token: letters, digits, periods and hyphens, not case sensitive.
            begin = i
            while _is_alpha(self.at(i)) or chr(self.at(i)) in "0123456789.-":
                i += 1
            if self.at(i) not in _SPACE and self.at(i) != ord(">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset {begin}")
            return self.data[begin:i].lower().decode("utf-8", "replace"), i
        i += 1
        value = bytearray()
        while self.at(i) != quote and self.at(i) != 0:
            if self.at(i) == ord("&"):
                code, after = self.entity(i)
                if code:
                    value += chr(code).encode("utf-8", "surrogatepass")
                    i = after
                    continue
            value.append(self.at(i))
            i += 1
        if self.at(i) == quote:
            i += 1
        return value.decode("utf-8", "replace"), i

    def end_tag(self, begin: int) -> int:
        if not self.open:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while self.at(i) not in _SPACE and self.at(i) != ord(">"):
            i += 1
        name = self.data[begin + 2 : i].lower().decode("utf-8", "replace")
        while self.at(i) in _SPACE and self.at(i) != 0:
            i += 1
        if self.at(i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        top = self.open[-1]
        if name and name != top.tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{top.tag}>", '
                f'found "</{name}>"'
            )
        if self.utf16 > top.utf16_offset:
            self.close(top)
        self.open.pop()
        return i + 1

    def close(self, top: _Open) -> None:
        offset, length = top.utf16_offset, self.utf16 - top.utf16_offset
        simple = {
            "i": "italic", "em": "italic", "b": "bold", "strong": "bold",
            "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
            "u": "underline", "ins": "underline", "tg-spoiler": "spoiler", "span": "spoiler",
        }  # fmt: skip
        tag = top.tag
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last.offset, last.length) == (offset, length)
        if tag in simple:
            self.entities.append(Entity(simple[tag], offset, length))
        elif tag == "tg-emoji":
            emoji_id = _int(top.argument)
            if emoji_id == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            extra = (("custom_emoji_id", str(emoji_id)),)
            self.entities.append(Entity("custom_emoji", offset, length, extra))
        elif tag == "tg-time":
            if top.date > 0:
                extra_time: tuple[tuple[str, Any], ...] = (("unix_time", top.date),)
                if top.argument:
                    extra_time += (("date_time_format", top.argument),)
                self.entities.append(Entity("date_time", offset, length, extra_time))
        elif tag == "a":
            url = top.argument or self.out[top.byte_offset :].decode("utf-8", "replace")
            link = _link_entity(url, offset, length)
            if link is not None:
                self.entities.append(link)
        elif tag == "pre":
            if same_span and last is not None and last.type == "code" and last.extra:
                self.entities[-1] = Entity("pre", offset, length, last.extra)
            else:
                self.entities.append(Entity("pre", offset, length))
        elif tag == "code":
            if same_span and last is not None and last.type == "pre" and top.argument:
                self.entities[-1] = Entity("pre", offset, length, (("language", top.argument),))
            else:
                extra_code = (("language", top.argument),) if top.argument else ()
                self.entities.append(Entity("code", offset, length, extra_code))
        elif tag == "blockquote":
            kind = "expandable_blockquote" if top.argument else "blockquote"
            self.entities.append(Entity(kind, offset, length))


def _link_entity(url: str, offset: int, length: int) -> Entity | None:
    """A text_link (or text_mention) entity, or None where Telegram drops a bad link."""
    url = url.strip()
    if url.lower().startswith("tg://user?id="):
        user_id = _int(url[len("tg://user?id=") :])
        if user_id > 0:
            user = {"id": user_id, "is_bot": False, "first_name": "User"}
            return Entity("text_mention", offset, length, (("user", user),))
    checked = checked_link(url)
    return None if checked is None else Entity("text_link", offset, length, (("url", checked),))


def checked_link(url: str) -> str | None:
    """A link as Telegram normalises it (``telegram.org`` -> ``http://telegram.org/``),
    or None if it is not a usable http(s), tg or ton link."""
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    lowered = url.lower()
    if lowered.startswith(("tg:", "ton:")):
        return url
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("http", "https") or not host or port == 0:
        return None
    if not all(c.isalnum() or c in ".-_" or ord(c) > 127 for c in host) or ".." in host:
        return None
    if "." not in host and host != "localhost":
        return None
    if parts.path:
        return url
    return urlunsplit((parts.scheme, parts.netloc, "/", parts.query, parts.fragment))


def _is_alpha(c: int) -> bool:
    return ord("a") <= (c | 0x20) <= ord("z")


def _int(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        return 0
