"""A clinic's alerts: the open escalations, replies through the bot, and patients' answers."""

from __future__ import annotations

from scheduler.clinics.base import ClinicBase
from scheduler.clinics.limits import CONVERSATION_WINDOW
from scheduler.clinics.views import Alert, ClinicView, PatientReply, alert_of
from storage.clinics import ClinicRepository
from storage.models import EscalationStatus, PatientStatus
from storage.patients import PatientRepository


class AlertUseCases(ClinicBase):
    """Alerts: list, resolve, reply to, and patients' answers that reopen them."""

    async def alerts(self, *, clinic_id: int) -> list[Alert]:
        """The clinic's open escalations, urgent first, then oldest first."""
        async with self.database.session() as session:
            rows = await ClinicRepository(session).escalations(clinic_id=clinic_id)
            return [alert_of(e, p) for e, p in rows]

    async def resolve(self, *, clinic_id: int, escalation_id: int, staff_id: int | None) -> bool:
        """Mark one of the clinic's open escalations resolved; False if it is not one."""
        async with self.database.session() as session:
            found = await ClinicRepository(session).escalation(
                clinic_id=clinic_id, escalation_id=escalation_id
            )
            if found is None or found[0].status is not EscalationStatus.OPEN:
                return False
            escalation = found[0]
            escalation.status = EscalationStatus.RESOLVED
            escalation.resolved_at = self.clock.now()
            escalation.resolved_by = staff_id
            await session.commit()
            return True

    async def reply_target(self, *, clinic_id: int, escalation_id: int) -> Alert | None:
        """One of the clinic's alerts (open or not) to reply to; None if it is not the
        clinic's or its patient has stopped the bot. The reply counts once it is relayed
        (``record_relay``): one that never reached the patient (a block) is not counted."""
        async with self.database.session() as session:
            found = await ClinicRepository(session).escalation(
                clinic_id=clinic_id, escalation_id=escalation_id
            )
            if found is None:
                return None
            escalation, patient = found
            if (
                patient.status is PatientStatus.STOPPED
                or escalation.moved_at is not None
                or patient.clinic_id != clinic_id
            ):
                return None
            return alert_of(escalation, patient)

    async def record_relay(
        self,
        *,
        clinic_id: int,
        escalation_id: int,
        message_id: int,
        text: str | None = None,
        staff_id: int | None = None,
    ) -> None:
        """Remember which Telegram message carried a staff reply of one of the clinic's
        alerts, so the patient's reply to it finds its thread; with its text and writer, so
        the dashboard shows the thread. The alert counts one more reply."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            found = await repo.escalation(clinic_id=clinic_id, escalation_id=escalation_id)
            if found is None:
                return
            found[0].replies += 1
            await repo.add_clinic_message(
                escalation_id=escalation_id,
                message_id=message_id,
                now=self.clock.now(),
                text=text,
                sent_by=staff_id,
            )
            await session.commit()

    async def patient_reply(
        self,
        *,
        chat_id: int,
        reply_to_message_id: int | None,
        text: str | None = None,
        message_id: int | None = None,
    ) -> PatientReply | None:
        """The thread a patient's message continues, if it is a reply to their clinic: a
        Telegram reply to a message their clinic sent them, or any message within
        CONVERSATION_WINDOW of the clinic's last one. A resolved alert opens again. None
        when the message is not for the clinic (then it is the triage's). With ``text`` and
        ``message_id``, a message that is the clinic's joins the thread the dashboard shows
        (a message that is not for the clinic is never kept)."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if (
                patient is None
                or patient.clinic_id is None
                or patient.status is PatientStatus.STOPPED
            ):
                return None
            repo = ClinicRepository(session)
            escalation = None
            if reply_to_message_id is not None:
                escalation = await repo.thread(
                    patient_id=patient.id,
                    clinic_id=patient.clinic_id,
                    message_id=reply_to_message_id,
                )
            if escalation is None:
                escalation = await repo.thread(
                    patient_id=patient.id,
                    clinic_id=patient.clinic_id,
                    since=now - CONVERSATION_WINDOW,
                )
            if escalation is None:
                return None
            clinic = await repo.get(clinic_id=patient.clinic_id)
            assert clinic is not None
            reopened = escalation.status is not EscalationStatus.OPEN
            if reopened:
                escalation.status = EscalationStatus.OPEN
                escalation.resolved_at = None
                escalation.resolved_by = None
            if text is not None and message_id is not None:
                await repo.add_clinic_message(
                    escalation_id=escalation.id,
                    message_id=message_id,
                    now=now,
                    text=text,
                    from_patient=True,
                )
            reply = PatientReply(alert_of(escalation, patient), ClinicView.of(clinic), reopened)
            await session.commit()
            return reply
