"""Clinics, their staff and invite codes; every query about patients is scoped to one clinic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Clinic,
    ClinicMessage,
    Escalation,
    EscalationStatus,
    Invite,
    InviteKind,
    Patient,
    Staff,
    StaffRole,
    TreatmentSession,
)


class ClinicRepository:
    """Clinics, staff and invites. Methods that touch patients take the clinic they act for."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def add(
        self,
        *,
        name: str,
        timezone: str,
        plan_id: str,
        quiet_start: time,
        quiet_end: time,
        now: datetime,
        phone: str | None = None,
        whatsapp: str | None = None,
        address: str | None = None,
        booking_url: str | None = None,
        language: str = "en",
    ) -> Clinic:
        """Add a clinic."""
        clinic = Clinic(
            name=name,
            timezone=timezone,
            plan_id=plan_id,
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            phone=phone,
            whatsapp=whatsapp,
            address=address,
            booking_url=booking_url,
            language=language,
            created_at=now,
        )
        self.session.add(clinic)
        await self.session.flush()
        return clinic

    async def get(self, *, clinic_id: int) -> Clinic | None:
        """A clinic by id."""
        return await self.session.get(Clinic, clinic_id)

    async def all(self) -> Sequence[Clinic]:
        """Every clinic, oldest first."""
        return (await self.session.execute(select(Clinic).order_by(Clinic.id))).scalars().all()

    async def counts(self) -> dict[int, tuple[int, int]]:
        """(staff, patients) by clinic id."""
        staff: dict[int, int] = {
            row[0]: row[1]
            for row in await self.session.execute(
                select(Staff.clinic_id, func.count()).group_by(Staff.clinic_id)
            )
        }
        patients: dict[int, int] = {
            row[0]: row[1]
            for row in await self.session.execute(
                select(Patient.clinic_id, func.count())
                .where(Patient.clinic_id.is_not(None))
                .group_by(Patient.clinic_id)
            )
            if row[0] is not None
        }
        return {
            clinic_id: (staff.get(clinic_id, 0), patients.get(clinic_id, 0))
            for clinic_id in set(staff) | set(patients)
        }

    # Staff

    async def staff_by_chat(self, *, chat_id: int) -> Staff | None:
        """The member of staff of a chat, or None."""
        result = await self.session.execute(select(Staff).where(Staff.chat_id == chat_id))
        return result.scalar_one_or_none()

    async def add_staff(
        self, *, clinic_id: int, chat_id: int, role: StaffRole, name: str | None, now: datetime
    ) -> Staff:
        """Add a member of staff to a clinic."""
        staff = Staff(clinic_id=clinic_id, chat_id=chat_id, role=role, name=name, created_at=now)
        self.session.add(staff)
        await self.session.flush()
        return staff

    async def remove_staff(self, *, clinic_id: int, staff_id: int) -> bool:
        """Take a member off the clinic's staff (their row goes: the next command or button
        they send finds no member of staff); False if they are not the clinic's."""
        result = await self.session.execute(
            delete(Staff)
            .where(Staff.id == staff_id, Staff.clinic_id == clinic_id)
            .execution_options(synchronize_session="fetch")
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def staff_of(self, *, clinic_id: int) -> Sequence[Staff]:
        """Every member of a clinic's staff."""
        result = await self.session.execute(
            select(Staff).where(Staff.clinic_id == clinic_id).order_by(Staff.id)
        )
        return result.scalars().all()

    # Invites

    async def add_invite(
        self,
        *,
        code_hash: str,
        clinic_id: int,
        kind: InviteKind,
        expires_at: datetime,
        now: datetime,
        role: StaffRole | None = None,
        session_date: date | None = None,
        max_uses: int | None = None,
        created_by: int | None = None,
        label: str | None = None,
    ) -> Invite:
        """Store a new invite (by the hash of its code)."""
        invite = Invite(
            code_hash=code_hash,
            clinic_id=clinic_id,
            kind=kind,
            role=role,
            session_date=session_date,
            label=label,
            max_uses=max_uses,
            expires_at=expires_at,
            created_by=created_by,
            created_at=now,
        )
        self.session.add(invite)
        await self.session.flush()
        return invite

    async def invite_by_hash(self, *, code_hash: str) -> Invite | None:
        """The invite with this code hash, valid or not."""
        result = await self.session.execute(select(Invite).where(Invite.code_hash == code_hash))
        return result.scalar_one_or_none()

    async def use_invite(self, *, invite_id: int, now: datetime) -> bool:
        """Count one use, atomically and only while the invite is valid; False if it is not."""
        result = await self.session.execute(
            update(Invite)
            .where(
                Invite.id == invite_id,
                Invite.revoked_at.is_(None),
                Invite.expires_at > now,
                or_(Invite.max_uses.is_(None), Invite.uses < Invite.max_uses),
            )
            .values(uses=Invite.uses + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def revoke_invites(
        self,
        *,
        clinic_id: int,
        now: datetime,
        invite_id: int | None = None,
        kind: InviteKind | None = None,
        created_by: int | None = None,
    ) -> int:
        """Revoke one invite of the clinic, or all of a kind, among those that still work
        (and, with ``created_by``, only those that member of staff made); returns how many
        stopped working."""
        conditions = [
            Invite.clinic_id == clinic_id,
            Invite.revoked_at.is_(None),
            Invite.expires_at > now,
            or_(Invite.max_uses.is_(None), Invite.uses < Invite.max_uses),
        ]
        if invite_id is not None:
            conditions.append(Invite.id == invite_id)
        if kind is not None:
            conditions.append(Invite.kind == kind)
        if created_by is not None:
            conditions.append(Invite.created_by == created_by)
        result = await self.session.execute(
            update(Invite)
            .where(*conditions)
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))

    async def live_invites(self, *, clinic_id: int, now: datetime) -> Sequence[Invite]:
        """The clinic's invites that still work (not revoked, not expired, uses left),
        newest first."""
        result = await self.session.execute(
            select(Invite)
            .where(
                Invite.clinic_id == clinic_id,
                Invite.revoked_at.is_(None),
                Invite.expires_at > now,
                or_(Invite.max_uses.is_(None), Invite.uses < Invite.max_uses),
            )
            .order_by(Invite.id.desc())
        )
        return result.scalars().all()

    async def set_role(self, *, clinic_id: int, staff_id: int, role: StaffRole) -> bool:
        """Give a member of the clinic's staff ``role``; False if they are not the clinic's."""
        result = await self.session.execute(
            update(Staff)
            .where(Staff.id == staff_id, Staff.clinic_id == clinic_id)
            .values(role=role)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def patient_languages(self, *, clinic_id: int) -> list[str]:
        """The languages the clinic's patients chose, most used first."""
        result = await self.session.execute(
            select(Patient.language, func.count())
            .where(Patient.clinic_id == clinic_id)
            .group_by(Patient.language)
            .order_by(func.count().desc(), Patient.language)
        )
        return [language for language, _ in result.all()]

    # Patients and escalations, always of one clinic

    async def has_session(self, *, patient_id: int) -> bool:
        """Whether a patient has registered any session."""
        found = await self.session.scalar(
            select(exists().where(TreatmentSession.patient_id == patient_id))
        )
        return bool(found)

    async def patients_with_latest_session(
        self, *, clinic_id: int
    ) -> Sequence[tuple[Patient, TreatmentSession | None]]:
        """The clinic's patients, each with their latest session (or None)."""
        latest = (
            select(TreatmentSession.patient_id, func.max(TreatmentSession.number).label("number"))
            .group_by(TreatmentSession.patient_id)
            .subquery()
        )
        result = await self.session.execute(
            select(Patient, TreatmentSession)
            .where(Patient.clinic_id == clinic_id)
            .outerjoin(latest, latest.c.patient_id == Patient.id)
            .outerjoin(
                TreatmentSession,
                (TreatmentSession.patient_id == Patient.id)
                & (TreatmentSession.number == latest.c.number),
            )
            .order_by(Patient.id)
        )
        return [(row[0], row[1]) for row in result]

    async def escalations(
        self, *, clinic_id: int, status: EscalationStatus | None = EscalationStatus.OPEN
    ) -> Sequence[tuple[Escalation, Patient]]:
        """The clinic's escalations (open ones by default), most serious first, then oldest."""
        query = (
            select(Escalation, Patient)
            .join(Patient, Patient.id == Escalation.patient_id)
            .where(Escalation.clinic_id == clinic_id)
        )
        if status is not None:
            query = query.where(Escalation.status == status)
        result = await self.session.execute(query.order_by(Escalation.created_at, Escalation.id))
        rows = [(row[0], row[1]) for row in result]
        rows.sort(key=lambda pair: pair[0].level != "urgent")
        return rows

    async def escalation(
        self, *, clinic_id: int, escalation_id: int
    ) -> tuple[Escalation, Patient] | None:
        """One escalation with its patient, only if it was raised with the clinic."""
        result = await self.session.execute(
            select(Escalation, Patient)
            .join(Patient, Patient.id == Escalation.patient_id)
            .where(Escalation.id == escalation_id, Escalation.clinic_id == clinic_id)
        )
        row = result.first()
        return None if row is None else (row[0], row[1])

    async def mark_moved(
        self, *, patient_id: int, clinic_id: int, moved_at: datetime | None
    ) -> int:
        """Mark the patient's open escalations with a clinic as moved (the patient left for
        another clinic), or, with None, as theirs again (the patient came back)."""
        result = await self.session.execute(
            update(Escalation)
            .where(
                Escalation.patient_id == patient_id,
                Escalation.clinic_id == clinic_id,
                Escalation.status == EscalationStatus.OPEN,
            )
            .values(moved_at=moved_at)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))

    async def add_clinic_message(
        self,
        *,
        escalation_id: int,
        message_id: int,
        now: datetime,
        text: str | None = None,
        sent_by: int | None = None,
        from_patient: bool = False,
    ) -> None:
        """Remember a message of the thread: the Telegram message a staff reply went out as
        (with its text and who wrote it), or the patient's answer passed on to the clinic."""
        self.session.add(
            ClinicMessage(
                escalation_id=escalation_id,
                message_id=message_id,
                sent_at=now,
                text=text,
                sent_by=sent_by,
                from_patient=from_patient,
            )
        )
        await self.session.flush()

    async def thread(
        self,
        *,
        patient_id: int,
        clinic_id: int,
        message_id: int | None = None,
        since: datetime | None = None,
    ) -> Escalation | None:
        """The patient's escalation with the clinic that a clinic message belongs to: the one
        relayed as ``message_id``, or else the latest relayed after ``since``. Moved ones are
        no longer a conversation."""
        query = (
            select(Escalation)
            .join(ClinicMessage, ClinicMessage.escalation_id == Escalation.id)
            .where(
                Escalation.patient_id == patient_id,
                Escalation.clinic_id == clinic_id,
                Escalation.moved_at.is_(None),
                ClinicMessage.from_patient.is_(False),  # only the clinic's messages open a thread
            )
            .order_by(ClinicMessage.sent_at.desc(), ClinicMessage.id.desc())
            .limit(1)
        )
        if message_id is not None:
            query = query.where(ClinicMessage.message_id == message_id)
        if since is not None:
            query = query.where(ClinicMessage.sent_at >= since)
        return (await self.session.execute(query)).scalar_one_or_none()


__all__ = ["ClinicRepository"]
