"""Per-chat flood control: a burst of messages gets answered, not one reply per message."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field


@dataclass
class FloodGuard:
    """Allows ``burst`` replies per chat within ``window`` seconds; beyond that, one notice.

    Telegram allows about one message per second to a chat. A patient who sends 100
    messages in a second gets answers to the first eight and one notice, instead of a
    hundred replies that would run into 429s for minutes.
    """

    burst: int = 8
    window: float = 10.0
    max_chats: int = 10_000
    _seen: OrderedDict[int, deque[float]] = field(default_factory=OrderedDict)
    _noticed: dict[int, float] = field(default_factory=dict)

    def allow(self, chat_id: int, now: float) -> bool:
        """Whether a reply to this chat's message now stays within the allowance."""
        times = self._seen.setdefault(chat_id, deque())
        self._seen.move_to_end(chat_id)
        while times and now - times[0] > self.window:
            times.popleft()
        if len(self._seen) > self.max_chats:
            evicted, _ = self._seen.popitem(last=False)
            self._noticed.pop(evicted, None)
        times.append(now)
        return len(times) <= self.burst

    def should_notice(self, chat_id: int, now: float) -> bool:
        """Whether to send the one "slow down" notice of this window."""
        last = self._noticed.get(chat_id)
        if last is not None and now - last <= self.window:
            return False
        self._noticed[chat_id] = now
        return True
