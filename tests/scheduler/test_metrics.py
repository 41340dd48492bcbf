"""Metrics: every attempt counted by kind and outcome, lateness, budget waits, 429s, and the
queue depth counted on a real database at scrape time; label values only from fixed enums."""

from __future__ import annotations

import asyncio
from datetime import time, timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from scheduler.clock import FakeClock
from scheduler.outbox.budget import MemoryBackend, Priority, TelegramBudget
from scheduler.outbox.metrics import Kind, Metrics, SendOutcome
from scheduler.outbox.notifier import (
    MessageRejectedError,
    RecipientGoneError,
    TransientDeliveryError,
)
from scheduler.outbox.reminders import Dispatcher
from storage.database import Database
from storage.models import (
    Broadcast,
    BroadcastStatus,
    Clinic,
    MessageStatus,
    OutboxMessage,
    RecipientStatus,
    Reminder,
    ReminderStatus,
)
from tests.copies import copy_row
from tests.fakes import FakeMonotonic, RecordingNotifier
from tests.plans import small_plan
from tests.scheduler.seeding import seed_due

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
# Every value a label of ours may take (and the histograms' bucket bounds).
ALLOWED_LABEL_VALUES = (
    {k.value for k in Kind} | {o.value for o in SendOutcome} | {p.name.lower() for p in Priority}
)


async def scrape(metrics: Metrics) -> tuple[str, Samples]:
    """The exposition text, as a Prometheus server would read it, and its samples.

    From another thread, as prometheus_client's server and the webhook's route scrape."""
    text = (await asyncio.to_thread(generate_latest, metrics.registry)).decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def assert_fixed_labels(samples: Samples) -> None:
    for _name, labels in samples:
        for label, value in labels:
            if label == "le":
                float(value)  # a bucket bound: a number
            else:
                assert value in ALLOWED_LABEL_VALUES, (label, value)


async def test_each_outcome_of_a_reminder_is_counted_once_with_its_lateness(
    database: Database, clock: FakeClock
) -> None:
    now = clock.now()
    seeded: dict[str, list[int]] = {}

    async def seed(name: str, chat: int, **kwargs: object) -> None:
        before = set(await _reminder_ids(database))
        await seed_due(database, patients=1, per_patient=1, first_chat_id=chat, **kwargs)  # type: ignore[arg-type]
        seeded[name] = sorted(set(await _reminder_ids(database)) - before)

    hour = timedelta(hours=1)
    await seed("sent", 1000, due_at=now - timedelta(seconds=90), valid_for=hour)
    await seed("retry", 1001, due_at=now, valid_for=hour)
    await seed("gone", 1002, due_at=now, valid_for=hour)
    await seed("rejected", 1003, due_at=now, valid_for=hour)
    await seed("expired", 1004, due_at=now - 2 * hour, valid_for=hour)
    # 04:00 UTC is inside 03:00-05:00: held until the quiet hours end.
    await seed("deferred", 1005, due_at=now, valid_for=5 * hour, quiet=(time(3), time(5)))
    await seed(
        "catch_up", 1006, due_at=now - timedelta(seconds=600), valid_for=hour,
        milestones=("catch_up_first_48h",),
    )  # fmt: skip

    notifier = RecordingNotifier(clock)
    notifier.failures = {
        1001: [TransientDeliveryError("timeout")],
        1002: [RecipientGoneError("Forbidden: bot was blocked by the user")],
        1003: [MessageRejectedError("Bad Request: can't parse entities")],
    }
    metrics = Metrics()
    plan = small_plan()
    dispatcher = Dispatcher(
        database=database,
        notifier=notifier,
        clock=clock,
        plans=lambda _plan_id, _language="en": plan,
        worker_id="w1",
        metrics=metrics,
    )
    for ids in seeded.values():
        await dispatcher.deliver(ids[0])

    text, samples = await scrape(metrics)
    sends = {
        outcome: samples.get(
            key("aftercare_sends_total", kind="reminder", priority="reminder", outcome=outcome)
        )
        for outcome in ("sent", "retry", "gone", "rejected", "expired", "deferred", "failed")
    }
    assert sends == {
        "sent": 1.0, "retry": 1.0, "gone": 1.0, "rejected": 1.0, "expired": 1.0,
        "deferred": 1.0, "failed": None,
    }  # fmt: skip
    assert samples[key("aftercare_sends_total", kind="catch_up", priority="reminder",
                       outcome="sent")] == 1.0  # fmt: skip

    late = {"kind": "reminder", "priority": "reminder"}
    assert samples[key("aftercare_send_lateness_seconds_count", **late)] == 1.0
    assert samples[key("aftercare_send_lateness_seconds_sum", **late)] == 90.0
    assert samples[key("aftercare_send_lateness_seconds_bucket", le="60.0", **late)] == 0.0
    assert samples[key("aftercare_send_lateness_seconds_bucket", le="120.0", **late)] == 1.0
    catch_up = {"kind": "catch_up", "priority": "reminder"}
    assert samples[key("aftercare_send_lateness_seconds_sum", **catch_up)] == 600.0

    assert_fixed_labels(samples)
    for words in (plan.milestones[0].text[:20], "blocked by the user", "can't parse"):
        assert words not in text


async def test_queue_depth_counts_pending_rows_by_kind_and_state_at_scrape_time(
    database: Database, clock: FakeClock
) -> None:
    now = clock.now()
    hour = timedelta(hours=1)
    await seed_due(database, patients=3, per_patient=1, due_at=now - hour, valid_for=2 * hour)
    await seed_due(
        database, patients=2, per_patient=1, due_at=now + hour, valid_for=hour, first_chat_id=2000
    )
    await seed_due(
        database, patients=1, per_patient=1, due_at=now, valid_for=hour, first_chat_id=3000,
        milestones=("catch_up_first_48h",),
    )  # fmt: skip
    await seed_due(
        database, patients=2, per_patient=1, due_at=now - hour, valid_for=2 * hour,
        first_chat_id=4000,
    )  # fmt: skip
    done = (await _reminder_ids(database))[-2:]  # these two were sent: not in the queue
    async with database.session() as session:
        await session.execute(
            update(Reminder).where(Reminder.id.in_(done)).values(status=ReminderStatus.SENT)
        )
        clinic = Clinic(
            name="North", timezone="UTC", plan_id="small", quiet_start=time(0),
            quiet_end=time(0), created_at=now,
        )  # fmt: skip
        session.add(clinic)
        await session.flush()
        broadcast = Broadcast(
            clinic_id=clinic.id, text="x", status=BroadcastStatus.SENDING, created_at=now
        )
        session.add(broadcast)
        await session.flush()
        copies = [
            (RecipientStatus.PENDING, None),
            (RecipientStatus.PENDING, now - hour),
            (RecipientStatus.PENDING, now + hour),  # held for quiet hours
            (RecipientStatus.SENT, None),
        ]
        for patient_id, (status, not_before) in enumerate(copies, start=1):
            session.add(
                copy_row(
                    broadcast_id=broadcast.id, patient_id=patient_id, chat_id=1000 + patient_id,
                    now=now, status=status, due_at=not_before,
                )
            )  # fmt: skip
        for status, due_at in (
            (MessageStatus.PENDING, now),  # an alert to staff due now
            (MessageStatus.PENDING, now + hour),  # one waiting for its retry
            (MessageStatus.SENT, now - hour),
        ):
            session.add(
                OutboxMessage(
                    kind="alert", priority=1, chat_id=9000, body="x", status=status,
                    created_at=now, due_at=due_at, expires_at=now + 3 * hour,
                )
            )  # fmt: skip
        await session.commit()

    metrics = Metrics()
    metrics.watch_queue(database, clock)
    _, samples = await scrape(metrics)

    def depths(samples: Samples) -> dict[str, float]:
        return {
            **{
                f"due {kind}": samples[key("aftercare_queue_depth", kind=kind, priority=priority)]
                for kind, priority in (
                    ("reminder", "reminder"), ("catch_up", "reminder"), ("broadcast", "broadcast"),
                    ("alert", "alert"),
                )
            },
            **{
                f"later {priority}": samples[key("aftercare_queue_scheduled", priority=priority)]
                for priority in ("alert", "reminder", "broadcast")
            },
        }  # fmt: skip

    assert depths(samples) == {
        "due reminder": 3.0, "due catch_up": 1.0, "due broadcast": 2.0, "due alert": 1.0,
        "later alert": 1.0, "later reminder": 2.0, "later broadcast": 1.0,
    }  # fmt: skip
    assert_fixed_labels(samples)

    clock.advance(2 * hour)  # "due" is counted at each scrape, on the product's clock
    _, later = await scrape(metrics)
    assert depths(later) == {
        "due reminder": 5.0, "due catch_up": 1.0, "due broadcast": 3.0, "due alert": 2.0,
        "later alert": 0.0, "later reminder": 0.0, "later broadcast": 0.0,
    }  # fmt: skip


async def test_queue_depth_asked_for_on_the_event_loop_answers_without_it(
    database: Database, clock: FakeClock
) -> None:
    """Waiting on the loop for a query that needs that loop would hang the process."""
    metrics = Metrics()
    collector = metrics.watch_queue(database, clock)
    assert list(collector.collect()) == []
    assert "aftercare_queue_depth{" not in generate_latest(metrics.registry).decode()


async def test_budget_waits_are_recorded_by_priority_and_429s_counted() -> None:
    clock = FakeMonotonic()
    metrics = Metrics()
    budget = TelegramBudget(
        MemoryBackend(clock), clock=clock, rate=1, per_chat_burst=None, metrics=metrics
    )
    done: list[Priority] = []

    async def send(priority: Priority) -> None:
        await budget.acquire(priority)
        done.append(priority)

    first = asyncio.create_task(send(Priority.REPLY))
    await clock.advance(0)
    second = asyncio.create_task(send(Priority.REMINDER))
    await clock.advance(1.0)
    await asyncio.gather(first, second)
    await budget.block(3.0)
    third = asyncio.create_task(send(Priority.BROADCAST))
    await clock.advance(3.0)
    await third

    _, samples = await scrape(metrics)
    wait = "aftercare_budget_wait_seconds"
    assert samples[key(f"{wait}_count", priority="reply")] == 1.0
    assert samples[key(f"{wait}_sum", priority="reply")] == 0.0
    assert samples[key(f"{wait}_count", priority="reminder")] == 1.0
    assert samples[key(f"{wait}_sum", priority="reminder")] == 1.0
    assert samples[key(f"{wait}_sum", priority="broadcast")] == 3.0
    assert samples[key(f"{wait}_bucket", priority="broadcast", le="2.5")] == 0.0
    assert samples[key(f"{wait}_bucket", priority="broadcast", le="5.0")] == 1.0
    assert samples[key("aftercare_telegram_429_total")] == 1.0


def test_two_metrics_never_count_into_each_other() -> None:
    one, other = Metrics(), Metrics()
    one.record_send(Kind.BROADCAST, SendOutcome.SENT, late_by=5)
    assert one.sends.labels("broadcast", "broadcast", "sent")._value.get() == 1
    assert other.sends.labels("broadcast", "broadcast", "sent")._value.get() == 0


async def _reminder_ids(database: Database) -> list[int]:
    async with database.session() as session:
        return list((await session.execute(select(Reminder.id).order_by(Reminder.id))).scalars())


async def test_a_reminder_sent_after_its_window_is_counted_by_how_far_past_it(
    database: Database, clock: FakeClock
) -> None:
    """The window is the milestone's (90 minutes by default), never past the expiry."""
    now = clock.now()
    hour = timedelta(hours=1)
    await seed_due(database, patients=1, per_patient=1, due_at=now - 2 * hour, valid_for=3 * hour)
    await seed_due(
        database, patients=1, per_patient=1, due_at=now - timedelta(minutes=50),
        valid_for=hour, first_chat_id=2000,
    )  # fmt: skip
    metrics = Metrics()
    plan = small_plan()
    dispatcher = Dispatcher(
        database=database,
        notifier=RecordingNotifier(clock),
        clock=clock,
        plans=lambda _plan_id, _language="en": plan,
        worker_id="w1",
        metrics=metrics,
    )
    for reminder_id in await _reminder_ids(database):
        await dispatcher.deliver(reminder_id)
    _, samples = await scrape(metrics)
    late = {"kind": "reminder", "priority": "reminder"}
    assert samples[key("aftercare_send_past_window_seconds_count", **late)] == 2.0
    # 2 h after its due time with a 90-minute window: 30 minutes past it; the other, 50
    # minutes into a window its one-hour expiry cuts to an hour, inside.
    assert samples[key("aftercare_send_past_window_seconds_sum", **late)] == 1800.0
    assert samples[key("aftercare_send_past_window_seconds_bucket", le="0.0", **late)] == 1.0
    assert_fixed_labels(samples)
