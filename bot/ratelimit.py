"""Outgoing pacing: Telegram's overall and group limits, plus one we add per private chat.

python-telegram-bot's ``AIORateLimiter`` keeps to about 30 messages a second overall and 20
a minute per group, but has no limit per private chat, where Telegram allows about one
message a second (short bursts tolerated, then 429). A patient who sends a flood, or a
handler that answers with two messages, must not run into 429s: we pace each private chat
with a small leaky bucket before the overall limiter, and let the overall limiter retry a
429 that still gets through after ``retry_after``.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]

# Methods that put something in a chat (edits and callback answers are not paced).
PACED_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendvoice",
        "sendvideo",
        "sendaudio",
        "sendanimation",
        "sendsticker",
        "sendmediagroup",
        "sendlocation",
        "sendcontact",
        "copymessage",
        "forwardmessage",
    }
)


class PacedRateLimiter(AIORateLimiter):
    """``AIORateLimiter`` with a per-private-chat bucket: ``per_chat_burst`` at once, then
    one message every ``per_chat_interval`` seconds."""

    def __init__(
        self,
        *,
        overall_max_rate: float = 30,
        group_max_rate: float = 20,
        per_chat_burst: int = 3,
        per_chat_interval: float = 1.1,
        max_retries: int = 3,
        max_chats: int = 4096,
    ) -> None:
        """Limits as Telegram documents them, a little under to leave room for clock skew."""
        super().__init__(
            overall_max_rate=overall_max_rate,
            overall_time_period=1,
            group_max_rate=group_max_rate,
            group_time_period=60,
            max_retries=max_retries,
        )
        self.per_chat_burst = per_chat_burst
        self.per_chat_interval = per_chat_interval
        self.max_chats = max_chats
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            limiter = AsyncLimiter(
                max_rate=self.per_chat_burst,
                time_period=self.per_chat_burst * self.per_chat_interval,
            )
            self._chats[chat_id] = limiter
            if len(self._chats) > self.max_chats:
                # Forget the least recently used chats whose bucket has drained anyway.
                for key, old in list(self._chats.items())[: len(self._chats) // 4]:
                    if old.has_capacity(old.max_rate):
                        del self._chats[key]
        self._chats.move_to_end(chat_id)
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        """Wait for the chat's bucket (private chats only), then apply the overall limits."""
        chat_id: Any = data.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        if isinstance(chat_id, int) and chat_id > 0 and endpoint.lower() in PACED_METHODS:
            async with self._chat_limiter(chat_id):
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
