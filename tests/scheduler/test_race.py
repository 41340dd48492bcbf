"""Two schedulers on one database race over the same due reminders: each is sent once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from scheduler.clock import FakeClock
from scheduler.outbox.sender import RunnerSettings
from storage.database import Database
from storage.models import Reminder, ReminderStatus
from tests.scheduler.harness import IDLE_TIMEOUT, start_engine
from tests.scheduler.seeding import seed_due


async def test_two_schedulers_send_each_of_1000_due_reminders_exactly_once(
    database: Database, clock: FakeClock
) -> None:
    """Separate processes' worth of engines (own connections, own worker ids) split the work."""
    settings = RunnerSettings(concurrency=8)
    second_db = Database(database.url, **database.options)
    try:
        # Both start on an empty database, so neither gets a head start.
        first = await start_engine(database, clock, settings=settings)
        second = await start_engine(second_db, clock, settings=settings)
        ids = await seed_due(
            database, patients=200, per_patient=5, due_at=clock.now(), valid_for=timedelta(hours=1)
        )
        assert len(ids) == 1000
        async with asyncio.timeout(IDLE_TIMEOUT * 6):
            await asyncio.gather(first.runner.refill(), second.runner.refill())
            await asyncio.gather(first.runner.wait_idle(), second.runner.wait_idle())
        await first.stop()
        await second.stop()
    finally:
        await second_db.dispose()

    sends = Counter(d.reminder.reminder_id for d in first.notifier.sent + second.notifier.sent)
    assert set(sends) == set(ids)
    assert max(sends.values()) == 1
    assert first.notifier.sent and second.notifier.sent, "both schedulers took part"
    async with database.session() as session:
        found = (await session.execute(select(Reminder.status))).scalars().all()
    assert Counter(found) == {ReminderStatus.SENT: 1000}
