"""Telegram's HTML parse mode, checked the way the Bot API checks it.

Allowed: b strong i em u ins s strike del span(class="tg-spoiler") tg-spoiler a(href) code
pre blockquote tg-emoji(emoji-id); the entities &lt; &gt; &amp; &quot; and numeric ones.
Anything else is "Bad Request: can't parse entities: ..." with a detail like Telegram's.
"""

from __future__ import annotations

import html
import re

ALLOWED = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji",
}  # fmt: skip
ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
)
ATTRIBUTE = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's detail."""


def parse_html(text: str) -> str:
    """The plain text Telegram shows for ``text``, or EntityParseError."""
    out: list[str] = []
    stack: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "<":
            match = TAG.match(text, position)
            if match is None:
                raise EntityParseError(
                    f"Unsupported start tag at byte offset {len(text[:position].encode())}"
                )
            closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3)
            offset = len(text[:position].encode())
            if name not in ALLOWED:
                kind = "end" if closing else "start"
                raise EntityParseError(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1] != name:
                    raise EntityParseError(
                        f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1]}>"'
                        if stack
                        else f"Unexpected end tag at byte offset {offset}"
                    )
                stack.pop()
            else:
                attrs = {
                    k.lower(): (v or "").strip("\"'") for k, v in ATTRIBUTE.findall(attributes)
                }
                if name == "a" and not attrs.get("href"):
                    raise EntityParseError(f"Can't find href of the link at byte offset {offset}")
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise EntityParseError(
                        f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
                    )
                if name == "tg-emoji" and not attrs.get("emoji-id"):
                    raise EntityParseError(
                        f"Custom emoji identifier must be specified at byte offset {offset}"
                    )
                stack.append(name)
            position = match.end()
        elif char == "&":
            match = ENTITY.match(text, position)
            if match is None:
                # Telegram leaves an unknown "&word;" or a lone "&" as text only when it
                # cannot be an entity; "&foo;" is refused.
                if re.match(r"&[a-zA-Z0-9#]+;", text[position:]):
                    offset = len(text[:position].encode())
                    raise EntityParseError(f"Unsupported HTML entity at byte offset {offset}")
                out.append("&")
                position += 1
                continue
            out.append(html.unescape(match.group(0)))
            position = match.end()
        else:
            out.append(char)
            position += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)
