"""Catalogues in every language: complete, plural forms, right-to-left marks, the comparison."""

from __future__ import annotations

import re
import unicodedata

import pytest

from content.texts import (
    RLM,
    TEXTS_DIR,
    Texts,
    available_languages,
    compare_catalogues,
    load_texts,
    mark_direction,
    plural_category,
    read_catalogue,
)

STAFF = (
    "staff.",
    "staff_commands.",
    "broadcast.",
    "buttons.resolve",
    "buttons.remove_staff",
    "buttons.invite_staff",
    "buttons.invite_admin",
)
# Staff-facing; and, in broadcast, the one text a patient reads.
PATIENT_BROADCAST = "broadcast.from_clinic"


def _urdu_letters(text: str) -> bool:
    return any(unicodedata.bidirectional(char) == "AL" for char in text)


def test_the_languages_are_the_catalogue_files() -> None:
    assert available_languages() == ("en", "ur", "ur-Latn")
    for code in available_languages():
        assert load_texts(code).language == code


def test_an_unknown_language_falls_back_to_english() -> None:
    assert load_texts("fr").language == "en"
    assert load_texts("../texts/en").language == "en"


@pytest.mark.parametrize("language", ["ur", "ur-Latn"])
def test_every_catalogue_matches_english(language: str) -> None:
    english = read_catalogue(TEXTS_DIR / "en.yaml")
    other = read_catalogue(TEXTS_DIR / f"{language}.yaml")
    assert compare_catalogues(english, other) == []


@pytest.mark.parametrize("language", ["ur", "ur-Latn"])
def test_patient_texts_are_translated(language: str) -> None:
    """No English left behind where the patient reads: Urdu script in ur, and in ur-Latn no
    text copied from en (the bullet line of a list holds only placeholders)."""
    english = read_catalogue(TEXTS_DIR / "en.yaml")
    other = read_catalogue(TEXTS_DIR / f"{language}.yaml")
    for key in sorted(other.keys()):
        if key.startswith(STAFF) and key != PATIENT_BROADCAST:
            continue
        text = other.template(key, 2)
        if key == "registered.upcoming_line":
            continue
        assert text != english.template(key, 2), key
        if language == "ur":
            assert _urdu_letters(text), key


def test_medical_words_as_patients_know_them() -> None:
    ur = read_catalogue(TEXTS_DIR / "ur.yaml")
    latn = read_catalogue(TEXTS_DIR / "ur-Latn.yaml")
    assert "سرخی" in ur.templates["non_text_picture"]
    assert "سوجن" in ur.templates["non_text_picture"]
    assert "laali" in latn.templates["non_text_picture"]
    assert "soojan" in latn.templates["non_text_picture"]
    assert "kab hua tha?" in latn.templates["date.question"]


@pytest.mark.parametrize("language", ["en", "ur", "ur-Latn"])
def test_plural_forms_follow_the_count(language: str) -> None:
    texts = load_texts(language)
    one = texts.render("resume.expired", count=1)
    many = texts.render("resume.expired", count=3)
    assert one != many
    assert "3" in many
    assert "(s)" not in many
    assert texts.render("resume.expired", count=0) == texts.render("resume.expired", count=0)
    with pytest.raises(KeyError, match="count"):
        texts.render("resume.expired")


def test_english_plurals_read_right() -> None:
    texts = load_texts("en")
    assert "1 reminder that went out of date meanwhile was skipped" in texts.render(
        "resume.expired", count=1
    )
    assert "4 reminders that" in texts.render("resume.expired", count=4)
    assert texts.render("staff.alert_replies", count=2) == " · 2 replies sent"


def test_cldr_categories() -> None:
    for language in ("en", "ur", "ur-Latn", "xx"):
        assert plural_category(language, 1) == "one"
        assert [plural_category(language, n) for n in (0, 2, 5, 21, 101)] == ["other"] * 5


def test_a_right_to_left_mark_starts_each_urdu_line_that_needs_one() -> None:
    assert mark_direction("SPF 30+ ہر صبح") == RLM + "SPF 30+ ہر صبح"
    assert mark_direction("{clinic} کی طرف سے") == RLM + "{clinic} کی طرف سے"
    assert mark_direction("2 گھنٹے\n\n📅 بکنگ") == RLM + "2 گھنٹے\n\n" + RLM + "📅 بکنگ"
    assert mark_direction("آج SPF") == "آج SPF"  # starts right to left already
    assert mark_direction("Scan to get reminders") == "Scan to get reminders"  # English stays
    assert mark_direction(RLM + "SPF ہر") == RLM + "SPF ہر"  # never twice


def test_loaded_urdu_texts_carry_the_marks() -> None:
    """Every line of every Urdu text that holds Urdu letters starts right to left."""
    texts = load_texts("ur")
    assert texts.plain("buttons.snooze").startswith(RLM + "⏰ 2")
    assert texts.render("reminder.book_clinic", clinic="Derma Studio").startswith(RLM)
    for key in texts.keys():
        for line in texts.template(key, 2).split("\n"):
            if _urdu_letters(line):
                assert line[0] == RLM or unicodedata.bidirectional(line[0]) == "AL", (key, line)
    # Roman Urdu and English are left to right: no marks
    assert not any(
        RLM in load_texts("ur-Latn").template(k, 2) for k in load_texts("ur-Latn").keys()
    )
    # staff texts kept in English stay left to right in the Urdu catalogue too
    assert RLM not in texts.render("staff.invite_caption", clinic="X")


def _texts(templates: dict[str, str], plurals: dict[str, dict[str, str]] | None = None) -> Texts:
    return Texts(templates, language="ur", plurals=plurals)


def test_compare_finds_a_missing_and_an_unknown_key() -> None:
    english = Texts({"a": "A", "b": "B"}, language="en")
    assert compare_catalogues(english, _texts({"a": "الف", "c": "ج"})) == [
        "b: missing",
        "c: not in en (a typo, or a key removed there?)",
    ]


def test_compare_finds_a_placeholder_that_differs() -> None:
    english = Texts({"a": "Hello {name}"}, language="en")
    assert compare_catalogues(english, _texts({"a": "سلام {nam}"})) == [
        "a: placeholders {nam} differ from en's {name}"
    ]


def test_compare_finds_an_html_tag_that_differs() -> None:
    english = Texts({"a": "<b>{day}</b> day"}, language="en")
    assert compare_catalogues(english, _texts({"a": "<i>{day}</i> دن"})) == [
        "a: HTML tags </i> <i> differ from en's </b> <b>"
    ]
    assert compare_catalogues(english, _texts({"a": "دن <b>{day}</b>"})) == []  # order free


def test_compare_finds_a_plural_form_missing() -> None:
    english = Texts({}, language="en", plurals={"n": {"one": "1 day", "other": "{count} days"}})
    only_other = _texts({}, {"n": {"other": "{count} دن"}})
    assert compare_catalogues(english, only_other) == ["n: plural form one missing"]
    plain = _texts({"n": "{count} دن"})
    assert compare_catalogues(english, plain) == ["n: en has plural forms here, this file not"]


@pytest.mark.parametrize("language", ["en", "ur", "ur-Latn"])
def test_every_text_renders_and_its_tags_nest(language: str) -> None:
    """Each text (each plural form too) formats with its values, and opens and closes its
    tags in order, as Telegram's HTML parser wants."""
    texts = load_texts(language)
    for key in sorted(texts.keys()):
        for count in (1, 2):
            rendered = texts.render(
                key, **(dict.fromkeys(texts.fields[key], "x") | {"count": count})
            )
            stack: list[str] = []
            for closing, name in re.findall(r"<(/?)([a-z]+)[^>]*>", rendered):
                if closing:
                    assert stack and stack.pop() == name, key
                else:
                    stack.append(name)
            assert not stack, key


@pytest.mark.parametrize("language", ["en", "ur", "ur-Latn"])
def test_command_descriptions_fit_telegram(language: str) -> None:
    """set_my_commands takes descriptions of 1-256 characters."""
    texts = load_texts(language)
    commands = [k for k in texts.keys() if k.startswith(("commands.", "staff_commands."))]
    assert len(commands) >= 15
    for key in commands:
        assert 1 <= len(texts.plain(key)) <= 256, key


def test_each_catalogue_names_its_language() -> None:
    names = {code: load_texts(code).plain("language_name") for code in available_languages()}
    assert names == {"en": "English", "ur": "اردو", "ur-Latn": "Roman Urdu"}
