"""The sender: batches in due order, one patient at a time, and a stop that hands back."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from scheduler.clock import FakeClock
from scheduler.outbox.budget import MemoryBackend, Priority, TelegramBudget
from scheduler.outbox.notifier import OutgoingReminder
from scheduler.outbox.sender import RunnerSettings
from storage.database import Database
from storage.models import DeliveryLog, Reminder, ReminderStatus
from tests.fakes import FakeMonotonic, RecordingNotifier
from tests.scheduler.harness import IDLE_TIMEOUT, start_engine
from tests.scheduler.seeding import seed_due


class HeldNotifier(RecordingNotifier):
    """Records each call as it starts, then waits for the gate before accepting it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.gate = asyncio.Event()
        self.started: list[int] = []
        self.two_started = asyncio.Event()
        self.in_flight: dict[int, int] = {}
        self.most_at_once_per_chat = 0

    async def send_reminder(self, reminder: OutgoingReminder) -> None:
        self.started.append(reminder.reminder_id)
        if len(self.started) >= 2:
            self.two_started.set()
        chat = reminder.chat_id
        self.in_flight[chat] = self.in_flight.get(chat, 0) + 1
        self.most_at_once_per_chat = max(self.most_at_once_per_chat, self.in_flight[chat])
        try:
            await self.gate.wait()
            await super().send_reminder(reminder)
        finally:
            self.in_flight[chat] -= 1


async def test_a_stop_mid_batch_finishes_what_is_under_way_and_hands_back_the_rest(
    database: Database, clock: FakeClock
) -> None:
    """Two sends under way when the stop comes: both are written down; the other eighteen
    are unclaimed again, their attempt not counted, with no delivery-log row."""
    notifier = HeldNotifier(clock)
    engine = await start_engine(
        database, clock, notifier=notifier, settings=RunnerSettings(concurrency=2)
    )
    await seed_due(
        database, patients=10, per_patient=2, due_at=clock.now(), valid_for=timedelta(hours=1)
    )
    engine.runner.wake()
    async with asyncio.timeout(IDLE_TIMEOUT):
        await notifier.two_started.wait()
    assert engine.runner.queued == 20
    stopping = asyncio.create_task(engine.runner.shutdown())
    await asyncio.sleep(0.05)
    assert not stopping.done(), "the stop waits for the sends under way"
    notifier.gate.set()
    async with asyncio.timeout(IDLE_TIMEOUT):
        await stopping

    assert len(notifier.sent) == 2 and notifier.started == [
        d.reminder.reminder_id for d in notifier.sent
    ]
    async with database.session() as session:
        rows = (await session.execute(select(Reminder))).scalars().all()
        logged = (await session.execute(select(DeliveryLog.reminder_id))).scalars().all()
    sent = {r.id for r in rows if r.status is ReminderStatus.SENT}
    assert sent == set(notifier.started) == set(logged)
    back = [r for r in rows if r.id not in sent]
    assert len(back) == 18
    assert all(r.status is ReminderStatus.PENDING for r in back)
    assert all(r.claimed_by is None and r.lease_until is None for r in back)
    assert all(r.attempts == 0 for r in back)
    assert engine.runner.scheduler.get_jobs() == []


async def test_one_patients_reminders_go_out_one_at_a_time_in_due_order(
    database: Database, clock: FakeClock
) -> None:
    """Many sends at once across patients, never two to one patient at the same time."""
    notifier = HeldNotifier(clock)
    notifier.gate.set()
    engine = await start_engine(
        database, clock, notifier=notifier, settings=RunnerSettings(concurrency=16, batch_size=7)
    )
    ids = await seed_due(
        database,
        patients=6,
        per_patient=5,
        due_at=clock.now() - timedelta(minutes=40),
        valid_for=timedelta(hours=2),
        spacing=timedelta(minutes=1),
    )
    await engine.tick()
    await engine.stop()

    assert sorted(notifier.started) == sorted(ids)
    assert notifier.most_at_once_per_chat == 1
    for chat in {d.reminder.chat_id for d in notifier.sent}:
        mine = [d.reminder.reminder_id for d in notifier.sent if d.reminder.chat_id == chat]
        assert mine == sorted(mine), "a patient's reminders out of due order"


class BudgetNotifier(RecordingNotifier):
    """Waits for the Telegram budget before each send, as the bot's notifier does."""

    def __init__(self, clock: FakeClock, budget: TelegramBudget) -> None:
        super().__init__(clock)
        self.budget = budget
        self.waiting = 0
        self.many_waiting = asyncio.Event()

    async def send_reminder(self, reminder: OutgoingReminder) -> None:
        self.waiting += 1
        if self.waiting >= 5:
            self.many_waiting.set()
        try:
            await self.budget.acquire(Priority.REMINDER, private_chat=reminder.chat_id)
        finally:
            self.waiting -= 1
        await super().send_reminder(reminder)
        await self.budget.sent()


async def test_a_stop_hands_back_the_reminders_still_waiting_for_the_budget(
    database: Database, clock: FakeClock
) -> None:
    """At a peak a process's sends wait seconds for their turn in the budget; a stop does
    not wait for them: they are handed back, their attempt not counted, for another worker.
    (The budget's clock never moves here: without the stop they would wait forever.)"""
    monotonic = FakeMonotonic()
    budget = TelegramBudget(MemoryBackend(monotonic), rate=1, clock=monotonic)
    notifier = BudgetNotifier(clock, budget)
    engine = await start_engine(
        database,
        clock,
        notifier=notifier,
        settings=RunnerSettings(concurrency=8, stop_grace=timedelta(hours=1)),
    )
    await seed_due(
        database, patients=10, per_patient=2, due_at=clock.now(), valid_for=timedelta(hours=1)
    )
    engine.runner.wake()
    async with asyncio.timeout(IDLE_TIMEOUT):
        await notifier.many_waiting.wait()
    stopping = asyncio.create_task(engine.runner.shutdown())
    await asyncio.sleep(0)
    budget.stop_bulk()
    async with asyncio.timeout(IDLE_TIMEOUT):
        await stopping

    assert len(notifier.sent) == 1  # the second's one slot
    async with database.session() as session:
        rows = (await session.execute(select(Reminder))).scalars().all()
    back = [r for r in rows if r.status is not ReminderStatus.SENT]
    assert len(back) == 19
    assert all(r.status is ReminderStatus.PENDING for r in back)
    assert all(r.claimed_by is None and r.attempts == 0 for r in back)
