"""What a patient's care use cases return and raise: the patient as the chat sees them,
registrations, replans, snoozes and the reminders ahead, as plain values."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.care.planning import PlannedReminder, QuietHours
from scheduler.care.prompts import Prompt, stored_prompt
from storage.models import Patient, PatientStatus, Reminder, ReminderStatus, TreatmentSession
from storage.patients import PatientRepository
from storage.sessions import SessionRepository
from storage.visits import PatientRecord

# Runs after a change of schedule is committed (the sender is woken).
ScheduleChanged = Callable[[], Awaitable[object]]


class NoSessionError(LookupError):
    """The patient has no registered session to act on."""


SNOOZE_LIMIT = 3
SEEN_EVERY = timedelta(hours=1)
SEEN_CACHE = 100_000


@dataclass(frozen=True)
class PatientView:
    """What the chat layer needs to know about a patient, detached from the database."""

    chat_id: int
    status: PatientStatus
    timezone: str
    quiet_hours: QuietHours
    step: str | None
    consented: bool
    start_payload: str | None
    session_date: date | None
    session_number: int | None
    plan_id: str | None
    clinic_id: int | None = None
    news_opt_out: bool = False
    patient_id: int | None = None
    prompt: Prompt | None = None
    language: str = "en"


class SnoozeOutcome(StrEnum):
    """What asking for a reminder again later did."""

    SNOOZED = "snoozed"
    TOO_LATE = "too_late"
    LIMIT = "limit"


class ReminderProblem(StrEnum):
    """Why a reminder's button can no longer act."""

    NOT_FOUND = "not_found"
    OUT_OF_DATE = "out_of_date"


class ReminderButtonError(LookupError):
    """A reminder button that must change nothing: not the patient's reminder, or drawn for a
    session (or session date, or time of day) that no longer holds."""

    def __init__(self, problem: ReminderProblem) -> None:
        """Name the problem; the chat layer maps it to a text."""
        super().__init__(problem.value)
        self.problem = problem


# Reasons a reminder was taken off the schedule that a replan may undo: the patient held
# their reminders (stop, block, pause) or quiet hours swallowed it. Others stay: "already
# booked" was the patient's answer; a date change or a superseded session is a new plan.
HELD = frozenset({"stopped", "recipient gone", "stale after pause", "stale", "quiet hours"})


@dataclass(frozen=True)
class Replan:
    """What replanning the current session's reminders did."""

    pending: int
    restored: int
    stale: int


@dataclass(frozen=True)
class Snooze:
    """The outcome of a snooze, and when the reminder comes back if it does."""

    outcome: SnoozeOutcome
    due_at: datetime | None = None


@dataclass(frozen=True)
class Upcoming:
    """A pending reminder as the patient is told of it: what, and when."""

    milestone_id: str
    due_at: datetime


UPCOMING_LIMIT = 3


def upcoming_of(rows: Iterable[PlannedReminder | Reminder]) -> tuple[Upcoming, ...]:
    """The first of ``rows`` (pending reminders, given in the order they are stored) by due
    time: the order ``CareService.upcoming`` reads them in."""
    ordered = sorted(rows, key=lambda row: row.due_at)  # stable: ties keep their row order
    return tuple(Upcoming(r.milestone_id, r.due_at) for r in ordered[:UPCOMING_LIMIT])


@dataclass(frozen=True)
class Registration:
    """What registering or moving a session did; with ``view`` (where the patient is now,
    the prompt the date answered closed) and ``upcoming`` (the next pending reminders), read
    in the same transaction, so the confirmation needs no other query."""

    patient_id: int
    session_id: int
    session_number: int
    session_date: date
    created: int
    expired: int
    catch_up: bool
    unchanged: bool = False
    view: PatientView | None = None
    upcoming: tuple[Upcoming, ...] = ()


@dataclass(frozen=True)
class RegistrationRequest:
    """The arguments of one ``register_session`` call, queued for a group commit."""

    chat_id: int
    session_date: date
    timezone: str | None
    next_in_series: bool
    plan_id: str | None
    now: datetime
    close_token: str | None = None


async def load_view(session: AsyncSession, *, chat_id: int) -> PatientView | None:
    """The patient of a chat and their latest session, read in ``session`` (a unit of work
    the caller owns), or None if there is no patient."""
    patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
    if patient is None:
        return None
    latest = await SessionRepository(session).latest(patient_id=patient.id)
    return view_of(patient, latest)


def view_of(patient: Patient, latest: TreatmentSession | None) -> PatientView:
    """A patient and their latest session, detached from the database."""
    return PatientView(
        chat_id=patient.chat_id,
        status=patient.status,
        timezone=patient.timezone,
        quiet_hours=QuietHours(patient.quiet_start, patient.quiet_end),
        step=patient.step,
        consented=patient.consented_at is not None,
        start_payload=patient.start_payload,
        session_date=latest.session_date if latest else None,
        session_number=latest.number if latest else None,
        plan_id=latest.plan_id if latest else None,
        clinic_id=patient.clinic_id,
        news_opt_out=patient.news_opt_out,
        patient_id=patient.id,
        prompt=stored_prompt(patient.step, patient.prompt_token, patient.prompt_expires_at),
        language=patient.language,
    )


def view_of_record(record: PatientRecord) -> PatientView:
    """The same view as ``view_of``, from the columns the visit's one statement read."""
    return PatientView(
        chat_id=record.chat_id,
        status=record.status,
        timezone=record.timezone,
        quiet_hours=QuietHours(record.quiet_start, record.quiet_end),
        step=record.step,
        consented=record.consented_at is not None,
        start_payload=record.start_payload,
        session_date=record.session_date,
        session_number=record.session_number,
        plan_id=record.plan_id,
        clinic_id=record.clinic_id,
        news_opt_out=record.news_opt_out,
        patient_id=record.id,
        prompt=stored_prompt(record.step, record.prompt_token, record.prompt_expires_at),
        language=record.language,
    )


def pending_upcoming(
    stored: Iterable[Reminder], added: Sequence[PlannedReminder]
) -> tuple[Upcoming, ...]:
    """The next pending reminders of a session: its stored rows still pending (by id), then
    those just added (their ids come after)."""
    rows: list[Reminder | PlannedReminder] = [
        r for r in sorted(stored, key=lambda r: r.id) if r.status is ReminderStatus.PENDING
    ]
    return upcoming_of([*rows, *added])
