"""Every sentence the patient reads, from content/texts/<language>.yaml, rendered safely.

Templates are Telegram HTML written by us; every value put into them is escaped unless it
is ``Markup`` (HTML we produced ourselves), so nothing a patient or a plan author types can
break the formatting or inject markup.
"""

from __future__ import annotations

import functools
import html
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TEXTS_DIR = Path(__file__).resolve().parent / "texts"
DEFAULT_LANGUAGE = "en"


class Markup(str):
    """A string of trusted HTML: inserted into a template as it is."""

    __slots__ = ()


class TextsError(ValueError):
    """A texts file that cannot be used; the message says where."""


def escape(value: object) -> str:
    """HTML-escape ``value`` unless it is Markup."""
    if isinstance(value, Markup):
        return str(value)
    return html.escape(str(value), quote=False)


def _flatten(prefix: str, node: Any, into: dict[str, str], source: Path) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, into, source)
    elif isinstance(node, str):
        into[prefix] = node.strip("\n")
    else:
        raise TextsError(f"{source}: {prefix}: expected text, got {type(node).__name__}")


class Texts:
    """The texts of one language, by dotted key ("date.question")."""

    def __init__(self, templates: dict[str, str], *, language: str) -> None:
        """Check every template's placeholders parse."""
        self.language = language
        self.templates = templates
        self.fields: dict[str, set[str]] = {}
        for key, template in templates.items():
            try:
                names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
            except ValueError as exc:
                raise TextsError(f"{key}: {exc}") from None
            if any(not n.isidentifier() for n in names):
                raise TextsError(f"{key}: placeholders must be plain names like {{day}}")
            self.fields[key] = names

    def __contains__(self, key: str) -> bool:
        return key in self.templates

    def render(self, key: str, **values: object) -> Markup:
        """The template ``key`` with ``values`` escaped into it, as Markup."""
        try:
            template = self.templates[key]
        except KeyError:
            raise KeyError(f"no text {key!r} in language {self.language!r}") from None
        missing = self.fields[key] - values.keys()
        if missing:
            raise KeyError(f"text {key!r} needs {', '.join(sorted(missing))}")
        return Markup(template.format(**{k: escape(v) for k, v in values.items()}))

    def plain(self, key: str, **values: object) -> str:
        """The text ``key`` without markup: for button labels and command descriptions."""
        return html.unescape(strip_tags(self.render(key, **values)))


def strip_tags(markup: str) -> str:
    """Telegram HTML without its tags (entities stay escaped): the plain-text fallback."""
    out: list[str] = []
    depth = 0
    for char in markup:
        if char == "<":
            depth += 1
        elif char == ">" and depth:
            depth -= 1
        elif not depth:
            out.append(char)
    return "".join(out)


@functools.lru_cache(maxsize=8)
def load_texts(language: str = DEFAULT_LANGUAGE) -> Texts:
    """The texts of ``language``, falling back to English for a language we do not have."""
    path = TEXTS_DIR / f"{language}.yaml"
    if not path.exists():
        path = TEXTS_DIR / f"{DEFAULT_LANGUAGE}.yaml"
        language = DEFAULT_LANGUAGE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TextsError(f"{path}: {exc}") from None
    templates: dict[str, str] = {}
    _flatten("", data, templates, path)
    return Texts(templates, language=language)
