"""Telegram's flood limits: a token bucket and a sliding window over a monotonic clock.

Both answer in two steps, ``wait`` then ``take``, so a send refused by one limit does not
use up the allowance of another.
"""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """``burst`` sends at once, refilled at ``rate`` a second (one private chat)."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.at = now

    def _refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now

    def wait(self, now: float) -> float:
        """Seconds until a send is allowed (0 if it is allowed now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Count one send."""
        self._refill(now)
        self.tokens -= 1


class SlidingWindow:
    """At most ``limit`` sends in any ``span`` seconds (all chats, or one group)."""

    def __init__(self, limit: int, span: float) -> None:
        self.limit = max(1, limit)
        self.span = span
        self.sent: deque[float] = deque()

    def _forget(self, now: float) -> None:
        while self.sent and now - self.sent[0] >= self.span:
            self.sent.popleft()

    def wait(self, now: float) -> float:
        """Seconds until a send is allowed (0 if it is allowed now)."""
        self._forget(now)
        if len(self.sent) < self.limit:
            return 0.0
        return self.sent[len(self.sent) - self.limit] + self.span - now

    def take(self, now: float) -> None:
        """Count one send."""
        self._forget(now)
        self.sent.append(now)
