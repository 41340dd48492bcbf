"""The one source of time: aware UTC instants, injectable so tests and the demo travel in time."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that can say what time it is, as an aware UTC datetime."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to; the offline demo and the tests travel with it."""

    def __init__(self, start: datetime | None = None) -> None:
        """Start at ``start`` (aware), or at the real current instant."""
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The current fake instant in UTC."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new instant; time never runs backwards."""
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (aware, not in the past of this clock)."""
        if instant.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self.advance(instant.astimezone(UTC) - self._now)


class MonotonicClock(Protocol):
    """Seconds that only go forward, and a way to wait for them: what pacers wait on.

    Tests drive a fake one, so no test waits (or asserts) a wall-clock duration.
    """

    def monotonic(self) -> float:
        """Seconds since an arbitrary start; never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` have passed on this clock."""
        ...


class SystemMonotonic:
    """The real monotonic clock and asyncio's sleep."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep(seconds)`` (a non-positive wait still yields to the loop)."""
        await asyncio.sleep(max(seconds, 0.0))
