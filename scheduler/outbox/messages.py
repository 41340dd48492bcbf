"""The outbox for messages to staff: alerts and patients' answers, kept until delivered.

A handler posts the messages and sends them at once (``post_and_send``: claimed first, like
any delivery, so no other process takes them meanwhile); what could not go (a 429 past its
retries, a timeout, Telegram down, a crash between the post and the send) stays pending and
the one sender (``ReminderRunner``) takes it again with backoff until it goes or expires. A
member of staff who blocked the bot gets nothing more; a removed member's and a deleted
patient's messages go with their rows. Message texts are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from scheduler.clock import Clock
from scheduler.outbox.metrics import Kind, Metrics, SendOutcome
from scheduler.outbox.notifier import (
    MessageRejectedError,
    NotSentError,
    RecipientGoneError,
    TransientDeliveryError,
)
from storage.database import Database
from storage.delivery_log import DeliveryLogRepository
from storage.models import MessageStatus
from storage.outbox import ClaimedMessage, NewMessage, OutboxRepository, SettledMessage

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
GONE = "gone"  # the error of a message whose chat blocked the bot or no longer exists


class MessageKind(StrEnum):
    """What a message in the outbox is."""

    ALERT = "alert"  # an escalation, a booking request: pushed to every member of staff
    RELAY = "relay"  # a patient's answer to the clinic, passed on to its staff
    NOTICE = "notice"  # news for the clinic's admins (a delivery window that will overflow)


@dataclass(frozen=True)
class OutgoingMessage:
    """A message of the outbox as the notifier sends it."""

    message_id: int
    chat_id: int
    body: str
    buttons: str | None
    priority: int


class MessageNotifier(Protocol):
    """Sends an outbox message, or raises a DeliveryError."""

    async def send_message(self, message: OutgoingMessage) -> None:
        """Deliver ``message``; return only once the other side accepted it."""
        ...


@dataclass(frozen=True)
class OutboxPolicy:
    """How long a message is worth sending, how long a claim lasts, how sends are retried."""

    lifetime: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(minutes=2)
    send_timeout: timedelta = timedelta(seconds=60)
    max_attempts: int = 10
    base_backoff: timedelta = timedelta(seconds=15)
    max_backoff: timedelta = timedelta(minutes=15)
    keep_done: timedelta = timedelta(days=90)

    def backoff(self, attempt: int, retry_after: float | None) -> timedelta:
        """The wait before the next attempt: what the other side asked for, else exponential."""
        if retry_after is not None:
            return timedelta(seconds=max(retry_after, 1.0))
        wait: timedelta = self.base_backoff * (2 ** max(attempt - 1, 0))
        return min(wait, self.max_backoff)


@dataclass(frozen=True)
class Recipient:
    """A member of staff a message goes to."""

    chat_id: int
    staff_id: int | None = None


@dataclass(frozen=True)
class Post:
    """One message for some members of staff: what it is, how urgent, its text and buttons
    (rendered, as JSON), and the clinic and patient it is about."""

    kind: MessageKind
    priority: int
    recipients: Sequence[Recipient]
    body: str
    buttons: str | None = None
    clinic_id: int | None = None
    patient_id: int | None = None


@dataclass(frozen=True)
class _Round:
    """One claim of messages: how many were claimed, how many went, whether any will be
    tried again."""

    claimed: int
    sent: int
    retrying: bool


class Outbox:
    """Posts messages to staff and gets them delivered, at least once, never twice by two
    processes at the same time."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        worker_id: str,
        notifier: MessageNotifier | None = None,
        policy: OutboxPolicy | None = None,
        metrics: Metrics | None = None,
        on_posted: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Wire the outbox. Without a ``notifier`` (a worker with no token) messages are
        posted but never claimed here: a process that can send takes them."""
        self.database = database
        self.clock = clock
        self.worker_id = worker_id
        self.notifier = notifier
        self.policy = policy or OutboxPolicy()
        self.metrics = metrics or Metrics()
        self.on_posted = on_posted
        self._pruned_at: datetime | None = None

    async def post(self, post: Post) -> list[int]:
        """Put one message for each recipient in the outbox, in one transaction."""
        now = self.clock.now()
        messages = [
            NewMessage(
                kind=post.kind.value,
                priority=post.priority,
                chat_id=r.chat_id,
                body=post.body,
                buttons=post.buttons,
                due_at=now,
                expires_at=now + self.policy.lifetime,
                clinic_id=post.clinic_id,
                staff_id=r.staff_id,
                patient_id=post.patient_id,
            )
            for r in post.recipients
        ]
        if not messages:
            return []
        async with self.database.session() as session:
            ids = await OutboxRepository(session).add(messages=messages, now=now)
            await session.commit()
        return ids

    async def post_and_send(self, post: Post) -> int:
        """Post the messages, then send them at once; returns how many went now. Those that
        did not go are the sender's to retry."""
        ids = await self.post(post)
        if not ids:
            return 0
        if self.notifier is None:
            await self._posted()
            return 0
        done = await self._claim_and_send(ids=ids)
        if done.retrying:
            await self._posted()
        return done.sent

    async def drain(self, *, limit: int = 100) -> int:
        """Claim the due messages (most urgent first), send them, write down what became of
        them; returns how many were sent."""
        if self.notifier is None:
            return 0
        sent = 0
        while True:
            done = await self._claim_and_send(limit=limit)
            sent += done.sent
            if done.claimed < limit:
                return sent

    async def next_wake(self) -> datetime | None:
        """When the sender should look again: the next message due, or the end of a lease
        another process holds (None when nothing waits, or nothing can send here)."""
        if self.notifier is None:
            return None
        async with self.database.session() as session:
            return await OutboxRepository(session).next_wake(now=self.clock.now())

    async def expire_and_prune(self) -> tuple[int, int]:
        """Mark stale messages expired and, at most once an hour, delete those done with
        long ago (``keep_done``) and the delivery log's attempts as old; returns how many
        messages expired and how many rows were deleted."""
        now = self.clock.now()
        async with self.database.session() as session:
            repo = OutboxRepository(session)
            expired = await repo.expire_stale(now=now)
            pruned = 0
            if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                before = now - self.policy.keep_done
                pruned = await repo.prune(finished_before=before)
                pruned += await DeliveryLogRepository(session).prune(before=before)
                self._pruned_at = now
            await session.commit()
        if expired:
            log.warning("%s messages to staff expired unsent", expired)
        if pruned:
            log.info("%s delivered messages and attempts older than %s pruned", pruned,
                     self.policy.keep_done)  # fmt: skip
        return expired, pruned

    async def _claim_and_send(
        self, *, ids: Sequence[int] | None = None, limit: int = 100
    ) -> _Round:
        """Claim (``ids`` only, when given), send each chat's messages in order, settle."""
        now = self.clock.now()
        async with self.database.session() as session:
            claimed = await OutboxRepository(session).claim(
                owner=self.worker_id,
                now=now,
                lease_until=now + self.policy.lease,
                limit=len(ids) if ids is not None else limit,
                skip_locked=self.database.is_postgresql,
                ids=ids,
            )
            await session.commit()
        if not claimed:
            return _Round(0, 0, retrying=False)
        by_chat: dict[int, list[ClaimedMessage]] = {}
        for message in claimed:
            by_chat.setdefault(message.chat_id, []).append(message)
        results = await asyncio.gather(*(self._send_chat(group) for group in by_chat.values()))
        outcomes = [outcome for group in results for outcome in group]
        chat_of = {m.id: m.chat_id for m in claimed}
        gone = {chat_of[o.message_id] for o in outcomes if o.error == GONE}
        async with self.database.session() as session:
            repo = OutboxRepository(session)
            ours = await repo.settle(owner=self.worker_id, outcomes=outcomes)
            for chat_id in gone:
                await repo.cancel_for_chat(chat_id=chat_id, now=self.clock.now())
            await session.commit()
        sent = 0
        for outcome in outcomes:
            if outcome.status is MessageStatus.SENT:
                sent += 1
                if outcome.message_id not in ours:
                    log.warning("message %s was sent after its claim was lost", outcome.message_id)
        retrying = any(o.status is MessageStatus.PENDING for o in outcomes)
        return _Round(len(claimed), sent, retrying=retrying)

    async def _send_chat(self, messages: list[ClaimedMessage]) -> list[SettledMessage]:
        """One chat's messages in order; once the chat is gone the rest are cancelled."""
        outcomes: list[SettledMessage] = []
        for index, message in enumerate(messages):
            outcome = await self._attempt(message)
            outcomes.append(outcome)
            if outcome.error == GONE:
                outcomes.extend(
                    SettledMessage(m.id, MessageStatus.CANCELLED, outcome.at, GONE)
                    for m in messages[index + 1 :]
                )
                break
        return outcomes

    async def _attempt(self, message: ClaimedMessage) -> SettledMessage:
        """Send one claimed message; never raises for a failed send."""
        assert self.notifier is not None
        outgoing = OutgoingMessage(
            message.id, message.chat_id, message.body, message.buttons, message.priority
        )
        late_by = (self.clock.now() - message.due_at).total_seconds()
        try:
            async with asyncio.timeout(self.policy.send_timeout.total_seconds()):
                await self.notifier.send_message(outgoing)
        except RecipientGoneError as exc:
            self.metrics.record_send(Kind.ALERT, SendOutcome.GONE)
            log.info("message %s: its chat is gone (%s)", message.id, exc.reason)
            return SettledMessage(message.id, MessageStatus.FAILED, self.clock.now(), GONE)
        except MessageRejectedError as exc:
            self.metrics.record_send(Kind.ALERT, SendOutcome.REJECTED)
            log.warning("message %s rejected: %s", message.id, exc.reason)
            return SettledMessage(message.id, MessageStatus.FAILED, self.clock.now(), exc.reason)
        except NotSentError:  # a notice waiting for the budget at a stop: due again at once
            now = self.clock.now()
            return SettledMessage(message.id, MessageStatus.PENDING, now, "stopping", due_at=now)
        except TransientDeliveryError as exc:
            return self._retry(message, exc.reason, exc.retry_after)
        except TimeoutError:
            return self._retry(message, "timeout", None)
        except Exception as exc:  # a notifier bug must not lose the message
            log.exception("notifier failed on message %s", message.id)
            return self._retry(message, type(exc).__name__, None)
        self.metrics.record_send(Kind.ALERT, SendOutcome.SENT, late_by=late_by)
        return SettledMessage(message.id, MessageStatus.SENT, self.clock.now())

    def _retry(
        self, message: ClaimedMessage, reason: str, retry_after: float | None
    ) -> SettledMessage:
        now = self.clock.now()
        log.warning("message %s attempt %s failed: %s", message.id, message.attempts, reason)
        due = now + self.policy.backoff(message.attempts, retry_after)
        if message.attempts >= self.policy.max_attempts or due >= message.expires_at:
            self.metrics.record_send(Kind.ALERT, SendOutcome.FAILED)
            return SettledMessage(message.id, MessageStatus.FAILED, now, reason)
        self.metrics.record_send(Kind.ALERT, SendOutcome.RETRY)
        return SettledMessage(message.id, MessageStatus.PENDING, now, reason, due_at=due)

    async def _posted(self) -> None:
        if self.on_posted is not None:
            await self.on_posted()
