"""Every sentence the patient reads, from content/texts/<language>.yaml, rendered safely.

Templates are Telegram HTML written by us; every value put into them is escaped unless it
is ``Markup`` (HTML we produced ourselves), so nothing a patient or a plan author types can
break the formatting or inject markup.

Languages: one catalogue per language, named by its code (``en.yaml``, ``ur.yaml`` for Urdu
script, ``ur-Latn.yaml`` for Roman Urdu, BCP 47's script subtag), each with every key of
``en.yaml``, the same ``{placeholders}`` and the same HTML tags; ``compare_catalogues`` (run
by ``aftercare content check``) proves it.

Why YAML catalogues and not gettext/Babel: our texts are keyed HTML templates, and a gettext
``msgid`` is the English sentence itself, so every English edit would silently orphan the
Urdu; here a key keeps its translations, and ``compare_catalogues`` checks what gettext tools
would not (the same placeholders and tags). Plural rules are CLDR's, as Babel's are.

Plurals: a key whose value is a mapping of CLDR plural categories is one text in several
forms, for example::

    expired:
      one: "1 reminder was skipped."
      other: "{count} reminders were skipped."

``render(key, count=n)`` picks the form for ``n`` by the language's CLDR rule
(``plural_category``: en, ur and ur-Latn have ``one`` for 1 and ``other`` for the rest), and
a catalogue must give every category its language uses. Use a plural wherever a count is shown.

Right to left: Telegram takes a paragraph's direction from its first strong character, so an
Urdu line that opens with a Latin word, a digit, an emoji, a tag or a placeholder would be laid
out left to right. When a right-to-left catalogue is loaded, every line that holds Urdu letters
but does not start with one gets a right-to-left mark (U+200F) in front (``mark_direction``);
lines without Urdu letters (the staff texts kept in English) keep their own direction.
"""

from __future__ import annotations

import functools
import html
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TEXTS_DIR = Path(__file__).resolve().parent / "texts"
DEFAULT_LANGUAGE = "en"
RTL_LANGUAGES = frozenset({"ur"})
RLM = "\u200f"
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
# CLDR plural categories each language uses for whole numbers (cldr.unicode.org, plurals):
# English and Urdu both have "one" (exactly 1) and "other".
LANGUAGE_PLURALS: dict[str, tuple[str, ...]] = {
    "en": ("one", "other"),
    "ur": ("one", "other"),
    "ur-Latn": ("one", "other"),
}
_TAG = re.compile(r"</?([a-zA-Z]+)[^>]*>")


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


def plural_category(language: str, count: int) -> str:
    """The CLDR plural category of a whole number ``count`` in ``language``."""
    categories = LANGUAGE_PLURALS.get(language, LANGUAGE_PLURALS[DEFAULT_LANGUAGE])
    if "one" in categories and abs(count) == 1:
        return "one"
    return "other"


def _right_to_left(char: str) -> bool:
    return unicodedata.bidirectional(char) in ("R", "AL")


def _needs_mark(line: str) -> bool:
    # A line without any right-to-left letter (an English staff text, "{icon} {answer}") is
    # left alone: its direction is its own, or the value put into it decides.
    return (
        bool(line)
        and not _right_to_left(line[0])
        and line[0] != RLM
        and any(_right_to_left(char) for char in line)
    )


def mark_direction(text: str) -> str:
    """``text`` with U+200F before each line holding right-to-left letters that does not
    start with one ("SPF 30+ ہر صبح", "{clinic} کی طرف سے", "2 گھنٹے بعد", "📅 بکنگ")."""
    return "\n".join(RLM + line if _needs_mark(line) else line for line in text.split("\n"))


def placeholders(template: str) -> set[str]:
    """The ``{names}`` in a template; TextsError if it does not parse or a name is not plain."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise TextsError(str(exc)) from None
    if any(not n.isidentifier() for n in names):
        raise TextsError("placeholders must be plain names like {day}")
    return names


def tags(template: str) -> Counter[str]:
    """The HTML tags of a template by name, opening and closing ("b", "/b")."""
    return Counter(
        ("/" if match.group(0).startswith("</") else "") + match.group(1).lower()
        for match in _TAG.finditer(template)
    )


def _is_plural(node: Mapping[Any, Any]) -> bool:
    return bool(node) and "other" in node and all(k in PLURAL_CATEGORIES for k in node)


def _flatten(
    prefix: str,
    node: Any,
    into: dict[str, str],
    plurals: dict[str, dict[str, str]],
    source: Path | str,
) -> None:
    if isinstance(node, Mapping) and prefix and _is_plural(node):
        forms: dict[str, str] = {}
        for category, value in node.items():
            if not isinstance(value, str):
                raise TextsError(f"{source}: {prefix}.{category}: expected text")
            forms[str(category)] = value.strip("\n")
        plurals[prefix] = forms
    elif isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, into, plurals, source)
    elif isinstance(node, str):
        into[prefix] = node.strip("\n")
    else:
        raise TextsError(f"{source}: {prefix}: expected text, got {type(node).__name__}")


class Texts:
    """The texts of one language, by dotted key ("date.question")."""

    def __init__(
        self,
        templates: dict[str, str],
        *,
        language: str,
        plurals: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """Check every template's placeholders parse.

        Args:
            templates: plain texts by key.
            language: the language code ("en", "ur", "ur-Latn").
            plurals: texts with plural forms, by key, then by CLDR category.
        """
        self.language = language
        self.templates = templates
        self.plurals = plurals or {}
        self.fields: dict[str, set[str]] = {}
        for key, template in templates.items():
            self.fields[key] = self._placeholders(key, template)
        for key, forms in self.plurals.items():
            self.fields[key] = {"count"}.union(
                *(self._placeholders(f"{key}.{c}", t) for c, t in forms.items())
            )

    @staticmethod
    def _placeholders(key: str, template: str) -> set[str]:
        try:
            return placeholders(template)
        except TextsError as exc:
            raise TextsError(f"{key}: {exc}") from None

    def __contains__(self, key: str) -> bool:
        return key in self.templates or key in self.plurals

    def keys(self) -> set[str]:
        """Every key, plain and plural."""
        return set(self.templates) | set(self.plurals)

    def template(self, key: str, count: object = None) -> str:
        """The raw template of ``key``; for a plural, the form ``count`` (an int) calls for."""
        if key in self.plurals:
            if not isinstance(count, int) or isinstance(count, bool):
                raise KeyError(f"text {key!r} has plural forms: it needs a whole number count")
            forms = self.plurals[key]
            return forms.get(plural_category(self.language, count), forms["other"])
        try:
            return self.templates[key]
        except KeyError:
            raise KeyError(f"no text {key!r} in language {self.language!r}") from None

    def render(self, key: str, **values: object) -> Markup:
        """The template ``key`` with ``values`` escaped into it, as Markup."""
        template = self.template(key, values.get("count"))
        missing = placeholders(template) - values.keys()
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


def available_languages(directory: Path = TEXTS_DIR) -> tuple[str, ...]:
    """The language codes with a catalogue: one per ``<code>.yaml``, English first (the
    packaged ones are read once: every update asks)."""
    if directory == TEXTS_DIR:
        return _packaged_languages()
    return _languages_in(directory)


@functools.cache
def _packaged_languages() -> tuple[str, ...]:
    return _languages_in(TEXTS_DIR)


def _languages_in(directory: Path) -> tuple[str, ...]:
    codes = sorted(path.stem for path in directory.glob("*.yaml"))
    return tuple(sorted(codes, key=lambda code: code != DEFAULT_LANGUAGE))


def read_catalogue(path: Path, language: str | None = None) -> Texts:
    """The catalogue in ``path`` as it is written (no direction marks), for checks.

    Raises:
        TextsError: the file cannot be read or is not a catalogue.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TextsError(f"{path}: cannot read the file: {exc}") from None
    except yaml.YAMLError as exc:
        raise TextsError(f"{path}: {exc}") from None
    if not isinstance(data, Mapping):
        raise TextsError(f"{path}: expected a mapping of texts")
    templates: dict[str, str] = {}
    plurals: dict[str, dict[str, str]] = {}
    _flatten("", data, templates, plurals, path)
    return Texts(templates, language=language or path.stem, plurals=plurals)


@functools.lru_cache(maxsize=8)
def load_texts(language: str = DEFAULT_LANGUAGE) -> Texts:
    """The texts of ``language``, falling back to English for a language we do not have.

    Right-to-left languages get their direction marks here (``mark_direction``).
    """
    path = TEXTS_DIR / f"{language}.yaml"
    if language not in available_languages():  # also refuses "../x" and the like
        path = TEXTS_DIR / f"{DEFAULT_LANGUAGE}.yaml"
        language = DEFAULT_LANGUAGE
    texts = read_catalogue(path, language)
    if language in RTL_LANGUAGES:
        texts = Texts(
            {k: mark_direction(t) for k, t in texts.templates.items()},
            language=language,
            plurals={
                k: {c: mark_direction(t) for c, t in forms.items()}
                for k, forms in texts.plurals.items()
            },
        )
    return texts


def compare_catalogues(reference: Texts, other: Texts) -> list[str]:
    """Every way ``other`` differs from ``reference`` (English) in shape, one line each.

    Checked: keys missing or unknown, a plain text where the reference has plural forms (or
    the reverse), a plural category ``other``'s language needs but lacks, placeholders that
    differ, and HTML tags that differ (by name and count).
    """
    problems: list[str] = []
    for key in sorted(reference.keys() - other.keys()):
        problems.append(f"{key}: missing")
    for key in sorted(other.keys() - reference.keys()):
        problems.append(f"{key}: not in {reference.language} (a typo, or a key removed there?)")
    needed = LANGUAGE_PLURALS.get(other.language, LANGUAGE_PLURALS[DEFAULT_LANGUAGE])
    for key in sorted(reference.keys() & other.keys()):
        if (key in reference.plurals) != (key in other.plurals):
            kind = "plural forms" if key in reference.plurals else "one text"
            problems.append(f"{key}: {reference.language} has {kind} here, this file not")
            continue
        if key in other.plurals:
            lacking = [c for c in needed if c not in other.plurals[key]]
            if lacking:
                problems.append(f"{key}: plural form {', '.join(lacking)} missing")
            texts = list(other.plurals[key].values())
            reference_texts = list(reference.plurals[key].values())
        else:
            texts, reference_texts = [other.templates[key]], [reference.templates[key]]
        theirs = set().union(*(placeholders(t) for t in reference_texts)) - {"count"}
        ours = set().union(*(placeholders(t) for t in texts)) - {"count"}
        if theirs != ours:
            problems.append(
                f"{key}: placeholders {{{', '.join(sorted(ours))}}} differ from "
                f"{reference.language}'s {{{', '.join(sorted(theirs))}}}"
            )
        for text in texts:
            if tags(text) != tags(reference_texts[-1]):
                problems.append(
                    f"{key}: HTML tags {_tag_list(text)} differ from "
                    f"{reference.language}'s {_tag_list(reference_texts[-1])}"
                )
                break
    return problems


def _tag_list(text: str) -> str:
    found = sorted(tags(text).elements())
    return "<" + "> <".join(found) + ">" if found else "none"
