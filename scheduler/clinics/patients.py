"""A clinic's view of its own patients: their clinic, news, counts and booking requests."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from content.plan import CarePlan, day_of_healing
from scheduler.care.planning import load_zone
from scheduler.clinics.base import ClinicBase
from scheduler.clinics.limits import BOOKING_LEVEL, BOOKING_TOPIC
from scheduler.clinics.series import DUE_WINDOW, due_for_next_session
from scheduler.clinics.views import Alert, ClinicView, PatientSummary, alert_of
from storage.clinics import ClinicRepository
from storage.models import PatientStatus
from storage.patients import PatientRepository
from storage.questions import QuestionRepository
from storage.sessions import SessionRepository


class PatientUseCases(ClinicBase):
    """Patients of a clinic: their clinic, news opt-out, summary counts, booking requests."""

    async def clinic_of_patient(self, *, chat_id: int) -> ClinicView | None:
        """The clinic a patient came with, or None."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None or patient.clinic_id is None:
                return None
            clinic = await ClinicRepository(session).get(clinic_id=patient.clinic_id)
            return None if clinic is None else ClinicView.of(clinic)

    async def set_news(self, *, chat_id: int, opt_out: bool) -> bool:
        """Opt a patient out of (or back into) clinic news; care reminders are not touched."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return False
            patient.news_opt_out = opt_out
            await session.commit()
            return True

    async def summary(self, *, clinic_id: int) -> PatientSummary:
        """Counts of the clinic's patients by status, phase and what is due."""
        now = self.clock.now()
        async with self.database.session() as session:
            rows = await ClinicRepository(session).patients_with_latest_session(clinic_id=clinic_id)
        status = Counter(p.status for p, _ in rows)
        phases: Counter[str] = Counter()
        due = no_session = 0
        for patient, latest in rows:
            if latest is None:
                no_session += 1
                continue
            today = now.astimezone(load_zone(patient.timezone)).date()
            if patient.status is PatientStatus.ACTIVE:
                plan: CarePlan = self.plans(latest.plan_id)
                phases[plan.phase_for_day(day_of_healing(latest.session_date, today)).id] += 1
            if patient.status is PatientStatus.ACTIVE and due_for_next_session(
                latest.session_date, latest.booked_at, today, DUE_WINDOW
            ):
                due += 1
        return PatientSummary(
            total=len(rows),
            active=status[PatientStatus.ACTIVE],
            paused=status[PatientStatus.PAUSED],
            stopped=status[PatientStatus.STOPPED],
            new_this_week=sum(1 for p, _ in rows if p.created_at >= now - timedelta(days=7)),
            due_next_session=due,
            news_opt_out=sum(1 for p, _ in rows if p.news_opt_out),
            by_phase=dict(phases),
            no_session=no_session,
            by_language=dict(Counter(p.language for p, _ in rows)),
        )

    async def request_booking(self, *, chat_id: int) -> Alert | None:
        """A patient asks to book their next session: an alert for their clinic's staff (the
        staff reply from it). None for a patient without a clinic."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None or patient.clinic_id is None:
                return None
            latest = await SessionRepository(session).latest(patient_id=patient.id)
            today = now.astimezone(load_zone(patient.timezone)).date()
            day = day_of_healing(latest.session_date, today) if latest else 0
            escalation = await QuestionRepository(session).escalate(
                patient_id=patient.id,
                question_id=None,
                day=day,
                topic=BOOKING_TOPIC,
                level=BOOKING_LEVEL,
                now=now,
            )
            alert = alert_of(escalation, patient)
            await session.commit()
            return alert

    async def alert(self, *, clinic_id: int, escalation_id: int) -> Alert | None:
        """One of the clinic's alerts (open or not), or None."""
        async with self.database.session() as session:
            found = await ClinicRepository(session).escalation(
                clinic_id=clinic_id, escalation_id=escalation_id
            )
            return None if found is None else alert_of(*found)
