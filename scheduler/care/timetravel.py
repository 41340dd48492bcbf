"""Moving a fake clock forward, delivering every reminder at its own instant on the way.

The offline demo (``/travel 2d``) and the end-to-end tests use this: the clock stops at each
due instant, so reminders arrive in order and each at its local hour, with no real waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from scheduler.clock import FakeClock
from scheduler.outbox.sender import ReminderRunner
from storage.reminders import ReminderRepository

STEP_TIMEOUT = 30.0


async def next_due(runner: ReminderRunner, after: datetime) -> datetime | None:
    """The next instant after ``after`` at which a reminder falls due."""
    async with runner.database.session() as session:
        return await ReminderRepository(session).next_due_after(after=after)


async def travel(
    runner: ReminderRunner,
    clock: FakeClock,
    delta: timedelta,
    *,
    step_timeout: float = STEP_TIMEOUT,
    on_stop: Callable[[datetime], Awaitable[None]] | None = None,
) -> int:
    """Advance ``clock`` by ``delta``, stopping at each due instant; returns the stops made.

    Each stop waits until what fell due has been delivered (or retried, expired...), so a
    caller sees the same order and local hours as a patient living through the time would.
    ``on_stop`` is awaited after each stop's deliveries (the demo prints what arrived).
    """
    if delta < timedelta(0):
        raise ValueError("time only moves forward")
    target = clock.now() + delta
    stops = 0
    async with asyncio.timeout(step_timeout):
        await runner.tick()
    while True:
        upcoming = await next_due(runner, clock.now())
        if upcoming is None or upcoming > target:
            break
        clock.set(upcoming)
        stops += 1
        async with asyncio.timeout(step_timeout):
            await runner.tick()
        if on_stop is not None:
            await on_stop(upcoming)
    clock.set(target)
    async with asyncio.timeout(step_timeout):
        await runner.tick()
    return stops
