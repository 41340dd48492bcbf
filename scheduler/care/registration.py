"""Registering a session: consent, a new session (written in group commits with others that arrive
meanwhile), and a changed date."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.care.base import CareBase
from scheduler.care.planning import PlanState, QuietHours, check_session_date, load_zone
from scheduler.care.prompts import PromptKind, new_prompt
from scheduler.care.views import (
    PatientView,
    Registration,
    RegistrationRequest,
    upcoming_of,
    view_of,
)
from storage.models import Patient, PatientStatus, ReminderStatus
from storage.patients import NewPatient, PatientRepository
from storage.reminders import NewReminder, Recipient, ReminderRepository
from storage.sessions import NewSession, SessionRepository

log = logging.getLogger(__name__)


class RegistrationUseCases(CareBase):
    """Consent, registration and a change of the session's date."""

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
            RegistrationRequest(
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
        self, session: AsyncSession, requests: Sequence[RegistrationRequest]
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
        self, session: AsyncSession, requests: Sequence[RegistrationRequest]
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
        requests: Sequence[RegistrationRequest],
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
        requests: Sequence[RegistrationRequest],
        indices: list[int],
        patients: dict[int, Patient],
    ) -> dict[int, Registration | Exception]:
        """First sessions of chats without one: one INSERT each for patients, sessions and
        reminders (the usual registration, written in bulk)."""
        outcomes: dict[int, Registration | Exception] = {}
        accepted: list[tuple[int, RegistrationRequest, str, QuietHours]] = []
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
        rows: list[tuple[Recipient, NewReminder]] = []
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
            to = Recipient(session_id, patient_id, request.chat_id)
            rows.extend((to, NewReminder(p.milestone_id, p.due_at, p.expires_at)) for p in ahead)
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
        await ReminderRepository(session).add_for_sessions(planned=rows, now=now)
        return outcomes

    async def _register(self, session: AsyncSession, request: RegistrationRequest) -> Registration:
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
            request = RegistrationRequest(
                chat_id, session_date, None, False, None, now, close_token=close_token
            )
            (result,) = await self._finish(session, [request], [moved])
            assert isinstance(result, Registration)
            await session.commit()
        await self._changed()
        return result

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
