"""Delivery of one reminder: claim it atomically, send it through the Notifier, settle it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from content.plan import ButtonAction, CarePlan, day_of_healing
from scheduler.clock import Clock
from scheduler.metrics import Metrics, SendOutcome, reminder_kind
from scheduler.notifier import (
    MessageRejectedError,
    Notifier,
    OutgoingReminder,
    RecipientGoneError,
    TransientDeliveryError,
)
from scheduler.planning import QuietHours, catch_up_phase, load_zone
from storage.database import Database
from storage.models import DeliveryOutcome, ReminderStatus
from storage.repositories import (
    ClaimedReminder,
    DeliveryLogRepository,
    PatientRepository,
    ReminderRepository,
)

log = logging.getLogger(__name__)


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


class Dispatcher:
    """Delivers reminders by id. Safe to run in several processes on one database."""

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

    async def deliver(self, reminder_id: int) -> DeliveryResult:
        """Claim, send and settle one reminder. Never raises for a failed send."""
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

        if now >= claimed.expires_at:
            await self._settle(claimed, ReminderStatus.EXPIRED, DeliveryOutcome.EXPIRED, "stale")
            return DeliveryResult(Outcome.EXPIRED)

        quiet = QuietHours(claimed.quiet_start, claimed.quiet_end)
        wake = quiet.defer(now, load_zone(claimed.timezone))
        if wake > now:
            return await self._postpone(claimed, wake, DeliveryOutcome.DEFERRED, "quiet hours")

        try:
            plan = self.plans(claimed.plan_id, claimed.language)
        except Exception as exc:  # an operator's broken plan file: keep the reminder, retry
            log.error(
                "care plan %r could not be loaded for reminder %s", claimed.plan_id, claimed.id
            )
            return await self._retry(claimed, f"plan unavailable: {type(exc).__name__}", None)
        try:
            message = render_reminder(claimed, plan, now=now)
        except KeyError:
            log.error("reminder %s names a milestone its plan no longer has", claimed.id)
            await self._settle(
                claimed, ReminderStatus.FAILED, DeliveryOutcome.FAILED, "unknown milestone"
            )
            return DeliveryResult(Outcome.FAILED)

        try:
            async with asyncio.timeout(self.policy.send_timeout.total_seconds()):
                await self.notifier.send_reminder(message)
        except RecipientGoneError as exc:
            await self._recipient_gone(claimed, exc.reason)
            return DeliveryResult(Outcome.BLOCKED)
        except MessageRejectedError as exc:
            log.warning("reminder %s rejected: %s", claimed.id, exc.reason)
            await self._settle(
                claimed,
                ReminderStatus.FAILED,
                DeliveryOutcome.FAILED,
                exc.reason,
                count_as=SendOutcome.REJECTED,
            )
            return DeliveryResult(Outcome.FAILED)
        except TransientDeliveryError as exc:
            return await self._retry(claimed, exc.reason, exc.retry_after)
        except TimeoutError:
            return await self._retry(claimed, "timeout", None)
        except Exception as exc:  # a notifier bug must not stop the loop
            log.exception("notifier failed on reminder %s", claimed.id)
            return await self._retry(claimed, type(exc).__name__, None)

        settled = await self._settle(claimed, ReminderStatus.SENT, DeliveryOutcome.SENT, None)
        if not settled:
            log.warning("reminder %s was sent after its claim was lost", claimed.id)
        return DeliveryResult(Outcome.SENT)

    async def _settle(
        self,
        claimed: ClaimedReminder,
        status: ReminderStatus,
        outcome: DeliveryOutcome,
        error: str | None,
        *,
        count_as: SendOutcome | None = None,
    ) -> bool:
        now = self.clock.now()
        async with self.database.session() as session:
            settled = await ReminderRepository(session).settle(
                reminder_id=claimed.id, owner=self.worker_id, status=status, now=now, error=error
            )
            await self._log(session, claimed, outcome, now, error)
            await session.commit()
        self._count(claimed, count_as or COUNTED_AS[outcome], now)
        return settled

    async def _log(
        self,
        session: AsyncSession,
        claimed: ClaimedReminder,
        outcome: DeliveryOutcome,
        now: datetime,
        error: str | None,
    ) -> None:
        """One delivery-log row for this attempt of ``claimed`` (outcome and error code only)."""
        await DeliveryLogRepository(session).add(
            reminder_id=claimed.id,
            attempt=claimed.attempts,
            worker=self.worker_id,
            outcome=outcome,
            at=now,
            error=error,
        )

    def _count(self, claimed: ClaimedReminder, outcome: SendOutcome, now: datetime) -> None:
        """Count one attempt (after its log row is committed); a send records its lateness."""
        self.metrics.record_send(
            reminder_kind(claimed.milestone_id),
            outcome,
            late_by=(now - claimed.due_at).total_seconds(),
        )

    async def _postpone(
        self, claimed: ClaimedReminder, due_at: datetime, outcome: DeliveryOutcome, reason: str
    ) -> DeliveryResult:
        if due_at >= claimed.expires_at:
            await self._settle(claimed, ReminderStatus.EXPIRED, DeliveryOutcome.EXPIRED, reason)
            return DeliveryResult(Outcome.EXPIRED)
        now = self.clock.now()
        async with self.database.session() as session:
            await ReminderRepository(session).release(
                reminder_id=claimed.id, owner=self.worker_id, due_at=due_at, error=reason
            )
            await self._log(session, claimed, outcome, now, reason)
            await session.commit()
        self._count(claimed, COUNTED_AS[outcome], now)
        kind = Outcome.DEFERRED if outcome is DeliveryOutcome.DEFERRED else Outcome.RETRY
        return DeliveryResult(kind, next_due=due_at)

    async def _retry(
        self, claimed: ClaimedReminder, reason: str, retry_after: float | None
    ) -> DeliveryResult:
        log.warning("reminder %s attempt %s failed: %s", claimed.id, claimed.attempts, reason)
        if claimed.attempts >= self.policy.max_attempts:
            await self._settle(claimed, ReminderStatus.FAILED, DeliveryOutcome.FAILED, reason)
            return DeliveryResult(Outcome.FAILED)
        due_at = self.clock.now() + self.policy.backoff(claimed.attempts, retry_after)
        return await self._postpone(claimed, due_at, DeliveryOutcome.RETRY, reason)

    async def _recipient_gone(self, claimed: ClaimedReminder, reason: str) -> None:
        """The user blocked the bot: stop them and cancel everything else they had pending."""
        now = self.clock.now()
        async with self.database.session() as session:
            reminders = ReminderRepository(session)
            await reminders.settle(
                reminder_id=claimed.id,
                owner=self.worker_id,
                status=ReminderStatus.FAILED,
                now=now,
                error=reason,
            )
            await PatientRepository(session).stop_by_chat(chat_id=claimed.chat_id, now=now)
            await reminders.settle_pending(
                status=ReminderStatus.CANCELLED,
                reason="recipient gone",
                patient_id=claimed.patient_id,
            )
            await self._log(session, claimed, DeliveryOutcome.BLOCKED, now, reason)
            await session.commit()
        self._count(claimed, SendOutcome.GONE, now)
        log.info("chat %s is gone (%s): patient stopped", claimed.chat_id, reason)
