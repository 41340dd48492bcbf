"""What a patient does with their reminders: see the next ones, snooze, mark done, and mark the
next session booked; a reminder's buttons act only while it is current."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from content.plan import ButtonAction, CarePlan, day_of_healing
from scheduler.care.base import CareBase
from scheduler.care.planning import QuietHours, catch_up_phase, load_zone, plan_reminders
from scheduler.care.views import (
    SNOOZE_LIMIT,
    ReminderButtonError,
    ReminderProblem,
    Snooze,
    SnoozeOutcome,
)
from storage.models import Patient, Reminder, ReminderStatus, TreatmentSession
from storage.patients import PatientRepository
from storage.reminders import ReminderRepository
from storage.sessions import SessionRepository


class ReminderUseCases(CareBase):
    """The reminders ahead and the buttons of a reminder."""

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
