"""Before the session (day < 0), POLICY.md: red flags urgent, other symptoms for the clinic,
questions answered for after the session, and never a day of healing in an answer.

The checks run over every case of cases.jsonl re-asked before the session, so they hold for
the language the triage reads, not for a few sentences.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from content.const import SYMPTOM_TOPICS
from content.plan import CarePlan
from content.triage import Engine, Level, screen
from tests.content.triage.conftest import Ask
from tests.content.triage.scoring import load_cases
from tests.content.triage.test_data import data_dir, edit, problems_of  # noqa: F401

CASES = [c for c in load_cases() if c["day"] >= 0]
SYMPTOMS = [c for c in CASES if c["level"] in ("normal", "watch", "clinic", "urgent")]
QUESTIONS = [c for c in CASES if c["level"] == "advice"]
A_DAY_OF_HEALING = re.compile(r"\bday -?\d|\bday \{|-\d+ day|healing", re.IGNORECASE)
BEFORE = (-1, -7, -30)


@pytest.mark.parametrize("day", BEFORE)
def test_every_symptom_before_the_session_is_urgent_or_for_the_clinic(ask: Ask, day: int) -> None:
    """Urgent exactly when it is urgent on the session day; anything else is clinic."""
    wrong = []
    for case in SYMPTOMS:
        on_the_day = ask(case["text"], 0)
        before = ask(case["text"], day)
        if on_the_day.level not in (Level.NORMAL, Level.WATCH, Level.CLINIC, Level.URGENT):
            continue
        if before.answer.startswith("Good to hear"):
            continue  # every symptom it names is negated ("not bleeding anymore")
        expected = Level.URGENT if on_the_day.level is Level.URGENT else Level.CLINIC
        if before.level is not expected or before.allowed is not None:
            wrong.append((case["id"], case["text"], before.level.value, expected.value))
    assert wrong == []


@pytest.mark.parametrize("day", BEFORE)
def test_no_answer_before_the_session_speaks_of_a_day_of_healing(ask: Ask, day: int) -> None:
    """Symptoms and "all fine" get no "day -7", no "expected on day", no healing."""
    spoken = [
        (c["id"], verdict.answer)
        for c in SYMPTOMS
        if (verdict := ask(c["text"], day)).level is not Level.URGENT
        and A_DAY_OF_HEALING.search(verdict.answer)
    ]
    assert spoken == []
    settled = ask("no fever, no pus, not bleeding", day)
    assert settled.level is Level.NORMAL and not A_DAY_OF_HEALING.search(settled.answer)


def test_the_reported_sentences_before_the_session(ask: Ask) -> None:
    """Issue 12 item 4: "swollen and hot" a week ahead is for the clinic, not "normal"."""
    swollen = ask("swollen and hot", -7)
    assert swollen.level is Level.CLINIC and swollen.escalate
    assert "before your session" in swollen.answer
    red = ask("my face is red", -7)
    assert red.level is Level.CLINIC and "day" not in red.answer
    assert ask("yellow crust and fever", -7).level is Level.URGENT
    assert ask("my lips and tongue are swelling and I cannot breathe", -3).level is Level.URGENT


@pytest.mark.parametrize("day", BEFORE)
def test_questions_before_the_session_are_answered_for_after_it(ask: Ask, day: int) -> None:
    """Every advice case: advice, allowed null, "After your session: ..." and the plan's
    pre-treatment advice."""
    wrong = []
    for case in QUESTIONS:
        verdict = ask(case["text"], day)
        if verdict.level is not Level.ADVICE:
            continue  # a question beside a symptom: the symptom decides before the session
        if verdict.allowed is not None or not verdict.answer.startswith("After your session"):
            wrong.append((case["id"], verdict.allowed, verdict.answer[:40]))
    assert wrong == []
    makeup = ask("can I wear makeup?", day)
    assert (makeup.level, makeup.topic, makeup.allowed) == (Level.ADVICE, "makeup", None)
    assert "Until your session: Come with clean skin" in makeup.answer


def test_a_question_is_still_a_question_before_the_session(ask: Ask) -> None:
    """An advice question stays advice before the session, unless it names a symptom of its
    own ("can I pick the dry bits off?"): then the cautious reading, the clinic, wins."""
    changed = [
        (c["id"], verdict.level.value)
        for c in QUESTIONS
        if ask(c["text"], 0).level is Level.ADVICE
        and (verdict := ask(c["text"], -5)).level is not Level.ADVICE
        and not (verdict.level is Level.CLINIC and verdict.topic in SYMPTOM_TOPICS)
    ]
    assert changed == []


def test_a_clinic_answer_before_the_session_can_still_be_raised_by_its_question(
    engine: Engine, plan: CarePlan
) -> None:
    """Redness before the session asks about fever; "yes" is urgent, "no" stays clinic."""
    verdict = engine.triage("my cheeks are red", -2, plan)
    assert verdict.level is Level.CLINIC and verdict.clarify is not None
    yes = engine.resolve(verdict.clarify.id, True, -2, plan)
    no = engine.resolve(verdict.clarify.id, False, -2, plan)
    assert yes.level is Level.URGENT
    assert no.level is Level.CLINIC and "before your session" in no.answer


@settings(max_examples=60, deadline=None)
@given(day=st.integers(min_value=-400, max_value=-1))
def test_any_day_before_the_session_reads_alike(ask: Ask, day: int) -> None:
    """Day -1 and day -400 are the same: the session has not happened."""
    for text in ("my skin is peeling", "I have a fever", "can I go to the gym?", "hello"):
        assert ask(text, day).level is ask(text, -1).level


def test_a_before_session_text_for_an_unknown_topic_is_a_problem(
    data_dir: Path,  # noqa: F811
) -> None:
    """answers.yaml before_session.symptoms names symptom topics only, without {day}."""
    edit(
        data_dir / "answers.yaml",
        '    scarring: "Raised marks',
        '    scaring: "On day {day} raised marks',
    )
    found = problems_of(data_dir)
    assert any("before_session.symptoms.scaring" in p and "not a symptom" in p for p in found)
    assert any("before_session.symptoms.scaring" in p and "{day}" in p for p in found)


# ---------------------------------------------------------------- screen()


def test_screen_passes_red_flags_and_clinic_readings_only(plan: CarePlan) -> None:
    """What a pending prompt must not swallow: urgent and clinic; nothing else."""
    urgent = screen("my lips and tongue are swelling and I cannot breathe", 3, plan)
    assert urgent is not None and urgent.level is Level.URGENT
    clinic = screen("there is yellow crust on my cheek", 3, plan)
    assert clinic is not None and clinic.level is Level.CLINIC
    for text in ("yesterday", "22:00-07:00", "Lahore", "my face is a bit red", "can I swim?"):
        assert screen(text, 1, plan) is None


def test_screen_with_no_session_counts_red_flags_only(plan: CarePlan) -> None:
    """No session yet: an urgent reading (as on the session day) counts, a clinic one not."""
    urgent = screen("I have a high fever and chills", None, plan)
    assert urgent is not None and urgent.level is Level.URGENT and urgent.day == 0
    assert screen("there is yellow crust on my cheek", None, plan) is None
    assert screen("12/03", None, plan) is None


def test_screen_before_the_session_follows_the_policy(plan: CarePlan) -> None:
    """Before the session any symptom is for the clinic, so screen passes it on."""
    found = screen("a cold sore on my lip", -4, plan)
    assert found is not None and found.level is Level.CLINIC


def test_every_case_screens_as_it_triages(ask: Ask, plan: CarePlan) -> None:
    """screen() is triage() cut to its escalating levels, for every case of ours."""
    for case in CASES:
        verdict = ask(case["text"], case["day"])
        screened = screen(case["text"], case["day"], plan)
        assert (screened is not None) == verdict.escalate, case["id"]
