"""Treatment sessions: the numbered series of visits of each patient."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import TreatmentSession
from storage.tables import core_table


@dataclass(frozen=True)
class NewSession:
    """A treatment session row to insert."""

    patient_id: int
    session_date: date
    number: int
    plan_id: str


class SessionRepository:
    """Treatment sessions of a patient."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def latest(self, *, patient_id: int) -> TreatmentSession | None:
        """The patient's most recent session of the series, or None."""
        result = await self.session.execute(
            select(TreatmentSession)
            .where(TreatmentSession.patient_id == patient_id)
            .order_by(TreatmentSession.number.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def latest_of(self, *, patient_ids: Iterable[int]) -> dict[int, TreatmentSession]:
        """The most recent session of each of several patients (one query), by patient id."""
        wanted = sorted(set(patient_ids))
        if not wanted:
            return {}
        result = await self.session.execute(
            select(TreatmentSession)
            .where(TreatmentSession.patient_id.in_(wanted))
            .order_by(TreatmentSession.patient_id, TreatmentSession.number)
        )
        return {treatment.patient_id: treatment for treatment in result.scalars()}

    async def add_many(self, *, sessions: Sequence[NewSession], now: datetime) -> dict[int, int]:
        """Insert sessions of different patients in one statement; their ids by patient id."""
        if not sessions:
            return {}
        if len({s.patient_id for s in sessions}) != len(sessions):
            raise ValueError("add_many takes at most one session per patient")
        table = core_table(TreatmentSession)
        result = await self.session.execute(
            insert(table).returning(table.c.patient_id, table.c.id),
            [
                {
                    "patient_id": s.patient_id,
                    "session_date": s.session_date,
                    "number": s.number,
                    "plan_id": s.plan_id,
                    "created_at": now,
                }
                for s in sessions
            ],
        )
        return {row.patient_id: row.id for row in result}

    async def all_for(self, *, patient_id: int) -> Sequence[TreatmentSession]:
        """Every session of the patient's series, first to last."""
        result = await self.session.execute(
            select(TreatmentSession)
            .where(TreatmentSession.patient_id == patient_id)
            .order_by(TreatmentSession.number)
        )
        return result.scalars().all()

    async def add(
        self, *, patient_id: int, session_date: date, number: int, plan_id: str, now: datetime
    ) -> TreatmentSession:
        """Add a session to the patient's series."""
        treatment = TreatmentSession(
            patient_id=patient_id,
            session_date=session_date,
            number=number,
            plan_id=plan_id,
            created_at=now,
        )
        self.session.add(treatment)
        await self.session.flush()
        return treatment
