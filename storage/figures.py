"""Aggregations for a clinic's figures: counts per week and per day of healing, computed in
the database (one scan per figure, whatever the number of rows), always of one clinic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import (
    ClinicMessage,
    Escalation,
    Patient,
    Question,
    Reminder,
    ReminderStatus,
    TreatmentSession,
)


def _per_bucket(
    column: ColumnElement[datetime] | InstrumentedAttribute[datetime], bounds: Sequence[datetime]
) -> list[ColumnElement[int]]:
    """One SUM per bucket ``[bounds[i], bounds[i+1])``: counts per week in one scan."""
    return [
        func.coalesce(func.sum(case((and_(column >= start, column < end), 1), else_=0)), 0)
        for start, end in zip(bounds, bounds[1:], strict=False)
    ]


class FigureRepository:
    """Counts of one clinic's patients, reminders, questions and alerts."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def new_patients(self, *, clinic_id: int, bounds: Sequence[datetime]) -> list[int]:
        """Patients of the clinic who started in each bucket of ``bounds``."""
        row = (
            await self.session.execute(
                select(*_per_bucket(Patient.created_at, bounds)).where(
                    Patient.clinic_id == clinic_id,
                    Patient.created_at >= bounds[0],
                    Patient.created_at < bounds[-1],
                )
            )
        ).one()
        return [int(value) for value in row]

    async def reminders(
        self, *, clinic_id: int, bounds: Sequence[datetime]
    ) -> tuple[list[int], list[int]]:
        """The clinic's reminders sent (by when they went) and expired (by when they went
        stale) in each bucket."""
        sent = and_(Reminder.status == ReminderStatus.SENT, Reminder.sent_at.is_not(None))
        expired = Reminder.status == ReminderStatus.EXPIRED
        start, end = bounds[0], bounds[-1]
        row = (
            await self.session.execute(
                select(
                    *_per_bucket(case((sent, Reminder.sent_at), else_=None), bounds),
                    *_per_bucket(case((expired, Reminder.expires_at), else_=None), bounds),
                )
                .join(TreatmentSession, TreatmentSession.id == Reminder.session_id)
                .join(Patient, Patient.id == TreatmentSession.patient_id)
                .where(
                    Patient.clinic_id == clinic_id,
                    or_(
                        and_(sent, Reminder.sent_at >= start, Reminder.sent_at < end),
                        and_(expired, Reminder.expires_at >= start, Reminder.expires_at < end),
                    ),
                )
            )
        ).one()
        weeks = len(bounds) - 1
        values = [int(value) for value in row]
        return values[:weeks], values[weeks:]

    async def questions(
        self, *, clinic_id: int, since: datetime, until: datetime
    ) -> list[tuple[str, str, int, int]]:
        """(topic, level, day of healing, how many) of the questions the clinic's patients
        asked in the period; a question without a topic counts as "unknown"."""
        topic = func.coalesce(Question.topic, "unknown")
        result = await self.session.execute(
            select(topic, Question.level, Question.day, func.count())
            .join(Patient, Patient.id == Question.patient_id)
            .where(
                Patient.clinic_id == clinic_id,
                Question.asked_at >= since,
                Question.asked_at < until,
            )
            .group_by(topic, Question.level, Question.day)
        )
        return [(str(t), str(level), int(day), int(n)) for t, level, day, n in result.all()]

    async def first_replies(
        self, *, clinic_id: int, since: datetime, until: datetime
    ) -> list[tuple[datetime, datetime | None]]:
        """(raised, first staff reply or None) of each alert raised with the clinic in the
        period."""
        result = await self.session.execute(
            select(Escalation.created_at, func.min(ClinicMessage.sent_at))
            .outerjoin(ClinicMessage, ClinicMessage.escalation_id == Escalation.id)
            .where(
                Escalation.clinic_id == clinic_id,
                Escalation.created_at >= since,
                Escalation.created_at < until,
            )
            .group_by(Escalation.id, Escalation.created_at)
            .order_by(Escalation.created_at)
        )
        return [(created, replied) for created, replied in result.all()]


__all__ = ["FigureRepository"]
