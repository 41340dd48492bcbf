"""The clinic's alerts inbox and its threads with patients, as the dashboard uses them: list,
reply (the patient gets it in the bot, as a reply from chat does), resolve, assign, and
write to a patient from their page.

Replies go the chat's way (``ClinicService.alert``, ``reply_target``, ``record_relay``): an
alert of a patient who moved to another clinic is refused, a stopped patient is not written
to, a blocked one is marked so, and the relayed message is registered so that the patient's
Telegram reply to it finds its thread. Every call takes the clinic it acts for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from content.plan import day_of_healing
from scheduler.care.planning import load_zone
from scheduler.care.sessions import CareService
from scheduler.clinics.service import ClinicService
from scheduler.clinics.views import Alert, ClinicView, StaffView
from scheduler.outbox.notifier import DeliveryError, RecipientGoneError
from storage.dashboard import DashboardRepository
from storage.inbox import InboxRepository
from storage.models import (
    STAFF_MESSAGE_LEVEL,
    Escalation,
    EscalationStatus,
    Patient,
    PatientStatus,
    Staff,
)
from storage.sessions import SessionRepository

MAX_MESSAGE = 3000  # the relay's wording and the clinic's name stay within Telegram's 4,096
RESOLVED_SHOWN = 100
ALERTS_PAGE = 50
# A conversation the clinic starts from a patient's page, when no alert of theirs is open:
# an alert of its own, resolved at once, so the patient's answer opens it in the inbox.
MESSAGE_TOPIC = "message"
MESSAGE_LEVEL = STAFF_MESSAGE_LEVEL


class Relay(Protocol):
    """Sends a staff message to a patient in the bot's words for it (the bot provides it)."""

    async def relay(self, *, chat_id: int, language: str, clinic: str, text: str) -> int:
        """Send ``text`` from ``clinic`` to the patient's chat in their ``language``; the
        Telegram message's id. Raises a ``DeliveryError`` (``RecipientGoneError`` when the
        patient blocked the bot)."""
        ...


class InboxProblem(StrEnum):
    """Why a reply, a message or an assignment did not happen."""

    NOT_FOUND = "not_found"  # not the clinic's alert, patient or member of staff
    MOVED = "moved"  # the patient moved to another clinic: the old one cannot write
    STOPPED = "stopped"  # the patient stopped the bot
    BLOCKED = "blocked"  # the patient blocked the bot (found on sending)
    NOT_SENT = "not_sent"  # Telegram did not take it now; nothing was recorded
    EMPTY = "empty"
    TOO_LONG = "too_long"


class InboxError(Exception):
    """A reply, message or assignment that did not happen, and why."""

    def __init__(self, problem: InboxProblem) -> None:
        """Carry the reason."""
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class InboxAlert:
    """An alert as the inbox shows it; ``words`` only when the patient shared them."""

    id: int
    patient_id: int
    patient: str
    linked: bool  # the patient is still the clinic's: their page can be opened
    day: int
    topic: str
    level: str
    words: str | None
    created_at: datetime
    replies: int
    open: bool
    resolved_at: datetime | None
    assigned_id: int | None
    assigned: str | None
    moved: bool
    language: str


@dataclass(frozen=True)
class ThreadMessage:
    """A message between the clinic and a patient."""

    at: datetime
    from_patient: bool
    text: str | None  # None for staff replies relayed before texts were kept
    writer: str | None
    alert_id: int


def patient_display(patient: Patient) -> str:
    """The clinic's label, else the name the patient shared, else their number."""
    return patient.clinic_label or patient.shared_name or f"Patient #{patient.id}"


def staff_display(staff: Staff | StaffView) -> str:
    """A member of staff's name, else their number."""
    return staff.name or f"member #{staff.id}"


def cleaned_message(text: str) -> str:
    """A staff message as it will be sent: trimmed; InboxError if empty or too long."""
    cleaned = text.strip()
    if not cleaned:
        raise InboxError(InboxProblem.EMPTY)
    if len(cleaned) > MAX_MESSAGE:
        raise InboxError(InboxProblem.TOO_LONG)
    return cleaned


def _why_stopped(patient: Patient) -> InboxProblem:
    """A stopped patient: stopped by a block of the bot, or by their own /stop."""
    return InboxProblem.BLOCKED if patient.blocked_from is not None else InboxProblem.STOPPED


class InboxService:
    """Use cases of the dashboard's inbox and threads; each call acts for one clinic."""

    def __init__(self, *, clinics: ClinicService, care: CareService) -> None:
        """Work through the clinics' use cases (the chat's), and mark blocked patients with
        ``care``."""
        self.clinics = clinics
        self.care = care
        self.database = clinics.database
        self.clock = clinics.clock

    async def open_count(self, clinic: ClinicView) -> int:
        """How many alerts of the clinic are open."""
        async with self.database.session() as session:
            return await InboxRepository(session).count(
                clinic_id=clinic.id, status=EscalationStatus.OPEN
            )

    async def alerts(
        self, clinic: ClinicView, *, resolved: bool = False, page: int = 1
    ) -> list[InboxAlert]:
        """A page of the clinic's open alerts, urgent first, then the longest waiting first
        (``ALERTS_PAGE`` a page); or its latest resolved ones."""
        status = EscalationStatus.RESOLVED if resolved else EscalationStatus.OPEN
        limit = RESOLVED_SHOWN if resolved else ALERTS_PAGE
        offset = 0 if resolved else (max(page, 1) - 1) * ALERTS_PAGE
        async with self.database.session() as session:
            rows = await InboxRepository(session).alerts(
                clinic_id=clinic.id, status=status, limit=limit, offset=offset
            )
        return [
            InboxAlert(
                id=row.escalation.id,
                patient_id=row.patient.id,
                patient=patient_display(row.patient),
                linked=row.patient.clinic_id == clinic.id,
                day=row.escalation.day,
                topic=row.escalation.topic,
                level=row.escalation.level,
                words=row.escalation.message_text,
                created_at=row.escalation.created_at,
                replies=row.escalation.replies,
                open=row.escalation.status is EscalationStatus.OPEN,
                resolved_at=row.escalation.resolved_at,
                assigned_id=row.assignee.id if row.assignee else None,
                assigned=staff_display(row.assignee) if row.assignee else None,
                moved=row.escalation.moved_at is not None,
                language=row.patient.language,
            )
            for row in rows
        ]

    async def team(self, clinic: ClinicView) -> list[StaffView]:
        """Who an alert can be assigned to: the clinic's staff."""
        return await self.clinics.team(clinic_id=clinic.id)

    async def reply(
        self, clinic: ClinicView, *, alert_id: int, staff_id: int | None, text: str, relay: Relay
    ) -> Alert:
        """Send a staff reply to the patient of one of the clinic's alerts, as chat does:
        counted on the alert, registered as a message of its thread (with its text).
        InboxError: not the clinic's, the patient moved, stopped or blocked the bot, or
        Telegram did not take it."""
        cleaned = cleaned_message(text)
        alert = await self.clinics.alert(clinic_id=clinic.id, escalation_id=alert_id)
        if alert is None:
            raise InboxError(InboxProblem.NOT_FOUND)
        if alert.moved:
            raise InboxError(InboxProblem.MOVED)
        target = await self.clinics.reply_target(clinic_id=clinic.id, escalation_id=alert_id)
        if target is None:
            raise InboxError(await self._unreachable(alert.patient_id))
        message_id = await self._send(clinic, target.chat_id, target.language, cleaned, relay)
        await self.clinics.record_relay(
            clinic_id=clinic.id,
            escalation_id=alert_id,
            message_id=message_id,
            text=cleaned,
            staff_id=staff_id,
        )
        return target

    async def resolve(self, clinic: ClinicView, *, alert_id: int, staff_id: int | None) -> bool:
        """Resolve one of the clinic's alerts, as /alerts does; False if it was resolved
        already, InboxError if it is not the clinic's."""
        if await self.clinics.alert(clinic_id=clinic.id, escalation_id=alert_id) is None:
            raise InboxError(InboxProblem.NOT_FOUND)
        return await self.clinics.resolve(
            clinic_id=clinic.id, escalation_id=alert_id, staff_id=staff_id
        )

    async def assign(self, clinic: ClinicView, *, alert_id: int, staff_id: int | None) -> None:
        """Assign one of the clinic's alerts to one of its members of staff (None: nobody);
        InboxError if either is not the clinic's."""
        async with self.database.session() as session:
            repo = InboxRepository(session)
            if (
                staff_id is not None
                and await repo.member(clinic_id=clinic.id, staff_id=staff_id) is None
            ):
                raise InboxError(InboxProblem.NOT_FOUND)
            if not await repo.assign(
                clinic_id=clinic.id, escalation_id=alert_id, staff_id=staff_id
            ):
                raise InboxError(InboxProblem.NOT_FOUND)
            await session.commit()

    async def message_patient(
        self,
        clinic: ClinicView,
        *,
        patient_id: int,
        staff_id: int | None,
        text: str,
        relay: Relay,
    ) -> int:
        """Write to one of the clinic's patients from their page; returns the alert the
        message joined. It joins the patient's latest open alert; without one, it starts a
        conversation of its own (an alert of topic and level "message", resolved at once),
        so that, as after a reply in chat, the patient's answer reaches the clinic's staff
        and opens it in the inbox. InboxError as ``reply``."""
        cleaned = cleaned_message(text)
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await DashboardRepository(session).patient(
                clinic_id=clinic.id, patient_id=patient_id
            )
            if patient is None:
                raise InboxError(InboxProblem.NOT_FOUND)
            if patient.status is PatientStatus.STOPPED:
                raise InboxError(_why_stopped(patient))
            chat_id, language, zone = patient.chat_id, patient.language, patient.timezone
        message_id = await self._send(clinic, chat_id, language, cleaned, relay)
        async with self.database.session() as session:
            repo = InboxRepository(session)
            thread = await repo.open_thread(clinic_id=clinic.id, patient_id=patient_id)
            if thread is None:
                latest = await SessionRepository(session).latest(patient_id=patient_id)
                today = now.astimezone(load_zone(zone)).date()
                thread = await repo.add_escalation(
                    Escalation(
                        patient_id=patient_id,
                        clinic_id=clinic.id,
                        day=day_of_healing(latest.session_date, today) if latest else 0,
                        topic=MESSAGE_TOPIC,
                        level=MESSAGE_LEVEL,
                        status=EscalationStatus.RESOLVED,
                        created_at=now,
                        resolved_at=now,
                        resolved_by=staff_id,
                        replies=0,
                    )
                )
            alert_id = thread.id
            await session.commit()
        await self.clinics.record_relay(
            clinic_id=clinic.id,
            escalation_id=alert_id,
            message_id=message_id,
            text=cleaned,
            staff_id=staff_id,
        )
        return alert_id

    async def thread(self, clinic: ClinicView, patient_id: int) -> list[ThreadMessage]:
        """The messages between the clinic and its patient, oldest first (nothing for
        another clinic's patient)."""
        async with self.database.session() as session:
            rows = await InboxRepository(session).thread(clinic_id=clinic.id, patient_id=patient_id)
        return [
            ThreadMessage(
                at=row.message.sent_at,
                from_patient=row.message.from_patient,
                text=row.message.text,
                writer=staff_display(row.writer) if row.writer else None,
                alert_id=row.escalation.id,
            )
            for row in rows
        ]

    async def _unreachable(self, patient_id: int) -> InboxProblem:
        """Why a patient of the clinic cannot be written to: they blocked or stopped the
        bot (or, in a race, moved clinic)."""
        async with self.database.session() as session:
            patient = await session.get(Patient, patient_id)
            if patient is None:
                return InboxProblem.NOT_FOUND
            if patient.status is PatientStatus.STOPPED:
                return _why_stopped(patient)
            return InboxProblem.MOVED

    async def _send(
        self, clinic: ClinicView, chat_id: int, language: str, text: str, relay: Relay
    ) -> int:
        try:
            return await relay.relay(
                chat_id=chat_id, language=language, clinic=clinic.name, text=text
            )
        except RecipientGoneError:
            await self.care.mark_blocked(chat_id=chat_id)
            raise InboxError(InboxProblem.BLOCKED) from None
        except DeliveryError:
            raise InboxError(InboxProblem.NOT_SENT) from None


__all__ = [
    "MAX_MESSAGE",
    "InboxAlert",
    "InboxError",
    "InboxProblem",
    "InboxService",
    "Relay",
    "ThreadMessage",
    "cleaned_message",
    "patient_display",
    "staff_display",
]
