"""Clarifying questions: asked when a "yes" would make the verdict more serious, resolved by id."""

from __future__ import annotations

import pytest

from content.plan import CarePlan
from content.triage import (
    ClarificationError,
    Engine,
    Level,
    resolve_clarification,
    triage,
)
from content.triage.verdict import severity
from tests.content.triage.conftest import Ask


def test_late_redness_asks_about_signs_of_infection(ask: Ask) -> None:
    """Day-5 redness is watch, and asks whether there is pus, crust or a bad smell."""
    verdict = ask("my cheeks are still red", 5)
    assert verdict.level is Level.WATCH
    assert verdict.clarify is not None
    assert verdict.clarify.id == "infection_signs:redness:watch"
    assert "pus" in verdict.clarify.question
    assert (verdict.clarify.if_yes_topic, verdict.clarify.if_yes_level) == (
        "infection",
        Level.CLINIC,
    )


def test_yes_makes_it_more_serious_and_no_keeps_it(ask: Ask, plan: CarePlan) -> None:
    """A "yes" follows the question's outcome; a "no" keeps the topic and level asked about."""
    verdict = ask("my cheeks are still red", 5)
    yes = resolve_clarification(verdict, True, 5, plan)
    no = resolve_clarification(verdict, False, 5, plan)
    assert (yes.topic, yes.level, yes.escalate) == ("infection", Level.CLINIC, True)
    assert "contact your clinic" in yes.answer
    assert (no.topic, no.level, no.escalate) == ("redness", Level.WATCH, False)
    assert no.clarify is None and yes.clarify is None


def test_the_id_alone_is_enough(engine: Engine, plan: CarePlan) -> None:
    """What a button keeps in its callback data resolves the same as the verdict."""
    yes = resolve_clarification("pain_severity:sensitivity:normal", True, 2, plan, engine=engine)
    assert (yes.topic, yes.level) == ("pain", Level.CLINIC)


def test_clinic_redness_asks_about_fever(ask: Ask, plan: CarePlan) -> None:
    """Already clinic: the question that can still raise it is about fever, urgent on "yes"."""
    verdict = ask("redness still there after 9 days", 9, contact="Glow Clinic")
    assert verdict.clarify is not None
    assert verdict.clarify.if_yes_level is Level.URGENT
    yes = resolve_clarification(verdict, True, 9, plan, contact="Glow Clinic")
    assert (yes.topic, yes.level) == ("fever", Level.URGENT)
    assert yes.answer.startswith("Please get medical care now.") and "Glow Clinic" in yes.answer


@pytest.mark.parametrize(
    ("text", "day", "question"),
    [
        ("it hurts a bit", 1, "pain_severity"),
        ("a few whiteheads", 4, "many_bumps"),
        ("my lips look swollen", 1, "breathing"),
        ("I've got hives", 2, "breathing"),
        ("itchy", 9, "rash"),
        ("a little bleeding", 1, "bleeding_stops"),
        ("some scabs", 4, "infection_signs"),
    ],
)
def test_questions_by_symptom(ask: Ask, text: str, day: int, question: str) -> None:
    """Each symptom with a doubt asks the question about that doubt."""
    verdict = ask(text, day)
    assert verdict.clarify is not None
    assert verdict.clarify.id.split(":")[0] == question


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("I have a fever", 2),  # urgent already: nothing can raise it
        ("pus on my chin and a temperature", 3),
        ("can I wear makeup?", 3),  # advice
        ("what's the weather", 3),  # unknown
        ("yellow pus", 4),  # infection clinic: asks about fever, not about pus again
    ],
)
def test_no_question_that_cannot_raise_the_level(ask: Ask, text: str, day: int) -> None:
    """A question is only offered when "yes" would be more serious than the verdict."""
    verdict = ask(text, day)
    if verdict.clarify is not None:
        assert severity(verdict.clarify.if_yes_level) > severity(verdict.level)
        assert verdict.clarify.if_yes_topic not in {m.concept for m in verdict.matched}


def test_every_question_can_only_raise_the_level(engine: Engine, plan: CarePlan) -> None:
    """For every question and every level it may be asked at, "yes" is more serious and "no"
    is the same: resolving never lowers a verdict."""
    for topic, rule in engine.rules.symptoms.items():
        for clarify in rule.clarify:
            for level in clarify.levels:
                ident = f"{clarify.ask}:{topic}:{level.value}"
                yes = engine.resolve(ident, True, 3, plan)
                no = engine.resolve(ident, False, 3, plan)
                assert severity(yes.level) > severity(level), ident
                assert (no.topic, no.level) == (topic, level), ident


@pytest.mark.parametrize(
    "ident", ["nonsense", "nope:redness:watch", "rash:itching:loud", "rash:fever:normal", "a:b"]
)
def test_an_id_the_engine_did_not_make_is_refused(plan: CarePlan, ident: str) -> None:
    """Unknown questions, topics or levels raise ClarificationError (a ValueError)."""
    with pytest.raises(ClarificationError):
        resolve_clarification(ident, True, 3, plan)


def test_a_verdict_that_asks_nothing_cannot_be_resolved(plan: CarePlan) -> None:
    """Resolving a verdict without a question is a mistake of the caller."""
    verdict = triage("I have a fever", 1, plan)
    with pytest.raises(ClarificationError, match="asks no"):
        resolve_clarification(verdict, True, 1, plan)
