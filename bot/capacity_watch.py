"""Tells a clinic's admins a day ahead when a delivery window their patients are in will
overflow the Telegram budget (each window once, whichever process sees it first)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from datetime import timedelta

from content.texts import Texts
from scheduler.care.planning import load_zone
from scheduler.clinics.service import ClinicService
from scheduler.outbox.budget import Priority
from scheduler.outbox.messages import MessageKind, Outbox, Post, Recipient
from scheduler.outbox.windows import CapacityService, WindowLoad

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(hours=1)


class CapacityWatch:
    """Looks a day ahead every hour; an over-full window is logged and told to the admins of
    each clinic with patients in it, in the clinic's time zone."""

    def __init__(
        self,
        *,
        capacity: CapacityService,
        clinics: ClinicService,
        outbox: Outbox,
        texts: Texts,
        every: timedelta = CHECK_EVERY,
    ) -> None:
        """``texts``: the staff catalogue (staff read English)."""
        self.capacity = capacity
        self.clinics = clinics
        self.outbox = outbox
        self.texts = texts
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Check now, then every hour, until stopped."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop looking; a check under way is cancelled (it is repeated at the next start)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # a database hiccup: look again at the next hour
                log.exception("the capacity check failed")
            await asyncio.sleep(self.every.total_seconds())

    async def check(self) -> int:
        """Announce the windows that will overflow; returns how many messages were sent."""
        sent = 0
        for load in await self.capacity.overflows_to_announce():
            for clinic_id, mine in load.window.clinics:
                sent += await self._tell_admins(clinic_id, mine, load)
        return sent

    async def _tell_admins(self, clinic_id: int, mine: int, load: WindowLoad) -> int:
        clinic = await self.clinics.clinic(clinic_id=clinic_id)
        if clinic is None:
            return 0
        zone = load_zone(clinic.timezone)
        start = load.window.start.astimezone(zone)
        end = load.window.end.astimezone(zone)
        text = self.texts.render(
            "staff.capacity_warning",
            when=f"{start:%a %d %b}, {start:%H:%M}-{end:%H:%M}",
            mine=f"{mine:,}",
            count=f"{load.window.count:,}",
            capacity=f"{load.capacity:,}",
            late=f"{load.late:,}",
            minutes=math.ceil(load.late_by.total_seconds() / 60),
        )
        admins = [
            Recipient(chat_id=m.chat_id, staff_id=m.id)
            for m in await self.clinics.team(clinic_id=clinic_id)
            if m.is_admin
        ]
        return await self.outbox.post_and_send(
            Post(
                kind=MessageKind.NOTICE,
                priority=Priority.REMINDER,
                recipients=admins,
                body=text,
                clinic_id=clinic_id,
            )
        )
