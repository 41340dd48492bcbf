"""``BroadcastSender`` delivers due broadcasts: it claims recipient rows atomically (safe with
several processes on one database), sends through a ``BroadcastTransport`` at no more than
``rate`` messages a second overall and one per ``per_chat_interval`` to a chat, and records each
outcome, so a restart resumes where delivery stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from content.loader import load_plan
from scheduler.broadcasts.audience import Audience, AudienceSelector, PlanSource
from scheduler.broadcasts.pacing import Pacer
from scheduler.broadcasts.report import (
    BroadcastReport,
    BroadcastReporter,
    BroadcastTransport,
    build_report,
)
from scheduler.broadcasts.rules import hold_until
from scheduler.clock import Clock, MonotonicClock, SystemMonotonic
from scheduler.outbox.metrics import Kind, Metrics, SendOutcome
from scheduler.outbox.notifier import (
    MessageRejectedError,
    NotSentError,
    RecipientGoneError,
    TransientDeliveryError,
)
from scheduler.outbox.reminders import stop_recipient
from storage.batching import GroupCommit
from storage.broadcasts import (
    EXPIRED,
    BroadcastRepository,
    ClaimedRecipient,
    NewRecipient,
    RecipientCheck,
)
from storage.database import Database
from storage.models import Broadcast, BroadcastStatus, Clinic

log = logging.getLogger(__name__)


# How long a stop lets the sends under way finish (the HTTP request of one takes a few
# seconds at most; a copy waiting for the budget at a peak could wait minutes).
STOP_GRACE = 5.0


@dataclass
class _Run:
    """One broadcast being delivered by this sender: its claimed rows and progress."""

    broadcast: Broadcast
    clinic: str
    buffer: deque[ClaimedRecipient]
    exhausted: bool = False
    held: int = 0  # copies this run gave back until their patient's quiet hours end
    last_progress: float = 0.0
    progress_task: asyncio.Task[None] | None = None


class BroadcastSender:
    """Delivers due broadcasts in the background; safe to run in several processes."""

    def __init__(
        self,
        *,
        database: Database,
        transport: BroadcastTransport,
        clock: Clock,
        reporter: BroadcastReporter | None = None,
        rate: float = 30.0,
        per_chat_interval: float = 1.0,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 50,
        concurrency: int = 16,
        poll_interval: float = 5.0,
        progress_interval: float = 2.0,
        max_attempts: int = 3,
        backoff: float = 1.0,
        send_timeout: float = 600.0,
        plans: PlanSource = load_plan,
        margin: float = 0.03,
        metrics: Metrics | None = None,
        monotonic: MonotonicClock | None = None,
    ) -> None:
        """Wire the sender. ``rate``: messages a second overall; ``per_chat_interval``:
        seconds between two messages to one chat; ``backoff``: the first retry's wait after
        a timeout or network error (doubling); ``send_timeout``: how long one send may take
        in all, its wait for the Telegram budget included (a copy is the lowest priority: at a
        morning peak it waits minutes behind reminders, which is not a failure; the HTTP
        request itself has its own timeouts); ``worker_id`` names this process's claims
        (by default a new unique name); ``margin``: see ``Pacer``; each attempt is counted in
        ``metrics`` (its own when not given); ``monotonic``: the clock the pacing (overall and
        per chat) reads and waits on, the real one unless given."""
        self.database = database
        self.transport = transport
        self.clock = clock
        self.reporter = reporter
        self.monotonic = monotonic or SystemMonotonic()
        self.pacer = Pacer(rate, margin=margin, clock=self.monotonic)
        self.per_chat_interval = per_chat_interval
        self.worker_id = (
            worker_id or f"broadcasts-{socket.gethostname()[:30]}:{uuid.uuid4().hex[:8]}"
        )
        self.lease = lease
        self.batch = max(1, batch)
        self.concurrency = max(1, concurrency)
        self.poll_interval = poll_interval
        self.progress_interval = progress_interval
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.send_timeout = send_timeout
        self.selector = AudienceSelector(plans)
        self.metrics = metrics or Metrics()
        self.sent = 0
        self._in_flight: set[int] = set()
        self._last_to_chat: dict[int, float] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._pass_lock = asyncio.Lock()
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

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start polling for due broadcasts in the background."""
        if self._task is not None and not self._task.done():
            return
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="broadcasts")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop claiming at once; sends under way have ``grace`` seconds to finish, then
        are cancelled (a copy still waiting its turn in the Telegram budget was not sent:
        its row keeps its claim until the lease runs out, then any worker takes it again;
        rows claimed and not started are given back at once)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                async with asyncio.timeout(grace):
                    await asyncio.shield(task)
            except TimeoutError:
                log.warning("broadcast sends still waiting after %.0f s: cancelled", grace)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Look for due broadcasts now (e.g. right after one was confirmed)."""
        self._wake.set()

    async def run_until_idle(self) -> None:
        """Deliver everything due now, then return (for tests and the demo)."""
        await self._pass()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self._pass()
            except Exception:  # a database hiccup must not end the loop
                log.exception("broadcast pass failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            self._wake.clear()

    # -- delivery -----------------------------------------------------------------------

    async def _pass(self) -> None:
        """One look at the due broadcasts, delivering each as far as this worker can."""
        async with self._pass_lock:
            async with self.database.session() as session:
                due = await BroadcastRepository(session).due(now=self.clock.now())
            for broadcast_id in due:
                if self._stopping:
                    return
                try:
                    await self._deliver(broadcast_id)
                except Exception:
                    log.exception("delivery of broadcast %s failed", broadcast_id)

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
                    await repo.add_recipients(
                        broadcast_id=broadcast_id,
                        recipients=[NewRecipient(c.patient_id, c.chat_id) for c in selected],
                    )
                log.info("broadcast %s: sending started", broadcast_id)
            await session.commit()
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=None)
            if broadcast is None or broadcast.status is not BroadcastStatus.SENDING:
                return None
            clinic = await session.get(Clinic, broadcast.clinic_id)
        return broadcast, clinic.name if clinic is not None else ""

    async def _deliver(self, broadcast_id: int) -> None:
        begun = await self._begin(broadcast_id)
        if begun is None:
            return
        broadcast, clinic = begun
        run = _Run(
            broadcast=broadcast, clinic=clinic, buffer=deque(), last_progress=time.monotonic()
        )
        claim_lock = asyncio.Lock()
        workers = [
            asyncio.create_task(self._worker(run, claim_lock), name=f"broadcast-{broadcast_id}")
            for _ in range(self.concurrency)
        ]
        keeper = asyncio.create_task(self._keep_leases(), name=f"broadcast-{broadcast_id}-leases")
        try:
            await asyncio.gather(*workers)
        finally:
            keeper.cancel()
            for task in workers:
                task.cancel()
            if run.progress_task is not None:
                with contextlib.suppress(Exception):
                    await run.progress_task
            if run.buffer:  # claimed but never started (stopping): free them for the next run
                await self._release([r.id for r in run.buffer])
                run.buffer.clear()
        if not self._stopping:
            await self._finish(run)

    async def _release(self, recipient_ids: list[int]) -> None:
        """Give claimed rows back at once, so a restart resumes them without waiting for the
        lease (a row whose send was under way keeps its claim: only its lease decides)."""
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            for recipient_id in recipient_ids:
                await repo.release(recipient_id=recipient_id, owner=self.worker_id)
            await session.commit()

    async def _next(self, run: _Run, claim_lock: asyncio.Lock) -> ClaimedRecipient | None:
        """The next claimed recipient for a worker, claiming a batch when none is left."""
        async with claim_lock:
            if self._stopping:
                return None
            if not run.buffer and not run.exhausted:
                now = self.clock.now()
                async with self.database.session() as session:
                    claimed = await BroadcastRepository(session).claim(
                        broadcast_id=run.broadcast.id,
                        owner=self.worker_id,
                        now=now,
                        lease_until=now + self.lease,
                        limit=self.batch,
                        skip_locked=self.database.is_postgresql,
                    )
                    await session.commit()
                run.buffer.extend(claimed)
                run.exhausted = not claimed
            return run.buffer.popleft() if run.buffer else None

    async def _worker(self, run: _Run, claim_lock: asyncio.Lock) -> None:
        while not self._stopping:
            recipient = await self._next(run, claim_lock)
            if recipient is None:
                return
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
        """``renew_leases`` four times a lease, for as long as a broadcast is being sent."""
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
            await self._chat_turn(recipient.chat_id)
            await self.pacer.acquire()
            self._last_to_chat[recipient.chat_id] = self.monotonic.monotonic()
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
                    log.warning("broadcast %s: 429, pausing %.1f s", broadcast.id, exc.retry_after)
                    self.pacer.pause(max(exc.retry_after, 0.0))
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

    async def _chat_turn(self, chat_id: int) -> None:
        """Wait until the chat's last message from us is ``per_chat_interval`` old."""
        last = self._last_to_chat.get(chat_id)
        if last is not None:
            wait = last + self.per_chat_interval - self.monotonic.monotonic()
            if wait > 0:
                await self.monotonic.sleep(wait)
        if len(self._last_to_chat) > 100_000:  # forget chats last written long ago
            horizon = self.monotonic.monotonic() - self.per_chat_interval
            self._last_to_chat = {c: t for c, t in self._last_to_chat.items() if t > horizon}

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
