"""Properties that hold for any message: a well-formed verdict, and red flags that always win."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from content.triage import Level
from content.triage.verdict import ESCALATING, severity
from tests.content.triage.conftest import Ask

# Words patients use, mixed freely: symptoms, negations, questions, noise, emoji.
WORDS = [
    "red", "swollen", "itchy", "no", "not", "pus", "fever", "can", "i", "makeup", "gym",
    "still", "worse", "for", "3", "days", "since", "yesterday", "but", "and", "or", ",", ".",
    "?", "peeling", "sore", "🔥", "😭", "blood", "eye", "hurts", "rash", "lips", "breathe",
    "hard", "to", "sunscreen", "retinol", "asdf", "weather", "botox", "after", "2", "weeks",
]  # fmt: skip
messages = st.lists(st.sampled_from(WORDS), max_size=14).map(" ".join)
any_text = st.text(max_size=200)
days = st.integers(min_value=-1, max_value=400)
URGENT_SENTENCES = ["I have a fever.", "My vision is blurry.", "It's hard to breathe."]


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(messages, any_text), day=days)
def test_every_verdict_is_well_formed(ask: Ask, text: str, day: int) -> None:
    """Any text on any day: a level, a consistent topic/allowed/escalate, an answer."""
    verdict = ask(text, day)
    assert verdict.day == day
    assert verdict.answer.strip()
    assert verdict.escalate == (verdict.level in ESCALATING)
    assert (verdict.topic is None) == (verdict.level is Level.UNKNOWN)
    if verdict.allowed is not None:
        assert verdict.level is Level.ADVICE
    if verdict.clarify is not None:
        assert severity(verdict.clarify.if_yes_level) > severity(verdict.level)


@settings(max_examples=300, deadline=None)
@given(text=messages, day=days, sign=st.sampled_from(URGENT_SENTENCES))
def test_an_urgent_sentence_makes_any_message_urgent(
    ask: Ask, text: str, day: int, sign: str
) -> None:
    """Whatever comes before it, a sentence with an urgent sign makes the message urgent."""
    assert ask(f"{text}. {sign}", day).level is Level.URGENT
    assert ask(f"{sign} {text}", day).level is Level.URGENT


@settings(max_examples=300, deadline=None)
@given(text=messages, day=st.integers(min_value=0, max_value=60))
def test_adding_a_symptom_never_lowers_the_level(ask: Ask, text: str, day: int) -> None:
    """A second sentence with a symptom can raise the level of a symptom message, never lower
    it: the most serious reading wins."""
    before = ask(text, day)
    if before.level not in (Level.NORMAL, Level.WATCH, Level.CLINIC, Level.URGENT):
        return
    after = ask(f"{text}. Also a bit of peeling.", day)
    assert severity(after.level) >= severity(before.level)
