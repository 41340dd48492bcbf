"""The reminder sender: one loop claims due reminders in batches, sends them, settles them.

APScheduler is only the timer. It holds one job, ``reminders:wake``, set for the next
instant something may be claimable (the earliest due reminder, or the end of a lease another
worker holds) and at most ``refill_interval`` away, so rows planned by another process are
found too. A registration in this process calls ``wake()`` and the sender looks at once.

A pass claims up to ``batch_size`` due reminders in one transaction, sends them with at most
``concurrency`` sends at once (one patient's in due order, never two to one patient at the
same time); outcomes that finish together are settled together, with their delivery-log
rows, in one transaction. Each pass first sends the messages to staff due in the outbox
(``Outbox.drain``: alerts retried after a failed send), most urgent first; once no reminder
is left due, it sends a round of broadcast copies (``CopySource``), the least urgent of all.
So one sender, one claim protocol and one Telegram budget carry everything the bot sends on
its own, in the order of their priority.

A stop stops claiming at once, lets the sends under way finish (up to ``stop_grace``), writes
them down and hands back what was claimed but never started; a send still waiting for the
Telegram budget when the budget stops bulk sends (``NotSentError``) is handed back too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.clock import Clock
from scheduler.outbox.messages import Outbox
from scheduler.outbox.notifier import NotSentError
from scheduler.outbox.reminders import Attempt, Dispatcher, Outcome, PlanMemo
from storage.batching import GroupCommit
from storage.database import Database
from storage.reminders import ClaimedReminder

log = logging.getLogger(__name__)

WAKE_JOB_ID = "reminders:wake"
# When something is due but another worker is still claiming it (its rows are locked), look
# again this soon rather than at once.
BUSY_RETRY = timedelta(milliseconds=50)
# After a pass failed (the database went away), look again this soon.
ERROR_RETRY = timedelta(seconds=5)

# APScheduler drops a job that runs more than misfire_grace_time late (default: 1 second) and
# coalesces missed runs. Our own expiry decides what is stale, so a late wake always runs.
JOB_DEFAULTS: dict[str, Any] = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


@dataclass(frozen=True)
class CopyRound:
    """What one round of broadcast copies did: how many it claimed, and when a copy may
    next be due (None: nothing is waiting, or the round was full and another follows)."""

    claimed: int
    next_wake: datetime | None


class CopySource(Protocol):
    """Broadcast copies, delivered a round at a time by the sender."""

    on_wake: Callable[[], None]  # what the copies call when one is due now: the sender's wake

    async def deliver(self, *, limit: int, stopping: Callable[[], bool]) -> CopyRound:
        """Claim up to ``limit`` due copies, send and settle them; ask ``stopping`` before
        each send and hand back what is not started once it says yes."""
        ...

    def cancel_sends(self) -> None:
        """Cancel the sends still under way (the stop's grace is over)."""
        ...


def new_worker_id() -> str:
    """A name for this process's claims: host, pid and a random part."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class RunnerSettings:
    """How much one pass claims (reminders, and broadcast copies in a round), how many sends
    run at once, how often the sender looks."""

    batch_size: int = 200
    copy_batch: int = 50
    concurrency: int = 64
    refill_interval: timedelta = timedelta(seconds=60)
    stop_grace: timedelta = timedelta(seconds=10)


class ReminderRunner:
    """The one sender of reminders, woken by one APScheduler job."""

    def __init__(
        self,
        *,
        database: Database,
        dispatcher: Dispatcher,
        clock: Clock,
        settings: RunnerSettings | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        """Wire the sender; nothing runs until ``start``. With an ``outbox``, each pass also
        sends the messages to staff that are due there (before the reminders: they are more
        urgent)."""
        self.database = database
        self.dispatcher = dispatcher
        self.outbox = outbox
        self.copies: CopySource | None = None
        self.clock = clock
        self.settings = settings or RunnerSettings()
        self.scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self.delivered: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        self._wanted = asyncio.Event()
        self._progress = asyncio.Condition()
        self._requested = 0  # wakes asked for
        self._served = 0  # wakes a finished pass has answered
        self._armed_at: datetime | None = None  # the timer's instant, by our clock
        self._holding = 0  # reminders claimed and not yet settled
        self._started = False
        self._stopping = False
        self._loop: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._settler: GroupCommit[Attempt, bool] = GroupCommit(database, self._write)

    @property
    def queued(self) -> int:
        """How many reminders this sender has claimed and not yet settled."""
        return self._holding

    async def start(self) -> None:
        """Start the sender loop and the timer, and look for due reminders at once."""
        if self._started:
            return
        self._started = True
        self._stopping = False
        if not self.scheduler.running:
            self.scheduler.start()
        self._loop = asyncio.get_running_loop().create_task(self._run(), name="reminder-sender")
        self.wake()

    def wake(self) -> None:
        """Ask for a pass now (something was planned, or the timer fired)."""
        self._requested += 1
        self._wanted.set()

    def looks_at(self) -> datetime | None:
        """When the sender looks for due reminders again anyway, by our clock: the timer's
        instant while no pass is asked for or under way; None otherwise."""
        if not self._started or self._served != self._requested:
            return None
        return self._armed_at

    def take_copies(self, copies: CopySource) -> None:
        """Send ``copies`` too: a round of them in each pass once no reminder is due; a copy
        due now (a broadcast just confirmed) wakes this sender."""
        self.copies = copies
        copies.on_wake = self.wake

    async def refill(self) -> None:
        """Wake the sender: the hook the care service calls after a change of schedule."""
        self.wake()

    async def shutdown(self) -> None:
        """Stop claiming at once; let sends under way finish (up to ``stop_grace``), settle
        them and hand back the claims not yet started.

        A send still running after the grace is cancelled: it keeps its claim until the lease
        runs out, since nobody can tell whether Telegram took it.
        """
        if not self._started:
            return
        self._started = False
        self._stopping = True
        self._wanted.set()
        if self.scheduler.get_job(WAKE_JOB_ID) is not None:
            self.scheduler.remove_job(WAKE_JOB_ID)
        loop_task = self._loop
        try:
            if loop_task is not None:
                try:
                    async with asyncio.timeout(self.settings.stop_grace.total_seconds()):
                        await asyncio.shield(loop_task)
                except TimeoutError:
                    stuck = [t for t in self._sends if not t.done()]
                    log.warning("%s sends still running at the stop: cancelled", len(stuck))
                    for task in stuck:
                        task.cancel()
                    if self.copies is not None:
                        self.copies.cancel_sends()
                    await loop_task
        finally:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            await self._notify_progress()

    async def wait_idle(self) -> None:
        """Wait until every wake asked for so far has been answered by a finished pass.

        Tests and the demo call this (through ``tick``) after moving a fake clock; wrap it in
        ``asyncio.timeout`` to bound the wait.
        """

        def idle() -> bool:
            return self._served >= self._requested or self._loop is None or self._loop.done()

        async with self._progress:
            await self._progress.wait_for(idle)

    async def tick(self) -> None:
        """Deliver everything due by the clock, and wait until it has been settled."""
        self.wake()
        await self.wait_idle()

    async def _run(self) -> None:
        while self._started:
            await self._wanted.wait()
            self._wanted.clear()
            if not self._started:
                break
            answering = self._requested
            try:
                next_wake = await self._drain()
            except Exception:  # the database went away: the leases keep the rows safe
                log.exception("a pass of the reminder sender failed")
                next_wake = self.clock.now() + ERROR_RETRY
            self._served = answering
            if self._started:
                self._arm(next_wake)
            await self._notify_progress()
        self._served = self._requested
        await self._notify_progress()

    async def _drain(self) -> datetime | None:
        """Claim and send batches until nothing is left due; returns when to look again.

        Messages to staff go first in every round, then reminders; broadcast copies get a
        round only once a batch of reminders came back short (none left due), and after a
        full round of copies the reminders are looked at again.
        """
        expire = True
        while self._started:
            await self._send_messages(expire=expire)
            batch = await self.dispatcher.claim_batch(limit=self.settings.batch_size, expire=expire)
            expire = False
            again = await self._send(batch.claimed) if batch.claimed else None
            if len(batch.claimed) >= self.settings.batch_size:
                continue
            copies = await self._send_copies()
            if copies is not None and copies.claimed >= self.settings.copy_batch:
                continue
            later = None if copies is None else copies.next_wake
            return _earliest(batch.next_wake, again, later, await self._next_message())
        return None

    async def _send_copies(self) -> CopyRound | None:
        """A round of broadcast copies, when this sender takes them."""
        if self.copies is None or not self._started:
            return None
        return await self.copies.deliver(
            limit=self.settings.copy_batch, stopping=lambda: self._stopping
        )

    async def _send_messages(self, *, expire: bool) -> None:
        """Send the outbox's due messages to staff (before each batch of reminders)."""
        if self.outbox is None or self.outbox.notifier is None:
            return
        if expire:
            await self.outbox.expire_and_prune()
        await self.outbox.drain()

    async def _next_message(self) -> datetime | None:
        """When the next message to staff is due (asked once a pass, not once a batch)."""
        return None if self.outbox is None else await self.outbox.next_wake()

    async def _send(self, batch: Sequence[ClaimedReminder]) -> datetime | None:
        """Send a claimed batch; returns the earliest retry or deferral it produced.

        Each send keeps its slot until its outcome is committed, so no more than
        ``concurrency`` sends are ever done but not written down (what a crash could send
        twice); outcomes finishing together are committed together (a group commit).
        """
        by_patient: dict[int, list[ClaimedReminder]] = {}
        for claimed in batch:  # in due order
            by_patient.setdefault(claimed.patient_id, []).append(claimed)
        self._holding = len(batch)
        done: list[Attempt] = []
        untouched: list[int] = []
        plans = PlanMemo(self.dispatcher.plans)

        async def send_to_patient(reminders: list[ClaimedReminder]) -> None:
            for index, claimed in enumerate(reminders):
                async with self._semaphore:
                    if self._stopping:
                        untouched.extend(r.id for r in reminders[index:])
                        return
                    try:
                        attempt = await self.dispatcher.attempt(claimed, plans=plans)
                        # Shielded: a send that went out is written down even if this task is
                        # cancelled at the stop.
                        lost = await asyncio.shield(self._settler.submit(attempt))
                    except NotSentError:  # the stop came while it waited for the budget
                        untouched.extend(r.id for r in reminders[index:])
                        return
                    except asyncio.CancelledError:  # this one keeps its claim: maybe sent
                        untouched.extend(r.id for r in reminders[index + 1 :])
                        raise
                    except Exception:  # the lease keeps the rest; they are retaken later
                        log.exception("reminder %s could not be sent or settled", claimed.id)
                        return
                self._holding -= 1
                self.delivered[attempt.outcome] += 1
                self.dispatcher.record([attempt], lost={claimed.id} if lost else set())
                done.append(attempt)
                if attempt.gone:  # the rest are cancelled with the patient
                    return

        loop = asyncio.get_running_loop()
        tasks = {loop.create_task(send_to_patient(group)) for group in by_patient.values()}
        self._sends |= tasks
        try:
            await asyncio.wait(tasks)
            if untouched:
                await self.dispatcher.settle([], hand_back=untouched)
                log.info("%s claimed reminders handed back unsent at the stop", len(untouched))
        finally:
            self._sends -= tasks
            self._holding = 0
        await self._notify_progress()
        return min((a.next_due for a in done if a.next_due is not None), default=None)

    async def _write(
        self, session: AsyncSession, attempts: Sequence[Attempt]
    ) -> list[bool | Exception]:
        """The group commit's writer: whether each attempt's claim was lost."""
        lost = await self.dispatcher.write(session, attempts)
        return [a.claimed.id in lost for a in attempts]

    def _arm(self, next_wake: datetime | None) -> None:
        """Set the one timer job for ``next_wake`` by our clock (or the refill interval)."""
        now = self.clock.now()
        at = now + self.settings.refill_interval
        if next_wake is not None:
            at = min(at, max(next_wake, now + BUSY_RETRY))
        self._armed_at = at
        # With a fake clock that jumped ahead the real instant differs from the clock's.
        run_date = datetime.now(UTC) + (at - now)
        self.scheduler.add_job(
            self._timer_fired,
            "date",
            run_date=run_date,
            id=WAKE_JOB_ID,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def _timer_fired(self) -> None:
        self.wake()

    async def _notify_progress(self) -> None:
        async with self._progress:
            self._progress.notify_all()


def _earliest(*instants: datetime | None) -> datetime | None:
    return min((i for i in instants if i is not None), default=None)
