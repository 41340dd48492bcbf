"""The clinic's dashboard, as use cases: its patients a page at a time, one patient's record,
and the labels staff give patients. Every call takes the clinic it acts for and finds nothing
of another clinic's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from content.plan import CarePlan, day_of_healing
from scheduler.care.planning import catch_up_phase, load_zone
from scheduler.care.sessions import CareService
from scheduler.clinics.views import ClinicView
from scheduler.clock import Clock
from scheduler.outbox.reminders import PlanSource
from storage.dashboard import DashboardRepository, PatientFilter, PatientRow
from storage.database import Database
from storage.models import EscalationStatus, PatientStatus, Reminder, ReminderStatus

PAGE_SIZE = 50
MAX_LABEL = 80


class LabelTooLong(ValueError):
    """A patient label longer than ``MAX_LABEL`` characters."""


@dataclass(frozen=True)
class PatientQuery:
    """What the patients table shows: a search, filters and a page (from 1)."""

    search: str = ""
    status: PatientStatus | None = None
    phase: str | None = None
    needs_attention: bool = False
    page: int = 1


@dataclass(frozen=True)
class PatientLine:
    """One patient as the table shows them."""

    id: int
    label: str | None
    shared_name: str | None
    day: int | None
    phase: str | None
    session_number: int | None
    status: PatientStatus
    last_seen: datetime | None
    next_reminder: datetime | None
    language: str
    open_alerts: int

    @property
    def display(self) -> str:
        """The clinic's label, else the name the patient shared, else their number."""
        return self.label or self.shared_name or f"Patient #{self.id}"


@dataclass(frozen=True)
class PatientsPage:
    """A page of the table, and where it is among all matches."""

    lines: list[PatientLine]
    total: int
    page: int
    pages: int
    query: PatientQuery


@dataclass(frozen=True)
class TimelineEntry:
    """One reminder of a patient's plan: when, what, and what became of it."""

    session_number: int
    title: str
    phase: str
    due_at: datetime
    status: ReminderStatus
    sent_at: datetime | None
    catch_up: bool
    snoozes: int
    reason: str | None


@dataclass(frozen=True)
class QuestionEntry:
    """A question the patient asked: its day, topic and level (never its words)."""

    asked_at: datetime
    day: int
    topic: str | None
    level: str


@dataclass(frozen=True)
class AlertEntry:
    """An escalation with this clinic; its words only if the patient shared them."""

    id: int
    created_at: datetime
    day: int
    topic: str
    level: str
    open: bool
    words: str | None
    replies: int


@dataclass(frozen=True)
class PatientRecord:
    """Everything the patient page shows."""

    line: PatientLine
    timeline: list[TimelineEntry]
    questions: list[QuestionEntry]
    alerts: list[AlertEntry]


class DashboardService:
    """Reads and small writes of the dashboard, scoped to one clinic per call."""

    def __init__(self, *, database: Database, clock: Clock, plans: PlanSource) -> None:
        """Work on ``database``; plans name phases and milestones (staff read English)."""
        self.database = database
        self.clock = clock
        self.plans = plans

    def _today(self, clinic: ClinicView) -> date:
        return self.clock.now().astimezone(load_zone(clinic.timezone)).date()

    def phases(self, clinic: ClinicView) -> list[tuple[str, str]]:
        """The phases of the clinic's plan, (id, name), for the phase filter."""
        return [(p.id, p.name) for p in self.plans(clinic.plan_id).phases]

    def _session_between(self, clinic: ClinicView, phase_id: str) -> tuple[date, date]:
        phase = self.plans(clinic.plan_id).phase(phase_id)
        today = self._today(clinic)
        first = date.min if phase.end_day is None else today - timedelta(days=phase.end_day)
        return first, today - timedelta(days=phase.start_day)

    async def patients(self, clinic: ClinicView, query: PatientQuery) -> PatientsPage:
        """A page of the clinic's patients matching ``query``, newest first. An unknown
        phase matches nobody."""
        between = None
        if query.phase:
            try:
                between = self._session_between(clinic, query.phase)
            except KeyError:
                between = (date.max, date.min)
        where = PatientFilter(
            search=query.search[:MAX_LABEL],
            status=query.status,
            session_between=between,
            needs_attention=query.needs_attention,
        )
        page = max(query.page, 1)
        async with self.database.session() as session:
            rows, total = await DashboardRepository(session).patients_page(
                clinic_id=clinic.id, where=where, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
            )
        plan = self.plans(clinic.plan_id)
        today = self._today(clinic)
        return PatientsPage(
            lines=[_line(row, plan, today) for row in rows],
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
            query=query,
        )

    async def patient(self, clinic: ClinicView, patient_id: int) -> PatientRecord | None:
        """The record of the clinic's patient, or None for anyone else's."""
        async with self.database.session() as session:
            repo = DashboardRepository(session)
            patient = await repo.patient(clinic_id=clinic.id, patient_id=patient_id)
            if patient is None:
                return None
            sessions = await repo.sessions(patient_id=patient_id)
            reminders = await repo.reminders(patient_id=patient_id)
            questions = await repo.questions(patient_id=patient_id)
            escalations = await repo.escalations(clinic_id=clinic.id, patient_id=patient_id)
            open_alerts = sum(1 for e in escalations if e.status is EscalationStatus.OPEN)
            pending = [r.due_at for r, _ in reminders if r.status is ReminderStatus.PENDING]
            row = PatientRow(
                patient, sessions[-1] if sessions else None, min(pending, default=None), open_alerts
            )
        plan_of = {s.number: self.plans(s.plan_id) for s in sessions}
        return PatientRecord(
            line=_line(row, self.plans(clinic.plan_id), self._today(clinic)),
            timeline=[
                _entry(reminder, number, plan_of.get(number) or self.plans(clinic.plan_id))
                for reminder, number in reminders
            ],
            questions=[QuestionEntry(q.asked_at, q.day, q.topic, q.level) for q in questions],
            alerts=[
                AlertEntry(
                    e.id,
                    e.created_at,
                    e.day,
                    e.topic,
                    e.level,
                    e.status is EscalationStatus.OPEN,
                    e.message_text,
                    e.replies,
                )
                for e in escalations
            ],
        )

    async def set_label(self, clinic: ClinicView, patient_id: int, label: str) -> bool:
        """Label the clinic's patient (empty: no label); False if not the clinic's patient,
        LabelTooLong past ``MAX_LABEL`` characters."""
        cleaned = " ".join(label.split())
        if len(cleaned) > MAX_LABEL:
            raise LabelTooLong(f"a label has at most {MAX_LABEL} characters")
        async with self.database.session() as session:
            changed = await DashboardRepository(session).set_label(
                clinic_id=clinic.id, patient_id=patient_id, label=cleaned or None
            )
            await session.commit()
        return changed


def _line(row: PatientRow, plan: CarePlan, today: date) -> PatientLine:
    patient, session = row.patient, row.session
    day = phase = None
    if session is not None:
        day = day_of_healing(session.session_date, today)
        phase = plan.phase_for_day(day).name
    return PatientLine(
        id=patient.id,
        label=patient.clinic_label,
        shared_name=patient.shared_name,
        day=day,
        phase=phase,
        session_number=session.number if session is not None else None,
        status=patient.status,
        last_seen=patient.last_seen_at,
        next_reminder=row.next_due,
        language=patient.language,
        open_alerts=row.open_alerts,
    )


def _entry(reminder: Reminder, number: int, plan: CarePlan) -> TimelineEntry:
    phase_id = catch_up_phase(reminder.milestone_id)
    if phase_id is not None:
        title, phase = "Catch-up: the advice of the current phase", phase_id
    else:
        try:
            milestone = plan.milestone(reminder.milestone_id)
            title, phase = milestone.headline, milestone.phase
        except KeyError:
            title, phase = reminder.milestone_id, "?"
    try:
        phase = plan.phase(phase).name
    except KeyError:
        pass
    return TimelineEntry(
        session_number=number,
        title=title,
        phase=phase,
        due_at=reminder.due_at,
        status=reminder.status,
        sent_at=reminder.sent_at,
        catch_up=catch_up_phase(reminder.milestone_id) is not None,
        snoozes=reminder.snoozes,
        reason=reminder.last_error if reminder.status is not ReminderStatus.SENT else None,
    )


class PatientAction(StrEnum):
    """What staff can do to a patient's care from the patient page."""

    PAUSE = "pause"
    RESUME = "resume"
    BOOKED = "booked"


class PatientActions:
    """The patient page's actions, each on the clinic's patient only: the patient is looked
    up inside the clinic first, then the care service acts on their chat as the patient's
    own command would (/pause, /resume, "Already booked", /export)."""

    def __init__(self, *, care: CareService) -> None:
        """Act through ``care``."""
        self.care = care
        self.database = care.database

    async def _chat_of(self, clinic: ClinicView, patient_id: int) -> int | None:
        async with self.database.session() as session:
            patient = await DashboardRepository(session).patient(
                clinic_id=clinic.id, patient_id=patient_id
            )
            return None if patient is None else patient.chat_id

    async def act(self, clinic: ClinicView, patient_id: int, action: PatientAction) -> bool:
        """Pause or resume the patient's reminders, or mark their next session booked;
        False if the patient is not the clinic's. Pausing a stopped patient, or resuming an
        active one, changes nothing; a patient who stopped the bot is not resumed by the
        clinic (that is theirs to do)."""
        chat_id = await self._chat_of(clinic, patient_id)
        if chat_id is None:
            return False
        if action is PatientAction.PAUSE:
            await self.care.pause(chat_id=chat_id)
        elif action is PatientAction.RESUME:
            view = await self.care.view(chat_id=chat_id)
            if view is not None and view.status is PatientStatus.PAUSED:
                await self.care.resume(chat_id=chat_id)
        else:
            await self.care.mark_next_booked(chat_id=chat_id)
        return True

    async def export(self, clinic: ClinicView, patient_id: int) -> dict[str, Any] | None:
        """The patient's /export document; None if the patient is not the clinic's."""
        chat_id = await self._chat_of(clinic, patient_id)
        return None if chat_id is None else await self.care.export(chat_id=chat_id)
