"""Aggregations for a clinic's figures: counts per week and per day of healing, computed in
the database (one scan per figure, whatever the number of rows), always of one clinic."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Integer, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import (
    STAFF_MESSAGE_LEVEL,
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


# No plan keeps a reminder fresh longer than this after its due time (the default plan's
# longest is 7 days); it bounds which due times can have been sent or gone stale in a period.
LONGEST_EXPIRY = timedelta(days=60)
QUARTER_HOUR = 900  # seconds: every time zone's offset is a whole number of them


def _quarter_hour(
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None], dialect: str
) -> ColumnElement[int]:
    """Quarter hours since the epoch of a UTC instant (SQLite stores it naive, in UTC)."""
    if dialect == "postgresql":
        return func.floor(func.extract("epoch", column) / QUARTER_HOUR).cast(Integer)
    return func.cast(func.strftime("%s", column), Integer).op("/")(QUARTER_HOUR)


def _into_buckets(counts: Sequence[tuple[int, int]], bounds: Sequence[datetime]) -> list[int]:
    """Counts per quarter hour summed into the buckets ``[bounds[i], bounds[i+1])``."""
    edges = [int(b.timestamp()) // QUARTER_HOUR for b in bounds]
    totals = [0] * (len(bounds) - 1)
    for quarter, count in counts:
        index = bisect_right(edges, quarter) - 1
        if 0 <= index < len(totals):
            totals[index] += count
    return totals


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
        stale) in each bucket: counted per quarter hour in the database (a GROUP BY on an
        integer, not a sum per week per row), then put in their weeks here."""
        sent = await self._quarter_hours(
            clinic_id, Reminder.sent_at, ReminderStatus.SENT, bounds[0], bounds[-1]
        )
        expired = await self._quarter_hours(
            clinic_id, Reminder.expires_at, ReminderStatus.EXPIRED, bounds[0], bounds[-1]
        )
        return _into_buckets(sent, bounds), _into_buckets(expired, bounds)

    async def _quarter_hours(
        self,
        clinic_id: int,
        column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
        status: ReminderStatus,
        start: datetime,
        end: datetime,
    ) -> list[tuple[int, int]]:
        """(quarter hours since the epoch, how many) of the clinic's reminders in ``status``
        whose ``column`` falls in ``[start, end)``."""
        bucket = _quarter_hour(column, self.session.get_bind().dialect.name)
        result = await self.session.execute(
            select(bucket, func.count())
            .select_from(Reminder)
            .join(TreatmentSession, TreatmentSession.id == Reminder.session_id)
            .join(Patient, Patient.id == TreatmentSession.patient_id)
            .where(
                Patient.clinic_id == clinic_id,
                Reminder.status == status,
                # Sent and stale come after the due time, within its expiry: this bounds the
                # scan to the (status, due_at) index's range around the period.
                Reminder.due_at >= start - LONGEST_EXPIRY,
                Reminder.due_at < end,
                column >= start,
                column < end,
            )
            .group_by(bucket)
        )
        return [(int(row[0]), int(row[1])) for row in result.all()]

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
                # A conversation staff started from the dashboard is not an alert.
                Escalation.level != STAFF_MESSAGE_LEVEL,
            )
            .group_by(Escalation.id, Escalation.created_at)
            .order_by(Escalation.created_at)
        )
        return [(created, replied) for created, replied in result.all()]


__all__ = ["FigureRepository"]
