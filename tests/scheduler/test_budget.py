"""The Telegram budget in one process: its windows, its priorities and a 429, on a fake
monotonic clock (no test waits or measures real time)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import pytest

from scheduler.outbox.budget import (
    MemoryBackend,
    Priority,
    PriorityLock,
    TelegramBudget,
    Window,
    _pace_in_milliseconds,
    open_backend,
    redact,
    token_namespace,
)
from scheduler.outbox.notifier import NotSentError
from tests.fakes import FakeMonotonic


def make_budget(clock: FakeMonotonic, **limits: object) -> TelegramBudget:
    return TelegramBudget(MemoryBackend(clock), clock=clock, **limits)  # type: ignore[arg-type]


def launch(
    budget: TelegramBudget, clock: FakeMonotonic, count: int, granted: list[tuple[float, str]],
    label: str = "", priority: Priority = Priority.REPLY, **chat: int,
) -> list[asyncio.Task[None]]:  # fmt: skip
    async def one(i: int) -> None:
        await budget.acquire(priority, **chat)
        granted.append((clock.monotonic(), f"{label}{i}"))
        await budget.sent()

    return [asyncio.create_task(one(i)) for i in range(count)]


def most_in_any(times: list[float], seconds: float) -> int:
    """The most grants within any window of ``seconds`` (as Telegram counts: half-open)."""
    ordered = sorted(times)
    return max(
        (sum(1 for t in ordered if start <= t < start + seconds) for start in ordered), default=0
    )


async def test_sends_keep_the_pace_and_never_pass_the_cap() -> None:
    clock = FakeMonotonic()
    budget = make_budget(clock, rate=30, per_chat_burst=None, margin=0.03)
    assert budget.overall == Window(30, 1.0)  # the cap; the pace keeps the margin
    assert budget.pace is not None and budget.pace.seconds == pytest.approx(1 / 29.1)
    granted: list[tuple[float, str]] = []
    tasks = launch(budget, clock, 100, granted)
    await clock.advance(3.5)
    assert all(task.done() for task in tasks)
    times = [t - 1000.0 for t, _ in granted]
    # One a slot, never a bunch: 1/29.1 s apart.
    assert times == pytest.approx([i / 29.1 for i in range(100)])
    assert most_in_any(times, 1.0) == 30
    per_second = Counter(int(t) for t in times)
    assert [per_second[s] for s in range(4)] == [30, 29, 29, 12]


async def test_a_private_chat_gets_a_burst_then_one_a_second_on_average() -> None:
    clock = FakeMonotonic()
    budget = make_budget(clock, rate=30, per_chat_burst=3, per_chat_interval=1.0)
    granted: list[tuple[float, str]] = []
    launch(budget, clock, 10, granted, private_chat=42)
    other: list[tuple[float, str]] = []
    launch(budget, clock, 1, other, private_chat=43)
    await clock.advance(0.2)
    burst = [0.0, 1 / 30, 2 / 30]  # the pace's slots
    assert [t - 1000.0 for t, _ in granted] == pytest.approx(burst)
    assert len(other) == 1  # another chat does not wait for this one
    await clock.advance(20)
    times = [t - 1000.0 for t, _ in granted]
    assert times == pytest.approx([*burst, *(3 + t for t in burst), *(6 + t for t in burst), 9.0])
    assert most_in_any(times, 3.0) == 3
    # The chat's messages keep their order.
    assert [name for _, name in granted] == [str(i) for i in range(10)]


async def test_a_group_gets_twenty_a_minute() -> None:
    clock = FakeMonotonic()
    budget = make_budget(clock, rate=30, group_per_minute=20)
    granted: list[tuple[float, str]] = []
    launch(budget, clock, 45, granted, group_chat=-100123)
    await clock.advance(59)
    assert len(granted) == 20
    await clock.advance(2)
    assert len(granted) == 40
    await clock.advance(60)
    assert len(granted) == 45
    assert most_in_any([t for t, _ in granted], 60.0) == 20


async def test_contended_budget_serves_replies_then_alerts_then_reminders_then_broadcasts() -> None:
    clock = FakeMonotonic()
    budget = make_budget(clock, rate=2, per_chat_burst=None)
    granted: list[tuple[float, str]] = []
    launch(budget, clock, 1, granted, "warmup")
    await clock.advance(0)  # the pace's slot (0.5 s) is taken: everything below waits
    launch(budget, clock, 3, granted, "broadcast", Priority.BROADCAST)
    await clock.advance(0)
    launch(budget, clock, 3, granted, "reminder", Priority.REMINDER)
    await clock.advance(0)
    launch(budget, clock, 2, granted, "alert", Priority.ALERT)
    await clock.advance(0)
    launch(budget, clock, 2, granted, "reply", Priority.REPLY)
    await clock.advance(0)
    assert [name for _, name in granted] == ["warmup0"]
    await clock.advance(10)
    order = [name.rstrip("0123456789") for _, name in granted[1:]]
    assert order == ["reply"] * 2 + ["alert"] * 2 + ["reminder"] * 3 + ["broadcast"] * 3
    assert most_in_any([t for t, _ in granted], 1.0) == 2


async def test_a_reply_in_another_process_takes_the_next_slot_before_bulk() -> None:
    clock = FakeMonotonic()
    backend = MemoryBackend(clock)  # one backend for two processes, as one Redis
    worker = TelegramBudget(backend, clock=clock, rate=10, per_chat_burst=None)
    bot = TelegramBudget(backend, clock=clock, rate=10, per_chat_burst=None)
    bulk: list[tuple[float, str]] = []
    launch(worker, clock, 30, bulk, "b", Priority.BROADCAST)
    await clock.advance(0.25)
    # A copy that waited looks 6 ms into each slot (3 steps of priority below a reply); the
    # slots keep their cadence.
    assert [t - 1000.0 for t, _ in bulk] == pytest.approx([0.0, 0.106, 0.206])
    replies: list[tuple[float, str]] = []
    launch(bot, clock, 1, replies)
    await clock.advance(0.2)
    # The worker's copies look for the 0.3 s slot a few milliseconds after the reply does.
    assert [t - 1000.0 for t, _ in replies] == pytest.approx([0.3])
    assert [t - 1000.0 for t, _ in bulk][3:] == pytest.approx([0.406])


async def test_bulk_leaves_headroom_that_replies_may_use() -> None:
    clock = FakeMonotonic()
    budget = make_budget(clock, rate=10, per_chat_burst=None)  # default headroom: 1 for bulk
    bulk: list[tuple[float, str]] = []
    launch(budget, clock, 30, bulk, "b", Priority.BROADCAST)
    await clock.advance(0.95)
    # One a slot; the tenth would take the second's last slot of the window.
    assert [t - 1000.0 for t, _ in bulk] == pytest.approx(
        [0.0] + [i / 10 + 0.006 for i in range(1, 9)]
    )
    replies: list[tuple[float, str]] = []
    launch(budget, clock, 1, replies)
    await clock.advance(0)
    assert [t - 1000.0 for t, _ in replies] == pytest.approx([0.95])
    await clock.advance(10)
    assert most_in_any([t for t, _ in bulk], 1.0) == 9
    assert min(b - a for (a, _), (b, _) in itertools.pairwise(bulk)) >= 0.094 - 1e-9


async def test_processes_sharing_a_backend_keep_one_pace_between_them() -> None:
    clock = FakeMonotonic()
    backend = MemoryBackend(clock)
    # Two processes' budgets over one backend, as over one Redis; 3 % kept for the network.
    budgets = [
        TelegramBudget(backend, clock=clock, rate=30, per_chat_burst=None, margin=0.03)
        for _ in range(2)
    ]
    assert budgets[0].pace is not None and budgets[0].pace.seconds == pytest.approx(1 / 29.1)
    granted: list[tuple[float, str]] = []
    for n, budget in enumerate(budgets):
        launch(budget, clock, 40, granted, f"reminder{n}-", Priority.REMINDER)
        launch(budget, clock, 40, granted, f"copy{n}-", Priority.BROADCAST)
    await clock.advance(10)
    assert len(granted) == 160
    times = sorted(t for t, _ in granted)
    # One a slot of 1/29.1 s, the slots keeping their cadence: a send the window held back
    # goes late in its slot, and the next one is not pushed back.
    slots = [int((t - times[0]) * 29.1 + 1e-6) for t in times]
    assert len(set(slots)) == len(slots)
    assert min(b - a for a, b in itertools.pairwise(times)) > 0.03
    # 29.1 a second: a second may hold 30 slots, but bulk leaves the last for a reply.
    assert most_in_any(times, 1.0) == 29
    for n in range(2):  # within a process, reminders before broadcast copies
        kinds = [name.split("-")[0] for _, name in granted]
        mine = [kind for kind in kinds if kind.endswith(str(n))]
        assert mine == [f"reminder{n}"] * 40 + [f"copy{n}"] * 40


async def test_a_429_blocks_every_send_until_it_passes() -> None:
    clock = FakeMonotonic()
    budget = make_budget(clock, rate=30, per_chat_burst=None)
    await budget.block(5.0)
    granted: list[tuple[float, str]] = []
    launch(budget, clock, 3, granted)
    await clock.advance(4.9)
    assert granted == []
    await clock.advance(0.2)
    assert [t - 1000.0 for t, _ in granted] == pytest.approx([5.0, 5 + 1 / 30, 5 + 2 / 30])
    await budget.block(2.0)
    await budget.block(1.0)  # a shorter block never shortens a longer one
    assert await budget.backend.blocked_for() == pytest.approx(2.0)


async def test_a_cancelled_waiter_does_not_hold_up_the_others() -> None:
    clock = FakeMonotonic()
    budget = make_budget(clock, rate=1, per_chat_burst=3, per_chat_interval=1.0)
    granted: list[tuple[float, str]] = []
    launch(budget, clock, 1, granted, "first", private_chat=7)
    await clock.advance(0)
    tasks = launch(budget, clock, 2, granted, "second", private_chat=7)
    await clock.advance(0)
    tasks[0].cancel()
    await clock.advance(1.0)
    assert [name for _, name in granted] == ["first0", "second1"]
    assert budget._lanes == {}  # nothing kept for a chat nobody writes to


async def test_priority_lock_hands_on_by_priority_then_arrival() -> None:
    lock = PriorityLock()
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with lock.hold(0):
            await release.wait()

    async def waiter(name: str, priority: int) -> None:
        async with lock.hold(priority):
            order.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiters = [
        asyncio.create_task(waiter(name, p))
        for name, p in (("low-a", 3), ("high", 0), ("low-b", 3), ("mid", 2))
    ]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiters)
    assert order == ["high", "mid", "low-a", "low-b"]
    assert lock.idle


async def test_memory_backend_counts_windows_and_forgets_drained_chats() -> None:
    clock = FakeMonotonic()
    backend = MemoryBackend(clock, max_keys=2)
    window = Window(2, 1.0)
    assert await backend.take("a", window) and await backend.take("a", window)
    assert not await backend.take("a", window)
    assert await backend.room("a", window) == pytest.approx(1.0)
    assert await backend.room("a", window, cost=3) == float("inf")
    await clock.advance(1.0)
    assert await backend.room("a", window) == 0.0
    await backend.take("b", window)
    await backend.take("c", window)  # third key: drained "a" is forgotten
    assert "a" not in backend._logs


async def test_a_send_held_up_after_its_turn_is_counted_when_it_leaves() -> None:
    clock = FakeMonotonic()
    budget = make_budget(clock, rate=10, per_chat_burst=None)
    departures: list[float] = []

    async def send(i: int) -> None:
        await budget.acquire(Priority.REPLY)
        if i == 0:
            await clock.sleep(0.25)  # the process was off the CPU between turn and send
        departures.append(clock.monotonic())
        await budget.sent()

    tasks = []
    for i in range(25):
        tasks.append(asyncio.create_task(send(i)))
        await clock.advance(0)
    await clock.advance(5)
    assert all(task.done() for task in tasks)
    # Counted when its turn came (0.0), the late send would have left the eleventh within a
    # second of it at 1.0; counted at 0.25, it holds that one back to 1.1.
    assert most_in_any(departures, 1.0) == 10
    assert sorted(departures)[10] - 1000.0 == pytest.approx(1.1)


async def test_memory_backend_counts_a_pace_in_slots_that_follow_each_other() -> None:
    clock = FakeMonotonic()
    backend = MemoryBackend(clock)
    pace = Window(1, 0.1)
    assert await backend.take("pace", pace)  # the first send starts a slot: 0.0-0.1
    await clock.advance(0.05)
    assert not await backend.take("pace", pace)
    assert await backend.room("pace", pace) == pytest.approx(0.05)
    await clock.advance(0.07)
    assert await backend.take("pace", pace)  # at 0.12, in the slot 0.1-0.2: the cadence holds
    assert await backend.room("pace", pace) == pytest.approx(0.08)
    await clock.advance(0.3)
    assert await backend.take("pace", pace)  # slots went unused: a new one starts at 0.42
    assert await backend.room("pace", pace) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="one send per slot"):
        Window(2, 0.5)


def test_a_pace_in_redis_is_a_few_sends_per_whole_milliseconds_never_faster() -> None:
    assert _pace_in_milliseconds(1 / 29.1) == (2, 69)  # 30/s less 3 %: one per 34.5 ms
    assert _pace_in_milliseconds(1 / 30) == (3, 100)
    assert _pace_in_milliseconds(0.034) == (1, 34)
    assert _pace_in_milliseconds(0.5) == (1, 500)


def test_namespace_hides_the_token_and_urls_hide_passwords() -> None:
    token = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789"
    namespace = token_namespace(token)
    assert token not in namespace and "123456" not in namespace
    assert namespace == token_namespace(token) != token_namespace(token + "x")
    assert redact("redis://:s3cret@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert isinstance(open_backend("memory://", namespace=namespace), MemoryBackend)
    with pytest.raises(ValueError, match="memory://"):
        open_backend("http://x", namespace=namespace)


async def test_a_stop_gives_up_the_bulk_sends_still_waiting_and_keeps_the_replies() -> None:
    """At a stop, reminders and broadcast copies waiting for a slot raise NotSentError (their
    senders hand them back) instead of holding the stop for their turn; a reply waits on."""
    clock = FakeMonotonic()
    budget = TelegramBudget(
        MemoryBackend(clock), rate=1, per_chat_burst=None, group_per_minute=None, clock=clock
    )
    await budget.acquire(Priority.REMINDER)  # the second's one slot
    await budget.sent()
    reminder = asyncio.ensure_future(budget.acquire(Priority.REMINDER))
    copy = asyncio.ensure_future(budget.acquire(Priority.BROADCAST))
    reply = asyncio.ensure_future(budget.acquire(Priority.REPLY))
    await clock.settle()
    assert not any(t.done() for t in (reminder, copy, reply))
    budget.stop_bulk()
    await clock.settle()
    for bulk in (reminder, copy):
        with pytest.raises(NotSentError):
            await bulk
    assert not reply.done()
    await clock.run(reply)  # its turn comes when the window has room
    with pytest.raises(NotSentError):  # and nothing bulk asks from now on
        await budget.acquire(Priority.REMINDER)
    await clock.run(budget.acquire(Priority.ALERT))


async def test_a_budget_started_again_takes_bulk_sends_again() -> None:
    budget = TelegramBudget(MemoryBackend(FakeMonotonic()), rate=10, per_chat_burst=None)
    budget.stop_bulk()
    with pytest.raises(NotSentError):
        await budget.acquire(Priority.BROADCAST)
    budget.resume_bulk()
    await budget.acquire(Priority.BROADCAST)
