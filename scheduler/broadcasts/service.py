"""What a clinic's staff do with broadcasts: compose, choose the audience, confirm, cancel, read
the report and the history; every method scoped to their clinic."""

from __future__ import annotations

import logging
from datetime import datetime

from content.loader import load_plan
from scheduler.broadcasts.audience import Audience, AudienceSelector, PlanSource
from scheduler.broadcasts.errors import (
    BroadcastNotFound,
    BroadcastStateError,
    BroadcastTooLong,
    EmptyBroadcast,
    UnknownPhase,
)
from scheduler.broadcasts.report import BroadcastReport, build_report
from scheduler.broadcasts.rules import add_copies, schedule_problem, text_limit
from scheduler.care.planning import QuietHours, load_zone
from scheduler.clock import Clock
from storage.broadcasts import BroadcastLine, BroadcastRepository
from storage.database import Database
from storage.models import BroadcastStatus, Clinic, Staff

log = logging.getLogger(__name__)


class BroadcastService:
    """What clinic staff do with broadcasts. Every method acts only on the given clinic's
    broadcasts: another clinic's broadcast id is not found (``BroadcastNotFound``/False)."""

    def __init__(self, *, database: Database, clock: Clock, plans: PlanSource = load_plan) -> None:
        """Work on ``database``; ``plans`` finds care plans for phase audiences."""
        self.database = database
        self.clock = clock
        self.selector = AudienceSelector(plans)
        self.plans = plans

    async def create(
        self, clinic_id: int, staff_id: int | None, text: str, photo: str | None = None
    ) -> int:
        """A draft broadcast to every patient; returns its id. ``staff_id`` must be of the
        clinic (LookupError otherwise)."""
        text = text.strip()
        if not text and not photo:
            raise EmptyBroadcast("a broadcast needs a text or a photo")
        async with self.database.session() as session:
            if staff_id is not None:
                staff = await session.get(Staff, staff_id)
                if staff is None or staff.clinic_id != clinic_id:
                    raise LookupError("no such member of this clinic's staff")
            clinic = await session.get(Clinic, clinic_id)
            if clinic is None:
                raise LookupError("no such clinic")
            limit = text_limit(clinic.name, photo=bool(photo))
            if len(text) > limit:
                raise BroadcastTooLong(len(text), limit)
            broadcast = await BroadcastRepository(session).add(
                clinic_id=clinic_id,
                created_by=staff_id,
                text=text,
                photo=photo,
                audience="all",
                now=self.clock.now(),
            )
            await session.commit()
            return broadcast.id

    async def set_audience(
        self, broadcast_id: int, clinic_id: int, audience: Audience | str
    ) -> Audience:
        """Choose who a draft goes to; returns the parsed audience (ValueError if invalid)."""
        chosen = Audience.parse(audience) if isinstance(audience, str) else audience
        async with self.database.session() as session:
            clinic = await session.get(Clinic, clinic_id)
            await self._check_phase(session_clinic=clinic, audience=chosen)
            repo = BroadcastRepository(session)
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=clinic_id)
            if broadcast is None:
                raise BroadcastNotFound(broadcast_id)
            if broadcast.status is not BroadcastStatus.DRAFT:
                raise BroadcastStateError("only a draft's audience can change")
            broadcast.audience = str(chosen)
            await session.commit()
        return chosen

    async def count(self, clinic_id: int, audience: Audience | str) -> int:
        """How many patients the audience names now (the preview before confirming)."""
        chosen = Audience.parse(audience) if isinstance(audience, str) else audience
        async with self.database.session() as session:
            clinic = await session.get(Clinic, clinic_id)
            if clinic is None:
                return 0
            await self._check_phase(session_clinic=clinic, audience=chosen)
            selected = await self.selector.select(
                BroadcastRepository(session),
                clinic_id=clinic_id,
                audience=chosen,
                now=self.clock.now(),
            )
        return len(selected)

    async def confirm(
        self,
        broadcast_id: int,
        clinic_id: int,
        report_chat_id: int | None,
        at: datetime | None = None,
    ) -> int:
        """Schedule a draft for ``at`` (None: now); ``report_chat_id`` gets the final report
        in Telegram (None: nobody, e.g. the dashboard's first admin, who has no chat yet).

        ``at`` must be ahead, within ``MAX_AHEAD``, and outside the clinic's quiet hours
        (``BroadcastTimeError`` otherwise, with the next allowed time where there is one).
        Sent now: the recipients are chosen at once and their count is returned. Scheduled
        for later: they are chosen when sending starts (so patients enrolled meanwhile are
        included), and the count returned is the preview of now.
        """
        now = self.clock.now()
        if at is not None and at.tzinfo is None:
            raise ValueError("a naive datetime given for the broadcast time")
        immediate = at is None
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=clinic_id)
            if broadcast is None:
                raise BroadcastNotFound(broadcast_id)
            if broadcast.status is not BroadcastStatus.DRAFT:
                raise BroadcastStateError(f"the broadcast is {broadcast.status.value} already")
            if at is not None:
                clinic = await session.get(Clinic, clinic_id)
                assert clinic is not None  # the broadcast is the clinic's
                problem = schedule_problem(
                    at,
                    now=now,
                    quiet_hours=QuietHours(clinic.quiet_start, clinic.quiet_end),
                    zone=load_zone(clinic.timezone),
                )
                if problem is not None:
                    raise problem
            audience = Audience.parse(broadcast.audience)
            selected = await self.selector.select(
                repo, clinic_id=clinic_id, audience=audience, now=now
            )
            broadcast.status = BroadcastStatus.SCHEDULED
            broadcast.scheduled_at = now if immediate else at
            broadcast.report_chat_id = report_chat_id
            if immediate:
                await add_copies(repo, broadcast, selected, now=now)
            await session.commit()
        log.info(
            "broadcast %s of clinic %s confirmed for %s recipients (%s)",
            broadcast_id,
            clinic_id,
            len(selected),
            "now" if immediate else "scheduled",
        )
        return len(selected)

    async def cancel(self, broadcast_id: int, clinic_id: int) -> bool:
        """Cancel a draft, scheduled or sending broadcast of the clinic; False if there is
        none such (done, cancelled already, or not the clinic's)."""
        async with self.database.session() as session:
            cancelled = await BroadcastRepository(session).cancel(
                broadcast_id=broadcast_id, clinic_id=clinic_id, now=self.clock.now()
            )
            await session.commit()
        if cancelled:
            log.info("broadcast %s of clinic %s cancelled", broadcast_id, clinic_id)
        return cancelled

    async def report(self, broadcast_id: int, clinic_id: int) -> BroadcastReport:
        """Where the clinic's broadcast stands (``BroadcastNotFound`` if not the clinic's)."""
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=clinic_id)
            if broadcast is None:
                raise BroadcastNotFound(broadcast_id)
            return await build_report(repo, broadcast, self.clock.now())

    async def history(self, clinic_id: int, limit: int = 50) -> list[BroadcastLine]:
        """The clinic's latest broadcasts, newest first, with their copies counted by state."""
        async with self.database.session() as session:
            return await BroadcastRepository(session).history(clinic_id=clinic_id, limit=limit)

    async def set_progress_message(
        self, broadcast_id: int, clinic_id: int, message_id: int
    ) -> bool:
        """Remember the message that shows the broadcast's progress; False if not found."""
        async with self.database.session() as session:
            changed = await BroadcastRepository(session).update(
                broadcast_id=broadcast_id,
                clinic_id=clinic_id,
                values={"progress_message_id": message_id},
            )
            await session.commit()
        return changed

    async def _check_phase(self, *, session_clinic: Clinic | None, audience: Audience) -> None:
        """A phase audience must name a phase of the clinic's care plan."""
        if audience.kind != "phase" or session_clinic is None:
            return
        try:
            plan = self.plans(session_clinic.plan_id)
        except Exception:
            return  # the plan file is broken: the selection finds nobody, logged there
        known = [p.id for p in plan.phases]
        if audience.phase not in known:
            raise UnknownPhase(audience.phase, known)
