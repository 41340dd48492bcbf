"""The reminder loop: APScheduler holds jobs for a short look-ahead window rebuilt from the DB."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from scheduler.clock import Clock
from scheduler.delivery import Dispatcher, Outcome
from scheduler.turns import Turns
from storage.database import Database
from storage.repositories import ReminderRepository

log = logging.getLogger(__name__)

REFILL_JOB_ID = "reminders:refill"
RESCHEDULE_SLACK = timedelta(seconds=1)

# APScheduler drops a job that runs more than misfire_grace_time late (default: 1 second) and
# coalesces missed runs. Our own expiry decides what is stale, so a late job always runs.
JOB_DEFAULTS: dict[str, Any] = {"misfire_grace_time": None, "coalesce": False, "max_instances": 1}


def new_worker_id() -> str:
    """A name for this process's claims: host, pid and a random part."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def job_id(reminder_id: int) -> str:
    """The APScheduler job id of a reminder, so a refill never doubles a job."""
    return f"reminder:{reminder_id}"


@dataclass(frozen=True)
class RunnerSettings:
    """How far ahead jobs are queued, how often the window is refilled, how many sends at once."""

    lookahead: timedelta = timedelta(minutes=10)
    refill_interval: timedelta = timedelta(seconds=60)
    max_jobs: int = 20_000
    concurrency: int = 8


class ReminderRunner:
    """Keeps APScheduler's queue filled with the reminders due soon and delivers them."""

    def __init__(
        self,
        *,
        database: Database,
        dispatcher: Dispatcher,
        clock: Clock,
        settings: RunnerSettings | None = None,
        scheduler: AsyncIOScheduler | None = None,
    ) -> None:
        """Use ``scheduler`` (e.g. python-telegram-bot's JobQueue's) or own a new one."""
        self.database = database
        self.dispatcher = dispatcher
        self.clock = clock
        self.settings = settings or RunnerSettings()
        self._owns_scheduler = scheduler is None
        self.scheduler = scheduler or AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        # reminder id -> (due instant by the clock, real instant APScheduler will run it)
        self._scheduled: dict[int, tuple[datetime, datetime]] = {}
        self._session_of: dict[int, int] = {}
        self._inflight: set[int] = set()
        self._session_turns = Turns()
        self._background: set[asyncio.Task[int]] = set()
        self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        self._refill_lock = asyncio.Lock()
        self._progress = asyncio.Condition()
        self._saturated = False
        self._started = False
        self.delivered: dict[Outcome, int] = dict.fromkeys(Outcome, 0)

    @property
    def queued(self) -> int:
        """How many reminder jobs are queued in APScheduler now."""
        return len(self._scheduled)

    async def start(self) -> None:
        """Expire what went stale while we were down, then queue what is due soon and start."""
        self.scheduler.add_job(
            self.refill,
            "interval",
            seconds=self.settings.refill_interval.total_seconds(),
            id=REFILL_JOB_ID,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )
        if self._owns_scheduler and not self.scheduler.running:
            self.scheduler.start()
        self._started = True
        await self.refill()

    async def shutdown(self) -> None:
        """Stop queueing and let sends already under way finish (each is bounded by its lease).

        Wrap in ``asyncio.timeout`` to bound the wait; an unfinished send keeps its claim
        until the lease runs out, then another worker takes it again.
        """
        self._started = False
        for reminder_id in list(self._scheduled):
            self._remove_job(reminder_id)
        if self.scheduler.get_job(REFILL_JOB_ID) is not None:
            self.scheduler.remove_job(REFILL_JOB_ID)
        try:
            async with self._progress:
                await self._progress.wait_for(lambda: not self._inflight)
        finally:
            if self._owns_scheduler and self.scheduler.running:
                self.scheduler.shutdown(wait=False)

    async def refill(self) -> int:
        """Expire stale reminders and queue every one due within the look-ahead window.

        Returns how many jobs were added or moved. Safe to call at any time and from any
        number of processes: a job only ever delivers after an atomic claim.
        """
        if not self._started:
            return 0
        async with self._refill_lock:
            now = self.clock.now()
            async with self.database.session() as session:
                repo = ReminderRepository(session)
                expired = await repo.expire_stale(now=now)
                due = await repo.due_before(
                    horizon=now + self.settings.lookahead, now=now, limit=self.settings.max_jobs
                )
                await session.commit()
            if expired:
                log.info("%s reminders expired unsent (stale)", expired)
            self._saturated = len(due) >= self.settings.max_jobs
            changed = 0
            for reminder_id, due_at, session_id in due:
                queued = self._scheduled.get(reminder_id)
                if reminder_id in self._inflight or (
                    queued is not None
                    and queued[0] == due_at
                    and queued[1] <= self._run_date(due_at) + RESCHEDULE_SLACK
                ):
                    continue
                self._session_of[reminder_id] = session_id
                self._schedule(reminder_id, due_at)
                changed += 1
            return changed

    def _run_date(self, due_at: datetime) -> datetime:
        """The real instant at which a reminder due at ``due_at`` by our clock must run.

        With the system clock the two are the same; with a fake clock that has jumped ahead,
        a job queued before the jump is brought forward.
        """
        return datetime.now(UTC) + max(due_at - self.clock.now(), timedelta(0))

    def _schedule(self, reminder_id: int, due_at: datetime) -> None:
        run_date = self._run_date(due_at)
        self.scheduler.add_job(
            self._fire,
            "date",
            run_date=run_date,
            args=[reminder_id],
            id=job_id(reminder_id),
            replace_existing=True,
            misfire_grace_time=None,
        )
        self._scheduled[reminder_id] = (due_at, run_date)

    def _remove_job(self, reminder_id: int) -> None:
        self._scheduled.pop(reminder_id, None)
        if self.scheduler.get_job(job_id(reminder_id)) is not None:
            self.scheduler.remove_job(job_id(reminder_id))

    async def _fire(self, reminder_id: int) -> None:
        """The job: deliver one reminder. Sends to one patient go out in due order."""
        self._scheduled.pop(reminder_id, None)
        self._inflight.add(reminder_id)
        session_id = self._session_of.pop(reminder_id, None)
        turn = (
            self._session_turns.hold(session_id)
            if session_id is not None
            else contextlib.nullcontext()
        )
        try:
            async with self._semaphore, turn:
                result = await self.dispatcher.deliver(reminder_id)
            self.delivered[result.outcome] += 1
            if (
                self._started
                and result.next_due is not None
                and result.next_due <= self.clock.now() + self.settings.lookahead
            ):
                if session_id is not None:
                    self._session_of[reminder_id] = session_id
                self._schedule(reminder_id, result.next_due)
        except Exception:  # a database hiccup must not stop the loop; the lease frees the row
            log.exception("delivery of reminder %s failed", reminder_id)
        finally:
            self._inflight.discard(reminder_id)
            await self._notify_progress()
            if self._saturated and not self._scheduled and self._started:
                self._saturated = False
                self._background.add(asyncio.get_running_loop().create_task(self.refill()))
                self._background = {t for t in self._background if not t.done()}

    async def wait_idle(self) -> None:
        """Wait until no queued job is due by the clock and no send is under way.

        Tests and the demo call this after moving a fake clock and refilling; wrap it in
        ``asyncio.timeout`` to bound the wait.
        """

        def idle() -> bool:
            now = self.clock.now()
            return not self._inflight and all(due > now for due, _ in self._scheduled.values())

        async with self._progress:
            await self._progress.wait_for(idle)

    async def tick(self) -> None:
        """Queue what the clock says is due, and wait until it has been delivered."""
        await self.refill()
        await self.wait_idle()

    async def _notify_progress(self) -> None:
        async with self._progress:
            self._progress.notify_all()
