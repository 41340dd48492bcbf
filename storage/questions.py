"""Questions: triage outcomes (never their words), anonymous counts, and escalations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Escalation, EscalationStatus, Patient, Question, QuestionCount


class QuestionRepository:
    """Triage outcomes, their anonymous counts, and escalations."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def add(
        self, *, patient_id: int, day: int, topic: str | None, level: str, now: datetime
    ) -> Question:
        """Record one question's outcome (never its words)."""
        question = Question(patient_id=patient_id, day=day, topic=topic, level=level, asked_at=now)
        self.session.add(question)
        await self.session.flush()
        return question

    async def count(self, *, topic: str, level: str, day: int) -> None:
        """Add one to the anonymous count of (topic, level, day), in one statement."""
        dialect = self.session.get_bind().dialect.name
        insert_into: Any = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert_into(QuestionCount).values(topic=topic, level=level, day=day, count=1)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["topic", "level", "day"],
                set_={"count": QuestionCount.count + 1},
            )
        )

    async def uncount(self, *, topic: str, level: str, day: int) -> None:
        """Take one off the anonymous count of (topic, level, day): a question was re-read."""
        await self.session.execute(
            update(QuestionCount)
            .where(
                QuestionCount.topic == topic,
                QuestionCount.level == level,
                QuestionCount.day == day,
                QuestionCount.count > 0,
            )
            .values(count=QuestionCount.count - 1)
        )

    async def get(self, *, patient_id: int, question_id: int) -> Question | None:
        """The patient's own question with this id; None for anyone else's."""
        result = await self.session.execute(
            select(Question).where(Question.id == question_id, Question.patient_id == patient_id)
        )
        return result.scalar_one_or_none()

    async def escalation_of(self, *, question_id: int) -> Escalation | None:
        """The escalation a question opened, if it opened one."""
        result = await self.session.execute(
            select(Escalation).where(Escalation.question_id == question_id).limit(1)
        )
        return result.scalar_one_or_none()

    async def set_helpful(self, *, patient_id: int, question_id: int, helpful: bool) -> bool:
        """Record "Was this helpful?" on the patient's own question; False if not theirs."""
        result = await self.session.execute(
            update(Question)
            .where(Question.id == question_id, Question.patient_id == patient_id)
            .values(helpful=helpful)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def for_patient(self, *, patient_id: int) -> Sequence[Question]:
        """A patient's questions, oldest first."""
        result = await self.session.execute(
            select(Question).where(Question.patient_id == patient_id).order_by(Question.id)
        )
        return result.scalars().all()

    async def counts(self) -> Sequence[QuestionCount]:
        """Every anonymous count."""
        return (await self.session.execute(select(QuestionCount))).scalars().all()

    async def escalate(
        self,
        *,
        patient_id: int,
        question_id: int | None,
        day: int,
        topic: str,
        level: str,
        now: datetime,
    ) -> Escalation:
        """Open an escalation for the patient's clinic of now: it stays that clinic's, even
        if the patient later follows another clinic's link."""
        clinic_id = await self.session.scalar(
            select(Patient.clinic_id).where(Patient.id == patient_id)
        )
        escalation = Escalation(patient_id=patient_id, question_id=question_id, day=day,
                                topic=topic, level=level, created_at=now,
                                clinic_id=clinic_id)  # fmt: skip
        self.session.add(escalation)
        await self.session.flush()
        return escalation

    async def share(self, *, patient_id: int, escalation_id: int, text: str) -> bool:
        """Attach the patient's words to their own escalation, once."""
        result = await self.session.execute(
            update(Escalation)
            .where(
                Escalation.id == escalation_id,
                Escalation.patient_id == patient_id,
                Escalation.message_text.is_(None),
                Escalation.moved_at.is_(None),  # words go only to the patient's clinic of now
            )
            .values(message_text=text)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def escalations(
        self, *, patient_id: int | None = None, status: EscalationStatus | None = None
    ) -> Sequence[Escalation]:
        """Escalations, oldest first, of one patient and/or in one status."""
        query = select(Escalation).order_by(Escalation.created_at, Escalation.id)
        if patient_id is not None:
            query = query.where(Escalation.patient_id == patient_id)
        if status is not None:
            query = query.where(Escalation.status == status)
        return (await self.session.execute(query)).scalars().all()
