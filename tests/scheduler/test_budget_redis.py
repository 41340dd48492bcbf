"""The shared Telegram budget in a real Redis (TEST_REDIS_URL): two budgets with their own
connections stand for two processes of one deployment, and together never pass one cap.
Every test counts under its own key prefix, removed afterwards."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from scheduler.outbox.budget import Priority, RedisBackend, TelegramBudget, Window, open_backend

pytestmark = pytest.mark.redis

Factory = Callable[[], RedisBackend]


@pytest.fixture
async def backends(redis_url: str) -> AsyncIterator[Factory]:
    """Backends ("processes") on one fresh namespace, each with its own connection pool."""
    namespace = f"aftercare-test:{uuid.uuid4().hex}"
    made: list[RedisBackend] = []

    def make() -> RedisBackend:
        backend = open_backend(redis_url, namespace=namespace)
        assert isinstance(backend, RedisBackend)
        made.append(backend)
        return backend

    yield make
    await made[0].clear()
    for backend in made:
        await backend.close()


async def test_two_processes_share_one_window_atomically(backends: Factory) -> None:
    first, second = backends(), backends()
    window = Window(10, 60.0)  # a minute: nothing leaves the window during the test
    results = await asyncio.gather(
        *(backend.take("all", window) for _ in range(15) for backend in (first, second))
    )
    assert sum(results) == 10
    assert await first.room("all", window) > 50
    assert await second.room("all", window) > 50
    assert await first.take("other", window)  # another key has its own window


async def test_room_leaves_headroom_and_a_chat_window_is_shared(backends: Factory) -> None:
    first, second = backends(), backends()
    window = Window(3, 3.3)  # kept as 3 in 4 s: whole seconds, never looser
    assert await first.take("chat:1", window) and await second.take("chat:1", window)
    assert await first.room("chat:1", window) == 0.0
    assert await first.room("chat:1", window, cost=2) > 0  # only one more fits
    assert await second.take("chat:1", window)
    assert not await first.take("chat:1", window)
    assert 3.0 < await second.room("chat:1", window) <= 4.0


async def test_the_pace_is_one_send_per_window_of_milliseconds(backends: Factory) -> None:
    first, second = backends(), backends()
    pace = Window(1, 0.034)  # limits' sliding-window counter, in milliseconds
    results = await asyncio.gather(
        *(b.take("pace", pace) for _ in range(5) for b in (first, second))
    )
    assert sum(results) == 1
    assert 0.0 < await second.room("pace", pace) <= 0.034
    # Every whole number of milliseconds below a second reaches Redis as whole milliseconds
    # (a fraction would be refused by PX).
    for millis in (1, 33, 34, 35, 69, 333, 999):
        assert await first.take(f"pace:{millis}", Window(1, millis / 1000))
    # 30/s less 3 %: 2 per 69 ms. After an idle spell both may go at once, then no more in
    # this window.
    slow = Window(1, 1 / 29.1)
    assert await first.take("slow", slow) and await second.take("slow", slow)
    assert not await first.take("slow", slow)
    assert 0.0 < await first.room("slow", slow) <= 0.069


async def test_a_429_in_one_process_blocks_the_other(backends: Factory) -> None:
    first, second = backends(), backends()
    assert await second.blocked_for() == 0.0
    await first.block(30.0)
    assert 29.0 < await second.blocked_for() <= 30.0
    await second.block(5.0)  # a shorter block never shortens the longer one
    assert await first.blocked_for() > 29.0


async def test_two_budgets_together_never_pass_the_cap(backends: Factory) -> None:
    cap = 20
    granted: list[float] = []

    async def send(budget: TelegramBudget, priority: Priority) -> None:
        await budget.acquire(priority)
        granted.append(time.time())  # limits stamps the window with the wall clock too
        await budget.sent()

    budgets = [TelegramBudget(backends(), rate=cap) for _ in range(2)]
    async with asyncio.timeout(30):
        await asyncio.gather(
            *(
                send(budget, priority)
                for budget in budgets
                for priority in (Priority.REPLY, Priority.REMINDER)
                for _ in range(15)
            )
        )
    assert len(granted) == 60
    # A grant is stamped a round trip after Redis counted it: look at windows a little
    # shorter than the second, which no round trip here comes near.
    ordered = sorted(granted)
    busiest = max(sum(1 for t in ordered if start <= t < start + 0.95) for start in ordered)
    assert busiest <= cap
