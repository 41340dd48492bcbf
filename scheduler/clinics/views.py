"""What the clinic's use cases return: clinics, staff, invites, alerts and summaries as plain
values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.care.planning import QuietHours
from storage.clinics import ClinicRepository
from storage.models import Clinic, Escalation, InviteKind, Patient, Staff, StaffRole


@dataclass(frozen=True)
class ClinicView:
    """A clinic's details, detached from the database."""

    id: int
    name: str
    timezone: str
    plan_id: str
    quiet_hours: QuietHours
    language: str
    phone: str | None
    whatsapp: str | None
    address: str | None
    booking_url: str | None

    @classmethod
    def of(cls, clinic: Clinic) -> ClinicView:
        """The view of a row."""
        return cls(
            id=clinic.id,
            name=clinic.name,
            timezone=clinic.timezone,
            plan_id=clinic.plan_id,
            quiet_hours=QuietHours(clinic.quiet_start, clinic.quiet_end),
            language=clinic.language,
            phone=clinic.phone,
            whatsapp=clinic.whatsapp,
            address=clinic.address,
            booking_url=clinic.booking_url,
        )

    def contact(self) -> str | None:
        """How a patient reaches the clinic, one item a line, or None if nothing is known."""
        lines = [
            f"{label}: {value}"
            for label, value in (
                ("Phone", self.phone),
                ("WhatsApp", self.whatsapp),
                ("Address", self.address),
            )
            if value
        ]
        return "\n".join([self.name, *lines]) if lines else None


@dataclass(frozen=True)
class StaffView:
    """A member of staff and their clinic."""

    id: int
    chat_id: int
    role: StaffRole
    name: str | None
    step: str | None
    clinic: ClinicView

    @classmethod
    def of(cls, staff: Staff, clinic: ClinicView) -> StaffView:
        """The view of a staff row, with its clinic's."""
        return cls(staff.id, staff.chat_id, staff.role, staff.name, staff.step, clinic)

    @property
    def is_admin(self) -> bool:
        """Admins may also invite staff."""
        return self.role is StaffRole.ADMIN


MAX_SHARED_NAME = 64  # the column's width
MAX_LABEL = 80  # the width of a patient's label


@dataclass(frozen=True)
class InviteView:
    """A valid invite: what it is for and whose it is."""

    id: int
    kind: InviteKind
    role: StaffRole | None
    session_date: date | None
    clinic: ClinicView
    label: str | None = None


@dataclass(frozen=True)
class NewInvite:
    """A freshly made invite; the only moment its code exists outside the link."""

    id: int
    code: str
    kind: InviteKind
    expires_at: datetime


@dataclass(frozen=True)
class InviteLine:
    """An invite that still works, as the clinic's list of links shows it (never its code:
    only the hash is stored)."""

    id: int
    kind: InviteKind
    role: StaffRole | None
    session_date: date | None
    uses: int
    max_uses: int | None
    expires_at: datetime
    created_at: datetime
    created_by: int | None


@dataclass(frozen=True)
class PatientSummary:
    """What ``/patients`` shows: counts only, never who."""

    total: int
    active: int
    paused: int
    stopped: int
    new_this_week: int
    due_next_session: int
    news_opt_out: int
    by_phase: dict[str, int]
    no_session: int
    by_language: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """An open escalation as the clinic sees it."""

    id: int
    patient_id: int
    chat_id: int
    day: int
    topic: str
    level: str
    shared_text: str | None
    created_at: datetime
    replies: int
    moved: bool = False
    language: str = "en"


@dataclass(frozen=True)
class PatientReply:
    """Where a patient's message to their clinic goes: the alert of its thread, which is
    open again if it had been resolved."""

    alert: Alert
    clinic: ClinicView
    reopened: bool


async def load_staff(session: AsyncSession, *, chat_id: int) -> StaffView | None:
    """The member of staff of a chat (with their clinic), read in ``session`` (a unit of work
    the caller owns), or None."""
    repo = ClinicRepository(session)
    staff = await repo.staff_by_chat(chat_id=chat_id)
    if staff is None:
        return None
    clinic = await repo.get(clinic_id=staff.clinic_id)
    assert clinic is not None
    return StaffView.of(staff, ClinicView.of(clinic))


def alert_of(escalation: Escalation, patient: Patient) -> Alert:
    return Alert(
        id=escalation.id,
        patient_id=patient.id,
        chat_id=patient.chat_id,
        day=escalation.day,
        topic=escalation.topic,
        level=escalation.level,
        shared_text=escalation.message_text,
        created_at=escalation.created_at,
        replies=escalation.replies,
        moved=escalation.moved_at is not None,
        language=patient.language,
    )
