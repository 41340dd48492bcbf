"""The limits a broadcast keeps: its length, when it may be scheduled, and how long a copy held for
a patient's quiet hours stays news."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from scheduler.broadcasts.errors import BroadcastTimeError, TimeProblem
from scheduler.care.planning import QuietHours, load_zone
from scheduler.outbox.budget import Priority
from storage.broadcasts import BroadcastRepository, Candidate, NewRecipient, ReadyRecipient
from storage.models import Broadcast

MAX_DAYS = 366
MAX_TEXT = 4096
MAX_CAPTION = 1024

# Each copy opens with the clinic's name ("Message from North Clinic:"): room for those words.
LABEL_ROOM = 40

# A copy held for the patient's quiet hours goes out at most this long after the broadcast
# was due; after that it is news no more, and is skipped (counted in the report).
LIFETIME = timedelta(hours=24)

# How far ahead a broadcast may be scheduled.
MAX_AHEAD = timedelta(days=30)


def text_limit(clinic_name: str, *, photo: bool) -> int:
    """How many characters a broadcast's text may have, leaving room for the label."""
    return (MAX_CAPTION if photo else MAX_TEXT) - LABEL_ROOM - len(clinic_name)


def schedule_problem(
    at: datetime, *, now: datetime, quiet_hours: QuietHours, zone: ZoneInfo
) -> BroadcastTimeError | None:
    """Why ``at`` is no time to schedule a clinic's broadcast for, or None if it is fine:
    in the past, more than ``MAX_AHEAD`` ahead, or in the clinic's quiet hours."""
    if at <= now:
        return BroadcastTimeError(TimeProblem.PAST)
    if at - now > MAX_AHEAD:
        return BroadcastTimeError(TimeProblem.TOO_FAR)
    moved = quiet_hours.defer(at, zone)
    if moved != at:
        allowed = moved if moved - now <= MAX_AHEAD else None
        return BroadcastTimeError(TimeProblem.QUIET, allowed)
    return None


def hold_until(
    ready: ReadyRecipient, *, now: datetime, lifetime: timedelta = LIFETIME
) -> datetime | None | Literal["expired"]:
    """When a ready copy may go: None (now), the end of the patient's quiet hours, or
    ``"expired"`` when that is past the broadcast's expiry (or the expiry has passed)."""
    expires_at = (ready.scheduled_at or now) + lifetime
    if now >= expires_at:
        return "expired"
    try:
        zone = load_zone(ready.timezone)
    except Exception:
        zone = ZoneInfo("UTC")
    until = QuietHours(ready.quiet_start, ready.quiet_end).defer(now, zone)
    if until <= now:
        return None
    return "expired" if until >= expires_at else until.astimezone(UTC)


async def add_copies(
    repo: BroadcastRepository, broadcast: Broadcast, chosen: Sequence[Candidate], *, now: datetime
) -> int:
    """Put a copy of ``broadcast`` for each chosen patient in the outbox: due now, news for
    ``LIFETIME`` after the broadcast's time, at the Telegram budget's lowest priority."""
    return await repo.add_recipients(
        broadcast_id=broadcast.id,
        recipients=[NewRecipient(c.patient_id, c.chat_id) for c in chosen],
        clinic_id=broadcast.clinic_id,
        priority=Priority.BROADCAST,
        now=now,
        expires_at=(broadcast.scheduled_at or now) + LIFETIME,
    )
