"""Texts: every key the bot uses exists, values are escaped, and the markup is Telegram's."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from content.texts import Markup, Texts, TextsError, load_texts, strip_tags

BOT = Path(__file__).resolve().parents[2] / "bot"
KEY = re.compile(r"^[a-z_]+(\.[a-z_]+)+$|^[a-z_]+$")
# Calls whose argument at this index is a text key.
KEY_ARGUMENT = {"reply": 2, "render": 0, "plain": 0}


def _keys_used() -> set[str]:
    """Text keys passed as literals to reply/render/plain, or chosen from literal tables."""
    keys: set[str] = set()
    for path in BOT.rglob("*.py"):
        if "standin" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            index = KEY_ARGUMENT.get(str(name))
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                keys.add(arg.value)
        # keys picked from dicts ({Step.DATE: "date.question"}.get(...)) and defaults
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for value in node.values:
                    if (
                        isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                        and re.match(r"^[a-z_]+\.[a-z_]+$", value.value)
                    ):
                        keys.add(value.value)
    return {k for k in keys if KEY.match(k)}


def test_the_scan_finds_the_keys_it_should() -> None:
    used = _keys_used()
    assert {"date.question", "registered.done", "help", "reminder.body", "flood"} <= used
    assert len(used) > 60


def test_every_key_the_bot_uses_exists() -> None:
    texts = load_texts()
    missing = sorted(k for k in _keys_used() if k not in texts)
    assert not missing, f"keys used in bot/ but missing from content/texts/en.yaml: {missing}"


def test_keys_built_at_run_time_exist() -> None:
    """Keys assembled from a variable: each possible value is listed here."""
    texts = load_texts()
    from bot.handlers import COMMANDS
    from bot.menu import PATIENT_COMMANDS, STAFF_COMMANDS
    from scheduler.clinics.errors import InviteProblem
    from storage.models import StaffRole

    assert set(COMMANDS) == set(PATIENT_COMMANDS) | set(STAFF_COMMANDS)  # each in a menu
    for name in PATIENT_COMMANDS:
        assert f"commands.{name}" in texts
    for name in STAFF_COMMANDS:
        assert f"staff_commands.{name}" in texts
    for action in ("book", "booked"):
        assert f"reminder.{action}" in texts
    for problem in InviteProblem:
        assert f"start.invite_{problem.value}" in texts
    for role in StaffRole:
        assert f"staff.role_{role.value}" in texts
    for state in ("on", "off"):
        assert f"news.{state}" in texts


def test_values_are_escaped_and_markup_kept() -> None:
    texts = Texts({"k": "<b>{name}</b>"}, language="en")
    rendered = texts.render("k", name="<script>&")
    assert rendered == "<b>&lt;script&gt;&amp;</b>"
    assert isinstance(rendered, Markup)
    assert texts.plain("k", name="a<b") == "a<b"


def test_a_markup_value_is_not_escaped_twice() -> None:
    texts = Texts({"outer": "{inner}!", "inner": "<i>{x}</i>"}, language="en")
    assert texts.render("outer", inner=texts.render("inner", x="1 < 2")) == "<i>1 &lt; 2</i>!"


def test_a_missing_value_names_the_key_and_the_field() -> None:
    texts = Texts({"k": "day {day}"}, language="en")
    with pytest.raises(KeyError, match="day"):
        texts.render("k")
    with pytest.raises(KeyError, match="no text"):
        texts.render("nope")


def test_bad_placeholders_are_refused_at_load() -> None:
    with pytest.raises(TextsError):
        Texts({"k": "{a.b}"}, language="en")
    with pytest.raises(TextsError):
        Texts({"k": "{unclosed"}, language="en")


def test_strip_tags_keeps_the_words() -> None:
    assert strip_tags("<b>Day</b> <i>3</i> &amp; more") == "Day 3 &amp; more"


def test_an_unknown_language_falls_back_to_english() -> None:
    assert load_texts("xx").language == "en"


def test_only_telegram_tags_are_used() -> None:
    allowed = {"b", "i", "u", "s", "code", "pre", "a", "blockquote"}
    texts = load_texts()
    for key, template in texts.templates.items():
        for tag in re.findall(r"</?([a-zA-Z-]+)", template):
            assert tag in allowed, f"{key} uses <{tag}>"
        opened = re.findall(r"<([a-z]+)[ >]", template)
        closed = re.findall(r"</([a-z]+)>", template)
        assert sorted(opened) == sorted(closed), f"{key} has unbalanced tags"


def test_the_flood_notice_promises_nothing_the_bot_does_not_do() -> None:
    """Messages beyond the flood allowance get no answer (bot/flood.py): say so, not that
    they will be read one at a time."""
    flood = load_texts().plain("flood")
    assert "one at a time" not in flood and "I'll read" not in flood
    assert "haven't answered" in flood
    assert "send your question again" in flood


def test_help_has_a_place_for_the_clinic_news_line() -> None:
    texts = load_texts()
    assert "news" in texts.fields["help"]
    line = texts.plain("help_news", clinic="North Clinic")
    assert line.startswith("/news") and "North Clinic" in line
