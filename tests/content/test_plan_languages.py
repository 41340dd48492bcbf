"""The care plan in Urdu and Roman Urdu: overlays with the base plan's ids, texts only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from content.loader import (
    PLANS_DIR,
    PlanError,
    available_plans,
    load_plan,
    parse_overlay,
    plan_languages,
)
from content.texts import RLM

OVERLAYS = ("ur", "ur-Latn")


def test_overlays_are_not_plans_and_name_the_languages() -> None:
    assert available_plans() == ["microneedling"]
    assert plan_languages() == ["en", "ur", "ur-Latn"]


@pytest.mark.parametrize("language", OVERLAYS)
def test_a_plan_in_another_language_keeps_everything_but_the_texts(language: str) -> None:
    english, other = load_plan(), load_plan("microneedling", language)
    assert other.title != english.title
    for before, after in zip(english.milestones, other.milestones, strict=True):
        assert (after.id, after.phase, after.offset, after.at, after.expires_after) == (
            before.id,
            before.phase,
            before.offset,
            before.at,
            before.expires_after,
        )
        assert (after.topics, after.allows, after.buttons) == (
            before.topics,
            before.allows,
            before.buttons,
        )
        assert after.text != before.text and after.title != before.title
    for before_phase, after_phase in zip(english.phases, other.phases, strict=True):
        assert (after_phase.id, after_phase.start_day, after_phase.end_day) == (
            before_phase.id,
            before_phase.start_day,
            before_phase.end_day,
        )
        assert after_phase.name != before_phase.name
    for rule, translated in zip(english.advice, other.advice, strict=True):
        assert translated.topic == rule.topic and translated.answer != rule.answer
        assert translated.allowed_on(5) == rule.allowed_on(5)


def test_english_and_unknown_languages_get_the_plan_as_written() -> None:
    assert load_plan("microneedling", "en") is load_plan()
    assert load_plan("microneedling", "fr") is load_plan()


def test_urdu_plan_lines_read_right_to_left() -> None:
    urdu = load_plan("microneedling", "ur")
    text = urdu.milestone("day2_morning").text
    assert text.startswith(RLM + "48 ")  # a line that opens with a digit
    assert RLM + "SPF" not in load_plan("microneedling", "ur-Latn").milestone("day4_morning").text
    assert "سرخی" in urdu.phase("first_48h").summary
    assert "laali" in load_plan("microneedling", "ur-Latn").phase("first_48h").summary


def test_an_edited_overlay_is_read_again(tmp_path: Path) -> None:
    plan = tmp_path / "copy.yaml"
    shutil.copy(PLANS_DIR / "microneedling.yaml", plan)
    overlay = tmp_path / "copy.ur-Latn.yaml"
    shutil.copy(PLANS_DIR / "microneedling.ur-Latn.yaml", overlay)
    assert load_plan(plan, "ur-Latn").title == "Microneedling ke baad ki dekh bhaal"
    overlay.write_text(
        overlay.read_text(encoding="utf-8").replace(
            "title: Microneedling ke baad ki dekh bhaal", "title: Nayi dekh bhaal"
        ),
        encoding="utf-8",
    )
    assert load_plan(plan, "ur-Latn").title == "Nayi dekh bhaal"


def _overlay(replace: str, by: str) -> str:
    text = (PLANS_DIR / "microneedling.ur-Latn.yaml").read_text(encoding="utf-8")
    assert replace in text
    return text.replace(replace, by, 1)


def _problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_overlay(load_plan(), text, language="ur-Latn", path="x.yaml")
    return [f"{p.location}: {p.message}" for p in caught.value.problems]


def test_an_overlay_missing_a_milestone_says_which() -> None:
    text = _overlay("  day14_sun:\n", "  day14_sunny:\n")
    assert _problems(text) == [
        "milestones: missing texts of milestone 'day14_sun'",
        "milestones.day14_sunny: unknown milestone id 'day14_sunny'",
    ]


def test_an_overlay_missing_a_text_or_an_answer_says_which() -> None:
    text = _overlay("    name: Pehla hafta\n", "")
    text = text.replace(
        "  maintenance: >-\n    Series ke baad", "  maintenanc: >-\n    Series ke baad"
    )
    problems = _problems(text)
    assert "phases.first_week: missing 'name' of phase 'first_week'" in problems
    assert "advice: missing the answer for advice topic 'maintenance'" in problems
    assert "advice.maintenanc: unknown advice topic 'maintenanc'" in problems


def test_an_overlay_placeholder_or_tag_that_differs() -> None:
    text = _overlay('title: "Kal ki tayyari"', 'title: "Kal ki {tayyari}"')
    text = text.replace("Subah ka reminder ☀️", "<b>Subah</b> ka reminder ☀️")
    assert _problems(text) == [
        "milestones.prep_evening.title: placeholders ['tayyari'] differ from the English's []",
        "milestones.day4_morning.text: HTML tags differ from the English",
    ]


def test_an_overlay_text_too_long_for_a_title() -> None:
    text = _overlay('title: "Kal ki tayyari"', 'title: "' + "bohat " * 20 + '"')
    problems = _problems(text)
    assert len(problems) == 1 and problems[0].startswith(
        "milestones.prep_evening.title: String should have at most 80"
    )
