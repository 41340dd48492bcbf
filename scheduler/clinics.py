"""Clinics: invite codes, staff, a clinic's view of its own patients, and its alerts.

Every use case that shows or reaches a patient takes the clinic it acts for and finds only
that clinic's patients: the chat layer passes the clinic of the member of staff asking, never
an id from a button. Invite codes are 192 random bits, shown once and stored only as their
SHA-256; each expires and can be revoked, and staff codes work once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from content.plan import CarePlan, day_of_healing
from scheduler.clock import Clock
from scheduler.delivery import PlanSource
from scheduler.outbox import Recipient
from scheduler.planning import QuietHours, load_zone
from storage.clinics import ClinicRepository
from storage.database import Database
from storage.models import (
    Clinic,
    Escalation,
    EscalationStatus,
    InviteKind,
    Patient,
    PatientStatus,
    Staff,
    StaffRole,
)
from storage.patients import PatientRepository
from storage.questions import QuestionRepository
from storage.sessions import SessionRepository

CODE_BYTES = 24  # 192 bits; token_urlsafe gives 32 characters, within a deep link's 64
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}$")
INVITE_TTL = {
    InviteKind.STAFF: timedelta(days=7),
    InviteKind.PATIENT: timedelta(days=365),  # printed at the reception; revocable
    InviteKind.ENROL: timedelta(days=14),
}
MAX_NAME = 120
BOOKING_TOPIC = "booking"
BOOKING_LEVEL = "booking"  # not a triage level: a request, listed with the alerts
NEXT_SESSION_AFTER = timedelta(days=28)  # a series is 4-6 weeks apart: due from week 4
DUE_WINDOW = timedelta(days=7)
# A patient's message counts as a reply to their clinic within this time of the clinic's last
# message to them (a Telegram reply to a clinic message counts at any time).
CONVERSATION_WINDOW = timedelta(hours=24)


def new_code() -> str:
    """A fresh invite code."""
    return secrets.token_urlsafe(CODE_BYTES)


def code_hash(code: str) -> str:
    """What is stored of a code."""
    return hashlib.sha256(code.encode()).hexdigest()


def looks_like_code(text: str) -> bool:
    """Whether a deep-link payload has the shape of one of our invite codes."""
    return bool(CODE_PATTERN.match(text))


def next_session_due(session_date: date) -> date:
    """When the next session of a series is due, four weeks after this one."""
    return session_date + NEXT_SESSION_AFTER


def due_for_next_session(
    session_date: date, booked_at: datetime | None, today: date, within: timedelta
) -> bool:
    """Whether the session after this one falls due between today and ``within`` from now,
    and the patient has not said it is booked."""
    when = next_session_due(session_date)
    return booked_at is None and today <= when <= today + within


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


class ClinicDetailsError(ValueError):
    """A clinic's name or contact detail that does not fit; the message says which."""


class InviteProblem(StrEnum):
    """Why an invite code does not work."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED = "used"
    WRONG_KIND = "wrong_kind"
    OTHER_CLINIC = "other_clinic"


class StaffProblem(StrEnum):
    """Why a member of staff cannot be removed (or have their role changed)."""

    NOT_FOUND = "not_found"
    LAST_ADMIN = "last_admin"
    SELF = "self"


class StaffError(Exception):
    """A member of staff who cannot be removed (or have their role changed), and why."""

    def __init__(self, problem: StaffProblem) -> None:
        """Carry the reason."""
        super().__init__(problem.value)
        self.problem = problem


class InviteError(Exception):
    """An invite code that cannot be used, and why."""

    def __init__(self, problem: InviteProblem) -> None:
        """Carry the reason."""
        super().__init__(problem.value)
        self.problem = problem


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


class ClinicService:
    """Use cases of clinics and their staff; each method is one unit of work."""

    def __init__(self, *, database: Database, clock: Clock, plans: PlanSource) -> None:
        """Work on ``database``, with time from ``clock`` and care plans from ``plans``."""
        self.database = database
        self.clock = clock
        self.plans = plans

    # Clinics

    async def create_clinic(
        self,
        *,
        name: str,
        timezone: str,
        plan_id: str,
        quiet_hours: QuietHours,
        phone: str | None = None,
        whatsapp: str | None = None,
        address: str | None = None,
        booking_url: str | None = None,
        language: str = "en",
    ) -> tuple[ClinicView, NewInvite]:
        """Create a clinic and the one-time invite of its first admin."""
        load_zone(timezone)
        self.plans(plan_id)
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise ClinicDetailsError(f"a clinic needs a name of 1 to {MAX_NAME} characters")
        for label, value, limit in (
            ("phone", phone, 40),
            ("WhatsApp", whatsapp, 40),
            ("booking link", booking_url, 300),
            ("language", language, 16),
        ):
            if value is not None and len(value) > limit:
                raise ClinicDetailsError(f"the {label} is longer than {limit} characters")
        now = self.clock.now()
        async with self.database.session() as session:
            clinic = await ClinicRepository(session).add(
                name=name,
                timezone=timezone,
                plan_id=plan_id,
                quiet_start=quiet_hours.start,
                quiet_end=quiet_hours.end,
                phone=phone,
                whatsapp=whatsapp,
                address=address,
                booking_url=booking_url,
                language=language,
                now=now,
            )
            invite = await self._invite(
                ClinicRepository(session), clinic.id, InviteKind.STAFF, role=StaffRole.ADMIN
            )
            view = ClinicView.of(clinic)
            await session.commit()
        return view, invite

    async def clinics(self) -> list[tuple[ClinicView, int, int]]:
        """Every clinic with its number of staff and of patients."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            counts = await repo.counts()
            return [(ClinicView.of(c), *counts.get(c.id, (0, 0))) for c in await repo.all()]

    async def clinic(self, *, clinic_id: int) -> ClinicView | None:
        """One clinic."""
        async with self.database.session() as session:
            clinic = await ClinicRepository(session).get(clinic_id=clinic_id)
            return None if clinic is None else ClinicView.of(clinic)

    # Invites

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

    # Staff

    async def staff(self, *, chat_id: int) -> StaffView | None:
        """The member of staff of a chat (with their clinic), or None."""
        async with self.database.session() as session:
            return await load_staff(session, chat_id=chat_id)

    async def set_staff_step(self, *, chat_id: int, step: str | None) -> None:
        """Remember what the bot waits for from a member of staff (it survives restarts)."""
        async with self.database.session() as session:
            staff = await ClinicRepository(session).staff_by_chat(chat_id=chat_id)
            if staff is not None:
                staff.step = step
                await session.commit()

    async def team(self, *, clinic_id: int) -> list[StaffView]:
        """Every member of a clinic's staff, oldest first."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            clinic = await repo.get(clinic_id=clinic_id)
            if clinic is None:
                raise LookupError(f"no clinic {clinic_id}")
            view = ClinicView.of(clinic)
            return [StaffView.of(s, view) for s in await repo.staff_of(clinic_id=clinic_id)]

    async def remove_staff(
        self,
        *,
        clinic_id: int,
        staff_id: int | None = None,
        chat_id: int | None = None,
        by_staff_id: int | None = None,
    ) -> StaffView:
        """Take a member (by staff id or chat) off the clinic's staff, at once: their next
        command or button finds no member of staff. The last admin stays (a clinic always
        has someone who can invite); ``by_staff_id`` (a removal in chat) cannot remove
        itself. StaffError says why not."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            team = list(await repo.staff_of(clinic_id=clinic_id))
            target = next(
                (
                    s
                    for s in team
                    if (staff_id is not None and s.id == staff_id)
                    or (chat_id is not None and s.chat_id == chat_id)
                ),
                None,
            )
            if target is None:
                raise StaffError(StaffProblem.NOT_FOUND)
            if by_staff_id is not None and target.id == by_staff_id:
                raise StaffError(StaffProblem.SELF)
            admins = [s for s in team if s.role is StaffRole.ADMIN]
            if target.role is StaffRole.ADMIN and len(admins) <= 1:
                raise StaffError(StaffProblem.LAST_ADMIN)
            clinic = await repo.get(clinic_id=clinic_id)
            assert clinic is not None
            view = StaffView.of(target, ClinicView.of(clinic))
            if not await repo.remove_staff(clinic_id=clinic_id, staff_id=target.id):
                raise StaffError(StaffProblem.NOT_FOUND)  # removed meanwhile
            await session.commit()
            return view

    async def set_role(
        self, *, clinic_id: int, staff_id: int, role: StaffRole, by_staff_id: int | None = None
    ) -> StaffView:
        """Make a member of the clinic's staff an admin or plain staff, at once. The last
        admin stays an admin, and ``by_staff_id`` (the member asking) cannot change their own
        role; StaffError says why not."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            team = list(await repo.staff_of(clinic_id=clinic_id))
            target = next((s for s in team if s.id == staff_id), None)
            if target is None:
                raise StaffError(StaffProblem.NOT_FOUND)
            if by_staff_id is not None and target.id == by_staff_id:
                raise StaffError(StaffProblem.SELF)
            admins = [s for s in team if s.role is StaffRole.ADMIN]
            if target.role is StaffRole.ADMIN and role is not StaffRole.ADMIN and len(admins) <= 1:
                raise StaffError(StaffProblem.LAST_ADMIN)
            if not await repo.set_role(clinic_id=clinic_id, staff_id=target.id, role=role):
                raise StaffError(StaffProblem.NOT_FOUND)  # removed meanwhile
            clinic = await repo.get(clinic_id=clinic_id)
            assert clinic is not None
            view = ClinicView.of(clinic)
            await session.commit()
            return StaffView(target.id, target.chat_id, role, target.name, target.step, view)

    async def languages(self, *, clinic_id: int) -> list[str]:
        """The languages a clinic uses: its own first, then its patients' (most used first)."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            clinic = await repo.get(clinic_id=clinic_id)
            if clinic is None:
                return []
            found = await repo.patient_languages(clinic_id=clinic_id)
        return list(dict.fromkeys([clinic.language, *found]))

    async def staff_chats(self, *, clinic_id: int) -> list[int]:
        """The chats of every member of a clinic's staff."""
        return [r.chat_id for r in await self.staff_recipients(clinic_id=clinic_id)]

    async def staff_recipients(self, *, clinic_id: int) -> list[Recipient]:
        """Every member of a clinic's staff, as the outbox addresses them."""
        async with self.database.session() as session:
            staff = await ClinicRepository(session).staff_of(clinic_id=clinic_id)
        return [Recipient(chat_id=s.chat_id, staff_id=s.id) for s in staff]

    # Patients

    async def clinic_of_patient(self, *, chat_id: int) -> ClinicView | None:
        """The clinic a patient came with, or None."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None or patient.clinic_id is None:
                return None
            clinic = await ClinicRepository(session).get(clinic_id=patient.clinic_id)
            return None if clinic is None else ClinicView.of(clinic)

    async def set_news(self, *, chat_id: int, opt_out: bool) -> bool:
        """Opt a patient out of (or back into) clinic news; care reminders are not touched."""
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return False
            patient.news_opt_out = opt_out
            await session.commit()
            return True

    async def summary(self, *, clinic_id: int) -> PatientSummary:
        """Counts of the clinic's patients by status, phase and what is due."""
        now = self.clock.now()
        async with self.database.session() as session:
            rows = await ClinicRepository(session).patients_with_latest_session(clinic_id=clinic_id)
        status = Counter(p.status for p, _ in rows)
        phases: Counter[str] = Counter()
        due = no_session = 0
        for patient, latest in rows:
            if latest is None:
                no_session += 1
                continue
            today = now.astimezone(load_zone(patient.timezone)).date()
            if patient.status is PatientStatus.ACTIVE:
                plan: CarePlan = self.plans(latest.plan_id)
                phases[plan.phase_for_day(day_of_healing(latest.session_date, today)).id] += 1
            if patient.status is PatientStatus.ACTIVE and due_for_next_session(
                latest.session_date, latest.booked_at, today, DUE_WINDOW
            ):
                due += 1
        return PatientSummary(
            total=len(rows),
            active=status[PatientStatus.ACTIVE],
            paused=status[PatientStatus.PAUSED],
            stopped=status[PatientStatus.STOPPED],
            new_this_week=sum(1 for p, _ in rows if p.created_at >= now - timedelta(days=7)),
            due_next_session=due,
            news_opt_out=sum(1 for p, _ in rows if p.news_opt_out),
            by_phase=dict(phases),
            no_session=no_session,
            by_language=dict(Counter(p.language for p, _ in rows)),
        )

    async def request_booking(self, *, chat_id: int) -> Alert | None:
        """A patient asks to book their next session: an alert for their clinic's staff (the
        staff reply from it). None for a patient without a clinic."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None or patient.clinic_id is None:
                return None
            latest = await SessionRepository(session).latest(patient_id=patient.id)
            today = now.astimezone(load_zone(patient.timezone)).date()
            day = day_of_healing(latest.session_date, today) if latest else 0
            escalation = await QuestionRepository(session).escalate(
                patient_id=patient.id,
                question_id=None,
                day=day,
                topic=BOOKING_TOPIC,
                level=BOOKING_LEVEL,
                now=now,
            )
            alert = _alert(escalation, patient)
            await session.commit()
            return alert

    async def alert(self, *, clinic_id: int, escalation_id: int) -> Alert | None:
        """One of the clinic's alerts (open or not), or None."""
        async with self.database.session() as session:
            found = await ClinicRepository(session).escalation(
                clinic_id=clinic_id, escalation_id=escalation_id
            )
            return None if found is None else _alert(*found)

    # Alerts

    async def alerts(self, *, clinic_id: int) -> list[Alert]:
        """The clinic's open escalations, urgent first, then oldest first."""
        async with self.database.session() as session:
            rows = await ClinicRepository(session).escalations(clinic_id=clinic_id)
            return [_alert(e, p) for e, p in rows]

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
            return _alert(escalation, patient)

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
            reply = PatientReply(_alert(escalation, patient), ClinicView.of(clinic), reopened)
            await session.commit()
            return reply


def _alert(escalation: Escalation, patient: Patient) -> Alert:
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


__all__ = [
    "Alert",
    "ClinicService",
    "ClinicView",
    "InviteError",
    "InviteProblem",
    "InviteView",
    "NewInvite",
    "PatientReply",
    "PatientSummary",
    "StaffError",
    "StaffProblem",
    "StaffView",
    "code_hash",
    "looks_like_code",
    "new_code",
    "next_session_due",
]
