"""One Telegram budget per bot token, shared by every process that sends with it.

Telegram counts per bot token, not per process: about ``rate`` messages a second over all
chats, about one a second to a private chat (after a short burst), 20 a minute to a group.
``TelegramBudget`` keeps those limits as moving windows ("at most N sends in any S seconds")
in a ``BudgetBackend``: in memory for one process, or in Redis through the ``limits``
library (its moving-window strategy, atomic in Redis) when several processes share a token.

Every send also keeps the *pace*: one send per slot of about ``1/rate`` seconds over every
process (slots following each other; in Redis ``limits``' sliding-window counter, in whole
milliseconds). A moving window alone lets a second's sends leave together whenever its
oldest ones expire, and a send counted as it leaves reaches Telegram a little earlier or
later than that: a bunch that left just after the window's edge is counted there in the same
second as the previous bunch (429). Paced sends leave a slot apart, so a send must be late
by most of a slot before Telegram counts one too many; and as the slots keep their cadence,
a late send does not push every later one back (a full moving window hands each freed slot
on a round trip late, second after second). The overall window stays Telegram's cap, which
the pace, a little slower, does not reach.

Sends that wait are served by ``Priority`` within a process: a reply in conversation first,
then alerts and staff relays, then reminders, then broadcasts. Across processes there is no
shared queue: after the pace refused a send, it looks again when the next slot opens, later
by ``PACE_DEFER`` for each step of lower priority, so a reply waiting in one process takes
the slot before the reminders of the others look. And a reminder or a broadcast copy only
takes a slot of the overall window while ``headroom`` more stay free: bulk alone never
fills a second (after a pause the pace in Redis lets two sends through at once, which
would make the second that follows one too full).

A 429 that still gets through blocks every send of every process sharing the backend until
its ``retry_after`` has passed (``block``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import heapq
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from scheduler.clock import MonotonicClock, SystemMonotonic
from scheduler.outbox.notifier import NotSentError

if TYPE_CHECKING:
    from limits.aio.strategies import MovingWindowRateLimiter

    from scheduler.outbox.metrics import Metrics

log = logging.getLogger(__name__)

OVERALL_KEY = "all"
BLOCK_KEY = "blocked"
PACE_KEY = "pace"
# After a refused take that said there was room (another process was quicker), look again
# after this long rather than at once.
RETRY_POLL = 0.01
# The least wait after the pace refused a send (its slot ends within a millisecond).
PACE_POLL = 0.001
# How much later than a send one step better a send looks for the next slot of the pace.
PACE_DEFER = 0.002


class Priority(IntEnum):
    """Who waits for whom: a lower value is served first."""

    REPLY = 0  # an answer in conversation (a send that says nothing is one)
    ALERT = 1  # an urgent alert to the clinic, a relay between staff and a patient
    REMINDER = 2  # a care reminder or a catch-up
    BROADCAST = 3  # a copy of a clinic's broadcast


# Slots of the overall one-second window a send of each priority leaves free for others.
DEFAULT_HEADROOM = MappingProxyType(
    {Priority.REPLY: 0, Priority.ALERT: 0, Priority.REMINDER: 1, Priority.BROADCAST: 1}
)


@dataclass(frozen=True)
class Window:
    """At most ``limit`` sends in any ``seconds``; under a second, a pace: one send per slot
    of ``seconds`` (``limit`` must be 1), the slots following each other from the first send
    as long as sends keep coming (so a late send does not push the later slots back)."""

    limit: int
    seconds: float

    def __post_init__(self) -> None:
        """Refuse a window under a second of more than one send."""
        if self.seconds < 1.0 and self.limit != 1:
            raise ValueError("a window under a second is a pace: one send per slot")

    @property
    def slotted(self) -> bool:
        """Whether this is a pace, counted in slots."""
        return self.seconds < 1.0


class BudgetBackend(Protocol):
    """Where the windows are counted: in this process, or shared by several."""

    async def room(self, key: str, window: Window, cost: int = 1) -> float:
        """Seconds until ``cost`` more sends fit in ``key``'s window (0: they fit now)."""
        ...

    async def take(self, key: str, window: Window) -> bool:
        """Count one send in ``key``'s window if it fits (atomically); False if full."""
        ...

    async def block(self, seconds: float) -> None:
        """No send, in any process sharing this backend, for ``seconds`` from now."""
        ...

    async def blocked_for(self) -> float:
        """Seconds left of a block (0: none)."""
        ...

    async def close(self) -> None:
        """Let go of connections."""
        ...


class MemoryBackend:
    """The windows of one process, on an injected monotonic clock."""

    def __init__(self, clock: MonotonicClock | None = None, *, max_keys: int = 10_000) -> None:
        """Count on ``clock``; forget drained windows once more than ``max_keys`` are kept."""
        self.clock = clock or SystemMonotonic()
        self.max_keys = max_keys
        self._logs: dict[str, tuple[Window, deque[float]]] = {}
        self._slots: dict[str, tuple[Window, float]] = {}  # a pace: the start of its slot
        self._blocked_until = 0.0

    def _slot_room(self, key: str, window: Window, now: float) -> float:
        """Seconds until the pace's next slot (0: the current one is free). As ``limits``'
        sliding-window counter in Redis: a slot taken at ``start`` is followed by one at
        ``start + seconds``, unless nothing was sent in that one (then the next send
        starts a new slot)."""
        entry = self._slots.get(key)
        if entry is None or entry[0] != window:
            return 0.0
        return max(0.0, entry[1] + window.seconds - now)

    def _take_slot(self, key: str, window: Window, now: float) -> bool:
        if self._slot_room(key, window, now) > 0:
            return False
        entry = self._slots.get(key)
        start = now
        if entry is not None and entry[0] == window and now < entry[1] + 2 * window.seconds:
            start = entry[1] + window.seconds
        self._slots[key] = (window, start)
        if len(self._slots) > self.max_keys:
            self._slots = {
                k: (w, at) for k, (w, at) in self._slots.items() if at + 2 * w.seconds > now
            }
        return True

    def _log(self, key: str, window: Window, now: float) -> deque[float]:
        entry = self._logs.get(key)
        if entry is None or entry[0] != window:
            entry = (window, deque())
            self._logs[key] = entry
            if len(self._logs) > self.max_keys:
                self._forget_drained(now)
        sent = entry[1]
        # The same sum as in ``room``, so a send refused here never has room there.
        while sent and sent[0] + window.seconds <= now:
            sent.popleft()
        return sent

    def _forget_drained(self, now: float) -> None:
        for key, (window, sent) in list(self._logs.items()):
            if not sent or sent[-1] + window.seconds <= now:
                del self._logs[key]

    async def room(self, key: str, window: Window, cost: int = 1) -> float:
        """Seconds until ``cost`` more sends fit (the ``cost``-th oldest of the full ones
        leaves the window)."""
        now = self.clock.monotonic()
        if window.slotted:
            return math.inf if cost > 1 else self._slot_room(key, window, now)
        sent = self._log(key, window, now)
        over = len(sent) + cost - window.limit
        if over <= 0:
            return 0.0
        if over > len(sent):
            return math.inf  # never fits: cost is above the limit
        return sent[over - 1] + window.seconds - now

    async def take(self, key: str, window: Window) -> bool:
        """Count one send if it fits."""
        now = self.clock.monotonic()
        if window.slotted:
            return self._take_slot(key, window, now)
        sent = self._log(key, window, now)
        if len(sent) >= window.limit:
            return False
        sent.append(now)
        return True

    async def block(self, seconds: float) -> None:
        """Block every send of this process for ``seconds``."""
        self._blocked_until = max(self._blocked_until, self.clock.monotonic() + seconds)

    async def blocked_for(self) -> float:
        """Seconds left of the block."""
        return max(0.0, self._blocked_until - self.clock.monotonic())

    async def close(self) -> None:
        """Nothing to let go of."""


class RedisBackend:
    """The windows in Redis, shared by every process that uses the same URL and namespace.

    The counting is the ``limits`` library's (one Lua script per take, atomic in Redis)
    over ``redis-py``'s asyncio client; the block is one key that expires by itself
    (``SET ... PX``). Windows of a second or more are ``limits``' moving window: it stamps
    entries with each process's wall clock (``time.time()``) and counts in whole seconds, so
    processes on several machines need synchronised clocks, and a window of 3.3 s is kept as
    4 s (stricter, never looser). A window shorter than a second (the pace) is ``limits``'
    sliding-window counter, whose script counts in milliseconds on Redis's own clock (``PX``
    and ``PTTL``), its windows following each other from the first send: one send per
    ``seconds`` becomes a few sends per whole number of milliseconds, never faster (1/29.1 s:
    2 per 69 ms, one about every 34.5 ms).
    """

    def __init__(self, url: str, *, namespace: str) -> None:
        """Connect lazily to ``url`` (``redis://``, ``rediss://`` or ``unix://``); every key
        starts with ``namespace``."""
        from limits import RateLimitItemPerSecond
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import (
            MovingWindowRateLimiter,
            SlidingWindowCounterRateLimiter,
        )
        from redis.asyncio import Redis

        self.namespace = namespace
        self._item = RateLimitItemPerSecond
        self._client: Redis = Redis.from_url(url)
        storage = RedisStorage(
            f"async+{url}",
            implementation="redispy",
            key_prefix=namespace,
            # Documented by limits, though its annotation of **options does not say so.
            connection_pool=self._client.connection_pool,  # type: ignore[arg-type]
        )
        self._limiter: MovingWindowRateLimiter = MovingWindowRateLimiter(storage)
        self._pacer: SlidingWindowCounterRateLimiter = SlidingWindowCounterRateLimiter(storage)
        self._items: dict[Window, tuple[Any, Any]] = {}

    def _rate_item(self, window: Window) -> tuple[Any, Any]:
        """The ``limits`` item for ``window`` and the strategy that counts it."""
        found = self._items.get(window)
        if found is None:
            if window.slotted:
                sends, millis = _pace_in_milliseconds(window.seconds)
                found = (_per_millisecond()(sends, millis), self._pacer)
            else:
                seconds = max(1, math.ceil(window.seconds - 1e-9))
                found = (self._item(window.limit, seconds), self._limiter)
            self._items[window] = found
        return found

    async def room(self, key: str, window: Window, cost: int = 1) -> float:
        """Seconds until ``cost`` more sends fit (0: they fit now): for a moving window, when
        its oldest send leaves it."""
        if cost > window.limit:
            return math.inf
        item, strategy = self._rate_item(window)
        reset, remaining = await strategy.get_window_stats(item, key)
        if remaining >= cost:
            return 0.0
        wait = float(reset) - time.time()
        return max(wait, PACE_POLL if window.slotted else RETRY_POLL)

    async def take(self, key: str, window: Window) -> bool:
        """Count one send if it fits (``limits``' hit, atomic in Redis)."""
        item, strategy = self._rate_item(window)
        return bool(await strategy.hit(item, key))

    async def block(self, seconds: float) -> None:
        """Set the shared block, never shortening one already set."""
        ms = max(1, math.ceil(seconds * 1000))
        key = f"{self.namespace}:{BLOCK_KEY}"
        current = await self._client.pttl(key)
        if current is None or current < ms:
            await self._client.set(key, b"1", px=ms)

    async def blocked_for(self) -> float:
        """Seconds left of the shared block (its key's time to live)."""
        left = await self._client.pttl(f"{self.namespace}:{BLOCK_KEY}")
        return max(0, left or 0) / 1000.0

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def clear(self) -> None:
        """Remove every key of this namespace (tests and the benchmark start clean)."""
        async for key in self._client.scan_iter(match=f"{self.namespace}*"):
            await self._client.delete(key)


def _pace_in_milliseconds(seconds: float) -> tuple[int, int]:
    """One send per ``seconds`` (under one) as ``sends`` per ``millis`` whole milliseconds,
    never faster, the closest of up to four sends (1/29.1 s: 2 per 69 ms). With more than
    one, ``limits``' sliding-window counter still spreads them: it weighs the previous
    window's sends by how much of it is still within reach, so a full window is followed by
    one send at the start of the next and one halfway."""
    best = (1, min(999, math.ceil(seconds * 1000 - 1e-6)))
    for sends in range(2, 5):
        millis = math.ceil(sends * seconds * 1000 - 1e-6)
        if millis < 1000 and millis / sends < best[1] / best[0]:
            best = (sends, millis)
    return best


@functools.cache
def _per_millisecond() -> type[Any]:
    """``limits``' rate-limit item for a window of whole milliseconds (its own items go down
    to a second). Only the sliding-window counter may count it: its Redis script takes the
    window in seconds and works in milliseconds (``PX``); the moving window's would ``EXPIRE``
    a fraction of a second, which Redis refuses."""
    from limits.limits import Granularity, RateLimitItem

    class PerMillisecond(RateLimitItem):
        """``amount`` per ``multiples`` milliseconds."""

        GRANULARITY = Granularity(1, "millisecond")

        def get_expiry(self) -> float:  # type: ignore[override]
            """The window in seconds: exact for whole milliseconds below a second."""
            return self.multiples / 1000

    return PerMillisecond


def token_namespace(token: str, *, prefix: str = "aftercare:budget") -> str:
    """Key prefix for one bot token: a hash of it, never the token itself."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]
    return f"{prefix}:{digest}"


def redact(url: str) -> str:
    """A backend URL fit for a log line: no password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=f"{user}{host}{port}").geturl()


BACKEND_SCHEMES = ("memory", "redis", "rediss", "unix")


def open_backend(url: str, *, namespace: str, clock: MonotonicClock | None = None) -> BudgetBackend:
    """The backend a ``TELEGRAM_BUDGET_URL`` names: ``memory://`` or a Redis URL."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryBackend(clock)
    if scheme in BACKEND_SCHEMES:
        return RedisBackend(url, namespace=namespace)
    raise ValueError(f"{redact(url)!r}: use memory:// or redis://host:port/db")


class PriorityLock:
    """A lock handed on by priority (lowest value first), then by ticket (arrival order).

    Its holder may wait inside it (``sleep``) and step aside when a better waiter comes.
    """

    def __init__(self) -> None:
        """Free, with nobody waiting."""
        self._holder: tuple[int, int] | None = None
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._better: asyncio.Future[None] | None = None
        self._tickets = itertools.count()

    @property
    def idle(self) -> bool:
        """Nobody holds it and nobody waits."""
        return self._holder is None and not any(not w[2].done() for w in self._waiters)

    @contextlib.asynccontextmanager
    async def hold(self, priority: int, ticket: int | None = None) -> AsyncIterator[None]:
        """Hold the lock for the block's duration; ``ticket`` orders equal priorities (by
        default, the order of arrival here)."""
        key = (priority, next(self._tickets) if ticket is None else ticket)
        if self._holder is None:
            self._holder = key
        else:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (*key, turn))
            if key < self._holder and self._better is not None and not self._better.done():
                self._better.set_result(None)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._hand_on()  # it was handed to us as we were cancelled
                raise
        try:
            yield
        finally:
            self._hand_on()

    async def sleep(self, clock: MonotonicClock, seconds: float) -> bool:
        """As the holder, wait ``seconds`` on ``clock``; True (early) if a better waiter
        came meanwhile, who should go first."""
        assert self._holder is not None
        if any(not w[2].done() and w[:2] < self._holder for w in self._waiters):
            return True
        better: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._better = better
        sleeper = asyncio.ensure_future(clock.sleep(seconds))
        try:
            await asyncio.wait({sleeper, better}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            if self._better is better:
                self._better = None
        return better.done()

    def _hand_on(self) -> None:
        while self._waiters:
            priority, ticket, turn = heapq.heappop(self._waiters)
            if not turn.done():
                self._holder = (priority, ticket)
                turn.set_result(None)
                return
        self._holder = None


class TelegramBudget:
    """Waits until a send fits Telegram's limits for this bot token, best priority first."""

    def __init__(
        self,
        backend: BudgetBackend,
        *,
        rate: float | None = 30,
        per_chat_burst: int | None = 3,
        per_chat_interval: float = 1.1,
        group_per_minute: int | None = 20,
        headroom: dict[Priority, int] | MappingProxyType[Priority, int] = DEFAULT_HEADROOM,
        clock: MonotonicClock | None = None,
        metrics: Metrics | None = None,
        margin: float = 0.0,
    ) -> None:
        """Wait on ``clock`` (the backend's, for a memory backend). Limits (None or 0
        switches one off): ``rate`` sends a second over all chats;
        ``per_chat_burst`` to one private chat at once, then one every
        ``per_chat_interval`` seconds on average; ``group_per_minute`` to one group.
        ``metrics`` (settable later) records each wait and each 429. ``margin``: the share
        of ``rate`` the pace keeps unused, for the network: a send is counted when it
        leaves, and two that leave a second apart can reach Telegram a little less than a
        second apart. The pace's slot is ``1 / (rate × (1 − margin))`` (30/s with 3 %:
        34.4 ms; in Redis 2 sends per 69 ms)."""
        self.backend = backend
        self.metrics = metrics
        self.clock = clock or SystemMonotonic()
        self.overall = _rate_window(rate) if rate else None
        self.pace = _pace_window(rate, margin) if rate else None
        self.per_chat = (
            Window(per_chat_burst, per_chat_burst * per_chat_interval) if per_chat_burst else None
        )
        self.per_group = Window(group_per_minute, 60.0) if group_per_minute else None
        self.headroom = {p: headroom.get(p, 0) for p in Priority}
        self._gate = PriorityLock()
        self._lanes: dict[str, PriorityLock] = {}
        self._tickets = itertools.count()
        self._bulk_stopped = asyncio.Event()  # binds to no loop until it is awaited

    async def acquire(
        self,
        priority: Priority = Priority.REPLY,
        *,
        private_chat: int | None = None,
        group_chat: int | str | None = None,
    ) -> None:
        """Return when one send (to ``private_chat`` or ``group_chat``, if given) fits.

        Sends to one chat from this process go one at a time, best priority first, so they
        keep their order; then every send queues for the overall window by priority. With a
        pace, the send is counted in the overall window only when the caller says it has
        left (``sent``).
        """
        started = self.clock.monotonic()
        acquiring = self._acquire(priority, private_chat=private_chat, group_chat=group_chat)
        if priority >= Priority.REMINDER:
            await self._unless_stopped(acquiring)
        else:
            await acquiring
        if self.metrics is not None:
            self.metrics.record_budget_wait(priority, self.clock.monotonic() - started)

    async def _acquire(
        self, priority: Priority, *, private_chat: int | None, group_chat: int | str | None
    ) -> None:
        scoped: list[tuple[str, Window]] = []
        if private_chat is not None and self.per_chat is not None:
            scoped.append((f"chat:{private_chat}", self.per_chat))
        if group_chat is not None and self.per_group is not None:
            scoped.append((f"group:{group_chat}", self.per_group))
        ticket = next(self._tickets)
        if not scoped:
            await self._take_overall(priority, ticket)
            return
        lane_key = scoped[0][0]
        lane = self._lanes.setdefault(lane_key, PriorityLock())
        try:
            while True:
                async with lane.hold(priority, ticket):
                    if not await self._wait_for_room(scoped, lane):
                        continue  # a better send to this chat came: it goes first
                    await self._take_overall(priority, ticket)
                    if await self._take_all(scoped):
                        return
                    # Another process wrote to this chat meanwhile: its slot in the overall
                    # window is spent, never overdrawn; wait for the chat again.
        finally:
            if lane.idle and self._lanes.get(lane_key) is lane:
                del self._lanes[lane_key]

    def stop_bulk(self) -> None:
        """The process is stopping: reminders and broadcast copies still waiting for a slot
        (at a peak, a process's share of the budget holds dozens of them for seconds) raise
        ``NotSentError`` now, as does any that asks from now on; their senders hand them
        back for another process. Replies and alerts keep their turn."""
        self._bulk_stopped.set()

    def resume_bulk(self) -> None:
        """Take reminders and broadcast copies again (a runtime started again after a stop)."""
        self._bulk_stopped = asyncio.Event()

    async def _unless_stopped(self, acquiring: Coroutine[Any, Any, None]) -> None:
        """Wait for ``acquiring``, unless ``stop_bulk`` comes first."""
        stopped = self._bulk_stopped
        if stopped.is_set():
            acquiring.close()
            raise NotSentError("stopping")
        waiting = asyncio.ensure_future(acquiring)
        stopping = asyncio.ensure_future(stopped.wait())
        try:
            await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not waiting.done():
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
        if waiting.cancelled():
            raise NotSentError("stopping")
        waiting.result()  # a slot was taken: the send goes (or its error is raised)

    async def sent(self) -> None:
        """Count a send that has just left (after ``acquire``) in the overall window.

        With a pace, the overall window counts departures, not permissions: a send held up
        between the two (a busy event loop, a process off the CPU) is counted when it
        leaves, so the window keeps the sends after it a second behind it, and the one that
        would arrive 31st in a second waits instead. A send the window has no room for any
        more is not counted (it has left; the window is full either way)."""
        if self.pace is not None and self.overall is not None:
            await self.backend.take(OVERALL_KEY, self.overall)

    async def block(self, seconds: float) -> None:
        """Telegram said 429: hold every send of every process for ``seconds``."""
        if self.metrics is not None:
            self.metrics.record_429()
        await self.backend.block(seconds)

    async def close(self) -> None:
        """Let go of the backend's connections."""
        await self.backend.close()

    async def _wait_for_room(
        self, scoped: Sequence[tuple[str, Window]], lane: PriorityLock
    ) -> bool:
        """Wait until the chat's windows have room; False if a better send came first."""
        while True:
            wait = max([await self.backend.room(key, window) for key, window in scoped])
            if wait <= 0:
                return True
            if await lane.sleep(self.clock, wait):
                return False

    async def _take_all(self, scoped: Sequence[tuple[str, Window]]) -> bool:
        for key, window in scoped:
            if not await self.backend.take(key, window):
                return False
        return True

    async def _take_overall(self, priority: Priority, ticket: int) -> None:
        """Take a slot of the overall window, in turn by priority (a better send that comes
        while this one waits goes first)."""
        while True:
            async with self._gate.hold(priority, ticket):
                while True:
                    wait = await self._overall_wait(priority)
                    if wait <= 0:
                        return
                    if await self._gate.sleep(self.clock, wait):
                        break

    async def _overall_wait(self, priority: Priority) -> float:
        """0 when the send may go, else how long to wait before trying again.

        With a pace: the block and the overall window's room (``headroom`` more for bulk)
        are read together in one round trip, then the pace's slot is taken; the window
        counts the send when it has left (``sent``). Without one, the slot of the window is
        taken in the same round trip as the block is read (a slot taken during a block is
        left unused: it has left the window when the block ends)."""
        window = self.overall
        if window is None:
            return await self.backend.blocked_for()
        pace = self.pace
        if pace is None:
            blocked, taken = await asyncio.gather(
                self.backend.blocked_for(), self.backend.take(OVERALL_KEY, window)
            )
            if blocked > 0:
                return blocked
            if taken:
                return 0.0
            return max(await self.backend.room(OVERALL_KEY, window), RETRY_POLL)
        spare = min(self.headroom[priority], window.limit - 1)
        blocked, wait = await asyncio.gather(
            self.backend.blocked_for(), self.backend.room(OVERALL_KEY, window, cost=1 + spare)
        )
        if blocked > 0 or wait > 0:
            return max(blocked, wait, PACE_POLL)
        if await self.backend.take(PACE_KEY, pace):
            return 0.0
        # Worse sends look a little later, so a better one elsewhere goes first.
        wait = await self.backend.room(PACE_KEY, pace)
        return max(wait, PACE_POLL) + PACE_DEFER * int(priority)


def _pace_window(rate: float, margin: float) -> Window | None:
    """The pace's slot for ``rate`` a second less ``margin``, never shorter than the overall
    window's ``1/limit``; None when a slot would be a second or more (the overall window
    paces that)."""
    if rate < 2:
        return None
    seconds = max(1.0 / (rate * (1.0 - margin)), 1.0 / int(rate))
    return Window(1, seconds) if seconds < 1.0 else None


def _rate_window(rate: float) -> Window:
    """``rate`` a second as a window: ``rate`` (rounded down) in one second, or one in
    ``1/rate`` s."""
    if rate >= 1:
        return Window(int(rate), 1.0)
    return Window(1, 1.0 / rate)
