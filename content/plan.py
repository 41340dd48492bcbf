"""The care plan: phases and milestones of an aftercare programme, validated at load."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from content.const import ADVICE_TOPICS, ALL_TOPICS, SYMPTOM_TOPICS

_ID = r"^[a-z][a-z0-9_]*$"
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$", re.ASCII)
# A reminder is meant to arrive within this long of its due time (its delivery window).
DEFAULT_WINDOW_MINUTES = 90


class _Strict(BaseModel):
    """Base for plan models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_time_of_day(value: Any) -> time:
    """Parse "HH:MM" (24-hour clock) into a time; refuse times that do not exist."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 09:00 as the sexagesimal integer 540.
        hours, minutes = divmod(value, 60)
        value = f"{hours}:{minutes:02d}"
    if not isinstance(value, str):
        raise ValueError('a time of day must be written as "HH:MM"')
    match = _HHMM.match(value.strip())
    if not match:
        raise ValueError(f'{value!r} is not a time of day; write it as "HH:MM"')
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        raise ValueError(f"{value!r} is not a time that exists on a 24-hour clock")
    return time(hours, minutes)


TimeOfDay = Annotated[time, Field(description="local time of day, HH:MM")]

# Validation context key: the loader runs the cross-checks itself, to point at each problem.
DEFER_CROSS_CHECKS = "defer_cross_checks"


def _known_topics(values: Iterable[str], known: frozenset[str], kind: str) -> None:
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"unknown {kind} {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
        )


class Offset(_Strict):
    """A span of days and hours, measured in local wall-clock time."""

    days: int = 0
    hours: int = 0

    def as_timedelta(self) -> timedelta:
        """The span as a timedelta."""
        return timedelta(days=self.days, hours=self.hours)


class ButtonAction(StrEnum):
    """What a button under a reminder does; the bot supplies labels and behaviour."""

    DONE = "done"
    SNOOZE = "snooze"
    QUESTION = "question"
    BOOK = "book"
    BOOKED = "booked"


class Phase(_Strict):
    """A stretch of healing, by day since the session (day 0 is the session day)."""

    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)
    start_day: int
    end_day: int | None = None
    summary: str = Field(min_length=1, description="what to expect in this phase")
    key_advice: str = Field(min_length=1, description="sent as the catch-up message")
    expected: tuple[str, ...] = Field(
        default=(), description="symptom topics that are normal on every day of this phase"
    )

    @field_validator("expected")
    @classmethod
    def _symptoms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _known_topics(value, SYMPTOM_TOPICS, "symptom topic")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Phase:
        if self.end_day is not None and self.end_day < self.start_day:
            raise ValueError(f"end_day {self.end_day} is before start_day {self.start_day}")
        return self

    def contains(self, day: int) -> bool:
        """Whether ``day`` (days since the session) falls in this phase."""
        return self.start_day <= day and (self.end_day is None or day <= self.end_day)


class Milestone(_Strict):
    """One timed reminder: when it is due, when it goes stale, what it says."""

    id: str = Field(pattern=_ID)
    phase: str
    title: str = Field(default="", max_length=80, description="a short line for lists")
    offset: Offset
    at: TimeOfDay
    expires_after: Offset
    text: str = Field(min_length=1, max_length=3500)
    buttons: tuple[ButtonAction, ...] = ()
    topics: tuple[str, ...] = Field(
        default=(), description="policy topics this reminder gives advice on"
    )
    series_max: int | None = Field(
        default=None, ge=1, description="sent only after sessions numbered up to this"
    )
    allows: tuple[str, ...] = Field(
        default=(),
        description="advice topics this reminder says are allowed from now on (a subset of topics)",
    )
    window_minutes: int = Field(
        default=DEFAULT_WINDOW_MINUTES,
        ge=5,
        le=24 * 60,
        description="its delivery window: it should arrive within this long of its due time",
    )

    @field_validator("at", mode="before")
    @classmethod
    def _parse_at(cls, value: Any) -> time:
        return parse_time_of_day(value)

    @field_validator("expires_after")
    @classmethod
    def _positive_expiry(cls, value: Offset) -> Offset:
        if value.as_timedelta() <= timedelta(0):
            raise ValueError("expiry is not after the due time: expires_after must be positive")
        return value

    @field_validator("topics")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _known_topics(value, ALL_TOPICS, "topic")
        return value

    @model_validator(mode="after")
    def _window_before_expiry(self) -> Milestone:
        if (
            "window_minutes" in self.model_fields_set
            and timedelta(minutes=self.window_minutes) > self.expires_after.as_timedelta()
        ):
            raise ValueError(
                f"window_minutes {self.window_minutes} is longer than expires_after: "
                "the window must close before the reminder goes stale"
            )
        return self

    @property
    def window(self) -> timedelta:
        """How long after its due time the reminder is meant to have arrived (never past its
        expiry: a milestone that goes stale sooner than the default window closes with it)."""
        return min(timedelta(minutes=self.window_minutes), self.expires_after.as_timedelta())

    @field_validator("allows")
    @classmethod
    def _allows_topics(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        _known_topics(value, ADVICE_TOPICS, "advice topic")
        topics = info.data.get("topics")
        if topics is not None:
            missing = [t for t in value if t not in topics]
            if missing:
                raise ValueError(f"allows {', '.join(map(repr, missing))} not listed in topics")
        return value

    @property
    def headline(self) -> str:
        """The title, or else the first line of the text, cut to 80 characters."""
        if self.title:
            return self.title
        first = self.text.strip().splitlines()[0]
        return first if len(first) <= 80 else first[:79].rstrip() + "…"

    def applies_to(self, session_number: int) -> bool:
        """Whether this milestone belongs to the plan of the given session of a series."""
        return self.series_max is None or session_number <= self.series_max


class Series(_Strict):
    """How sessions follow one another."""

    min_sessions: int = Field(ge=1)
    max_sessions: int = Field(ge=1)
    interval_min_weeks: int = Field(ge=1)
    interval_max_weeks: int = Field(ge=1)
    maintenance_min_months: int = Field(ge=1)
    maintenance_max_months: int = Field(ge=1)


class AdviceRule(_Strict):
    """When an activity is allowed again, by day since the session (POLICY.md's advice table)."""

    topic: str = Field(pattern=_ID)
    not_allowed_until_day: int | None = Field(
        default=None, description="last day on which it is not allowed"
    )
    allowed_from_day: int | None = Field(default=None, description="first day it is allowed")
    never: bool = False
    answer: str = Field(min_length=1)

    @field_validator("topic")
    @classmethod
    def _known(cls, value: str) -> str:
        _known_topics((value,), ADVICE_TOPICS, "advice topic")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> AdviceRule:
        if self.never and (self.not_allowed_until_day, self.allowed_from_day) != (None, None):
            raise ValueError("a rule that is never allowed has no day bounds")
        if (
            self.not_allowed_until_day is not None
            and self.allowed_from_day is not None
            and self.allowed_from_day <= self.not_allowed_until_day
        ):
            raise ValueError(
                f"allowed_from_day {self.allowed_from_day} is not after "
                f"not_allowed_until_day {self.not_allowed_until_day}"
            )
        return self

    def allowed_on(self, day: int) -> bool | None:
        """Whether it is allowed on ``day`` since the session; None where the policy is silent."""
        if self.never:
            return False
        if self.not_allowed_until_day is not None and day <= self.not_allowed_until_day:
            return False
        if self.allowed_from_day is not None and day >= self.allowed_from_day:
            return True
        return None


class CarePlan(_Strict):
    """A whole aftercare programme."""

    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1)
    version: int = Field(ge=1)
    series: Series
    phases: tuple[Phase, ...] = Field(min_length=1)
    milestones: tuple[Milestone, ...] = Field(min_length=1)
    advice: tuple[AdviceRule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> CarePlan:
        if isinstance(info.context, dict) and info.context.get(DEFER_CROSS_CHECKS):
            return self
        problems = find_inconsistencies(self.phases, self.milestones, self.advice)
        if problems:
            raise ValueError("; ".join(p.message for p in problems))
        return self

    def phase_for_day(self, day: int) -> Phase:
        """The phase a patient is in on ``day`` since the session (before day 0: the first)."""
        for phase in self.phases:
            if phase.contains(day):
                return phase
        return min(self.phases, key=lambda p: p.start_day)

    def milestone(self, milestone_id: str) -> Milestone:
        """The milestone with this id; KeyError if there is none."""
        for m in self.milestones:
            if m.id == milestone_id:
                return m
        raise KeyError(milestone_id)

    def phase(self, phase_id: str) -> Phase:
        """The phase with this id; KeyError if there is none."""
        for p in self.phases:
            if p.id == phase_id:
                return p
        raise KeyError(phase_id)

    def advice_rule(self, topic: str) -> AdviceRule:
        """The advice rule for a policy topic; KeyError if there is none."""
        for rule in self.advice:
            if rule.topic == topic:
                return rule
        raise KeyError(topic)


Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Inconsistency:
    """A problem between parts of a plan, with the path of the value it is about."""

    loc: Loc
    message: str


def _duplicates(section: str, key: str, items: Sequence[BaseModel | None]) -> list[Inconsistency]:
    problems: list[Inconsistency] = []
    first: dict[object, int] = {}
    for index, item in enumerate(items):
        if item is None:
            continue
        value = getattr(item, key)
        if value in first:
            problems.append(
                Inconsistency(
                    (section, index, key),
                    f"duplicate {key} {value!r} (first used by {section}[{first[value]}])",
                )
            )
        else:
            first[value] = index
    return problems


def find_inconsistencies(
    phases: Sequence[Phase | None],
    milestones: Sequence[Milestone | None],
    advice: Sequence[AdviceRule | None] = (),
) -> list[Inconsistency]:
    """Every cross-check problem of a plan: duplicate ids, unknown phases, gaps between phases.

    Items are given in plan order; None stands for an item that did not validate on its own.
    Of milestones only ``id`` and ``phase`` are read, and of advice rules only ``topic``.
    Checks that need every phase are skipped while a phase is None, so one bad phase does not
    also show up as a gap or as an unknown phase reference.
    """
    problems = [
        *_duplicates("phases", "id", phases),
        *_duplicates("milestones", "id", milestones),
        *_duplicates("advice", "topic", advice),
    ]
    if any(p is None for p in phases):
        return problems
    valid_phases = [(i, p) for i, p in enumerate(phases) if p is not None]
    phase_ids = {p.id for _, p in valid_phases}
    for index, m in enumerate(milestones):
        if m is not None and m.phase not in phase_ids:
            problems.append(
                Inconsistency(
                    ("milestones", index, "phase"),
                    f"unknown phase {m.phase!r}; phases are {', '.join(sorted(phase_ids))}",
                )
            )
    ordered = sorted(valid_phases, key=lambda item: item[1].start_day)
    for (_, before), (index, after) in zip(ordered, ordered[1:], strict=False):
        if before.end_day is None or before.end_day + 1 != after.start_day:
            problems.append(
                Inconsistency(
                    ("phases", index, "start_day"),
                    f"phases {before.id!r} and {after.id!r} leave a gap or overlap "
                    f"(day {before.end_day} then day {after.start_day})",
                )
            )
    if ordered and ordered[-1][1].end_day is not None:
        index, last = ordered[-1]
        problems.append(
            Inconsistency(
                ("phases", index, "end_day"),
                f"the last phase {last.id!r} must be open-ended (no end_day)",
            )
        )
    if ordered and not any(p.contains(0) for _, p in ordered):
        problems.append(Inconsistency(("phases",), "no phase covers day 0, the session day"))
    return problems


def day_of_healing(session_date: date, today: date) -> int:
    """Days since the session: 0 on the session day, 1 the next day, negative before it."""
    return (today - session_date).days
