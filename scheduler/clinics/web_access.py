"""Who may see a clinic's dashboard: one-time sign-in links and the sessions they open.

A link is a random token given once (in chat with ``/web``, or printed by the operator) and
stored only as its SHA-256; it works once, for ten minutes. Spending it opens a session whose
token the browser keeps in a signed cookie; the database keeps the token's hash, so a stolen
database opens nothing. Every request looks the session up again: a member of staff removed
from the clinic loses the dashboard at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from scheduler.clinics.views import ClinicView, StaffView
from scheduler.clock import Clock
from storage.clinics import ClinicRepository
from storage.database import Database
from storage.models import StaffRole
from storage.web import WebAccessRepository

LOGIN_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=8)


class WebAccessError(LookupError):
    """No such clinic, or no such member of its staff."""


def token_hash(token: str) -> str:
    """The stored form of a link's or a session's token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class WebUser:
    """Who is signed in: a member of staff, or the operator's first admin of a clinic that
    has no staff yet (``staff`` None)."""

    clinic: ClinicView
    staff: StaffView | None
    session_hash: str

    @property
    def is_admin(self) -> bool:
        """Admins manage the team and its invites."""
        return self.staff is None or self.staff.is_admin

    @property
    def name(self) -> str:
        """How the dashboard greets them."""
        if self.staff is None:
            return "first admin"
        return self.staff.name or f"member #{self.staff.id}"


@dataclass(frozen=True)
class SignInLink:
    """A fresh one-time token and when it stops working."""

    token: str
    clinic: ClinicView
    staff: StaffView | None
    expires_at_iso: str


class WebAccess:
    """Issues sign-in links, turns them into sessions, and checks sessions."""

    def __init__(self, *, database: Database, clock: Clock) -> None:
        """Work on ``database`` with ``clock``."""
        self.database = database
        self.clock = clock

    async def link_for(self, *, clinic_id: int, staff_chat_id: int | None) -> SignInLink:
        """A one-time link for the member of staff in ``staff_chat_id``, or, when None, for
        the clinic's first admin (only while the clinic has no admin: afterwards an admin
        signs in from chat with /web). WebAccessError when there is no such clinic or
        member, or the clinic already has an admin and no member was named."""
        now = self.clock.now()
        token = secrets.token_urlsafe(32)
        async with self.database.session() as session:
            clinics = ClinicRepository(session)
            clinic = await clinics.get(clinic_id=clinic_id)
            if clinic is None:
                raise WebAccessError(f"no clinic {clinic_id}")
            view = ClinicView.of(clinic)
            staff_view: StaffView | None = None
            if staff_chat_id is not None:
                staff = await clinics.staff_by_chat(chat_id=staff_chat_id)
                if staff is None or staff.clinic_id != clinic_id:
                    raise WebAccessError("no such member of this clinic's staff")
                staff_view = StaffView.of(staff, view)
            elif any(
                s.role is StaffRole.ADMIN for s in await clinics.staff_of(clinic_id=clinic_id)
            ):
                raise WebAccessError("the clinic has an admin: they sign in from chat with /web")
            expires_at = now + LOGIN_TTL
            await WebAccessRepository(session).add_login(
                token_hash=token_hash(token),
                clinic_id=clinic_id,
                staff_id=staff_view.id if staff_view else None,
                now=now,
                expires_at=expires_at,
            )
            await session.commit()
        return SignInLink(token, view, staff_view, expires_at.isoformat(timespec="minutes"))

    async def sign_in(self, token: str) -> str | None:
        """Spend a link and open a session: the session's token, or None for a link that is
        unknown, used or expired."""
        now = self.clock.now()
        session_token = secrets.token_urlsafe(32)
        async with self.database.session() as session:
            repo = WebAccessRepository(session)
            spent = await repo.use_login(token_hash=token_hash(token), now=now)
            if spent is None:
                await session.rollback()
                return None
            clinic_id, staff_id = spent
            await repo.add_session(
                token_hash=token_hash(session_token),
                clinic_id=clinic_id,
                staff_id=staff_id,
                now=now,
                expires_at=now + SESSION_TTL,
            )
            await session.commit()
        return session_token

    async def user(self, session_token: str) -> WebUser | None:
        """Who the session belongs to, or None if it ended, expired, or its member of staff
        left the clinic."""
        now = self.clock.now()
        digest = token_hash(session_token)
        async with self.database.session() as session:
            found = await WebAccessRepository(session).live_session(token_hash=digest, now=now)
            if found is None:
                return None
            web_session, staff = found
            clinic = await ClinicRepository(session).get(clinic_id=web_session.clinic_id)
            if clinic is None:
                return None
        view = ClinicView.of(clinic)
        staff_view = StaffView.of(staff, view) if staff is not None else None
        return WebUser(clinic=view, staff=staff_view, session_hash=digest)

    async def sign_out(self, session_token: str) -> None:
        """End the session now (again is harmless)."""
        async with self.database.session() as session:
            await WebAccessRepository(session).end_session(
                token_hash=token_hash(session_token), now=self.clock.now()
            )
            await session.commit()


def csrf_token(secret: bytes, session_hash: str) -> str:
    """The CSRF token of a session: an HMAC of its hash, so it needs no storage and changes
    with every session."""
    return hmac.new(secret, f"csrf:{session_hash}".encode(), hashlib.sha256).hexdigest()
