"""Prometheus metrics of delivery: what was sent and how, how late, how long sends waited for
the Telegram budget, and how much is waiting in the queue.

Every label value comes from a fixed enum (``Kind``, ``SendOutcome``, ``Priority``): no chat
id, patient text, milestone or clinic name ever becomes a label, so a scrape carries counts
only. ``Kind`` and the priority label are the outbox's (one queue of
reminders, catch-ups, broadcast copies and alerts): today's two engines report in its terms.

Each ``Metrics`` owns its registry (not prometheus_client's global one), so two products in one
process, or two tests, never count into each other. Queue depth is not counted per send: a
``QueueDepthCollector`` runs one aggregate query when a scrape asks for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, literal, select, union_all

from scheduler.care.planning import CATCH_UP_PREFIX
from scheduler.clock import Clock
from scheduler.outbox.budget import Priority
from storage.database import Database
from storage.models import (
    Broadcast,
    BroadcastStatus,
    MessageStatus,
    OutboxMessage,
    Reminder,
    ReminderStatus,
)
from storage.outbox import TO_STAFF

log = logging.getLogger(__name__)

# Seconds a scrape waits for the queue-depth query before it answers without it.
QUERY_TIMEOUT = 5.0
LATENESS_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200)
WINDOW_BUCKETS = (0, 1, 30, 60, 300, 900, 1800, 3600, 7200, 14400)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Kind(StrEnum):
    """What the bot sends on its own initiative (the outbox's kinds)."""

    REMINDER = "reminder"
    CATCH_UP = "catch_up"
    BROADCAST = "broadcast"
    ALERT = "alert"


class SendOutcome(StrEnum):
    """How one attempt at a queued message ended."""

    SENT = "sent"
    RETRY = "retry"  # a network error, a timeout or a 429: tried again later
    FAILED = "failed"  # out of attempts, or our own fault (a milestone its plan lost)
    GONE = "gone"  # the patient blocked the bot or deleted their account
    REJECTED = "rejected"  # Telegram refused the message itself (a 400)
    EXPIRED = "expired"  # too late to be worth sending
    DEFERRED = "deferred"  # held until the patient's quiet hours end
    SKIPPED = "skipped"  # a broadcast copy to a patient who no longer gets news


PRIORITY_OF_KIND = {
    Kind.REMINDER: Priority.REMINDER,
    Kind.CATCH_UP: Priority.REMINDER,
    Kind.BROADCAST: Priority.BROADCAST,
    Kind.ALERT: Priority.ALERT,
}


def priority_label(priority: Priority) -> str:
    """A priority as a label value: its name in lower case (``reply``, ``reminder``...)."""
    return priority.name.lower()


def reminder_kind(milestone_id: str) -> Kind:
    """A reminder row's kind: a catch-up or a plan milestone."""
    return Kind.CATCH_UP if milestone_id.startswith(CATCH_UP_PREFIX) else Kind.REMINDER


class Metrics:
    """The product's metrics, on a registry of their own."""

    def __init__(self) -> None:
        """Create the metrics on a new registry."""
        self.registry = CollectorRegistry()
        self.sends = Counter(
            "aftercare_sends",
            "Attempts at queued messages, by kind, priority and outcome.",
            ["kind", "priority", "outcome"],
            registry=self.registry,
        )
        self.lateness = Histogram(
            "aftercare_send_lateness_seconds",
            "Seconds from a message's due time to its sending, by kind.",
            ["kind", "priority"],
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.past_window = Histogram(
            "aftercare_send_past_window_seconds",
            "Seconds a sent reminder arrived after the end of its delivery window (0: inside).",
            ["kind", "priority"],
            buckets=WINDOW_BUCKETS,
            registry=self.registry,
        )
        self.budget_wait = Histogram(
            "aftercare_budget_wait_seconds",
            "Seconds a send waited for the Telegram budget, by priority.",
            ["priority"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.too_many_requests = Counter(
            "aftercare_telegram_429",
            "429 Too Many Requests answers from Telegram.",
            registry=self.registry,
        )
        self._queue: QueueDepthCollector | None = None

    def record_send(
        self,
        kind: Kind,
        outcome: SendOutcome,
        *,
        late_by: float | None = None,
        past_window: float | None = None,
    ) -> None:
        """Count one attempt; a sent one also records its lateness (seconds past due, >= 0)
        and, for a message with a delivery window, how far past its end it arrived (0 when
        inside it)."""
        priority = priority_label(PRIORITY_OF_KIND[kind])
        self.sends.labels(kind.value, priority, outcome.value).inc()
        if outcome is not SendOutcome.SENT:
            return
        if late_by is not None:
            self.lateness.labels(kind.value, priority).observe(max(late_by, 0.0))
        if past_window is not None:
            self.past_window.labels(kind.value, priority).observe(max(past_window, 0.0))

    def record_budget_wait(self, priority: Priority, seconds: float) -> None:
        """How long one send waited for the budget."""
        self.budget_wait.labels(priority_label(priority)).observe(max(seconds, 0.0))

    def record_429(self) -> None:
        """Telegram answered 429."""
        self.too_many_requests.inc()

    def watch_queue(self, database: Database, clock: Clock) -> QueueDepthCollector:
        """Count ``database``'s pending rows at each scrape (once; later calls rebind it to
        the running event loop, where the database's connections live)."""
        if self._queue is None:
            self._queue = QueueDepthCollector(database, clock)
            self.registry.register(self._queue)
        self._queue.bind(asyncio.get_running_loop())
        return self._queue


class QueueDepthCollector(Collector):
    """``aftercare_queue_depth`` (pending rows due now, by kind and priority) and
    ``aftercare_queue_scheduled`` (pending rows due later, by priority), counted by one
    aggregate statement per scrape.

    The statement stays cheap with a million pending reminders: rows due now (the backlog)
    are read to tell reminders from catch-ups, rows due later are only counted in the
    ``(status, due_at)`` index. Messages to staff waiting in the outbox are alerts. Broadcast
    copies are pending only while their broadcast is
    sending, so they are counted through the broadcasts being sent.

    A scrape runs in a thread of its own (prometheus_client's server, or the webhook's
    ``/metrics`` through ``asyncio.to_thread``); the statement runs on the event loop the
    database belongs to, and the scrape waits for it at most ``QUERY_TIMEOUT``.
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        """Count in ``database``; "due" means due at ``clock``'s now."""
        self.database = database
        self.clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the query on ``loop``."""
        self._loop = loop

    async def count(self) -> QueueCounts:
        """Pending rows due now by kind, and due later by priority (0 where none)."""
        now = self.clock.now()
        pending = Reminder.status == ReminderStatus.PENDING
        # Labels are computed in subqueries and grouped outside them: grouping by an
        # expression that holds a bound parameter fails on PostgreSQL.
        due_reminders = (
            select(
                case(
                    (Reminder.milestone_id.startswith(CATCH_UP_PREFIX), Kind.CATCH_UP.value),
                    else_=Kind.REMINDER.value,
                ).label("kind")
            )
            .where(pending, Reminder.due_at <= now)
            .subquery()
        )
        copies = (
            select(case((OutboxMessage.due_at <= now, _DUE), else_=_LATER).label("state"))
            .join(Broadcast, Broadcast.id == OutboxMessage.broadcast_id)
            .where(
                Broadcast.status == BroadcastStatus.SENDING,
                OutboxMessage.status == MessageStatus.PENDING,
            )
            .subquery()
        )
        messages = (
            select(case((OutboxMessage.due_at <= now, _DUE), else_=_LATER).label("state"))
            .where(OutboxMessage.status == MessageStatus.PENDING, TO_STAFF)
            .subquery()
        )
        statement = union_all(
            select(due_reminders.c.kind, literal(_DUE), func.count()).group_by(
                due_reminders.c.kind
            ),
            select(literal(Kind.REMINDER.value), literal(_LATER), func.count()).where(
                pending, Reminder.due_at > now
            ),
            select(literal(Kind.BROADCAST.value), copies.c.state, func.count()).group_by(
                copies.c.state
            ),
            select(literal(Kind.ALERT.value), messages.c.state, func.count()).group_by(
                messages.c.state
            ),
        )
        counts = QueueCounts()
        async with self.database.session() as session:
            for kind, state, n in await session.execute(statement):
                priority = PRIORITY_OF_KIND[Kind(kind)]
                if state == _DUE:
                    counts.due[Kind(kind)] += int(n)
                else:
                    counts.later[priority] += int(n)
        return counts

    def describe(self) -> Iterable[GaugeMetricFamily]:
        """The gauges without samples (registering must not run the query)."""
        return list(_gauges())

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """The gauges, or nothing when the database does not answer in time."""
        return list(self._samples())

    def _samples(self) -> Iterator[GaugeMetricFamily]:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # waiting here for our own loop would never end
            log.error("queue depth asked for on the event loop: scrape from another thread")
            return
        future = asyncio.run_coroutine_threadsafe(self.count(), loop)
        try:
            counts = future.result(timeout=QUERY_TIMEOUT)
        except Exception as exc:  # a scrape answers without the gauges rather than fail
            future.cancel()
            log.warning("queue depth not counted: %s", type(exc).__name__)
            return
        depth, scheduled = _gauges()
        for kind, n in counts.due.items():
            depth.add_metric([kind.value, priority_label(PRIORITY_OF_KIND[kind])], n)
        for priority, n in counts.later.items():
            scheduled.add_metric([priority_label(priority)], n)
        yield depth
        yield scheduled


_DUE, _LATER = "due", "later"
QUEUED_KINDS = (Kind.REMINDER, Kind.CATCH_UP, Kind.BROADCAST, Kind.ALERT)


@dataclass
class QueueCounts:
    """Pending rows: due now by kind, due later by priority (alerts waiting for a retry
    included)."""

    due: dict[Kind, int] = field(default_factory=lambda: dict.fromkeys(QUEUED_KINDS, 0))
    later: dict[Priority, int] = field(
        default_factory=lambda: dict.fromkeys(
            (Priority.ALERT, Priority.REMINDER, Priority.BROADCAST), 0
        )
    )


def _gauges() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "aftercare_queue_depth",
            "Messages due now and not sent yet, by kind and priority.",
            labels=["kind", "priority"],
        ),
        GaugeMetricFamily(
            "aftercare_queue_scheduled",
            "Messages waiting for a later time (their due time, or quiet hours), by priority.",
            labels=["priority"],
        ),
    )
