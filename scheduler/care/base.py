"""What every group of a patient's care use cases works with, and the planning they share: plans
for new and moved sessions, and the one replan."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from content.plan import CarePlan
from scheduler.care.planning import (
    PlannedReminder,
    PlanState,
    QuietHours,
    catch_up_phase,
    load_zone,
    plan_catch_up,
    plan_reminders,
)
from scheduler.care.views import (
    HELD,
    NoSessionError,
    Registration,
    RegistrationRequest,
    Replan,
    ScheduleChanged,
    pending_upcoming,
    upcoming_of,
)
from scheduler.clock import Clock
from scheduler.outbox.reminders import PlanSource
from storage.batching import GroupCommit
from storage.database import Database
from storage.models import Patient, PatientStatus, ReminderStatus, TreatmentSession
from storage.patients import PatientRepository
from storage.reminders import NewReminder, Recipient, ReminderRepository
from storage.sessions import SessionRepository

log = logging.getLogger(__name__)


class CareBase:
    """The wiring of ``CareService`` and the planning its use cases share."""

    database: Database
    clock: Clock
    plans: PlanSource
    default_timezone: str
    default_quiet_hours: QuietHours
    default_plan: str
    on_schedule_changed: ScheduleChanged | None
    sender_looks_at: Callable[[], datetime | None] | None
    _seen: dict[int, datetime]
    _registrations: GroupCommit[RegistrationRequest, Registration]
    _batch_due: datetime | None

    async def _add_reminders(
        self,
        session: AsyncSession,
        patient: Patient,
        treatment: TreatmentSession,
        planned: list[PlannedReminder],
    ) -> None:
        """Write ``planned`` as pending reminders of ``treatment``, to ``patient``'s chat."""
        await ReminderRepository(session).add_many(
            recipient=Recipient(treatment.id, patient.id, patient.chat_id),
            now=self.clock.now(),
            reminders=[NewReminder(p.milestone_id, p.due_at, p.expires_at) for p in planned],
        )

    async def _plan_new(
        self, session: AsyncSession, patient: Patient, treatment: TreatmentSession
    ) -> Registration:
        planned, catch_up = self._plan(patient, treatment, treatment.session_date)
        rows = [p for p in planned if p.state is PlanState.AHEAD]
        if catch_up is not None:
            rows.append(catch_up)
        await self._add_reminders(session, patient, treatment, rows)
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
        await self._add_reminders(session, patient, treatment, fresh)
        await session.flush()
        return Registration(
            patient_id=patient.id,
            session_id=treatment.id,
            session_number=treatment.number,
            session_date=session_date,
            created=len(fresh),
            expired=expired,
            catch_up=catch_up is not None and catch_up.milestone_id not in existing,
            upcoming=pending_upcoming(existing.values(), fresh),
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
        await self._add_reminders(session, patient, treatment, added)
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
