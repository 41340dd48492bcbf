"""What the clinic's dashboard reads: its patients a page at a time, and one patient's record.
Every query takes the clinic it acts for; a patient of another clinic is never found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    Escalation,
    EscalationStatus,
    Patient,
    PatientStatus,
    Question,
    Reminder,
    ReminderStatus,
    TreatmentSession,
)


@dataclass(frozen=True)
class PatientFilter:
    """Which of a clinic's patients a page lists. ``session_between``: only patients whose
    latest session falls in these dates (inclusive), which is how a phase is chosen."""

    search: str = ""
    status: PatientStatus | None = None
    session_between: tuple[date, date] | None = None
    needs_attention: bool = False


@dataclass(frozen=True)
class PatientRow:
    """One line of the patients table."""

    patient: Patient
    session: TreatmentSession | None
    next_due: datetime | None
    open_alerts: int


class DashboardRepository:
    """Reads for the dashboard, one clinic at a time."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def patients_page(
        self, *, clinic_id: int, where: PatientFilter, offset: int, limit: int
    ) -> tuple[list[PatientRow], int]:
        """A page of the clinic's patients (newest first) and how many match in all.

        The filters are conditions on the patient row (a correlated subquery picks the latest
        session, EXISTS finds open alerts), so the count and the page use the clinic's index
        and nothing is grouped over the whole table; the page's 50 rows then get their latest
        session, next reminder and open alerts in three small queries.
        """
        conditions: list[ColumnElement[bool]] = [Patient.clinic_id == clinic_id]
        text = where.search.strip()
        if text:
            number = text.lstrip("#")
            literal = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{literal}%"
            matches: list[ColumnElement[bool]] = [
                func.lower(Patient.clinic_label).like(pattern, escape="\\"),
                func.lower(Patient.shared_name).like(pattern, escape="\\"),
            ]
            if number.isdigit() and len(number) <= 18:
                matches.append(Patient.id == int(number))
            conditions.append(or_(*matches))
        if where.status is not None:
            conditions.append(Patient.status == where.status)
        if where.session_between is not None:
            first, last = where.session_between
            other = aliased(TreatmentSession)
            latest = (
                select(func.max(other.number))
                .where(other.patient_id == Patient.id)
                .scalar_subquery()
            )
            conditions.append(
                exists().where(
                    TreatmentSession.patient_id == Patient.id,
                    TreatmentSession.number == latest,
                    TreatmentSession.session_date.between(first, last),
                )
            )
        if where.needs_attention:  # the clinic's open alerts are few: one IN list
            conditions.append(
                Patient.id.in_(
                    select(Escalation.patient_id).where(
                        Escalation.clinic_id == clinic_id,
                        Escalation.status == EscalationStatus.OPEN,
                    )
                )
            )
        total = await self.session.scalar(select(func.count(Patient.id)).where(*conditions))
        result = await self.session.execute(
            select(Patient)
            .where(*conditions)
            .order_by(Patient.id.desc())
            .offset(offset)
            .limit(limit)
        )
        patients = list(result.scalars().all())
        ids = [p.id for p in patients]
        sessions = await self._latest_sessions(ids)
        next_due = await self._next_due(ids)
        alerts = await self._open_alerts(clinic_id, ids)
        return (
            [
                PatientRow(p, sessions.get(p.id), next_due.get(p.id), alerts.get(p.id, 0))
                for p in patients
            ],
            int(total or 0),
        )

    async def _latest_sessions(self, patient_ids: list[int]) -> dict[int, TreatmentSession]:
        """Each patient's latest session."""
        if not patient_ids:
            return {}
        result = await self.session.execute(
            select(TreatmentSession)
            .where(TreatmentSession.patient_id.in_(patient_ids))
            .order_by(TreatmentSession.patient_id, TreatmentSession.number)
        )
        return {s.patient_id: s for s in result.scalars().all()}  # the last number wins

    async def _open_alerts(self, clinic_id: int, patient_ids: list[int]) -> dict[int, int]:
        """How many open alerts each patient has with the clinic."""
        if not patient_ids:
            return {}
        result = await self.session.execute(
            select(Escalation.patient_id, func.count(Escalation.id))
            .where(
                Escalation.patient_id.in_(patient_ids),
                Escalation.clinic_id == clinic_id,
                Escalation.status == EscalationStatus.OPEN,
            )
            .group_by(Escalation.patient_id)
        )
        return {row[0]: int(row[1]) for row in result.all()}

    async def _next_due(self, patient_ids: list[int]) -> dict[int, datetime]:
        """Each patient's next pending reminder: the sessions first, then their reminders by
        session (the index on ``session_id``, not a scan of every pending reminder)."""
        if not patient_ids:
            return {}
        sessions = await self.session.execute(
            select(TreatmentSession.id, TreatmentSession.patient_id).where(
                TreatmentSession.patient_id.in_(patient_ids)
            )
        )
        owners: dict[int, int] = {row[0]: row[1] for row in sessions.all()}
        if not owners:
            return {}
        # The status is tested inside the MIN, not in WHERE: with it in WHERE, SQLite walks
        # the (status, due_at) index over every pending reminder of every patient.
        pending_due = case((Reminder.status == ReminderStatus.PENDING, Reminder.due_at))
        result = await self.session.execute(
            select(Reminder.session_id, func.min(pending_due))
            .where(Reminder.session_id.in_(list(owners)))
            .group_by(Reminder.session_id)
        )
        first: dict[int, datetime] = {}
        for session_id, due in result.all():
            if due is None:
                continue
            patient_id = owners[session_id]
            if patient_id not in first or due < first[patient_id]:
                first[patient_id] = due
        return first

    async def patient(self, *, clinic_id: int, patient_id: int) -> Patient | None:
        """The clinic's patient with this id; None for anyone else's."""
        result = await self.session.execute(
            select(Patient).where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
        )
        return result.scalar_one_or_none()

    async def sessions(self, *, patient_id: int) -> Sequence[TreatmentSession]:
        """A patient's sessions, first first."""
        result = await self.session.execute(
            select(TreatmentSession)
            .where(TreatmentSession.patient_id == patient_id)
            .order_by(TreatmentSession.number)
        )
        return result.scalars().all()

    async def reminders(self, *, patient_id: int) -> Sequence[tuple[Reminder, int]]:
        """A patient's reminders in due order, each with its session's number."""
        result = await self.session.execute(
            select(Reminder, TreatmentSession.number)
            .join(TreatmentSession, TreatmentSession.id == Reminder.session_id)
            .where(TreatmentSession.patient_id == patient_id)
            .order_by(Reminder.due_at, Reminder.id)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def questions(self, *, patient_id: int) -> Sequence[Question]:
        """A patient's questions (topic, level and day: never words), newest first."""
        result = await self.session.execute(
            select(Question)
            .where(Question.patient_id == patient_id)
            .order_by(Question.asked_at.desc(), Question.id.desc())
        )
        return result.scalars().all()

    async def escalations(self, *, clinic_id: int, patient_id: int) -> Sequence[Escalation]:
        """A patient's escalations with this clinic, newest first."""
        result = await self.session.execute(
            select(Escalation)
            .where(Escalation.patient_id == patient_id, Escalation.clinic_id == clinic_id)
            .order_by(Escalation.created_at.desc(), Escalation.id.desc())
        )
        return result.scalars().all()

    async def set_label(self, *, clinic_id: int, patient_id: int, label: str | None) -> bool:
        """Give the clinic's patient a label; False if the patient is not the clinic's."""
        result = await self.session.execute(
            update(Patient)
            .where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
            .values(clinic_label=label)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
