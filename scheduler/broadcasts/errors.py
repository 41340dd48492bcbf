"""What a broadcast's staff can get wrong, as typed errors the chat and the dashboard answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class BroadcastNotFound(LookupError):
    """No such broadcast in this clinic (another clinic's broadcast is not found either)."""


class BroadcastStateError(ValueError):
    """The broadcast is not in a state that allows this (e.g. confirming it twice)."""


class BroadcastTooLong(ValueError):
    """The text does not fit in one message (or caption) with the clinic's label."""

    def __init__(self, length: int, limit: int) -> None:
        """``length`` characters given, ``limit`` allowed."""
        super().__init__(f"the text is {length} characters; at most {limit} fit")
        self.length = length
        self.limit = limit


class AudienceError(ValueError):
    """An audience that names nobody we know how to choose; the message is fit for a person."""


class EmptyBroadcast(ValueError):
    """A broadcast with neither a text nor a photo."""


class UnknownPhase(ValueError):
    """A phase audience naming a phase the clinic's care plan does not have."""

    def __init__(self, phase: str | None, known: list[str]) -> None:
        """The phase asked for and the ones the plan has."""
        super().__init__(f"no phase {phase!r} in the care plan; try: " + ", ".join(known))
        self.phase = phase
        self.known = known


class TimeProblem(StrEnum):
    """Why a broadcast cannot be scheduled for a time."""

    PAST = "past"
    TOO_FAR = "too_far"
    QUIET = "quiet"


class BroadcastTimeError(ValueError):
    """A send time that is refused; ``next_allowed`` is the first good time after it (for a
    time in the clinic's quiet hours: when they end), if there is one."""

    def __init__(self, problem: TimeProblem, next_allowed: datetime | None = None) -> None:
        """The problem, and the time to offer instead."""
        super().__init__(problem.value)
        self.problem = problem
        self.next_allowed = next_allowed
