"""Questions patients ask: what the triage said, whether it helped, and escalations.

The patient's words are never stored, except on an escalation the patient chose to share
with the clinic. Counts by topic, level and day are kept anonymously for the clinic's
statistics, so they outlive a patient's /delete without saying anything about anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.clock import Clock
from storage.database import Database
from storage.models import Escalation, EscalationStatus
from storage.repositories import PatientRepository, QuestionRepository

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
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return None
            questions = QuestionRepository(session)
            question = await questions.add(
                patient_id=patient.id, day=day, topic=topic, level=level, now=now
            )
            escalation_id = None
            if escalate:
                escalation = await questions.escalate(
                    patient_id=patient.id,
                    question_id=question.id,
                    day=day,
                    topic=topic or "unknown",
                    level=level,
                    now=now,
                )
                escalation_id = escalation.id
            await questions.count(topic=topic or "unknown", level=level, day=day)
            await session.commit()
            return Recorded(question.id, escalation_id)

    async def helpful(self, *, chat_id: int, question_id: int, helpful: bool) -> bool:
        """Record "Was this helpful?"; False when the question is not this patient's."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return False
            done = await QuestionRepository(session).set_helpful(
                patient_id=patient.id, question_id=question_id, helpful=helpful
            )
            await session.commit()
            return done

    async def share(self, *, chat_id: int, escalation_id: int, text: str) -> bool:
        """Attach the patient's own words to their escalation, once, at their request."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return False
            done = await QuestionRepository(session).share(
                patient_id=patient.id, escalation_id=escalation_id, text=text[:MAX_SHARED_TEXT]
            )
            await session.commit()
            return done

    async def open_escalations(self) -> list[Escalation]:
        """Open escalations, oldest first (the clinics' view builds on this)."""
        async with self.database.session() as session:
            repo = QuestionRepository(session)
            return list(await repo.escalations(status=EscalationStatus.OPEN))

    async def counts(self) -> dict[tuple[str, str, int], int]:
        """Questions by (topic, level, day)."""
        async with self.database.session() as session:
            rows = await QuestionRepository(session).counts()
            return {(r.topic, r.level, r.day): r.count for r in rows}
