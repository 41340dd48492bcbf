"""Our own labelled cases (cases.jsonl): they meet score.py's bars, and they cover the policy.

The cases are written from POLICY.md in our own words, not from shared/triage/cases-dev.jsonl;
the hidden evaluation uses other people's words again, so the file is checked for breadth as
well as for the score.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from content.const import ADVICE_TOPICS, SYMPTOM_TOPICS
from content.triage import Engine
from tests.content.triage.conftest import Ask
from tests.content.triage.scoring import load_cases, score, topics

CASES = load_cases()
DEV_CASES = Path(__file__).resolve().parents[4] / "shared" / "triage" / "cases-dev.jsonl"


def test_our_cases_meet_every_bar(ask: Ask) -> None:
    """Urgent recall 1.00, escalation 0.97, false alarms 0.05 and the accuracy bars."""
    result = score(CASES, ask)
    assert not result.below_bars(), result.report()


def test_urgent_and_clinic_cases_are_all_escalated(ask: Ask) -> None:
    """Stricter than the bar: no clinic or urgent case of ours is answered calmly."""
    missed = [
        (c["id"], c["text"], ask(c["text"], c["day"]).level.value)
        for c in CASES
        if c["level"] in ("clinic", "urgent") and not ask(c["text"], c["day"]).escalate
    ]
    assert not missed


def test_there_are_enough_cases_with_unique_ids() -> None:
    """At least 150 cases, each id once, each with a day, a text and a level."""
    assert len(CASES) >= 150
    ids = Counter(c["id"] for c in CASES)
    assert [i for i, count in ids.items() if count > 1] == []
    assert all(isinstance(c["day"], int) and c["text"].strip() for c in CASES)


def test_every_topic_and_level_is_covered() -> None:
    """Every topic of the policy, every level, and all three answers to "allowed"."""
    named = set().union(*(topics(c) for c in CASES)) - {None}
    assert named >= SYMPTOM_TOPICS | ADVICE_TOPICS
    levels = Counter(c["level"] for c in CASES)
    assert all(levels[lv] >= 5 for lv in ("normal", "watch", "clinic", "urgent", "advice"))
    assert levels["unknown"] >= 10
    allowed = Counter(c.get("allowed", "absent") for c in CASES if c["level"] == "advice")
    assert allowed[True] >= 10 and allowed[False] >= 10 and allowed[None] >= 10


def test_each_symptom_is_covered_at_each_of_its_day_levels(engine: Engine) -> None:
    """For each symptom's day windows in rules.yaml, a case has that topic at that level."""
    seen = {(t, c["level"]) for c in CASES for t in topics(c)}
    missing = [
        (topic, window.level.value)
        for topic, rule in engine.rules.symptoms.items()
        for window in rule.days
        if (topic, window.level.value) not in seen
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("kind", "pattern", "least"),
    [
        ("negation", r"\b(no|not|n't|never|without|stopped|gone)\b|n't", 10),
        ("emoji", r"[^\x00-\x7f]", 5),
        (
            "duration",
            r"\b(for|since|been|ago|later|after)\b.*\b(day|days|week|weeks|hour|yesterday)",
            6,
        ),
        ("typo", r"\b(redess|sweling|swolen|itchey|rednes|pimpels|pealing|swollon|puss)\b", 5),
        ("shouting", r"\b[A-Z]{3,}\b", 2),
    ],
)
def test_the_cases_include_what_patients_really_write(kind: str, pattern: str, least: int) -> None:
    """Negations, emoji, durations, typos and capitals each appear several times."""
    hits = [c for c in CASES if re.search(pattern, c["text"])]
    assert len(hits) >= least, f"only {len(hits)} {kind} cases"


def test_several_symptoms_in_one_message_are_covered() -> None:
    """Cases where more than one topic is acceptable: a message with several symptoms."""
    assert sum(1 for c in CASES if isinstance(c["topic"], list)) >= 10


def test_the_words_are_our_own() -> None:
    """No case repeats a text of the development cases."""
    if not DEV_CASES.is_file():
        pytest.skip(f"no development cases at {DEV_CASES}")

    def norm(text: str) -> str:
        return re.sub(r"[^a-z]+", " ", text.lower()).strip()

    dev = {norm(c["text"]) for c in load_cases(DEV_CASES)}
    assert [c["id"] for c in CASES if norm(c["text"]) in dev] == []
