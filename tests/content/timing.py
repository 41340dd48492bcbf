"""When a milestone is due and goes stale, in local wall-clock time since the session day."""

from __future__ import annotations

from datetime import timedelta

from content.plan import Milestone


def due_since_session(milestone: Milestone) -> timedelta:
    """From midnight at the start of the session day to the milestone's local due time."""
    at = timedelta(hours=milestone.at.hour, minutes=milestone.at.minute)
    return timedelta(days=milestone.offset.days, hours=milestone.offset.hours) + at


def expiry_since_session(milestone: Milestone) -> timedelta:
    """From midnight at the start of the session day to the milestone's local expiry."""
    return due_since_session(milestone) + milestone.expires_after.as_timedelta()


def due_day(milestone: Milestone) -> int:
    """The day of healing (0 = session day) on which the milestone is due, local time."""
    return due_since_session(milestone).days


def expiry_day(milestone: Milestone) -> int:
    """The day of healing on which the milestone goes stale, local time."""
    return expiry_since_session(milestone).days
