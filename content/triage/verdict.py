"""What the triage answers: a level, a topic, the answer text, and what it read to get there."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    """The levels of POLICY.md: four for symptoms, plus advice and unknown."""

    NORMAL = "normal"
    WATCH = "watch"
    CLINIC = "clinic"
    URGENT = "urgent"
    ADVICE = "advice"
    UNKNOWN = "unknown"


SYMPTOM_LEVELS: tuple[Level, ...] = (Level.NORMAL, Level.WATCH, Level.CLINIC, Level.URGENT)
ESCALATING: frozenset[Level] = frozenset({Level.CLINIC, Level.URGENT})
_SEVERITY = {level: rank for rank, level in enumerate(SYMPTOM_LEVELS)}


def severity(level: Level) -> int:
    """How serious a symptom level is: normal 0 to urgent 3 (advice and unknown: -1)."""
    return _SEVERITY.get(level, -1)


@dataclass(frozen=True, slots=True)
class Match:
    """One concept the triage read in the message, with the patient's own words for it."""

    concept: str
    text: str
    negated: bool = False
    corrected: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The match as plain JSON values."""
        return {
            "concept": self.concept,
            "text": self.text,
            "negated": self.negated,
            "corrected": self.corrected,
        }


@dataclass(frozen=True, slots=True)
class Clarification:
    """A yes/no question that could make the verdict more serious.

    ``id`` ("question:topic:level") is all ``resolve_clarification`` needs, so the bot can put
    it in a button's callback data; ``if_yes_*`` say where a "yes" leads.
    """

    id: str
    question: str
    if_yes_topic: str
    if_yes_level: Level

    def as_dict(self) -> dict[str, Any]:
        """The question as plain JSON values."""
        return {
            "id": self.id,
            "question": self.question,
            "if_yes": {"topic": self.if_yes_topic, "level": self.if_yes_level.value},
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The triage of one message on one day since the session.

    Attributes:
        topic: the policy topic that decided the level; None when the level is unknown.
        level: normal, watch, clinic or urgent for symptoms; advice; or unknown.
        allowed: for advice, whether it is allowed today; None otherwise or when the question
            is not a "can I...?".
        answer: the text for the patient (plain text; escape it before sending as HTML).
        day: the day since the session the verdict is for.
        matched: what was read in the message, negated concepts included.
        clarify: a question that could make the verdict more serious, if there is one.
        reason: the reason the level was raised (a key of answers.yaml ``because``), if any.
    """

    topic: str | None
    level: Level
    allowed: bool | None
    answer: str
    day: int
    matched: tuple[Match, ...] = ()
    clarify: Clarification | None = None
    reason: str | None = field(default=None)

    @property
    def escalate(self) -> bool:
        """Whether the clinic should hear about it: the level is clinic or urgent."""
        return self.level in ESCALATING

    def as_dict(self) -> dict[str, Any]:
        """The whole verdict as plain JSON values."""
        return {
            "topic": self.topic,
            "level": self.level.value,
            "allowed": self.allowed,
            "escalate": self.escalate,
            "answer": self.answer,
            "day": self.day,
            "reason": self.reason,
            "clarify": self.clarify.as_dict() if self.clarify else None,
            "matched": [m.as_dict() for m in self.matched],
        }
