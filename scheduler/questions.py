"""Questions patients ask: what the triage said, whether it helped, and escalations.

The patient's words are never stored, except on an escalation the patient chose to share
with the clinic. Counts by topic, level and day are kept anonymously for the clinic's
statistics, so they outlive a patient's /delete without saying anything about anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.clock import Clock
from storage.database import Database
from storage.models import Escalation, EscalationStatus, Patient, Question, QuestionCount

MAX_SHARED_TEXT = 2000


@dataclass(frozen=True)
class Recorded:
    """What recording a question created."""

    question_id: int
    escalation_id: int | None


class QuestionService:
    """Use cases around triage answers; each method is one unit of work."""

    def __init__(self, *, database: Database, clock: Clock) -> None:
        """Work on ``database`` with time from ``clock``."""
        self.database = database
        self.clock = clock

    async def record(
        self, *, chat_id: int, day: int, topic: str | None, level: str, escalate: bool
    ) -> Recorded | None:
        """Store a question's outcome (and an escalation when ``escalate``); None for a chat
        that is not a patient."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient_id = await _patient_id(session, chat_id)
            if patient_id is None:
                return None
            question = Question(patient_id=patient_id, day=day, topic=topic, level=level,
                                asked_at=now)  # fmt: skip
            session.add(question)
            await session.flush()
            escalation_id = None
            if escalate:
                escalation = Escalation(
                    patient_id=patient_id,
                    question_id=question.id,
                    day=day,
                    topic=topic or "unknown",
                    level=level,
                    created_at=now,
                )
                session.add(escalation)
                await session.flush()
                escalation_id = escalation.id
            await self._count(session, topic or "unknown", level, day)
            await session.commit()
            return Recorded(question.id, escalation_id)

    async def _count(self, session: AsyncSession, topic: str, level: str, day: int) -> None:
        insert: Any = pg_insert if self.database.is_postgresql else sqlite_insert
        statement = insert(QuestionCount).values(topic=topic, level=level, day=day, count=1)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["topic", "level", "day"],
                set_={"count": QuestionCount.count + 1},
            )
        )

    async def helpful(self, *, chat_id: int, question_id: int, helpful: bool) -> bool:
        """Record "Was this helpful?"; False when the question is not this patient's."""
        async with self.database.session() as session:
            patient_id = await _patient_id(session, chat_id)
            result = await session.execute(
                update(Question)
                .where(Question.id == question_id, Question.patient_id == patient_id)
                .values(helpful=helpful)
            )
            await session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def share(self, *, chat_id: int, escalation_id: int, text: str) -> bool:
        """Attach the patient's own words to their escalation, once, at their request."""
        async with self.database.session() as session:
            patient_id = await _patient_id(session, chat_id)
            result = await session.execute(
                update(Escalation)
                .where(
                    Escalation.id == escalation_id,
                    Escalation.patient_id == patient_id,
                    Escalation.message_text.is_(None),
                )
                .values(message_text=text[:MAX_SHARED_TEXT])
            )
            await session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def open_escalations(self) -> list[Escalation]:
        """Open escalations, oldest first (the clinics' view builds on this)."""
        async with self.database.session() as session:
            result = await session.execute(
                select(Escalation)
                .where(Escalation.status == EscalationStatus.OPEN)
                .order_by(Escalation.created_at, Escalation.id)
            )
            return list(result.scalars())

    async def counts(self) -> dict[tuple[str, str, int], int]:
        """Questions by (topic, level, day)."""
        async with self.database.session() as session:
            rows = (await session.execute(select(QuestionCount))).scalars()
            return {(r.topic, r.level, r.day): r.count for r in rows}


async def _patient_id(session: AsyncSession, chat_id: int) -> int | None:
    result = await session.execute(select(Patient.id).where(Patient.chat_id == chat_id))
    return result.scalar_one_or_none()
