"""Use cases that own a unit of work: register, change, pause, resume and stop a patient's care."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from content.plan import ButtonAction, CarePlan, day_of_healing
from scheduler.care.planning import (
    PlannedReminder,
    PlanState,
    QuietHours,
    catch_up_phase,
    check_session_date,
    load_zone,
    plan_catch_up,
    plan_reminders,
)
from scheduler.care.prompts import Prompt, PromptKind, new_prompt, stored_prompt
from scheduler.clock import Clock
from scheduler.outbox.reminders import PlanSource
from storage.batching import GroupCommit
from storage.broadcasts import BroadcastRepository
from storage.database import Database
from storage.delivery_log import DeliveryLogRepository
from storage.inbox import InboxRepository
from storage.models import (
    Clinic,
    Patient,
    PatientStatus,
    Reminder,
    ReminderStatus,
    TreatmentSession,
)
from storage.patients import NewPatient, PatientRepository, delete_patient
from storage.questions import QuestionRepository
from storage.reminders import NewReminder, ReminderRepository
from storage.sessions import NewSession, SessionRepository
from storage.visits import PatientRecord

log = logging.getLogger(__name__)

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
class _RegistrationRequest:
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


class CareService:
    """A patient's care: sessions and the reminders planned from them."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        plans: PlanSource,
        default_timezone: str,
        default_quiet_hours: QuietHours,
        default_plan: str = "microneedling",
        on_schedule_changed: ScheduleChanged | None = None,
        sender_looks_at: Callable[[], datetime | None] | None = None,
    ) -> None:
        """Wire the service; ``on_schedule_changed`` runs after each commit (a refill).
        ``sender_looks_at``: when the reminder sender looks again anyway (None: it is busy,
        or cannot say); a batch of registrations whose earliest pending reminder is not due
        before then does not wake it (each such wake was a pass over the reminders table)."""
        load_zone(default_timezone)
        self.database = database
        self.clock = clock
        self.plans = plans
        self.default_timezone = default_timezone
        self.default_quiet_hours = default_quiet_hours
        self.default_plan = default_plan
        self.on_schedule_changed = on_schedule_changed
        self.sender_looks_at = sender_looks_at
        self._seen: dict[int, datetime] = {}
        # Registrations that arrive while one is being written share the next transaction.
        self._registrations: GroupCommit[_RegistrationRequest, Registration] = GroupCommit(
            database, self._write_batch, after_commit=self._registered
        )
        self._batch_due: datetime | None = None  # the written batch's earliest pending due

    async def register_session(
        self,
        *,
        chat_id: int,
        session_date: date,
        timezone: str | None = None,
        next_in_series: bool = False,
        plan_id: str | None = None,
        close_token: str | None = None,
    ) -> Registration:
        """Record a session date and plan its reminders, all in one transaction; in that
        transaction too, close the prompt that carries ``close_token`` (the one this date
        answers) and read the patient's view and upcoming reminders for the confirmation.

        Registrations arriving while one is written are committed together, each in its own
        savepoint (``storage.batching.GroupCommit``): a failing one raises for its caller
        alone, and the refill hook runs once per commit.

        A patient's first session is number 1. With ``next_in_series`` the session follows
        the latest one and supersedes its pending reminders; without it, a patient who
        already has a session has its date moved (the same date again changes nothing).
        """
        return await self._registrations.submit(
            _RegistrationRequest(
                chat_id=chat_id,
                session_date=session_date,
                timezone=timezone,
                next_in_series=next_in_series,
                plan_id=plan_id,
                now=self.clock.now(),
                close_token=close_token,
            )
        )

    async def _write_batch(
        self, session: AsyncSession, requests: Sequence[_RegistrationRequest]
    ) -> list[Registration | Exception]:
        """``_write_registrations``, noting the earliest reminder it left pending (batches
        are written and committed one at a time, and ``_registered`` follows the commit)."""
        outcomes = await self._write_registrations(session, requests)
        self._batch_due = min(
            (o.upcoming[0].due_at for o in outcomes if isinstance(o, Registration) and o.upcoming),
            default=None,
        )
        return outcomes

    async def _registered(self) -> None:
        """After a batch of registrations: wake the sender unless it looks in time anyway."""
        due, self._batch_due = self._batch_due, None
        looks_at = self.sender_looks_at() if self.sender_looks_at is not None else None
        if looks_at is not None and (due is None or due >= looks_at):
            return
        await self._changed()

    async def _write_registrations(
        self, session: AsyncSession, requests: Sequence[_RegistrationRequest]
    ) -> list[Registration | Exception]:
        """Write a batch of registrations (see ``storage.batching``), each with its own outcome.

        A chat's first request in the batch, when the chat has no session yet (the usual
        registration: a new patient, or one who has just consented), is written in bulk: one
        query for all the patients, one for their sessions, one flush and one INSERT of every
        reminder. Anything else (a date moved, the next session of a series, a second request
        for the same chat) goes one by one through ``_register``, in order. Each part runs in a
        savepoint, so one failure is that request's alone. A request alone in its batch goes
        through ``_register`` (the reference the bulk path is tested against).
        """
        if len(requests) == 1:  # alone: step by step, its errors are the transaction's
            return await self._finish(
                session, requests, [await self._register(session, requests[0])]
            )
        outcomes: dict[int, Registration | Exception] = {}
        patients = await PatientRepository(session).by_chats(chat_ids=(r.chat_id for r in requests))
        latest = await SessionRepository(session).latest_of(
            patient_ids=(p.id for p in patients.values())
        )
        fresh: list[int] = []
        seen: set[int] = set()
        for index, request in enumerate(requests):
            patient = patients.get(request.chat_id)
            if request.chat_id not in seen and (patient is None or patient.id not in latest):
                fresh.append(index)
            seen.add(request.chat_id)
        if fresh:
            try:
                async with session.begin_nested():
                    outcomes.update(await self._register_fresh(session, requests, fresh, patients))
            except Exception:
                log.warning("bulk registration failed; writing the batch one by one", exc_info=True)
                outcomes.clear()
        for index, request in enumerate(requests):
            if index in outcomes:
                continue
            try:
                async with session.begin_nested():
                    outcomes[index] = await self._register(session, request)
            except Exception as error:
                outcomes[index] = error
        return await self._finish(session, requests, [outcomes[i] for i in range(len(requests))])

    async def _finish(
        self,
        session: AsyncSession,
        requests: Sequence[_RegistrationRequest],
        outcomes: list[Registration | Exception],
    ) -> list[Registration | Exception]:
        """Close the prompts the registrations answered and read where their patients now
        are, in the batch's transaction: two queries for the whole batch, and one
        conditional UPDATE per prompt (a prompt opened since stays open)."""
        done = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, Registration)]
        if not done:
            return outcomes
        repo = PatientRepository(session)
        closed: set[int] = set()
        for index in done:
            token = requests[index].close_token
            if token is not None and await repo.clear_prompt(
                chat_id=requests[index].chat_id, token=token
            ):
                closed.add(index)
        patients = await repo.by_chats(chat_ids=(requests[i].chat_id for i in done))
        latest = await SessionRepository(session).latest_of(
            patient_ids=(p.id for p in patients.values())
        )
        last = {requests[index].chat_id: index for index in done}
        finished = list(outcomes)
        for index in done:
            outcome = outcomes[index]
            assert isinstance(outcome, Registration)
            patient = patients[requests[index].chat_id]
            view = view_of(patient, latest.get(patient.id))
            if index in closed:  # the conditional UPDATE left the loaded row as it was
                view = replace(view, step=None, prompt=None)
            if last[requests[index].chat_id] != index:  # a later request of this batch moved it
                view = replace(
                    view,
                    session_date=outcome.session_date,
                    session_number=outcome.session_number,
                )
            finished[index] = replace(outcome, view=view)
        return finished

    async def _register_fresh(
        self,
        session: AsyncSession,
        requests: Sequence[_RegistrationRequest],
        indices: list[int],
        patients: dict[int, Patient],
    ) -> dict[int, Registration | Exception]:
        """First sessions of chats without one: one INSERT each for patients, sessions and
        reminders (the usual registration, written in bulk)."""
        outcomes: dict[int, Registration | Exception] = {}
        accepted: list[tuple[int, _RegistrationRequest, str, QuietHours]] = []
        for index in indices:
            request = requests[index]
            patient = patients.get(request.chat_id)
            try:
                tz_name = request.timezone or (
                    patient.timezone if patient is not None else self.default_timezone
                )
                tz = load_zone(tz_name)
                check_session_date(request.session_date, today=request.now.astimezone(tz).date())
            except Exception as error:  # a bad zone or date: this request's answer alone
                outcomes[index] = error
                continue
            if patient is None:
                quiet = self.default_quiet_hours
            else:  # consented earlier: the ORM flushes these changes with the next statement
                quiet = QuietHours(patient.quiet_start, patient.quiet_end)
                patient.timezone = tz_name
                if patient.status is not PatientStatus.ACTIVE:
                    patient.status = PatientStatus.ACTIVE
                    patient.updated_at = request.now
            accepted.append((index, request, tz_name, quiet))
        if not accepted:
            return outcomes
        now = accepted[0][1].now
        patient_ids = {chat_id: p.id for chat_id, p in patients.items()}
        patient_ids |= await PatientRepository(session).add_many(
            patients=[
                NewPatient(request.chat_id, tz_name, quiet.start, quiet.end)
                for _, request, tz_name, quiet in accepted
                if request.chat_id not in patient_ids
            ],
            now=now,
        )
        session_ids = await SessionRepository(session).add_many(
            sessions=[
                NewSession(
                    patient_ids[request.chat_id],
                    request.session_date,
                    1,
                    request.plan_id or self.default_plan,
                )
                for _, request, _, _ in accepted
            ],
            now=now,
        )
        rows: list[tuple[int, NewReminder]] = []
        for index, request, tz_name, quiet in accepted:
            patient_id = patient_ids[request.chat_id]
            session_id = session_ids[patient_id]
            planned, catch_up = self._plan_for(
                timezone=tz_name,
                quiet=quiet,
                plan_id=request.plan_id or self.default_plan,
                number=1,
                session_date=request.session_date,
            )
            ahead = [p for p in planned if p.state is PlanState.AHEAD]
            if catch_up is not None:
                ahead.append(catch_up)
            rows.extend(
                (session_id, NewReminder(p.milestone_id, p.due_at, p.expires_at)) for p in ahead
            )
            outcomes[index] = Registration(
                patient_id=patient_id,
                session_id=session_id,
                session_number=1,
                session_date=request.session_date,
                created=len(ahead),
                expired=0,
                catch_up=catch_up is not None,
                upcoming=upcoming_of(ahead),
            )
        await ReminderRepository(session).add_for_sessions(planned=rows)
        return outcomes

    async def _register(self, session: AsyncSession, request: _RegistrationRequest) -> Registration:
        """One registration, step by step (see ``register_session``)."""
        chat_id, session_date, timezone = request.chat_id, request.session_date, request.timezone
        next_in_series, plan_id, now = request.next_in_series, request.plan_id, request.now
        patients = PatientRepository(session)
        patient = await patients.get_by_chat(chat_id=chat_id)
        if patient is None:
            tz_name = timezone or self.default_timezone
            load_zone(tz_name)
            patient = await patients.add(
                chat_id=chat_id,
                timezone=tz_name,
                quiet_start=self.default_quiet_hours.start,
                quiet_end=self.default_quiet_hours.end,
                now=now,
            )
        elif timezone is not None and timezone != patient.timezone:
            load_zone(timezone)
            patient.timezone = timezone
        tz = load_zone(patient.timezone)
        check_session_date(session_date, today=now.astimezone(tz).date())
        if patient.status is not PatientStatus.ACTIVE:
            await patients.set_status(patient=patient, status=PatientStatus.ACTIVE, now=now)

        sessions = SessionRepository(session)
        latest = await sessions.latest(patient_id=patient.id)
        if latest is not None and not next_in_series:
            return await self._move(session, patient, latest, session_date)
        number = 1 if latest is None else latest.number + 1
        if latest is not None:
            await ReminderRepository(session).settle_pending(
                status=ReminderStatus.CANCELLED,
                reason="superseded by the next session",
                patient_id=patient.id,
            )
        treatment = await sessions.add(
            patient_id=patient.id,
            session_date=session_date,
            number=number,
            plan_id=plan_id or self.default_plan,
            now=now,
        )
        return await self._plan_new(session, patient, treatment)

    async def change_session_date(
        self, *, chat_id: int, session_date: date, close_token: str | None = None
    ) -> Registration:
        """Move the latest session to a new date, recomputing its pending reminders (and, in
        the same transaction, close the prompt carrying ``close_token`` and read the view and
        upcoming reminders for the confirmation, as ``register_session`` does)."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient, latest = await self._patient_and_latest(session, chat_id)
            check_session_date(
                session_date, today=now.astimezone(load_zone(patient.timezone)).date()
            )
            moved = await self._move(session, patient, latest, session_date)
            request = _RegistrationRequest(
                chat_id, session_date, None, False, None, now, close_token=close_token
            )
            (result,) = await self._finish(session, [request], [moved])
            assert isinstance(result, Registration)
            await session.commit()
        await self._changed()
        return result

    async def set_timezone(self, *, chat_id: int, timezone: str) -> Replan | None:
        """Change the patient's time zone and replan their session's fresh reminders, which
        keep their local times (None when there is no session yet)."""
        load_zone(timezone)
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            moved_from = load_zone(patient.timezone)
            patient.timezone = timezone
            result = await self._replan_latest(session, patient, moved_from=moved_from)
            await session.commit()
        await self._changed()
        return result

    async def set_quiet_hours(self, *, chat_id: int, quiet_hours: QuietHours) -> Replan | None:
        """Change the patient's quiet hours and replan their session's fresh reminders.

        Raises QuietHoursTooLong (and changes nothing) for a span that leaves fewer than
        8 waking hours. Reminders that the old span swallowed come back if still fresh.
        """
        quiet_hours.check()
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            patient.quiet_start, patient.quiet_end = quiet_hours.start, quiet_hours.end
            result = await self._replan_latest(session, patient)
            await session.commit()
        await self._changed()
        return result

    async def pause(self, *, chat_id: int) -> None:
        """Hold delivery; pending reminders wait, and those that go stale meanwhile expire."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            if patient.status is PatientStatus.ACTIVE:
                await PatientRepository(session).set_status(
                    patient=patient, status=PatientStatus.PAUSED, now=now
                )
            await session.commit()

    async def resume(self, *, chat_id: int) -> Replan:
        """Deliver again after a pause, a /stop or a block: every reminder of the current
        session that is still fresh is planned again; what went stale meanwhile stays expired
        (``stale`` counts those). Nothing sent is sent again."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            held_since = patient.updated_at if patient.status is not PatientStatus.ACTIVE else now
            await ReminderRepository(session).settle_pending(
                status=ReminderStatus.EXPIRED,
                reason="stale after pause",
                patient_id=patient.id,
                expired_by=now,
            )
            await PatientRepository(session).set_status(
                patient=patient, status=PatientStatus.ACTIVE, now=now
            )
            result = await self._replan_latest(session, patient, held_since=held_since)
            await session.commit()
        await self._changed()
        return result or Replan(pending=0, restored=0, stale=0)

    async def stop(self, *, chat_id: int) -> int:
        """No more messages: cancel every pending reminder. Returns how many were cancelled."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            cancelled = await ReminderRepository(session).settle_pending(
                status=ReminderStatus.CANCELLED, reason="stopped", patient_id=patient.id
            )
            await PatientRepository(session).set_status(
                patient=patient, status=PatientStatus.STOPPED, now=now
            )
            await session.commit()
        return cancelled

    async def consent(
        self,
        *,
        chat_id: int,
        start_payload: str | None = None,
        language: str | None = None,
        ask: PromptKind | None = None,
    ) -> PatientView:
        """The patient agreed to keep their treatment date: create or re-activate them (in
        ``language``, the one they picked before consenting, when given), and with ``ask``
        open that prompt (what the bot asks next), all in one transaction."""
        now = self.clock.now()
        async with self.database.session() as session:
            patients = PatientRepository(session)
            patient = await patients.get_by_chat(chat_id=chat_id)
            prompt = new_prompt(ask, now) if ask is not None else None
            latest = None
            if patient is None:  # the usual case: one INSERT with everything, no session yet
                patient = await patients.add(
                    chat_id=chat_id,
                    timezone=self.default_timezone,
                    quiet_start=self.default_quiet_hours.start,
                    quiet_end=self.default_quiet_hours.end,
                    now=now,
                    consented=True,
                    start_payload=start_payload,
                    prompt=(
                        (prompt.kind.value, prompt.token, prompt.expires_at) if prompt else None
                    ),
                    **({"language": language} if language is not None else {}),
                )
            else:
                patient.consented_at = patient.consented_at or now
                patient.start_payload = start_payload or patient.start_payload
                if language is not None:
                    patient.language = language
                if prompt is not None:
                    patient.step = prompt.kind.value
                    patient.prompt_token = prompt.token
                    patient.prompt_expires_at = prompt.expires_at
                latest = await SessionRepository(session).latest(patient_id=patient.id)
            view = view_of(patient, latest)
            await session.commit()
        return view

    async def view(self, *, chat_id: int) -> PatientView | None:
        """The patient of a chat and their latest session, or None if there is no patient."""
        async with self.database.session() as session:
            return await load_view(session, chat_id=chat_id)

    async def language_of(self, *, chat_id: int) -> str | None:
        """The language a patient chose; None when the chat has no patient."""
        async with self.database.session() as session:
            return await PatientRepository(session).language_of(chat_id=chat_id)

    async def set_language(self, *, chat_id: int, language: str) -> None:
        """The patient chose another language: every later message is in it, reminders
        included (they are worded when they are sent).

        Raises:
            NoSessionError: the chat has no patient.
        """
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            patient.language = language
            patient.updated_at = self.clock.now()
            await session.commit()

    async def seen(self, *, chat_id: int) -> None:
        """The patient wrote to us: note it (at most once an hour, so a chat is not a write per
        message) for the clinic's "not heard from for N days"."""
        now = self.clock.now()
        noted = self._seen.get(chat_id)
        if noted is not None and noted <= now < noted + SEEN_EVERY:
            return  # written less than an hour ago by this process: no write transaction
        async with self.database.session() as session:
            await PatientRepository(session).touch(chat_id=chat_id, now=now, every=SEEN_EVERY)
            await session.commit()
        if len(self._seen) >= SEEN_CACHE:
            self._seen.clear()
        self._seen[chat_id] = now

    async def open_prompt(self, *, chat_id: int, kind: PromptKind) -> Prompt | None:
        """Remember what the bot now asks in this chat (it survives restarts); any earlier
        prompt ends, so its buttons no longer work. None when there is no patient."""
        prompt = new_prompt(kind, self.clock.now())
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return None
            patient.step = prompt.kind.value
            patient.prompt_token = prompt.token
            patient.prompt_expires_at = prompt.expires_at
            await session.commit()
        return prompt

    async def close_prompt(self, *, chat_id: int, token: str | None = None) -> bool:
        """Stop waiting in this chat (only if the pending prompt carries ``token``, when given);
        whether a prompt was pending. One conditional UPDATE, no read."""
        async with self.database.session() as session:
            closed = await PatientRepository(session).clear_prompt(chat_id=chat_id, token=token)
            await session.commit()
        return closed

    async def upcoming(self, *, chat_id: int, limit: int = 3) -> list[Reminder]:
        """The next pending reminders of the patient, in due order."""
        return [
            r for r in await self.reminders(chat_id=chat_id) if r.status is ReminderStatus.PENDING
        ][:limit]

    async def snooze(self, *, chat_id: int, reminder_id: int, delay: timedelta) -> Snooze:
        """Send a delivered reminder again after ``delay``, never past its expiry.

        Raises ReminderButtonError, changing nothing, for a reminder that is not the chat's
        (a forged id), or not current (see ``_current_reminder``).
        """
        now = self.clock.now()
        async with self.database.session() as session:
            patient, row = await self._current_reminder(session, chat_id, reminder_id, now)
            if row.status is not ReminderStatus.SENT:
                raise ReminderButtonError(ReminderProblem.OUT_OF_DATE)
            if row.snoozes >= SNOOZE_LIMIT:
                return Snooze(SnoozeOutcome.LIMIT)
            quiet = QuietHours(patient.quiet_start, patient.quiet_end)
            due_at = quiet.defer(now + delay, load_zone(patient.timezone))
            if due_at >= row.expires_at:
                return Snooze(SnoozeOutcome.TOO_LATE)
            row.status, row.due_at, row.snoozes = ReminderStatus.PENDING, due_at, row.snoozes + 1
            row.last_error = "snoozed"
            await session.commit()
        await self._changed()
        return Snooze(SnoozeOutcome.SNOOZED, due_at)

    async def acknowledge(self, *, chat_id: int, reminder_id: int) -> None:
        """Record that the patient pressed "Done" (or "Book") on a current reminder of theirs.

        Raises ReminderButtonError, changing nothing, as ``snooze`` does.
        """
        now = self.clock.now()
        async with self.database.session() as session:
            # "Done" the next morning is still a thank-you, not stale advice: only a superseded
            # session or a moved date makes it out of date.
            _, row = await self._current_reminder(session, chat_id, reminder_id, now, late_ok=True)
            row.acknowledged_at = row.acknowledged_at or now
            await session.commit()

    async def mark_booked(self, *, chat_id: int, reminder_id: int) -> int:
        """ "Already booked" on a rebooking reminder: note it on the session and cancel the
        nudges still pending for this step (the same phase of the same session, those that
        offer booking). Returns how many were cancelled; raises ReminderButtonError, changing
        nothing, as ``snooze`` does.
        """
        now = self.clock.now()
        async with self.database.session() as session:
            _, row = await self._current_reminder(session, chat_id, reminder_id, now)
            row.acknowledged_at = row.acknowledged_at or now
            treatment = await session.get(TreatmentSession, row.session_id)
            assert treatment is not None
            treatment.booked_at = treatment.booked_at or now
            plan: CarePlan = self.plans(treatment.plan_id)
            try:
                phase = plan.milestone(row.milestone_id).phase
            except KeyError:  # a catch-up, or a milestone the plan no longer has
                phase = None
            nudges = [
                m.id
                for m in plan.milestones
                if m.phase == phase and ButtonAction.BOOKED in m.buttons
            ]
            cancelled = await ReminderRepository(session).settle_pending(
                status=ReminderStatus.CANCELLED,
                reason="already booked",
                session_ids=[treatment.id],
                milestone_ids=nudges,
            )
            await session.commit()
        return cancelled

    async def mark_next_booked(self, *, chat_id: int) -> int | None:
        """The clinic says the patient's next session is booked (the dashboard): note it on
        the latest session, as "Already booked" does, and cancel every rebooking nudge of
        that session still pending. Returns how many were cancelled; None without a session.
        Marking it twice changes nothing more."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return None
            treatment = await SessionRepository(session).latest(patient_id=patient.id)
            if treatment is None:
                return None
            treatment.booked_at = treatment.booked_at or now
            plan: CarePlan = self.plans(treatment.plan_id)
            nudges = [m.id for m in plan.milestones if ButtonAction.BOOKED in m.buttons]
            cancelled = await ReminderRepository(session).settle_pending(
                status=ReminderStatus.CANCELLED,
                reason="already booked",
                session_ids=[treatment.id],
                milestone_ids=nudges,
            )
            await session.commit()
        return cancelled

    async def mark_blocked(self, *, chat_id: int) -> bool:
        """The user blocked the bot: stop them and cancel what was pending (an unblock gives
        back the status the block took, see ``mark_unblocked``)."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient_id = await PatientRepository(session).stop_by_chat(chat_id=chat_id, now=now)
            if patient_id is None:
                return False
            await ReminderRepository(session).settle_pending(
                status=ReminderStatus.CANCELLED, reason="recipient gone", patient_id=patient_id
            )
            await session.commit()
        return True

    async def mark_unblocked(self, *, chat_id: int) -> PatientStatus | None:
        """The user unblocked the bot: a patient stopped only by the block gets back the
        status it took (active: the fresh reminders are replanned; paused: they wait for
        /resume). Returns that status, or None when there is nothing to give back (no
        patient, no block on record, or a /stop before the block: they stay stopped)."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if (
                patient is None
                or patient.status is not PatientStatus.STOPPED
                or patient.blocked_from is None
            ):
                return None
            restored = PatientStatus(patient.blocked_from)
            if restored is PatientStatus.STOPPED:  # never stored so; a /stop stays a /stop
                return None
            await PatientRepository(session).set_status(patient=patient, status=restored, now=now)
            await self._replan_latest(session, patient)
            await session.commit()
        await self._changed()
        return restored

    async def erase(self, *, chat_id: int) -> bool:
        """Delete the patient and every row about them; False if there was nothing."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return False
            await delete_patient(session, patient_id=patient.id)
            await session.commit()
        return True

    async def export(self, *, chat_id: int) -> dict[str, Any] | None:
        """Everything stored about the patient, as a JSON-ready document."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return None
            treatments = await SessionRepository(session).all_for(patient_id=patient.id)
            reminders = await ReminderRepository(session).for_patient(patient_id=patient.id)
            attempts = await DeliveryLogRepository(session).for_patient(patient_id=patient.id)
            questions = QuestionRepository(session)
            asked = await questions.for_patient(patient_id=patient.id)
            raised = await questions.escalations(patient_id=patient.id)
            clinic = await session.get(Clinic, patient.clinic_id) if patient.clinic_id else None
            news = await BroadcastRepository(session).for_patient(patient_id=patient.id)
            thread = await InboxRepository(session).patients_messages(patient_id=patient.id)

        def instant(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        by_session: dict[int, list[dict[str, Any]]] = {t.id: [] for t in treatments}
        for r in reminders:
            by_session[r.session_id].append(
                {
                    "milestone": r.milestone_id,
                    "due_at": instant(r.due_at),
                    "expires_at": instant(r.expires_at),
                    "status": r.status.value,
                    "sent_at": instant(r.sent_at),
                    "acknowledged_at": instant(r.acknowledged_at),
                    "attempts": r.attempts,
                }
            )
        return {
            "exported_at": instant(self.clock.now()),
            "patient": {
                "chat_id": patient.chat_id,
                "language": patient.language,
                "timezone": patient.timezone,
                "quiet_hours": str(QuietHours(patient.quiet_start, patient.quiet_end)),
                "status": patient.status.value,
                "consented_at": instant(patient.consented_at),
                "created_at": instant(patient.created_at),
                "last_seen_at": instant(patient.last_seen_at),
                "clinic": clinic.name if clinic else None,
                "clinic_news": not patient.news_opt_out,
            },
            "sessions": [
                {
                    "number": t.number,
                    "date": t.session_date.isoformat(),
                    "plan": t.plan_id,
                    "booked_next_at": instant(t.booked_at),
                    "reminders": by_session[t.id],
                }
                for t in treatments
            ],
            "delivery_attempts": [
                {"at": instant(a.at), "outcome": a.outcome.value, "error": a.error}
                for a in attempts
            ],
            "questions": [
                {
                    "asked_at": instant(q.asked_at),
                    "day": q.day,
                    "topic": q.topic,
                    "level": q.level,
                    "helpful": q.helpful,
                }
                for q in asked
            ],
            "escalations": [
                {
                    "created_at": instant(e.created_at),
                    "day": e.day,
                    "topic": e.topic,
                    "level": e.level,
                    "status": e.status.value,
                    "shared_text": e.message_text,
                }
                for e in raised
            ],
            "clinic_messages": [
                {"status": n.status.value, "sent_at": instant(n.sent_at)} for n in news
            ],
            "conversation_with_clinic": [
                {
                    "at": instant(m.sent_at),
                    "from": "patient" if m.from_patient else "clinic",
                    "text": m.text,
                }
                for m in thread
            ],
        }

    async def _current_reminder(
        self,
        session: AsyncSession,
        chat_id: int,
        reminder_id: int,
        now: datetime,
        *,
        late_ok: bool = False,
    ) -> tuple[Patient, Reminder]:
        """The chat's reminder ``reminder_id``, if a button on it may still act.

        It must belong to the patient's latest session, have been delivered, and still be
        what the plan says for that session now: the same expiry for the session's current
        date and time zone (a /change or /newsession since makes it out of date), not past
        it; a catch-up must still be the current phase's. Otherwise ReminderButtonError.
        """
        patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
        row = await ReminderRepository(session).get(reminder_id=reminder_id)
        owner = await session.get(TreatmentSession, row.session_id) if row else None
        if patient is None or row is None or owner is None or owner.patient_id != patient.id:
            raise ReminderButtonError(ReminderProblem.NOT_FOUND)
        latest = await SessionRepository(session).latest(patient_id=patient.id)
        if (
            latest is None
            or latest.id != owner.id
            or row.sent_at is None
            or row.status not in {ReminderStatus.SENT, ReminderStatus.PENDING}
            or not self._still_current(patient, owner, row, now, late_ok=late_ok)
        ):
            raise ReminderButtonError(ReminderProblem.OUT_OF_DATE)
        return patient, row

    def _still_current(
        self,
        patient: Patient,
        treatment: TreatmentSession,
        row: Reminder,
        now: datetime,
        *,
        late_ok: bool = False,
    ) -> bool:
        """Whether a delivered reminder still says what the plan says for today (``late_ok``:
        past its expiry too)."""
        if now >= row.expires_at and not late_ok:
            return False
        tz = load_zone(patient.timezone)
        plan: CarePlan = self.plans(treatment.plan_id)
        phase_id = catch_up_phase(row.milestone_id)
        if phase_id is not None:
            day = day_of_healing(treatment.session_date, now.astimezone(tz).date())
            return day >= 0 and plan.phase_for_day(day).id == phase_id
        planned = plan_reminders(
            session_date=treatment.session_date,
            tz=tz,
            plan=plan,
            quiet_hours=QuietHours(patient.quiet_start, patient.quiet_end),
            now=now,
            session_number=treatment.number,
        )
        return any(
            p.milestone_id == row.milestone_id and p.expires_at == row.expires_at for p in planned
        )

    async def reminders(self, *, chat_id: int) -> list[Reminder]:
        """Every reminder of the patient's sessions, in due order."""
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            return list(await ReminderRepository(session).for_patient(patient_id=patient.id))

    async def _plan_new(
        self, session: AsyncSession, patient: Patient, treatment: TreatmentSession
    ) -> Registration:
        planned, catch_up = self._plan(patient, treatment, treatment.session_date)
        rows = [p for p in planned if p.state is PlanState.AHEAD]
        if catch_up is not None:
            rows.append(catch_up)
        await ReminderRepository(session).add_many(
            session_id=treatment.id,
            reminders=[NewReminder(p.milestone_id, p.due_at, p.expires_at) for p in rows],
        )
        return Registration(
            patient_id=patient.id,
            session_id=treatment.id,
            session_number=treatment.number,
            session_date=treatment.session_date,
            created=len(rows),
            expired=0,
            catch_up=catch_up is not None,
            upcoming=upcoming_of(rows),
        )

    def _plan(
        self, patient: Patient, treatment: TreatmentSession, session_date: date
    ) -> tuple[list[PlannedReminder], PlannedReminder | None]:
        return self._plan_for(
            timezone=patient.timezone,
            quiet=QuietHours(patient.quiet_start, patient.quiet_end),
            plan_id=treatment.plan_id,
            number=treatment.number,
            session_date=session_date,
        )

    def _plan_for(
        self, *, timezone: str, quiet: QuietHours, plan_id: str, number: int, session_date: date
    ) -> tuple[list[PlannedReminder], PlannedReminder | None]:
        tz = load_zone(timezone)
        plan: CarePlan = self.plans(plan_id)
        now = self.clock.now()
        planned = plan_reminders(
            session_date=session_date,
            tz=tz,
            plan=plan,
            quiet_hours=quiet,
            now=now,
            session_number=number,
        )
        catch_up = plan_catch_up(
            session_date=session_date, tz=tz, plan=plan, quiet_hours=quiet, now=now, planned=planned
        )
        return planned, catch_up

    async def _move(
        self,
        session: AsyncSession,
        patient: Patient,
        treatment: TreatmentSession,
        session_date: date,
        *,
        force: bool = False,
    ) -> Registration:
        """Replan a session on a (possibly new) date: sent stays sent, past-due pending expire."""
        if treatment.session_date == session_date and not force:
            return Registration(
                patient_id=patient.id,
                session_id=treatment.id,
                session_number=treatment.number,
                session_date=session_date,
                created=0,
                expired=0,
                catch_up=False,
                unchanged=True,
            )
        treatment.session_date = session_date
        planned, catch_up = self._plan(patient, treatment, session_date)
        by_milestone = {p.milestone_id: p for p in planned}
        repo = ReminderRepository(session)
        existing = {r.milestone_id: r for r in await repo.for_session(session_id=treatment.id)}
        expired = 0
        for milestone_id, row in existing.items():
            if row.status is not ReminderStatus.PENDING:
                continue
            if catch_up_phase(milestone_id) is not None:
                if catch_up is None or catch_up.milestone_id != milestone_id:
                    row.status, row.last_error = ReminderStatus.CANCELLED, "date changed"
                continue
            new = by_milestone.get(milestone_id)
            if new is None:
                row.status, row.last_error = ReminderStatus.CANCELLED, "not in plan"
            elif new.state is PlanState.AHEAD:
                row.due_at, row.expires_at = new.due_at, new.expires_at
                row.claimed_by, row.lease_until = None, None
            else:
                row.status, row.last_error = ReminderStatus.EXPIRED, f"date changed ({new.state})"
                expired += 1
        fresh = [
            p for p in planned if p.state is PlanState.AHEAD and p.milestone_id not in existing
        ]
        if catch_up is not None and catch_up.milestone_id not in existing:
            fresh.append(catch_up)
        await session.flush()
        await repo.add_many(
            session_id=treatment.id,
            reminders=[NewReminder(p.milestone_id, p.due_at, p.expires_at) for p in fresh],
        )
        await session.flush()
        return Registration(
            patient_id=patient.id,
            session_id=treatment.id,
            session_number=treatment.number,
            session_date=session_date,
            created=len(fresh),
            expired=expired,
            catch_up=catch_up is not None and catch_up.milestone_id not in existing,
            upcoming=_pending_upcoming(existing.values(), fresh),
        )

    async def _replan_latest(
        self,
        session: AsyncSession,
        patient: Patient,
        *,
        held_since: datetime | None = None,
        moved_from: ZoneInfo | None = None,
    ) -> Replan | None:
        """Replan the patient's latest session (None when there is none)."""
        latest = await SessionRepository(session).latest(patient_id=patient.id)
        if latest is None:
            return None
        return await self._replan(
            session, patient, latest, held_since=held_since, moved_from=moved_from
        )

    async def _replan(
        self,
        session: AsyncSession,
        patient: Patient,
        treatment: TreatmentSession,
        *,
        held_since: datetime | None = None,
        moved_from: ZoneInfo | None = None,
    ) -> Replan:
        """Plan a session's reminders again from the care plan with the patient's current
        time zone and quiet hours: the one use case behind resume, unblock, quiet hours and
        time zone changes.

        - Sent stays sent. After a move ``moved_from`` another time zone, a sent reminder
          that was current there takes the expiry of its local time here, so its buttons stay
          current (one drawn for an earlier session date stays out of date).
        - A pending one claimed by a worker right now is left to that delivery.
        - Pending ones move to their planned time (or now, if that has passed and they are
          still fresh), deferred past quiet hours; those that cannot go out before their
          expiry expire ("quiet hours" when only the span swallowed them).
        - Cancelled or expired ones that were only held (``HELD``: stop, block, pause,
          quiet hours, a stale check) come back if still fresh, unless the patient is
          stopped (a stopped patient's schedule is rebuilt when they resume).
        - Milestones never stored (dropped by quiet hours at registration) are added when
          they are ahead. Catch-ups are never created here; a pending one is only deferred.

        ``stale`` counts the unsent reminders left expired whose expiry fell after
        ``held_since`` (those that went out of date while the patient was away), or without
        ``held_since``, those this replan expired.
        """
        now = self.clock.now()
        tz = load_zone(patient.timezone)
        quiet = QuietHours(patient.quiet_start, patient.quiet_end)
        plan: CarePlan = self.plans(treatment.plan_id)

        def plan_in(zone: ZoneInfo) -> dict[str, PlannedReminder]:
            return {
                p.milestone_id: p
                for p in plan_reminders(
                    session_date=treatment.session_date,
                    tz=zone,
                    plan=plan,
                    quiet_hours=quiet,
                    now=now,
                    session_number=treatment.number,
                )
            }

        planned = plan_in(tz)
        before = plan_in(moved_from) if moved_from is not None else {}
        repo = ReminderRepository(session)
        rows = {r.milestone_id: r for r in await repo.for_session(session_id=treatment.id)}
        may_revive = patient.status is not PatientStatus.STOPPED
        restored = stale = 0
        for milestone_id, row in rows.items():
            new = planned.get(milestone_id)
            if catch_up_phase(milestone_id) is not None:
                if row.status is ReminderStatus.PENDING:
                    row.due_at = quiet.defer(max(row.due_at, now), tz)
                continue
            if new is None:
                if row.status is ReminderStatus.PENDING:
                    row.status, row.last_error = ReminderStatus.CANCELLED, "not in plan"
                continue
            if row.status is ReminderStatus.SENT:
                old = before.get(milestone_id)
                if old is not None and old.expires_at == row.expires_at:
                    row.expires_at = new.expires_at
                continue
            claimed = row.lease_until is not None and row.lease_until > now
            if row.status is ReminderStatus.PENDING and row.claimed_by and claimed:
                continue
            held = row.status in {ReminderStatus.CANCELLED, ReminderStatus.EXPIRED} and (
                row.sent_at is None and row.last_error in HELD
            )
            if row.status is not ReminderStatus.PENDING and not (held and may_revive):
                if held and held_since is not None and held_since < row.expires_at <= now:
                    stale += 1
                continue
            # A snoozed reminder (already sent once) keeps its own time and expiry.
            wanted = row.due_at if row.sent_at is not None else new.due_at
            expires_at = row.expires_at if row.sent_at is not None else new.expires_at
            due_at = quiet.defer(max(wanted, now), tz)
            was_pending = row.status is ReminderStatus.PENDING
            if due_at < expires_at:
                row.status, row.due_at, row.expires_at = ReminderStatus.PENDING, due_at, expires_at
                row.claimed_by, row.lease_until = None, None
                if not was_pending:
                    row.last_error = "replanned"
                    restored += 1
                continue
            swallowed = expires_at > now  # fresh, but quiet hours leave it no time
            row.status, row.expires_at = ReminderStatus.EXPIRED, expires_at
            row.last_error = "quiet hours" if swallowed else "stale"
            row.claimed_by, row.lease_until = None, None
            if held_since is not None:
                stale += int(held_since < expires_at <= now)
            elif was_pending:
                stale += 1
        added = [
            p
            for p in planned.values()
            if p.state is PlanState.AHEAD and p.milestone_id not in rows and may_revive
        ]
        await session.flush()
        await repo.add_many(
            session_id=treatment.id,
            reminders=[NewReminder(p.milestone_id, p.due_at, p.expires_at) for p in added],
        )
        await session.flush()
        pending = sum(r.status is ReminderStatus.PENDING for r in rows.values()) + len(added)
        return Replan(pending=pending, restored=restored + len(added), stale=stale)

    async def _patient(self, session: AsyncSession, chat_id: int) -> Patient:
        patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
        if patient is None:
            raise NoSessionError(f"no patient for chat {chat_id}")
        return patient

    async def _patient_and_latest(
        self, session: AsyncSession, chat_id: int
    ) -> tuple[Patient, TreatmentSession]:
        patient = await self._patient(session, chat_id)
        latest = await SessionRepository(session).latest(patient_id=patient.id)
        if latest is None:
            raise NoSessionError(f"chat {chat_id} has no session")
        return patient, latest

    async def _changed(self) -> None:
        if self.on_schedule_changed is not None:
            try:
                await self.on_schedule_changed()
            except Exception:  # the data is committed; the periodic refill will catch up
                log.exception("refill after a schedule change failed")


def _pending_upcoming(
    stored: Iterable[Reminder], added: Sequence[PlannedReminder]
) -> tuple[Upcoming, ...]:
    """The next pending reminders of a session: its stored rows still pending (by id), then
    those just added (their ids come after)."""
    rows: list[Reminder | PlannedReminder] = [
        r for r in sorted(stored, key=lambda r: r.id) if r.status is ReminderStatus.PENDING
    ]
    return upcoming_of([*rows, *added])
