"""A clinic's invites: patient links, enrolment links and staff invites; joining with a code."""

from __future__ import annotations

from datetime import date

from scheduler.clinics.base import ClinicBase
from scheduler.clinics.codes import INVITE_TTL, code_hash, new_code
from scheduler.clinics.errors import InviteError, InviteProblem
from scheduler.clinics.views import (
    MAX_LABEL,
    MAX_SHARED_NAME,
    ClinicView,
    InviteLine,
    InviteView,
    NewInvite,
    StaffView,
)
from storage.clinics import ClinicRepository
from storage.models import InviteKind, StaffRole
from storage.patients import PatientRepository


class InviteUseCases(ClinicBase):
    """Invites: make, list, revoke and check codes; join as staff or as a patient."""

    async def invite(
        self,
        *,
        clinic_id: int,
        kind: InviteKind,
        role: StaffRole | None = None,
        session_date: date | None = None,
        created_by: int | None = None,
        label: str | None = None,
    ) -> NewInvite:
        """A new invite code of a clinic (staff codes work once, enrolment codes once, the
        clinic's patient link any number of times until it expires or is revoked). An
        enrolment link may carry the clinic's ``label`` for its patient (a name or file
        number), given to the patient who joins with it."""
        cleaned = " ".join((label or "").split())[:MAX_LABEL] or None
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            if await repo.get(clinic_id=clinic_id) is None:
                raise LookupError(f"no clinic {clinic_id}")
            invite = await self._invite(
                repo,
                clinic_id,
                kind,
                role=role,
                session_date=session_date,
                created_by=created_by,
                label=cleaned if kind is InviteKind.ENROL else None,
            )
            await session.commit()
            return invite

    async def _invite(
        self,
        repo: ClinicRepository,
        clinic_id: int,
        kind: InviteKind,
        *,
        role: StaffRole | None = None,
        session_date: date | None = None,
        created_by: int | None = None,
        label: str | None = None,
    ) -> NewInvite:
        if kind is InviteKind.STAFF and role is None:
            role = StaffRole.STAFF
        if kind is InviteKind.ENROL and session_date is None:
            raise ValueError("an enrolment invite needs the session date")
        now = self.clock.now()
        code = new_code()
        expires_at = now + INVITE_TTL[kind]
        row = await repo.add_invite(
            code_hash=code_hash(code),
            clinic_id=clinic_id,
            kind=kind,
            role=role if kind is InviteKind.STAFF else None,
            session_date=session_date,
            max_uses=None if kind is InviteKind.PATIENT else 1,
            expires_at=expires_at,
            created_by=created_by,
            now=now,
            label=label,
        )
        return NewInvite(row.id, code, kind, expires_at)

    async def revoke(
        self,
        *,
        clinic_id: int,
        invite_id: int | None = None,
        kind: InviteKind | None = None,
        created_by: int | None = None,
    ) -> int:
        """Revoke one of the clinic's invites, or every one of a kind (with ``created_by``,
        only among those that member of staff made); returns how many."""
        async with self.database.session() as session:
            count = await ClinicRepository(session).revoke_invites(
                clinic_id=clinic_id,
                invite_id=invite_id,
                kind=kind,
                created_by=created_by,
                now=self.clock.now(),
            )
            await session.commit()
            return count

    async def invites(self, *, clinic_id: int) -> list[InviteLine]:
        """The clinic's invites that still work, newest first."""
        async with self.database.session() as session:
            rows = await ClinicRepository(session).live_invites(
                clinic_id=clinic_id, now=self.clock.now()
            )
            return [
                InviteLine(
                    id=row.id,
                    kind=row.kind,
                    role=row.role,
                    session_date=row.session_date,
                    uses=row.uses,
                    max_uses=row.max_uses,
                    expires_at=row.expires_at,
                    created_at=row.created_at,
                    created_by=row.created_by,
                )
                for row in rows
            ]

    async def peek(self, *, code: str) -> InviteView:
        """What a code is for, without using it; InviteError if it cannot be used."""
        async with self.database.session() as session:
            return await self._valid(ClinicRepository(session), code)

    async def _valid(self, repo: ClinicRepository, code: str) -> InviteView:
        invite = await repo.invite_by_hash(code_hash=code_hash(code))
        if invite is None:
            raise InviteError(InviteProblem.UNKNOWN)
        if invite.revoked_at is not None:
            raise InviteError(InviteProblem.REVOKED)
        if invite.expires_at <= self.clock.now():
            raise InviteError(InviteProblem.EXPIRED)
        if invite.max_uses is not None and invite.uses >= invite.max_uses:
            raise InviteError(InviteProblem.USED)
        clinic = await repo.get(clinic_id=invite.clinic_id)
        assert clinic is not None  # the invite cascades away with its clinic
        return InviteView(
            invite.id,
            invite.kind,
            invite.role,
            invite.session_date,
            ClinicView.of(clinic),
            invite.label,
        )

    async def join_staff(self, *, code: str, chat_id: int, name: str | None) -> StaffView:
        """Redeem a staff invite: the chat joins the clinic's staff with the invite's role."""
        now = self.clock.now()
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            invite = await self._valid(repo, code)
            if invite.kind is not InviteKind.STAFF or invite.role is None:
                raise InviteError(InviteProblem.WRONG_KIND)
            existing = await repo.staff_by_chat(chat_id=chat_id)
            if existing is not None:
                if existing.clinic_id != invite.clinic.id:
                    raise InviteError(InviteProblem.OTHER_CLINIC)
                if existing.role is StaffRole.STAFF and invite.role is StaffRole.ADMIN:
                    existing.role = StaffRole.ADMIN
                staff = existing
            else:
                staff = await repo.add_staff(
                    clinic_id=invite.clinic.id,
                    chat_id=chat_id,
                    role=invite.role,
                    name=(name or "")[:120] or None,
                    now=now,
                )
            if not await repo.use_invite(invite_id=invite.id, now=now):
                raise InviteError(InviteProblem.USED)  # someone else was faster
            view = StaffView.of(staff, invite.clinic)
            await session.commit()
            return view

    async def join_patient(self, *, code: str, chat_id: int) -> InviteView:
        """Redeem a patient or enrolment invite for a patient who has consented.

        The patient becomes the clinic's; a patient without a session yet takes the clinic's
        time zone and quiet hours. The session date of an enrolment invite is returned for the
        patient to confirm (registering it is the care service's job).
        """
        now = self.clock.now()
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            invite = await self._valid(repo, code)
            if invite.kind is InviteKind.STAFF:
                raise InviteError(InviteProblem.WRONG_KIND)
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                raise LookupError(f"chat {chat_id} is not a patient")
            if not await repo.use_invite(invite_id=invite.id, now=now):
                raise InviteError(InviteProblem.USED)
            if patient.clinic_id != invite.clinic.id:
                if patient.clinic_id is not None:
                    # The old clinic keeps its open alerts, marked as moved; the new one
                    # never sees them. A patient who comes back finds them theirs again.
                    await repo.mark_moved(
                        patient_id=patient.id, clinic_id=patient.clinic_id, moved_at=now
                    )
                await repo.mark_moved(
                    patient_id=patient.id, clinic_id=invite.clinic.id, moved_at=None
                )
                patient.clinic_id = invite.clinic.id
                # The old clinic's label and the name shared with it are not the new one's.
                patient.clinic_label = None
                patient.shared_name = None
                if not await repo.has_session(patient_id=patient.id):
                    patient.timezone = invite.clinic.timezone
                    patient.quiet_start = invite.clinic.quiet_hours.start
                    patient.quiet_end = invite.clinic.quiet_hours.end
                patient.updated_at = now
            if invite.label:  # the clinic named the patient when it made the link
                patient.clinic_label = invite.label
                patient.updated_at = now
            await session.commit()
            return invite

    async def share_name(self, *, chat_id: int, clinic_id: int, name: str | None) -> int | None:
        """The patient agrees to show their first name to the clinic they joined (None:
        not, or no longer). Returns the patient's number, or None when the patient is not
        that clinic's (an old question from before a switch)."""
        cleaned = " ".join(name.split())[:MAX_SHARED_NAME] if name else None
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None or patient.clinic_id != clinic_id:
                return None
            patient.shared_name = cleaned or None
            patient.updated_at = self.clock.now()
            await session.commit()
            return patient.id
