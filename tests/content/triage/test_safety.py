"""The safety rules of POLICY.md, each tested directly.

- Any urgent sign wins over every other reading of the message.
- A negated sign ("no fever", "not bleeding", "no pus") does not count.
- Several symptoms: the most serious level wins, and its symptom is the topic.
- When unsure between two levels, the more cautious one.
- Off-topic: say so plainly and offer the clinic's contact; never guess a medical answer.
"""

from __future__ import annotations

import itertools

import pytest

from content.triage import Level
from tests.content.triage.conftest import Ask

# One phrase per urgent sign of the policy, with the topic it decides.
URGENT_SIGNS = [
    ("I have a fever", "fever"),
    ("I've got chills", "fever"),
    ("I feel really unwell", "fever"),
    ("my tongue is swelling", "swelling"),
    ("it's hard to breathe", "allergy"),
    ("I can't swallow properly", "allergy"),
    ("my vision is blurry", "eye"),
    ("my eye hurts", "eye"),
    ("there's something in my eye", "eye"),
    ("red streaks are spreading from the spots", "redness"),
    ("the bleeding won't stop even when I press on it", "bleeding"),
    ("the redness is spreading really fast", "redness"),
]
REASSURING = [
    "{sign}, but otherwise all good",
    "it's probably nothing, {sign}",
    "{sign} but only a little",
    "mild: {sign}",
    "{sign}. Can I wear makeup today?",
    "Can I go to the gym? {sign}",
    "no pus, no rash, {sign}",
    "peeling nicely and {sign} 🙂",
]


@pytest.mark.parametrize(("sign", "topic"), URGENT_SIGNS)
@pytest.mark.parametrize("day", [0, 3, 12])
def test_every_urgent_sign_is_urgent_on_any_day(ask: Ask, sign: str, topic: str, day: int) -> None:
    """Each urgent sign of the policy is urgent by itself, on any day."""
    verdict = ask(sign, day)
    assert (verdict.level, verdict.topic) == (Level.URGENT, topic)
    assert verdict.escalate


@pytest.mark.parametrize(("sign", "topic"), URGENT_SIGNS)
@pytest.mark.parametrize("wrapper", REASSURING)
def test_a_red_flag_is_never_downgraded(ask: Ask, sign: str, topic: str, wrapper: str) -> None:
    """Reassuring words, mild qualifiers and aftercare questions do not lower an urgent sign."""
    verdict = ask(wrapper.format(sign=sign), 2)
    assert verdict.level is Level.URGENT
    assert verdict.topic == topic


@pytest.mark.parametrize(
    ("negated", "plain", "day"),
    [
        ("no fever, just some redness", "fever and some redness", 2),
        ("I don't have a temperature, only pink", "I have a temperature, and I'm pink", 1),
        ("not bleeding anymore, a bit red", "still bleeding and red", 3),
        ("no pus, just flaky", "pus, and flaky", 4),
        ("there's no pus or oozing, just dry", "there's pus and oozing, and dry", 4),
        ("the bleeding has stopped, skin is red", "the bleeding keeps going, skin is red", 3),
        ("without any chills, just tight skin", "with chills, and tight skin", 2),
        ("no blisters on my lip, just dry", "blisters on my lip and dry", 2),
        ("my eyes are fine, no blurry vision, face is pink", "blurry vision, face is pink", 1),
        ("no hives or rash, only a little itchy", "hives and a rash, a little itchy", 2),
        ("no fever, chills or pus, only peeling", "fever, chills or pus, and peeling", 5),
        ("I don't think it's infected, just red", "I think it's infected, it's red", 2),
    ],
)
def test_a_negated_sign_does_not_count(ask: Ask, negated: str, plain: str, day: int) -> None:
    """The negated message is calm; the same words without the negation escalate."""
    assert not ask(negated, day).escalate, negated
    assert ask(plain, day).escalate, plain


def test_only_what_the_negation_reaches_is_negated(ask: Ask) -> None:
    """ "No pus, but..." negates the pus, not what comes after the break."""
    assert ask("no pus but I have a fever", 3).level is Level.URGENT
    assert ask("not swollen, the redness is getting worse", 4).level is Level.CLINIC
    assert ask("no fever and my eye hurts", 1).level is Level.URGENT


@pytest.mark.parametrize(
    ("parts", "day", "level", "topic"),
    [
        (["a bit itchy", "peeling", "there's yellow pus"], 3, Level.CLINIC, "infection"),
        (["red", "swollen", "I've got a fever"], 1, Level.URGENT, "fever"),
        (["dry", "a few whiteheads", "tight"], 4, Level.WATCH, "breakout"),
        (["tender", "a bruise", "blurry vision"], 2, Level.URGENT, "eye"),
        (["still red", "flaking", "a bit tender"], 5, Level.WATCH, "redness"),
    ],
)
def test_the_most_serious_symptom_wins_in_any_order(
    ask: Ask, parts: list[str], day: int, level: Level, topic: str
) -> None:
    """Whatever order the symptoms come in, the most serious decides level and topic."""
    for order in itertools.permutations(parts):
        verdict = ask(", ".join(order), day)
        assert (verdict.level, verdict.topic) == (level, topic), order


def test_a_symptom_that_needs_the_clinic_wins_over_an_aftercare_question(ask: Ask) -> None:
    """ "Can I put makeup over the pus?" is about the pus."""
    verdict = ask("can I put makeup over the pus?", 5)
    assert (verdict.level, verdict.topic, verdict.allowed) == (Level.CLINIC, "infection", None)


def test_a_calm_symptom_lets_the_aftercare_question_be_answered(ask: Ask) -> None:
    """ "Still a bit red, can I go to the gym?" on day 4 is about the gym."""
    verdict = ask("still a bit red, can I go to the gym?", 4)
    assert (verdict.level, verdict.topic, verdict.allowed) == (Level.ADVICE, "exercise", True)


def test_the_registered_day_decides_not_a_day_named_in_the_text(ask: Ask) -> None:
    """ "I'm on day 10" on registered day 2 is still day 2."""
    assert ask("I'm on day 10 and still red", 2).level is Level.NORMAL
    assert ask("day 2 and still red", 10).level is Level.CLINIC


def test_a_duration_is_evidence_in_the_cautious_direction(ask: Ask) -> None:
    """ "Still swollen after 2 weeks" is clinic even on a registered day 2; never less."""
    assert ask("still swollen after 2 weeks", 2).level is Level.CLINIC
    assert ask("swollen for 3 days now", 3).level is Level.WATCH
    assert ask("swollen since yesterday", 6).level is Level.CLINIC
    # A question about the future is not evidence.
    assert ask("will the swelling be gone after a week?", 1).level is Level.NORMAL


@pytest.mark.parametrize(
    ("text", "day", "level"),
    [
        ("not sure if this is pus", 3, Level.CLINIC),
        ("no idea if I have a fever, I feel hot and shivery", 2, Level.URGENT),
        ("can't tell if it's a rash", 1, Level.CLINIC),
        ("my lips are swelling", 1, Level.NORMAL),
        ("redness isn't fading", 5, Level.CLINIC),
    ],
)
def test_when_unsure_the_more_cautious_reading(ask: Ask, text: str, day: int, level: Level) -> None:
    """Doubt is not a negation; "not fading" on day 5 is past "fading" (watch) to clinic."""
    assert ask(text, day).level is level


def test_lip_swelling_asks_about_breathing(ask: Ask) -> None:
    """Swollen lips follow the day, with a question whose "yes" is urgent."""
    verdict = ask("my lips are swelling", 1)
    assert verdict.clarify is not None
    assert verdict.clarify.if_yes_level is Level.URGENT


@pytest.mark.parametrize(
    ("text", "day", "topic"),
    [
        ("when can I go to the beach?", 9, "sun"),
        ("can I use retinol?", 5, "actives"),
        ("hot shower ok?", 3, "hot_water"),
        ("can I go to the gym?", 2, "exercise"),
        ("can I book my next session?", 24, "next_session"),
    ],
)
def test_days_the_policy_leaves_open_are_not_yet(ask: Ask, text: str, day: int, topic: str) -> None:
    """Between "not allowed" and "allowed" the policy is silent: the answer is "not yet"."""
    verdict = ask(text, day)
    assert (verdict.level, verdict.topic, verdict.allowed) == (Level.ADVICE, topic, False)
    assert "Not yet" in verdict.answer


@pytest.mark.parametrize(
    "text",
    [
        "what's the weather like tomorrow?",
        "tell me a joke",
        "how much does lip filler cost?",
        "can I book a massage?",
        "how much is the next session?",
        "qwpoeiru zxmcnv",
        "is botox safe?",
        "",
        "🙂🙂",
    ],
)
def test_off_topic_never_gets_a_made_up_answer(ask: Ask, text: str) -> None:
    """Unknown: no topic, no "allowed", the fixed answer with the clinic's contact."""
    verdict = ask(text, 3, contact="Glow Clinic, 0300 1234567")
    assert (verdict.level, verdict.topic, verdict.allowed) == (Level.UNKNOWN, None, None)
    assert "not something I can answer" in verdict.answer
    assert "Glow Clinic, 0300 1234567" in verdict.answer
    assert not verdict.escalate


def test_urgent_answers_say_get_care_now_with_the_contact(ask: Ask) -> None:
    """Urgent: medical care now; the clinic's contact when it is known, a pointer when not."""
    verdict = ask("I have chills", 2, contact="Glow Clinic, 0300 1234567")
    assert verdict.answer.startswith("Please get medical care now.")
    assert "Glow Clinic, 0300 1234567" in verdict.answer
    assert "booking confirmation" in ask("I have chills", 2).answer


def test_clinic_answers_say_contact_the_clinic(ask: Ask) -> None:
    """Clinic: why, and to contact the clinic today or tomorrow, with its contact."""
    verdict = ask("the redness is getting worse", 4, contact="+92 300 1234567")
    assert verdict.level is Level.CLINIC
    assert "getting worse" in verdict.answer
    assert "contact your clinic today or tomorrow" in verdict.answer
    assert "+92 300 1234567" in verdict.answer


def test_answers_are_specific_to_the_day_and_level(ask: Ask) -> None:
    """Day-1 redness is normal and says when it fades; day-6 redness is watch with the signs."""
    normal = ask("my face is red", 1)
    watch = ask("my face is red", 6)
    assert (normal.level, watch.level) == (Level.NORMAL, Level.WATCH)
    assert "expected on day 1" in normal.answer and "fades" in normal.answer
    assert "day 6" in watch.answer and "Contact your clinic if" in watch.answer
    assert "Fever, chills or red streaks" in watch.answer


def test_an_answered_question_keeps_the_symptom_to_watch(ask: Ask) -> None:
    """Advice beside a symptom to keep an eye on: both are in the answer."""
    verdict = ask("still a bit red, can I wear makeup?", 5)
    assert (verdict.level, verdict.topic, verdict.allowed) == (Level.ADVICE, "makeup", True)
    assert verdict.answer.startswith("Yes, on day 5")
    assert "Contact your clinic if it gets worse" in verdict.answer
