"""Sign-in links and browser sessions of the clinic's dashboard: only hashes of their tokens
are stored, and each lookup is one statement."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Staff, WebLogin, WebSession


class WebAccessRepository:
    """One-time sign-in links and the sessions they open."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def add_login(
        self,
        *,
        token_hash: str,
        clinic_id: int,
        staff_id: int | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Store a sign-in link (its hash)."""
        self.session.add(
            WebLogin(
                token_hash=token_hash,
                clinic_id=clinic_id,
                staff_id=staff_id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        await self.session.flush()

    async def use_login(self, *, token_hash: str, now: datetime) -> tuple[int, int | None] | None:
        """Spend a sign-in link: (clinic, staff) if it was unused and unexpired, else None.
        One conditional UPDATE, so two browsers racing with one link get one session."""
        result = await self.session.execute(
            update(WebLogin)
            .where(
                WebLogin.token_hash == token_hash,
                WebLogin.used_at.is_(None),
                WebLogin.expires_at > now,
            )
            .values(used_at=now)
            .returning(WebLogin.clinic_id, WebLogin.staff_id)
        )
        row = result.one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def add_session(
        self,
        *,
        token_hash: str,
        clinic_id: int,
        staff_id: int | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Open a browser session (its hash)."""
        self.session.add(
            WebSession(
                token_hash=token_hash,
                clinic_id=clinic_id,
                staff_id=staff_id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        await self.session.flush()

    async def live_session(
        self, *, token_hash: str, now: datetime
    ) -> tuple[WebSession, Staff | None] | None:
        """The session with this hash if it has not ended or expired, with its member of
        staff; None as well when the member was removed or moved to another clinic."""
        result = await self.session.execute(
            select(WebSession, Staff)
            .outerjoin(Staff, Staff.id == WebSession.staff_id)
            .where(
                WebSession.token_hash == token_hash,
                WebSession.ended_at.is_(None),
                WebSession.expires_at > now,
            )
        )
        row = result.one_or_none()
        if row is None:
            return None
        web_session, staff = row
        if web_session.staff_id is not None and (
            staff is None or staff.clinic_id != web_session.clinic_id
        ):
            return None
        return web_session, staff

    async def end_session(self, *, token_hash: str, now: datetime) -> bool:
        """Sign out: the session ends now. False if it had already ended."""
        result = await self.session.execute(
            update(WebSession)
            .where(WebSession.token_hash == token_hash, WebSession.ended_at.is_(None))
            .values(ended_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
