"""What the dashboard's alerts inbox and a patient's thread read and write. Every query takes
the clinic it acts for: another clinic's alert, patient or member of staff is never found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import ClinicMessage, Escalation, EscalationStatus, Patient, Staff


@dataclass(frozen=True)
class InboxRow:
    """An alert with its patient and the member of staff it is assigned to."""

    escalation: Escalation
    patient: Patient
    assignee: Staff | None


@dataclass(frozen=True)
class ThreadRow:
    """A message of a clinic's thread with a patient, with who of the staff wrote it."""

    message: ClinicMessage
    escalation: Escalation
    writer: Staff | None


class InboxRepository:
    """The alerts inbox and the clinic's threads, one clinic at a time."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def count(self, *, clinic_id: int, status: EscalationStatus) -> int:
        """How many of the clinic's alerts are in ``status``."""
        found = await self.session.scalar(
            select(func.count(Escalation.id)).where(
                Escalation.clinic_id == clinic_id, Escalation.status == status
            )
        )
        return int(found or 0)

    async def alerts(
        self, *, clinic_id: int, status: EscalationStatus, limit: int, offset: int = 0
    ) -> list[InboxRow]:
        """The clinic's alerts in ``status``: open ones urgent first, then oldest first (the
        longest waiting); resolved ones the latest resolved first."""
        assignee = aliased(Staff)
        query = (
            select(Escalation, Patient, assignee)
            .join(Patient, Patient.id == Escalation.patient_id)
            .outerjoin(
                assignee,
                (assignee.id == Escalation.assigned_to) & (assignee.clinic_id == clinic_id),
            )
            .where(Escalation.clinic_id == clinic_id, Escalation.status == status)
        )
        if status is EscalationStatus.OPEN:
            query = query.order_by(
                (Escalation.level != "urgent"), Escalation.created_at, Escalation.id
            )
        else:
            query = query.order_by(Escalation.resolved_at.desc(), Escalation.id.desc())
        result = await self.session.execute(query.offset(offset).limit(limit))
        return [InboxRow(row[0], row[1], row[2]) for row in result]

    async def member(self, *, clinic_id: int, staff_id: int) -> Staff | None:
        """The clinic's member of staff with this id; None for anyone else's."""
        result = await self.session.execute(
            select(Staff).where(Staff.id == staff_id, Staff.clinic_id == clinic_id)
        )
        return result.scalar_one_or_none()

    async def assign(self, *, clinic_id: int, escalation_id: int, staff_id: int | None) -> bool:
        """Assign one of the clinic's alerts (None: to nobody); False if it is not one."""
        result = await self.session.execute(
            update(Escalation)
            .where(Escalation.id == escalation_id, Escalation.clinic_id == clinic_id)
            .values(assigned_to=staff_id)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def open_thread(self, *, clinic_id: int, patient_id: int) -> Escalation | None:
        """The patient's latest open alert with the clinic (not one left behind by a move):
        where a message from the patient page joins the conversation."""
        result = await self.session.execute(
            select(Escalation)
            .where(
                Escalation.patient_id == patient_id,
                Escalation.clinic_id == clinic_id,
                Escalation.status == EscalationStatus.OPEN,
                Escalation.moved_at.is_(None),
            )
            .order_by(Escalation.created_at.desc(), Escalation.id.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def add_escalation(self, escalation: Escalation) -> Escalation:
        """Store a new escalation."""
        self.session.add(escalation)
        await self.session.flush()
        return escalation

    async def thread(self, *, clinic_id: int, patient_id: int) -> Sequence[ThreadRow]:
        """Every message between the clinic and the patient, oldest first."""
        writer = aliased(Staff)
        result = await self.session.execute(
            select(ClinicMessage, Escalation, writer)
            .join(Escalation, Escalation.id == ClinicMessage.escalation_id)
            .outerjoin(writer, writer.id == ClinicMessage.sent_by)
            .where(Escalation.patient_id == patient_id, Escalation.clinic_id == clinic_id)
            .order_by(ClinicMessage.sent_at, ClinicMessage.id)
        )
        return [ThreadRow(row[0], row[1], row[2]) for row in result]

    async def patients_messages(self, *, patient_id: int) -> Sequence[ClinicMessage]:
        """Every message of the patient's threads with any clinic, oldest first: for the
        patient's own export only."""
        result = await self.session.execute(
            select(ClinicMessage)
            .join(Escalation, Escalation.id == ClinicMessage.escalation_id)
            .where(Escalation.patient_id == patient_id)
            .order_by(ClinicMessage.sent_at, ClinicMessage.id)
        )
        return result.scalars().all()


__all__ = ["InboxRepository", "InboxRow", "ThreadRow"]
