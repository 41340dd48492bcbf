"""Broadcast copies, sent by the one sender (``ReminderRunner``) with everything else.

A broadcast's copies are rows with a lease, claimed in batches like reminders (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL), re-checked just before the send (still the clinic's active
patient who wants news, not in their quiet hours), sent through the ``BroadcastTransport``
at the Telegram budget's lowest priority, and settled. There is no loop of its own: the
sender calls ``deliver`` in each pass once no reminder is due, so reminders, alerts and
replies go first, and the one budget paces every send of every process. A restart resumes
where delivery stopped; a stop hands back what was claimed and not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from content.loader import load_plan
from scheduler.broadcasts.audience import Audience, AudienceSelector, PlanSource
from scheduler.broadcasts.report import (
    BroadcastReport,
    BroadcastReporter,
    BroadcastTransport,
    build_report,
)
from scheduler.broadcasts.rules import add_copies, hold_until
from scheduler.clock import Clock
from scheduler.outbox.metrics import Kind, Metrics, SendOutcome
from scheduler.outbox.notifier import (
    MessageRejectedError,
    NotSentError,
    RecipientGoneError,
    TransientDeliveryError,
)
from scheduler.outbox.reminders import stop_recipient
from scheduler.outbox.sender import CopyRound
from storage.batching import GroupCommit
from storage.broadcasts import (
    EXPIRED,
    BroadcastRepository,
    ClaimedRecipient,
    RecipientCheck,
)
from storage.database import Database
from storage.models import Broadcast, BroadcastStatus, Clinic

log = logging.getLogger(__name__)


@dataclass
class _Run:
    """One broadcast being delivered in a round: its clinic's name and progress."""

    broadcast: Broadcast
    clinic: str
    held: int = 0  # copies this round gave back until their patient's quiet hours end
    last_progress: float = 0.0
    progress_task: asyncio.Task[None] | None = None


@dataclass
class _Round:
    """The copies one ``deliver`` claimed, in claim order, and the runs they belong to."""

    runs: list[_Run] = field(default_factory=list)
    queue: deque[tuple[_Run, ClaimedRecipient]] = field(default_factory=deque)


def _never() -> bool:
    return False


class BroadcastCopies:
    """Claims, checks, sends and settles broadcast copies for the one sender; safe to run
    in several processes."""

    def __init__(
        self,
        *,
        database: Database,
        transport: BroadcastTransport,
        clock: Clock,
        reporter: BroadcastReporter | None = None,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 50,
        concurrency: int = 16,
        progress_interval: float = 2.0,
        max_attempts: int = 3,
        backoff: float = 1.0,
        send_timeout: float = 600.0,
        plans: PlanSource = load_plan,
        metrics: Metrics | None = None,
    ) -> None:
        """Wire the copies. ``batch``: how many copies a round claims at most;
        ``concurrency``: how many are sent at once; ``backoff``: the first retry's wait after
        a timeout or network error (doubling); ``send_timeout``: how long one send may take
        in all, its wait for the Telegram budget included (a copy is the lowest priority: at a
        morning peak it waits minutes behind reminders, which is not a failure; the HTTP
        request itself has its own timeouts); ``worker_id`` names this process's claims
        (by default a new unique name); each attempt is counted in ``metrics`` (its own when
        not given). The pace is the Telegram budget's, behind ``transport``."""
        self.database = database
        self.transport = transport
        self.clock = clock
        self.reporter = reporter
        self.worker_id = (
            worker_id or f"broadcasts-{socket.gethostname()[:30]}:{uuid.uuid4().hex[:8]}"
        )
        self.lease = lease
        self.batch = max(1, batch)
        self.concurrency = max(1, concurrency)
        self.progress_interval = progress_interval
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.send_timeout = send_timeout
        self.selector = AudienceSelector(plans)
        self.metrics = metrics or Metrics()
        self.sent = 0
        # What ``wake`` calls: the one sender's wake, set when it takes these copies.
        self.on_wake: Callable[[], None] = lambda: None
        self._in_flight: set[int] = set()
        self._sends: set[asyncio.Task[None]] = set()
        self._round_lock = asyncio.Lock()
        # The check before each send and the record after it, written together for the sends
        # that queue up behind each other (one transaction each way instead of one per send).
        self._prepares: GroupCommit[int, str] = GroupCommit(database, self._write_prepares)
        self._sent_marks: GroupCommit[int, bool] = GroupCommit(database, self._write_sent)

    async def _write_prepares(
        self, session: AsyncSession, recipient_ids: Sequence[int]
    ) -> list[str | Exception]:
        """The pre-send checks: still the clinic's active patient who wants news (else
        skipped), and not in their quiet hours (else held until they end, or skipped as
        expired when they end after the broadcast's expiry)."""
        repo = BroadcastRepository(session)
        now = self.clock.now()
        checks, ready = await repo.prepare_many(
            recipient_ids=recipient_ids, owner=self.worker_id, lease_until=now + self.lease
        )
        expired: list[int] = []
        for rid, facts in ready.items():
            until = hold_until(facts, now=now)
            if until == "expired":
                expired.append(rid)
                checks[rid] = RecipientCheck.INACTIVE
            elif until is not None:
                await repo.hold(recipient_id=rid, owner=self.worker_id, until=until)
                checks[rid] = RecipientCheck.HELD
        await repo.skip_many(recipient_ids=expired, owner=self.worker_id, reason=EXPIRED)
        return [checks[rid] for rid in recipient_ids]

    async def _write_sent(
        self, session: AsyncSession, recipient_ids: Sequence[int]
    ) -> list[bool | Exception]:
        recorded = await BroadcastRepository(session).mark_sent_many(
            recipient_ids=recipient_ids, owner=self.worker_id, now=self.clock.now()
        )
        return [rid in recorded for rid in recipient_ids]

    # -- what the one sender calls ------------------------------------------------------

    def wake(self) -> None:
        """Look for due broadcasts now (right after one was confirmed): wakes the sender."""
        self.on_wake()

    async def run_until_idle(self) -> None:
        """Deliver every copy due now, round after round, then return (tests, the demo)."""
        while (await self.deliver(limit=self.batch)).claimed:
            pass

    def cancel_sends(self) -> None:
        """Cancel the sends still under way (the sender's stop grace is over): each keeps its
        claim until the lease runs out, since nobody can tell whether Telegram took it."""
        for task in self._sends:
            task.cancel()

    async def deliver(self, *, limit: int, stopping: Callable[[], bool] = _never) -> CopyRound:
        """One round: start the broadcasts that are due (choosing their recipients), claim up
        to ``limit`` of their copies (oldest broadcast first), send them, settle them, and
        finish the broadcasts with nothing left pending. ``stopping`` is asked before each
        send: once it says yes, what is not started is handed back. Returns how many copies
        were claimed and, when that was fewer than ``limit`` (a full round is followed by
        another at once), when a copy may next be due: a scheduled broadcast, the end of a
        patient's quiet hours, another worker's lease."""
        async with self._round_lock:
            round_ = _Round()
            now = self.clock.now()
            async with self.database.session() as session:
                due = await BroadcastRepository(session).due(now=now)
            for broadcast_id in due:
                if stopping() or len(round_.queue) >= limit:
                    break
                try:
                    await self._claim(round_, broadcast_id, limit - len(round_.queue))
                except Exception:
                    log.exception("delivery of broadcast %s failed", broadcast_id)
            claimed = len(round_.queue)
            if round_.queue:
                await self._send_round(round_, stopping)
            if not stopping():
                for run in round_.runs:
                    try:
                        await self._finish(run)
                    except Exception:
                        log.exception("broadcast %s could not be finished", run.broadcast.id)
            next_due = None
            if claimed < limit:
                async with self.database.session() as session:
                    next_due = await BroadcastRepository(session).next_wake(now=self.clock.now())
        return CopyRound(claimed=claimed, next_wake=next_due)

    # -- delivery -----------------------------------------------------------------------

    async def _begin(self, broadcast_id: int) -> tuple[Broadcast, str] | None:
        """Take the broadcast to sending (choosing its recipients if none were chosen yet);
        the broadcast and its clinic's name if it is sending, else None."""
        now = self.clock.now()
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            if await repo.start(broadcast_id=broadcast_id, now=now):
                if not await repo.has_recipients(broadcast_id=broadcast_id):
                    broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=None)
                    assert broadcast is not None
                    try:
                        audience = Audience.parse(broadcast.audience)
                    except ValueError:
                        log.error("broadcast %s has an invalid audience", broadcast_id)
                        audience = Audience("lang", language="-")  # nobody
                    selected = await self.selector.select(
                        repo, clinic_id=broadcast.clinic_id, audience=audience, now=now
                    )
                    await add_copies(repo, broadcast, selected, now=now)
                log.info("broadcast %s: sending started", broadcast_id)
            await session.commit()
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=None)
            if broadcast is None or broadcast.status is not BroadcastStatus.SENDING:
                return None
            clinic = await session.get(Clinic, broadcast.clinic_id)
        return broadcast, clinic.name if clinic is not None else ""

    async def _claim(self, round_: _Round, broadcast_id: int, limit: int) -> None:
        """Begin the broadcast and claim up to ``limit`` of its copies into the round."""
        begun = await self._begin(broadcast_id)
        if begun is None:
            return
        broadcast, clinic = begun
        run = _Run(broadcast=broadcast, clinic=clinic, last_progress=time.monotonic())
        round_.runs.append(run)
        now = self.clock.now()
        async with self.database.session() as session:
            claimed = await BroadcastRepository(session).claim(
                broadcast_id=broadcast_id,
                owner=self.worker_id,
                now=now,
                lease_until=now + self.lease,
                limit=limit,
                skip_locked=self.database.is_postgresql,
            )
            await session.commit()
        round_.queue.extend((run, recipient) for recipient in claimed)

    async def _send_round(self, round_: _Round, stopping: Callable[[], bool]) -> None:
        """Send the round's copies, ``concurrency`` at once, renewing their claims while
        they wait; what a stop leaves unstarted is handed back at once."""
        loop = asyncio.get_running_loop()
        workers = {
            loop.create_task(self._worker(round_, stopping), name="broadcast-copies")
            for _ in range(min(self.concurrency, len(round_.queue)))
        }
        self._sends |= workers
        keeper = loop.create_task(self._keep_leases(), name="broadcast-leases")
        try:
            await asyncio.gather(*workers, return_exceptions=True)
        finally:
            keeper.cancel()
            self._sends -= workers
            for run in round_.runs:
                if run.progress_task is not None:
                    with contextlib.suppress(Exception):
                        await run.progress_task
            if round_.queue:  # claimed but never started (stopping): free them at once
                unsent = [recipient.id for _, recipient in round_.queue]
                round_.queue.clear()
                await self._release(unsent)

    async def _release(self, recipient_ids: list[int]) -> None:
        """Give claimed rows back at once, so a restart resumes them without waiting for the
        lease (a row whose send was under way keeps its claim: only its lease decides)."""
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            for recipient_id in recipient_ids:
                await repo.release(recipient_id=recipient_id, owner=self.worker_id)
            await session.commit()

    async def _worker(self, round_: _Round, stopping: Callable[[], bool]) -> None:
        while round_.queue and not stopping():
            run, recipient = round_.queue.popleft()
            self._in_flight.add(recipient.id)
            try:
                await self._send_one(run, recipient)
            except Exception:  # the lease frees the row for a later try
                log.exception("broadcast recipient %s failed", recipient.id)
            finally:
                self._in_flight.discard(recipient.id)
            self._maybe_progress(run)

    async def renew_leases(self) -> int:
        """Extend the claims of the copies being sent now. A copy may wait minutes for its
        turn in the Telegram budget at a peak; were its lease to run out meanwhile, another
        worker would claim and send it too. Returns how many claims were renewed."""
        ids = sorted(self._in_flight)
        if not ids:
            return 0
        async with self.database.session() as session:
            renewed = await BroadcastRepository(session).renew(
                recipient_ids=ids, owner=self.worker_id, lease_until=self.clock.now() + self.lease
            )
            await session.commit()
        return renewed

    async def _keep_leases(self) -> None:
        """``renew_leases`` four times a lease, for as long as a round is being sent."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 4)
            try:
                await self.renew_leases()
            except Exception:  # a database hiccup: the next round tries again
                log.exception("broadcast claims could not be renewed")

    async def _send_one(self, run: _Run, recipient: ClaimedRecipient) -> None:
        broadcast = run.broadcast
        attempts = recipient.attempts
        while True:
            check = await self._prepares.submit(recipient.id)
            if check == RecipientCheck.HELD:
                run.held += 1
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.DEFERRED)
            elif check == RecipientCheck.INACTIVE:
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.SKIPPED)
            if check != RecipientCheck.READY:
                return
            try:
                async with asyncio.timeout(self.send_timeout):
                    await self.transport.send(
                        chat_id=recipient.chat_id,
                        text=broadcast.text,
                        photo=broadcast.photo,
                        clinic=run.clinic,
                        language=recipient.language,
                    )
            except NotSentError:  # the stop came while it waited for the budget: give it back
                await self._release([recipient.id])
                return
            except RecipientGoneError as exc:
                await self._gone(recipient, exc.reason)
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.GONE)
                return
            except MessageRejectedError as exc:
                log.warning("broadcast recipient %s rejected: %s", recipient.id, exc.reason)
                await self._settle_failed(recipient, exc.reason)
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.REJECTED)
                return
            except TransientDeliveryError as exc:
                if exc.retry_after is not None:
                    self.metrics.record_send(Kind.BROADCAST, SendOutcome.RETRY)
                    log.warning("broadcast %s: 429, waiting %.1f s", broadcast.id, exc.retry_after)
                    await asyncio.sleep(max(exc.retry_after, 0.0))
                    continue
                reason = exc.reason
            except TimeoutError:
                reason = "timeout"
            except Exception as exc:  # a transport bug: retried like a network error
                log.exception("transport failed on broadcast recipient %s", recipient.id)
                reason = type(exc).__name__
            else:
                recorded = await self._sent_marks.submit(recipient.id)
                self.sent += 1
                # Late against the broadcast's time; a copy held for quiet hours counts that.
                due = broadcast.scheduled_at or broadcast.started_at
                late_by = (self.clock.now() - due).total_seconds() if due else None
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.SENT, late_by=late_by)
                if not recorded:
                    log.warning(
                        "broadcast recipient %s sent after its claim was lost", recipient.id
                    )
                return
            attempts += 1
            log.warning(
                "broadcast recipient %s attempt %s failed: %s", recipient.id, attempts, reason
            )
            if attempts >= self.max_attempts:
                await self._settle_failed(recipient, reason)
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.FAILED)
                return
            async with self.database.session() as session:
                counted = await BroadcastRepository(session).record_attempt(
                    recipient_id=recipient.id, owner=self.worker_id, error=reason
                )
                await session.commit()
            if counted is None:
                return
            attempts = counted
            if attempts >= self.max_attempts:  # counted by an earlier claim too
                await self._settle_failed(recipient, reason, attempted=False)
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.FAILED)
                return
            self.metrics.record_send(Kind.BROADCAST, SendOutcome.RETRY)
            await asyncio.sleep(self.backoff * 2 ** (attempts - 1))

    async def _settle_failed(
        self, recipient: ClaimedRecipient, reason: str, *, attempted: bool = True
    ) -> None:
        async with self.database.session() as session:
            await BroadcastRepository(session).mark_failed(
                recipient_id=recipient.id, owner=self.worker_id, error=reason, attempted=attempted
            )
            await session.commit()

    async def _gone(self, recipient: ClaimedRecipient, reason: str) -> None:
        """The patient blocked the bot: fail the copy, stop the patient, cancel reminders."""
        now = self.clock.now()
        async with self.database.session() as session:
            await BroadcastRepository(session).mark_failed(
                recipient_id=recipient.id, owner=self.worker_id, error=reason
            )
            await stop_recipient(
                session, chat_id=recipient.chat_id, now=now, patient_id=recipient.patient_id
            )
            await session.commit()
        log.info("chat %s is gone (broadcast recipient %s): patient stopped",
                 recipient.chat_id, recipient.id)  # fmt: skip

    # -- reporting ----------------------------------------------------------------------

    def _maybe_progress(self, run: _Run) -> None:
        if self.reporter is None:
            return
        now = time.monotonic()
        busy = run.progress_task is not None and not run.progress_task.done()
        if busy or now - run.last_progress < self.progress_interval:
            return
        run.last_progress = now
        run.progress_task = asyncio.get_running_loop().create_task(self._progress(run))

    async def _progress(self, run: _Run) -> None:
        assert self.reporter is not None
        try:
            report = await self._current_report(run.broadcast.id)
            if report is not None and report.status is BroadcastStatus.SENDING:
                run.last_progress = time.monotonic()
                await self.reporter.progress(report)
        except Exception:
            log.exception("progress report of broadcast %s failed", run.broadcast.id)

    async def _current_report(self, broadcast_id: int) -> BroadcastReport | None:
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=None)
            if broadcast is None:
                return None
            return await build_report(repo, broadcast, self.clock.now())

    async def _finish(self, run: _Run) -> None:
        """Mark the broadcast done when nothing is pending; the one worker that does sends
        the final report (a cancelled broadcast gets its final report too)."""
        now = self.clock.now()
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            done = await repo.finish(broadcast_id=run.broadcast.id, now=now)
            await session.commit()
        if not done:
            async with self.database.session() as session:
                status = await BroadcastRepository(session).status(broadcast_id=run.broadcast.id)
            if status is not BroadcastStatus.CANCELLED:
                # Copies wait for quiet hours, or other workers still hold claims: a later
                # pass finishes it. Staff see at once how many wait.
                if run.held and self.reporter is not None:
                    await self._progress(run)
                return
        report = await self._current_report(run.broadcast.id)
        if done:
            log.info("broadcast %s done", run.broadcast.id)
        if report is None or self.reporter is None:
            return
        try:
            await self.reporter.finished(report)
        except Exception:
            log.exception("final report of broadcast %s failed", run.broadcast.id)
