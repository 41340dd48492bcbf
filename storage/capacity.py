"""What the capacity forecast reads: pending reminders grouped by when they are due, and the
record of windows already announced as over-full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CapacityWarning, Patient, Reminder, ReminderStatus, TreatmentSession


@dataclass(frozen=True)
class DueGroup:
    """How many pending reminders of one milestone of one plan share a due and an expiry
    instant, and the clinic of their patients (None for patients of no clinic)."""

    plan_id: str
    milestone_id: str
    due_at: datetime
    expires_at: datetime
    clinic_id: int | None
    count: int


class CapacityRepository:
    """Reads for the capacity forecast; never a patient's identity, only counts."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def pending_due(self, *, start: datetime, end: datetime) -> list[DueGroup]:
        """Pending reminders due in ``[start, end)``, counted per milestone, instant and clinic."""
        count = func.count(Reminder.id)
        result = await self.session.execute(
            select(
                TreatmentSession.plan_id,
                Reminder.milestone_id,
                Reminder.due_at,
                Reminder.expires_at,
                Patient.clinic_id,
                count,
            )
            .join(TreatmentSession, TreatmentSession.id == Reminder.session_id)
            .join(Patient, Patient.id == TreatmentSession.patient_id)
            .where(
                Reminder.status == ReminderStatus.PENDING,
                Reminder.due_at >= start,
                Reminder.due_at < end,
            )
            .group_by(
                TreatmentSession.plan_id,
                Reminder.milestone_id,
                Reminder.due_at,
                Reminder.expires_at,
                Patient.clinic_id,
            )
        )
        return [DueGroup(*row) for row in result.all()]

    async def claim_warning(
        self, *, start: datetime, end: datetime, reminders: int, capacity: int, now: datetime
    ) -> bool:
        """Record that the window ``[start, end)`` was announced as over-full. False when it
        already was (by this process or another): the caller then stays silent."""
        dialect = self.session.get_bind().dialect.name
        insert_into: Any = pg_insert if dialect == "postgresql" else sqlite_insert
        result = await self.session.execute(
            insert_into(CapacityWarning)
            .values(
                window_start=start,
                window_end=end,
                reminders=reminders,
                capacity=capacity,
                warned_at=now,
            )
            .on_conflict_do_nothing(index_elements=["window_start", "window_end"])
            .returning(CapacityWarning.id)
        )
        return result.scalar_one_or_none() is not None
