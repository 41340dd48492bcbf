"""Reading what patients write: spelling, emoji, typos, negation scope and durations."""

from __future__ import annotations

import pytest

from content.triage import Engine
from content.triage.reading import Reading


def words(engine: Engine, text: str) -> list[str]:
    """The normalised words of ``text``."""
    return [t.word for t in engine.reader.normalizer.tokens(text)]


def present(reading: Reading) -> set[str]:
    """The concepts read and not negated."""
    return {o.concept for o in reading.occurrences if not o.negated}


def negated(reading: Reading) -> set[str]:
    """The concepts read and negated."""
    return {o.concept for o in reading.occurrences if o.negated}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I can't sleep", ["i", "can", "not", "sleep"]),
        ("it isn't red, it's pink", ["it", "is", "not", "red", ",", "it", "is", "pink"]),
        ("dont  know", ["do", "not", "know"]),
        ("Face = 🍅🔥", ["face", "red", "burning"]),
        ("RED!!!", ["red", ".", ".", "."]),
        ("itchyyyy", ["itchy"]),
        ("soooo red", ["so", "red"]),
        ("make-up", ["make", "up"]),
        ("crème", ["creme"]),
        ("48h later", ["48", "hours", "later"]),
        ("gonna go tmrw", ["going", "to", "go", "tomorrow"]),
        ("red\nswollen", ["red", ".", "swollen"]),
    ],
)
def test_normalising_words(engine: Engine, text: str, expected: list[str]) -> None:
    """Case, contractions, slang, emoji, repeated letters, hyphens and accents."""
    assert words(engine, text) == expected


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("redess", "redness"),
        ("sweling", "swelling"),
        ("brusie", "bruise"),
        ("bleading", "bleeding"),
        ("feaver", "fever"),
        ("pimpels", "pimples"),
        ("iritated", "irritated"),
        ("excercise", "exercise"),
        ("moisturizor", "moisturizer"),
        ("sunscrean", "sunscreen"),
        ("hyaluronc", "hyaluronic"),
    ],
)
def test_typos_are_corrected_and_flagged(engine: Engine, typo: str, meant: str) -> None:
    """A near miss of a lexicon word is read as that word, and the token says so."""
    [token] = engine.reader.normalizer.tokens(typo)
    assert (token.word, token.raw, token.corrected) == (meant, typo, True)


@pytest.mark.parametrize(
    ("typo", "concept"),
    [("itchey", "itching"), ("swolen", "swelling"), ("rednes", "redness"), ("blistr", "cold_sore")],
)
def test_a_corrected_typo_is_read_as_its_concept(engine: Engine, typo: str, concept: str) -> None:
    """The corrected word takes part in matching, and the match says it was corrected."""
    [occurrence] = engine.read(typo).occurrences
    assert (occurrence.concept, occurrence.text, occurrence.corrected) == (concept, typo, True)


@pytest.mark.parametrize("word", ["paint", "rush", "wish", "sure", "read", "store", "bread"])
def test_real_words_are_never_corrected(engine: Engine, word: str) -> None:
    """ "paint" is not "pain", "rush" is not "rash": words.yaml protects real words."""
    assert words(engine, word) == [word]


def test_short_unknown_words_are_left_alone(engine: Engine) -> None:
    """Three letters are too few to guess from."""
    assert words(engine, "xzy qwe") == ["xzy", "qwe"]


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        ("no fever", {"fever"}, set()),
        ("no fever, chills or pus", {"fever", "infection"}, set()),
        ("not swollen and not bleeding", {"swelling", "bleeding"}, set()),
        ("I don't have any fever", {"fever"}, set()),
        ("not really swollen", {"swelling"}, set()),
        ("no pus, the redness is worse", {"infection"}, {"redness", "worsening"}),
        ("no swelling and my face is red", {"swelling"}, {"redness"}),
        ("not red but swollen", {"redness"}, {"swelling"}),
        ("the bleeding has stopped", {"bleeding"}, set()),
        ("it stopped bleeding", {"bleeding"}, set()),
        ("the swelling is gone, still itchy", {"swelling"}, {"itching"}),
        ("pain free", {"pain"}, set()),
        ("not bleeding anymore", {"bleeding"}, set()),
        ("no longer red", {"redness"}, set()),
        ("not sure if it's pus", set(), {"infection"}),
        ("no idea if I have a fever", set(), {"fever"}),
        ("I don't think it's infected", {"infection"}, set()),
    ],
)
def test_negation_reaches_as_far_as_it_should(
    engine: Engine, text: str, gone: set[str], kept: set[str]
) -> None:
    """A negation covers its list and stops at a break; doubt ("not sure") is no negation."""
    reading = engine.read(text)
    assert gone <= negated(reading), reading.occurrences
    assert kept <= present(reading), reading.occurrences
    assert not (kept & negated(reading))


def test_a_negated_improvement_is_no_improvement(engine: Engine) -> None:
    """ "Not fading" is read as not improving, which raises day-5 redness to clinic."""
    reading = engine.read("the redness is not fading")
    [mention] = reading.symptoms
    assert "not_improving" in mention.context
    assert "improving" not in mention.context


def test_more_before_a_symptom_is_worse(engine: Engine) -> None:
    """ "More swollen" and "more itchy" are getting worse; "more than a week" is not."""
    [mention] = engine.read("more itchy than yesterday").symptoms
    assert "worsening" in mention.context
    [mention] = engine.read("red for more than a week").symptoms
    assert "worsening" not in mention.context


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("red for 3 days", 3),
        ("swollen for a week now", 7),
        ("itchy since yesterday", 1),
        ("red for more than a week", 8),
        ("still peeling two weeks later", 14),
        ("still red after 2 weeks", 14),
        ("been itchy a couple of days", 2),
        ("the itching started 5 days ago", 5),
        ("red for over a fortnight", 15),
        ("swollen for a few days", 3),
    ],
)
def test_durations(engine: Engine, text: str, days: int) -> None:
    """How long the message says a symptom has lasted, in days."""
    [mention] = engine.read(text).symptoms
    assert mention.duration == days


@pytest.mark.parametrize(
    "text",
    [
        "will the redness be gone in a week?",
        "redness usually lasts 3 days right",
        "red on day 10",
        "can I exercise after 2 days?",
        "red after 2 weeks?",
    ],
)
def test_what_is_not_a_duration(engine: Engine, text: str) -> None:
    """Questions about the future, day numbers, and "after" without "still" are no evidence."""
    assert all(m.duration is None for m in engine.read(text).symptoms)


def test_a_modifier_in_a_sentence_without_a_symptom_qualifies_them_all(engine: Engine) -> None:
    """ "It's getting worse." applies to the symptoms of the other sentences."""
    reading = engine.read("My cheeks are red. It's getting worse.")
    [mention] = reading.symptoms
    assert "worsening" in mention.context


def test_a_modifier_stays_in_its_own_sentence(engine: Engine) -> None:
    """ "Swollen but the redness is getting worse": worse is about the redness only."""
    reading = engine.read("my face is swollen. the redness is getting worse")
    contexts = {m.topic: m.context for m in reading.symptoms}
    assert "worsening" in contexts["redness"]
    assert "worsening" not in contexts["swelling"]


@pytest.mark.parametrize(
    ("text", "question", "asked"),
    [
        ("can I wear makeup?", "permission", True),
        ("which sunscreen is best?", "info", True),
        ("should I wear sunscreen?", "recommendation", True),
        ("I wore makeup today", None, False),
        ("my face is red, can I wear makeup?", "permission", True),
        ("is it normal that my makeup stings?", None, False),
    ],
)
def test_questions_about_aftercare(
    engine: Engine, text: str, question: str | None, asked: bool
) -> None:
    """Which question is asked about an aftercare topic, and whether it is asked about it."""
    [mention] = engine.read(text).advice
    assert (mention.question.value if mention.question else None, mention.asked) == (
        question,
        asked,
    )
