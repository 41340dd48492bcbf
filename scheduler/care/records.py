"""A patient's data as a whole: erased on /delete, exported as JSON on /export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scheduler.care.base import CareBase
from scheduler.care.planning import QuietHours
from storage.broadcasts import BroadcastRepository
from storage.delivery_log import DeliveryLogRepository
from storage.inbox import InboxRepository
from storage.models import Clinic, MessageStatus
from storage.patients import PatientRepository, delete_patient
from storage.questions import QuestionRepository
from storage.reminders import ReminderRepository
from storage.sessions import SessionRepository


class RecordUseCases(CareBase):
    """Erase and export everything about a patient."""

    async def erase(self, *, chat_id: int) -> bool:
        """Delete the patient and every row about them; False if there was nothing."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return False
            await delete_patient(session, patient_id=patient.id)
            await session.commit()
        return True

    async def export(self, *, chat_id: int) -> dict[str, Any] | None:
        """Everything stored about the patient, as a JSON-ready document."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return None
            treatments = await SessionRepository(session).all_for(patient_id=patient.id)
            reminders = await ReminderRepository(session).for_patient(patient_id=patient.id)
            attempts = await DeliveryLogRepository(session).for_patient(patient_id=patient.id)
            questions = QuestionRepository(session)
            asked = await questions.for_patient(patient_id=patient.id)
            raised = await questions.escalations(patient_id=patient.id)
            clinic = await session.get(Clinic, patient.clinic_id) if patient.clinic_id else None
            news = await BroadcastRepository(session).for_patient(patient_id=patient.id)
            thread = await InboxRepository(session).patients_messages(patient_id=patient.id)

        def instant(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        by_session: dict[int, list[dict[str, Any]]] = {t.id: [] for t in treatments}
        for r in reminders:
            by_session[r.session_id].append(
                {
                    "milestone": r.milestone_id,
                    "due_at": instant(r.due_at),
                    "expires_at": instant(r.expires_at),
                    "status": r.status.value,
                    "sent_at": instant(r.sent_at),
                    "acknowledged_at": instant(r.acknowledged_at),
                    "attempts": r.attempts,
                }
            )
        return {
            "exported_at": instant(self.clock.now()),
            "patient": {
                "chat_id": patient.chat_id,
                "language": patient.language,
                "timezone": patient.timezone,
                "quiet_hours": str(QuietHours(patient.quiet_start, patient.quiet_end)),
                "status": patient.status.value,
                "consented_at": instant(patient.consented_at),
                "created_at": instant(patient.created_at),
                "last_seen_at": instant(patient.last_seen_at),
                "clinic": clinic.name if clinic else None,
                "clinic_news": not patient.news_opt_out,
            },
            "sessions": [
                {
                    "number": t.number,
                    "date": t.session_date.isoformat(),
                    "plan": t.plan_id,
                    "booked_next_at": instant(t.booked_at),
                    "reminders": by_session[t.id],
                }
                for t in treatments
            ],
            "delivery_attempts": [
                {"at": instant(a.at), "outcome": a.outcome.value, "error": a.error}
                for a in attempts
            ],
            "questions": [
                {
                    "asked_at": instant(q.asked_at),
                    "day": q.day,
                    "topic": q.topic,
                    "level": q.level,
                    "helpful": q.helpful,
                }
                for q in asked
            ],
            "escalations": [
                {
                    "created_at": instant(e.created_at),
                    "day": e.day,
                    "topic": e.topic,
                    "level": e.level,
                    "status": e.status.value,
                    "shared_text": e.message_text,
                }
                for e in raised
            ],
            "clinic_messages": [
                {
                    "status": n.status.value,
                    "sent_at": instant(n.finished_at if n.status is MessageStatus.SENT else None),
                }
                for n in news
            ],
            "conversation_with_clinic": [
                {
                    "at": instant(m.sent_at),
                    "from": "patient" if m.from_patient else "clinic",
                    "text": m.text,
                }
                for m in thread
            ],
        }
