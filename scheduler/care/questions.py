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
from storage.patients import PatientRepository
from storage.questions import QuestionRepository

MAX_SHARED_TEXT = 2000


@dataclass(frozen=True)
class Recorded:
    """What recording a question created: the question row, and the escalation it opened.

    ``escalation_id`` is None when the level did not call for one, and also for a patient
    without a clinic (``has_clinic`` False): nobody would read it, so none is opened.
    """

    question_id: int
    escalation_id: int | None
    has_clinic: bool = False


class QuestionService:
    """Use cases around triage answers; each method is one unit of work."""

    def __init__(self, *, database: Database, clock: Clock) -> None:
        """Work on ``database`` with time from ``clock``."""
        self.database = database
        self.clock = clock

    async def record(
        self, *, chat_id: int, day: int, topic: str | None, level: str, escalate: bool
    ) -> Recorded | None:
        """Store a question's outcome, and an escalation when ``escalate`` and the patient has a
        clinic to read it; None for a chat that is not a patient."""
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
            has_clinic = patient.clinic_id is not None
            if escalate and has_clinic:
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
            return Recorded(question.id, escalation_id, has_clinic)

    async def clarify(
        self,
        *,
        chat_id: int,
        question_id: int,
        topic: str | None,
        level: str,
        escalate: bool,
    ) -> Recorded | None:
        """A clarification made an answered question more serious: update its row, its count
        and its escalation (one per question, opened now if it had none and there is a
        clinic); never a second row. None when the question is not this patient's."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return None
            questions = QuestionRepository(session)
            question = await questions.get(patient_id=patient.id, question_id=question_id)
            if question is None:
                return None
            has_clinic = patient.clinic_id is not None
            await questions.uncount(
                topic=question.topic or "unknown", level=question.level, day=question.day
            )
            question.topic, question.level = topic, level
            await questions.count(topic=topic or "unknown", level=level, day=question.day)
            escalation = await questions.escalation_of(question_id=question.id)
            if escalation is not None:
                escalation.topic, escalation.level = topic or "unknown", level
            elif escalate and has_clinic:
                escalation = await questions.escalate(
                    patient_id=patient.id,
                    question_id=question.id,
                    day=question.day,
                    topic=topic or "unknown",
                    level=level,
                    now=self.clock.now(),
                )
            await session.commit()
            return Recorded(question.id, escalation.id if escalation else None, has_clinic)

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
