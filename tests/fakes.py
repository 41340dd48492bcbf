"""Fakes for the outside world: a notifier that records and can be told to fail, and a
monotonic clock that moves only when a test moves it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from scheduler.clock import Clock
from scheduler.outbox.notifier import DeliveryError, OutgoingReminder

T = TypeVar("T")


@dataclass
class Delivery:
    """One reminder the fake notifier accepted, and when (by the clock)."""

    reminder: OutgoingReminder
    at: datetime


@dataclass
class RecordingNotifier:
    """Records every reminder; ``failures`` maps a chat id to errors to raise, in order."""

    clock: Clock
    sent: list[Delivery] = field(default_factory=list)
    failures: dict[int, list[DeliveryError | Exception]] = field(default_factory=dict)
    calls: int = 0
    on_send: Callable[[OutgoingReminder], None] | None = None

    async def send_reminder(self, reminder: OutgoingReminder) -> None:
        """Raise the next queued failure for this chat, else record the delivery."""
        self.calls += 1
        queued = self.failures.get(reminder.chat_id)
        if queued:
            raise queued.pop(0)
        if self.on_send is not None:
            self.on_send(reminder)
        self.sent.append(Delivery(reminder, self.clock.now()))

    def milestones(self, chat_id: int | None = None) -> list[str]:
        """Milestone ids delivered (to one chat, or to all), in order."""
        return [
            d.reminder.milestone_id
            for d in self.sent
            if chat_id is None or d.reminder.chat_id == chat_id
        ]


class FakeMonotonic:
    """A ``MonotonicClock`` whose sleepers wake only when the test moves time on.

    ``advance`` moves to each sleeper's deadline in turn and lets the woken tasks run (and
    go to sleep again) before moving on, so a pacer behaves as it would in real time, with
    no real waiting.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), wake))
        await wake

    @property
    def sleeping(self) -> int:
        """How many tasks wait on this clock."""
        return sum(1 for _, _, wake in self._sleepers if not wake.done())

    @property
    def next_wake(self) -> float | None:
        """The earliest instant a task waits on this clock for, or None when none waits."""
        return min((at for at, _, wake in self._sleepers if not wake.done()), default=None)

    async def run(self, work: Awaitable[T]) -> T:
        """Run ``work``, moving time on to the next sleeper's deadline whenever one waits.

        Never past it: a task that was busy elsewhere (the database works in its own
        thread) and asks for its turn later finds the clock where the last sleeper woke, so
        the pace it gets is the pacer's alone, not the test machine's.
        """
        task = asyncio.ensure_future(work)
        while not task.done():
            wake = self.next_wake
            if wake is None:
                await asyncio.wait({task}, timeout=0.001)  # real I/O under way: let it work
            else:
                await self.advance(max(0.0, wake - self.now))
        return task.result()

    async def settle(self) -> None:
        """Let every task that can run, run until it waits again (no I/O is involved)."""
        for _ in range(200):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time on by ``seconds``, waking sleepers in the order of their deadlines."""
        end = self.now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= end:
            deadline, _, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not wake.done():
                wake.set_result(None)
                await self.settle()
        self.now = end
        await self.settle()
