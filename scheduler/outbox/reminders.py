"""Delivery of reminders: claim due ones in batches, send each through the Notifier, settle
many at once (their new state and their delivery-log rows in one transaction)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from content.plan import DEFAULT_WINDOW_MINUTES, ButtonAction, CarePlan, day_of_healing
from scheduler.care.planning import QuietHours, catch_up_phase, load_zone
from scheduler.clock import Clock
from scheduler.outbox.metrics import Metrics, SendOutcome, reminder_kind
from scheduler.outbox.notifier import (
    MessageRejectedError,
    Notifier,
    NotSentError,
    OutgoingReminder,
    RecipientGoneError,
    TransientDeliveryError,
)
from storage.database import Database
from storage.delivery_log import NewLogEntry
from storage.models import DeliveryOutcome, ReminderStatus
from storage.patients import PatientRepository
from storage.reminders import ClaimedReminder, ReminderRepository, Settled

log = logging.getLogger(__name__)

DEFAULT_WINDOW = timedelta(minutes=DEFAULT_WINDOW_MINUTES)


class PlanSource(Protocol):
    """Finds a care plan by id, worded in a language (its own, English, when not given)."""

    def __call__(self, plan_id: str, language: str = ..., /) -> CarePlan:
        """The plan ``plan_id`` in ``language``."""
        ...


@dataclass(frozen=True)
class DeliveryPolicy:
    """How long a claim lasts and how failed sends are retried."""

    lease: timedelta = timedelta(minutes=2)
    send_timeout: timedelta = timedelta(seconds=45)
    max_attempts: int = 5
    base_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)

    def backoff(self, attempt: int, retry_after: float | None) -> timedelta:
        """The wait before the next attempt: what the other side asked for, else exponential."""
        if retry_after is not None:
            return timedelta(seconds=max(retry_after, 1.0))
        wait: timedelta = self.base_backoff * (2 ** max(attempt - 1, 0))
        return min(wait, self.max_backoff)


# How each delivery-log outcome is counted in the metrics (a rejection says so itself).
COUNTED_AS = {
    DeliveryOutcome.SENT: SendOutcome.SENT,
    DeliveryOutcome.RETRY: SendOutcome.RETRY,
    DeliveryOutcome.FAILED: SendOutcome.FAILED,
    DeliveryOutcome.BLOCKED: SendOutcome.GONE,
    DeliveryOutcome.EXPIRED: SendOutcome.EXPIRED,
    DeliveryOutcome.DEFERRED: SendOutcome.DEFERRED,
}


class Outcome(StrEnum):
    """What one call of ``Dispatcher.deliver`` did."""

    SENT = "sent"
    NOT_CLAIMED = "not_claimed"
    EXPIRED = "expired"
    DEFERRED = "deferred"
    RETRY = "retry"
    FAILED = "failed"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of a delivery, and when the reminder is due again if it still is."""

    outcome: Outcome
    next_due: datetime | None = None


def render_reminder(claimed: ClaimedReminder, plan: CarePlan, *, now: datetime) -> OutgoingReminder:
    """The message a claimed reminder becomes: its milestone's text, or a catch-up."""
    tz = load_zone(claimed.timezone)
    day = day_of_healing(claimed.session_date, now.astimezone(tz).date())
    phase_id = catch_up_phase(claimed.milestone_id)
    if phase_id is not None:
        phase = plan.phase(phase_id)
        title, text = phase.name, phase.key_advice
        buttons: tuple[ButtonAction, ...] = (ButtonAction.QUESTION,)
    else:
        milestone = plan.milestone(claimed.milestone_id)
        phase_id, text, buttons = milestone.phase, milestone.text, milestone.buttons
        title = milestone.headline
    return OutgoingReminder(
        reminder_id=claimed.id,
        chat_id=claimed.chat_id,
        milestone_id=claimed.milestone_id,
        phase_id=phase_id,
        day=day,
        text=text,
        buttons=buttons,
        title=title,
        language=claimed.language,
    )


@dataclass(frozen=True)
class Attempt:
    """What one attempt at a claimed reminder came to, before it is written down.

    ``status`` is the reminder's final status, or ``PENDING`` when it is given back due again
    at ``next_due`` (a retry, a quiet-hours deferral). ``gone`` says the chat is gone for
    good: settling it stops the patient and cancels everything else they had pending.
    """

    claimed: ClaimedReminder
    outcome: Outcome
    status: ReminderStatus
    logged: DeliveryOutcome
    counted: SendOutcome
    at: datetime
    error: str | None = None
    next_due: datetime | None = None
    gone: bool = False
    window_end: datetime | None = None

    @property
    def result(self) -> DeliveryResult:
        """The attempt as ``deliver`` reports it."""
        return DeliveryResult(self.outcome, next_due=self.next_due)


@dataclass(frozen=True)
class Batch:
    """Reminders claimed together, and when to look again if the batch was not full."""

    claimed: list[ClaimedReminder]
    next_wake: datetime | None = None


async def stop_recipient(
    session: AsyncSession, *, chat_id: int, now: datetime, patient_id: int | None = None
) -> int | None:
    """The chat blocked the bot or is gone: stop its patient and cancel what they had pending.

    The one use case for a 403 or a block, whatever was being sent. Returns the patient's id
    (``patient_id``, the one the caller knew, when the chat is nobody's now), or None. Runs
    inside the caller's unit of work; the caller commits.
    """
    stopped = await PatientRepository(session).stop_by_chat(chat_id=chat_id, now=now)
    patient_id = stopped if stopped is not None else patient_id
    if patient_id is not None:
        await ReminderRepository(session).settle_pending(
            status=ReminderStatus.CANCELLED, reason="recipient gone", patient_id=patient_id
        )
    return patient_id


class PlanMemo:
    """The plans one batch needs, each looked up once (a lookup checks the file on disk)."""

    def __init__(self, plans: PlanSource) -> None:
        """Remember what ``plans`` gives; a failure is not remembered."""
        self.plans = plans
        self._found: dict[tuple[str, str], CarePlan] = {}

    def __call__(self, plan_id: str, language: str = "en", /) -> CarePlan:
        """The plan ``plan_id`` in ``language``."""
        key = (plan_id, language)
        if key not in self._found:
            self._found[key] = self.plans(plan_id, language)
        return self._found[key]


class Dispatcher:
    """Claims due reminders in batches, attempts each, settles many in one transaction.

    Safe to run in several processes on one database: a reminder is only attempted after an
    atomic claim, and only settled by the worker whose claim it still is.
    """

    def __init__(
        self,
        *,
        database: Database,
        notifier: Notifier,
        clock: Clock,
        plans: PlanSource,
        worker_id: str,
        policy: DeliveryPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """Wire the dispatcher; ``worker_id`` names this process's claims; each attempt is
        counted in ``metrics`` (its own when not given)."""
        self.database = database
        self.notifier = notifier
        self.clock = clock
        self.plans = plans
        self.worker_id = worker_id
        self.policy = policy or DeliveryPolicy()
        self.metrics = metrics or Metrics()

    async def claim_batch(self, *, limit: int, expire: bool = False) -> Batch:
        """Claim up to ``limit`` due reminders, earliest first, in one transaction.

        With ``expire``, reminders that went stale are first marked expired (never sent).
        When fewer than ``limit`` were due, the same transaction also finds when the next
        one falls due (or a lease runs out), so the caller knows when to look again.
        """
        now = self.clock.now()
        async with self.database.session() as session:
            repo = ReminderRepository(session)
            expired = await repo.expire_stale(now=now) if expire else 0
            claimed = await repo.claim_due(
                owner=self.worker_id,
                now=now,
                lease_until=now + self.policy.lease,
                limit=limit,
                skip_locked=self.database.is_postgresql,
            )
            next_wake = await repo.next_wake(now=now) if len(claimed) < limit else None
            await session.commit()
        if expired:
            log.info("%s reminders expired unsent (stale)", expired)
        return Batch(claimed, next_wake)

    async def deliver(self, reminder_id: int) -> DeliveryResult:
        """Claim, send and settle one reminder by id. Never raises for a failed send."""
        now = self.clock.now()
        async with self.database.session() as session:
            claimed = await ReminderRepository(session).claim(
                reminder_id=reminder_id,
                owner=self.worker_id,
                now=now,
                lease_until=now + self.policy.lease,
                skip_locked=self.database.is_postgresql,
            )
            await session.commit()
        if claimed is None:
            return DeliveryResult(Outcome.NOT_CLAIMED)
        attempt = await self.attempt(claimed)
        await self.settle([attempt])
        return attempt.result

    async def attempt(
        self, claimed: ClaimedReminder, *, plans: PlanSource | None = None
    ) -> Attempt:
        """Check, render and send one claimed reminder; touches no database, never raises
        for a failed send. The caller settles what it returns. ``plans`` overrides the
        dispatcher's own (a sender remembers the plans of one batch)."""
        now = self.clock.now()
        if now >= claimed.expires_at:
            return self._final(claimed, DeliveryOutcome.EXPIRED, "stale")

        quiet = QuietHours(claimed.quiet_start, claimed.quiet_end)
        wake = quiet.defer(now, load_zone(claimed.timezone))
        if wake > now:
            return self._postpone(claimed, wake, DeliveryOutcome.DEFERRED, "quiet hours")

        try:
            plan = (plans or self.plans)(claimed.plan_id, claimed.language)
        except Exception as exc:  # an operator's broken plan file: keep the reminder, retry
            log.error(
                "care plan %r could not be loaded for reminder %s", claimed.plan_id, claimed.id
            )
            return self._retry(claimed, f"plan unavailable: {type(exc).__name__}", None)
        try:
            message = render_reminder(claimed, plan, now=now)
            window_end = claimed.due_at + _window(claimed, plan)
        except KeyError:
            log.error("reminder %s names a milestone its plan no longer has", claimed.id)
            return self._final(claimed, DeliveryOutcome.FAILED, "unknown milestone")

        try:
            async with asyncio.timeout(self.policy.send_timeout.total_seconds()):
                await self.notifier.send_reminder(message)
        except NotSentError:
            raise  # never left: the sender hands the claim back
        except RecipientGoneError as exc:
            return Attempt(
                claimed,
                Outcome.BLOCKED,
                ReminderStatus.FAILED,
                DeliveryOutcome.BLOCKED,
                SendOutcome.GONE,
                self.clock.now(),
                exc.reason,
                gone=True,
            )
        except MessageRejectedError as exc:
            log.warning("reminder %s rejected: %s", claimed.id, exc.reason)
            return self._final(
                claimed, DeliveryOutcome.FAILED, exc.reason, counted=SendOutcome.REJECTED
            )
        except TransientDeliveryError as exc:
            return self._retry(claimed, exc.reason, exc.retry_after)
        except TimeoutError:
            return self._retry(claimed, "timeout", None)
        except Exception as exc:  # a notifier bug must not stop the loop
            log.exception("notifier failed on reminder %s", claimed.id)
            return self._retry(claimed, type(exc).__name__, None)
        return replace(self._final(claimed, DeliveryOutcome.SENT, None), window_end=window_end)

    def _final(
        self,
        claimed: ClaimedReminder,
        logged: DeliveryOutcome,
        error: str | None,
        *,
        counted: SendOutcome | None = None,
    ) -> Attempt:
        outcome, status = FINAL[logged]
        return Attempt(
            claimed, outcome, status, logged, counted or COUNTED_AS[logged], self.clock.now(), error
        )

    def _postpone(
        self, claimed: ClaimedReminder, due_at: datetime, logged: DeliveryOutcome, reason: str
    ) -> Attempt:
        if due_at >= claimed.expires_at:
            return self._final(claimed, DeliveryOutcome.EXPIRED, reason)
        outcome = Outcome.DEFERRED if logged is DeliveryOutcome.DEFERRED else Outcome.RETRY
        return Attempt(
            claimed,
            outcome,
            ReminderStatus.PENDING,
            logged,
            COUNTED_AS[logged],
            self.clock.now(),
            reason,
            next_due=due_at,
        )

    def _retry(self, claimed: ClaimedReminder, reason: str, retry_after: float | None) -> Attempt:
        log.warning("reminder %s attempt %s failed: %s", claimed.id, claimed.attempts, reason)
        if claimed.attempts >= self.policy.max_attempts:
            return self._final(claimed, DeliveryOutcome.FAILED, reason)
        due_at = self.clock.now() + self.policy.backoff(claimed.attempts, retry_after)
        return self._postpone(claimed, due_at, DeliveryOutcome.RETRY, reason)

    async def settle(
        self, attempts: Sequence[Attempt], *, hand_back: Sequence[int] = ()
    ) -> set[int]:
        """Write down ``attempts`` and give back ``hand_back`` (claims never attempted) in one
        transaction, then count them. Returns the ids whose claim was no longer ours."""
        if not attempts and not hand_back:
            return set()
        async with self.database.session() as session:
            lost = await self.write(session, attempts, hand_back=hand_back)
            await session.commit()
        self.record(attempts, lost=lost)
        return lost

    async def write(
        self,
        session: AsyncSession,
        attempts: Sequence[Attempt],
        *,
        hand_back: Sequence[int] = (),
    ) -> set[int]:
        """Write many attempts inside ``session`` (the caller commits): each reminder's new
        state, one delivery-log row per attempt, the patients whose chat is gone stopped; and
        give back ``hand_back``. Returns the ids whose claim was no longer ours (another
        worker took them after the lease ran out)."""
        reminders = ReminderRepository(session)
        ours = await reminders.settle_and_log(
            owner=self.worker_id,
            outcomes=[Settled(a.claimed.id, a.status, a.at, a.error, a.next_due) for a in attempts],
            entries=[
                NewLogEntry(
                    reminder_id=a.claimed.id,
                    attempt=a.claimed.attempts,
                    worker=self.worker_id,
                    outcome=a.logged,
                    at=a.at,
                    error=a.error,
                )
                for a in attempts
            ],
        )
        for attempt in attempts:
            if attempt.gone:
                await stop_recipient(session, chat_id=attempt.claimed.chat_id, now=attempt.at)
        await reminders.hand_back(owner=self.worker_id, reminder_ids=hand_back)
        return {a.claimed.id for a in attempts} - ours

    def record(self, attempts: Sequence[Attempt], *, lost: set[int]) -> None:
        """Count committed attempts in the metrics; a send whose claim was lost is logged."""
        for attempt in attempts:
            past_window = None
            if attempt.window_end is not None:
                past_window = (attempt.at - attempt.window_end).total_seconds()
            self.metrics.record_send(
                reminder_kind(attempt.claimed.milestone_id),
                attempt.counted,
                late_by=(attempt.at - attempt.claimed.due_at).total_seconds(),
                past_window=past_window,
            )
            if attempt.gone:
                log.info(
                    "chat %s is gone (%s): patient stopped", attempt.claimed.chat_id, attempt.error
                )
            elif attempt.outcome is Outcome.SENT and attempt.claimed.id in lost:
                log.warning("reminder %s was sent after its claim was lost", attempt.claimed.id)


def _window(claimed: ClaimedReminder, plan: CarePlan) -> timedelta:
    """How long after its due time a reminder is meant to arrive (a catch-up: the default
    window; never past its expiry)."""
    if catch_up_phase(claimed.milestone_id) is not None:
        window = DEFAULT_WINDOW
    else:
        window = plan.milestone(claimed.milestone_id).window
    return min(window, claimed.expires_at - claimed.due_at)


# The outcome and final status of each delivery-log outcome that ends a reminder.
FINAL = {
    DeliveryOutcome.SENT: (Outcome.SENT, ReminderStatus.SENT),
    DeliveryOutcome.FAILED: (Outcome.FAILED, ReminderStatus.FAILED),
    DeliveryOutcome.EXPIRED: (Outcome.EXPIRED, ReminderStatus.EXPIRED),
}
