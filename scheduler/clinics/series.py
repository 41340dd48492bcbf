"""When a patient's next session of the series is due."""

from __future__ import annotations

from datetime import date, datetime, timedelta

NEXT_SESSION_AFTER = timedelta(days=28)  # a series is 4-6 weeks apart: due from week 4
DUE_WINDOW = timedelta(days=7)


def next_session_due(session_date: date) -> date:
    """When the next session of a series is due, four weeks after this one."""
    return session_date + NEXT_SESSION_AFTER


def due_for_next_session(
    session_date: date, booked_at: datetime | None, today: date, within: timedelta
) -> bool:
    """Whether the session after this one falls due between today and ``within`` from now,
    and the patient has not said it is booked."""
    when = next_session_due(session_date)
    return booked_at is None and today <= when <= today + within
