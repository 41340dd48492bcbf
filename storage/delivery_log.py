"""The delivery log: one row per attempt, with its outcome and error code, never text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DeliveryLog, DeliveryOutcome, Reminder, TreatmentSession
from storage.tables import core_table


@dataclass(frozen=True)
class NewLogEntry:
    """One delivery-log row to insert: an attempt's outcome and error code, never text."""

    reminder_id: int
    attempt: int
    worker: str
    outcome: DeliveryOutcome
    at: datetime
    error: str | None = None


class DeliveryLogRepository:
    """The delivery log: one row per attempt, with outcome and error code, never text."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def add(
        self,
        *,
        reminder_id: int,
        attempt: int,
        worker: str,
        outcome: DeliveryOutcome,
        at: datetime,
        error: str | None = None,
    ) -> None:
        """Record one attempt."""
        await self.session.execute(
            insert(DeliveryLog).values(
                reminder_id=reminder_id,
                attempt=attempt,
                worker=worker,
                outcome=outcome,
                error=error,
                at=at,
            )
        )

    async def add_many(self, *, entries: Sequence[NewLogEntry]) -> None:
        """Record many attempts in one statement."""
        if entries:
            await self.session.execute(
                insert(core_table(DeliveryLog)),
                [
                    {
                        "reminder_id": e.reminder_id,
                        "attempt": e.attempt,
                        "worker": e.worker,
                        "outcome": e.outcome,
                        "error": e.error,
                        "at": e.at,
                    }
                    for e in entries
                ],
            )

    async def prune(self, *, before: datetime) -> int:
        """Delete the attempts made before ``before`` (the reminders keep their outcome);
        returns how many."""
        result = await self.session.execute(
            delete(DeliveryLog)
            .where(DeliveryLog.at < before)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def for_patient(self, *, patient_id: int) -> Sequence[DeliveryLog]:
        """Every delivery attempt of the patient's reminders, oldest first."""
        result = await self.session.execute(
            select(DeliveryLog)
            .join(Reminder, Reminder.id == DeliveryLog.reminder_id)
            .join(TreatmentSession, TreatmentSession.id == Reminder.session_id)
            .where(TreatmentSession.patient_id == patient_id)
            .order_by(DeliveryLog.id)
        )
        return result.scalars().all()

    async def for_reminder(self, *, reminder_id: int) -> Sequence[DeliveryLog]:
        """The attempts of one reminder, oldest first."""
        result = await self.session.execute(
            select(DeliveryLog)
            .where(DeliveryLog.reminder_id == reminder_id)
            .order_by(DeliveryLog.id)
        )
        return result.scalars().all()
