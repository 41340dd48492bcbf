"""Pure planning: a session date, a time zone and a care plan become reminders in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from content.plan import CarePlan, day_of_healing, parse_time_of_day

MAX_DAYS_AHEAD = 90
MAX_DAYS_BACK = 2 * 365
CATCH_UP_PREFIX = "catch_up_"
CATCH_UP_VALIDITY = timedelta(hours=12)
MIN_AWAKE = timedelta(hours=8)
DAY = timedelta(days=1)


class SessionDateError(ValueError):
    """A session date the product will not plan for; the message is fit for a person."""


class UnknownTimeZoneError(ValueError):
    """A time zone name that the IANA database does not know."""


class QuietHoursTooLong(ValueError):
    """Quiet hours that leave fewer than ``MIN_AWAKE`` hours a day for reminders."""

    def __init__(self, quiet: QuietHours) -> None:
        """Name the span and how much of the day it leaves awake."""
        super().__init__(f"{quiet} leaves {quiet.awake()} awake, less than {MIN_AWAKE}")
        self.quiet = quiet
        self.awake = quiet.awake()


def load_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; UnknownTimeZoneError if it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZoneError(f"unknown time zone {name!r}") from exc


def check_session_date(session_date: date, *, today: date) -> None:
    """Refuse dates more than 90 days ahead or more than two years back."""
    if session_date > today + timedelta(days=MAX_DAYS_AHEAD):
        raise SessionDateError(
            f"{session_date.isoformat()} is more than {MAX_DAYS_AHEAD} days ahead"
        )
    if session_date < today - timedelta(days=MAX_DAYS_BACK):
        raise SessionDateError(f"{session_date.isoformat()} is more than two years back")


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a naive local wall-clock time in ``tz``.

    A time that does not exist (the spring-forward gap) moves forward past the gap; a time
    that exists twice (fall back) is the first of the two. ``fold=0`` does both.
    """
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


@dataclass(frozen=True)
class QuietHours:
    """A nightly span of local time with no messages; it may wrap midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Parse "21:00-08:00"; "off" (or equal start and end) means no quiet hours."""
        cleaned = text.strip().lower()
        if cleaned in {"off", "none", ""}:
            return cls(time(0), time(0))
        parts = re.split(r"\s*[-–]\s*", cleaned)
        if len(parts) != 2:
            raise ValueError(f"{text!r} is not a span like 21:00-08:00")
        return cls(parse_time_of_day(parts[0]), parse_time_of_day(parts[1]))

    def __str__(self) -> str:
        if self.start == self.end:
            return "off"
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def length(self) -> timedelta:
        """How long the quiet span lasts each night (zero when switched off)."""
        if self.start == self.end:
            return timedelta(0)
        start = datetime.combine(date.min, self.start)
        end = datetime.combine(date.min, self.end)
        return end - start if self.start < self.end else DAY - (start - end)

    def awake(self) -> timedelta:
        """How much of each day is left for messages."""
        return DAY - self.length()

    def check(self) -> QuietHours:
        """These quiet hours, or QuietHoursTooLong if they leave fewer than 8 waking hours
        (the day's reminders would all be squeezed out or crowded together)."""
        if self.awake() < MIN_AWAKE:
            raise QuietHoursTooLong(self)
        return self

    def contains(self, moment: time) -> bool:
        """Whether a local time of day falls in the quiet span."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def end_of(self, local: datetime) -> datetime:
        """For a naive local time inside the span, the naive local time the span ends."""
        end = datetime.combine(local.date(), self.end)
        return end if end > local else end + timedelta(days=1)

    def defer(self, instant: datetime, tz: ZoneInfo) -> datetime:
        """``instant`` if it is outside quiet hours in ``tz``, else the end of the quiet span."""
        local = instant.astimezone(tz).replace(tzinfo=None)
        if not self.contains(local.time()):
            return instant
        end = self.end_of(local)
        deferred = to_utc(end, tz)
        if deferred <= instant:
            # In the second pass of a fall-back hour, the end is the second occurrence too.
            deferred = end.replace(tzinfo=tz, fold=1).astimezone(UTC)
        return deferred


class PlanState(StrEnum):
    """Where a planned reminder stands relative to ``now``."""

    AHEAD = "ahead"
    MISSED = "missed"
    DROPPED = "dropped"


@dataclass(frozen=True)
class PlannedReminder:
    """A milestone placed in time for one session."""

    milestone_id: str
    phase_id: str
    due_at: datetime
    expires_at: datetime
    state: PlanState


def plan_reminders(
    *,
    session_date: date,
    tz: ZoneInfo,
    plan: CarePlan,
    quiet_hours: QuietHours,
    now: datetime,
    session_number: int = 1,
) -> list[PlannedReminder]:
    """Every milestone of ``plan`` for a session on ``session_date``, in due order.

    Times are local wall-clock times in ``tz`` turned into UTC, so a 09:00 milestone stays at
    09:00 local across DST changes. A reminder that falls in quiet hours moves to their end;
    if that would pass its expiry it is ``DROPPED``. One whose due instant is before ``now``
    is ``MISSED``: it is never sent late, the catch-up message covers it.
    """
    planned: list[PlannedReminder] = []
    for milestone in plan.milestones:
        if not milestone.applies_to(session_number):
            continue
        local_due = datetime.combine(
            session_date + timedelta(days=milestone.offset.days), milestone.at
        ) + timedelta(hours=milestone.offset.hours)
        local_expiry = local_due + milestone.expires_after.as_timedelta()
        due_at = to_utc(local_due, tz)
        expires_at = to_utc(local_expiry, tz)
        due_at = quiet_hours.defer(due_at, tz)
        if due_at >= expires_at:
            state = PlanState.DROPPED
        elif due_at < now:
            state = PlanState.MISSED
        else:
            state = PlanState.AHEAD
        planned.append(PlannedReminder(milestone.id, milestone.phase, due_at, expires_at, state))
    planned.sort(key=lambda p: (p.due_at, p.milestone_id))
    return planned


def plan_catch_up(
    *,
    session_date: date,
    tz: ZoneInfo,
    plan: CarePlan,
    quiet_hours: QuietHours,
    now: datetime,
    planned: list[PlannedReminder],
) -> PlannedReminder | None:
    """One message with the current phase's key advice, when milestones were missed.

    A session registered late ("3 days ago") gets this instead of a burst of stale reminders.
    None when nothing of the healing itself was missed (a session registered on its own day
    has only missed the evening-before preparation tip) or the session is still ahead.
    """
    today = now.astimezone(tz).date()
    day = day_of_healing(session_date, today)
    missed_healing = any(
        p.state is PlanState.MISSED and plan.milestone(p.milestone_id).offset.days >= 0
        for p in planned
    )
    if day < 0 or not missed_healing:
        return None
    phase = plan.phase_for_day(day)
    due_at = quiet_hours.defer(now, tz).astimezone(UTC)
    return PlannedReminder(
        catch_up_id(phase.id), phase.id, due_at, due_at + CATCH_UP_VALIDITY, PlanState.AHEAD
    )


def catch_up_id(phase_id: str) -> str:
    """The milestone id a catch-up message for ``phase_id`` is stored under."""
    return f"{CATCH_UP_PREFIX}{phase_id}"


def catch_up_phase(milestone_id: str) -> str | None:
    """The phase id of a catch-up milestone id, or None for a plan milestone."""
    if milestone_id.startswith(CATCH_UP_PREFIX):
        return milestone_id[len(CATCH_UP_PREFIX) :]
    return None
