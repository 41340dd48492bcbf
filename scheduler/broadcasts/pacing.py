"""The broadcast sender's own pace: at most ``rate`` sends a second, with no burst."""

from __future__ import annotations

import asyncio
from collections import deque

from scheduler.clock import MonotonicClock, SystemMonotonic


class Pacer:
    """The global send pace: at most ``rate`` sends a second, with no burst.

    Slots are ``1/rate`` apart (a token bucket holding at most one token, kept as the
    theoretical time of the next slot, so a late wake-up does not slow the pace). Telegram
    (and the stand-in) count sends in a sliding one-second window, and a send can reach them
    a little earlier or later than it left: so the actual departures are also kept at most
    ``floor(rate)`` in any ``(1 + margin)`` seconds. ``pause`` stops every send for a while
    (a 429's ``retry_after``). Time is read from, and waited for on, ``clock``: tests give it
    a fake one and check the pace without waiting for it.
    """

    def __init__(
        self, rate: float, *, margin: float = 0.03, clock: MonotonicClock | None = None
    ) -> None:
        """Pace at ``rate`` sends a second; ``margin`` widens the one-second window;
        ``clock`` is the real monotonic clock unless given."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        count = max(1, int(rate))
        self.span = count / rate * (1.0 + margin)
        self._recent: deque[float] = deque(maxlen=count)
        self._next = 0.0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.clock = clock or SystemMonotonic()

    def pause(self, seconds: float) -> None:
        """No send starts for ``seconds`` from now."""
        self._paused_until = max(self._paused_until, self.clock.monotonic() + seconds)

    async def acquire(self) -> None:
        """Wait for this send's turn (callers are served in order)."""
        async with self._lock:
            while True:
                now = self.clock.monotonic()
                at = max(self._next, self._paused_until, now)
                if len(self._recent) == self._recent.maxlen:
                    at = max(at, self._recent[0] + self.span)
                if at <= now:
                    break
                await self.clock.sleep(at - now)
            # Keep the cadence when this turn came a little late (an event loop wakes up to a
            # millisecond late); the window above still bounds every second.
            self._next = max(self._next, now - self.interval / 2) + self.interval
            self._recent.append(now)
