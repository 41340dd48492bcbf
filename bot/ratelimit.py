"""Outgoing pacing: every request python-telegram-bot makes waits for the Telegram budget.

``PacedRateLimiter`` is python-telegram-bot's ``BaseRateLimiter`` over a
``scheduler.outbox.budget.TelegramBudget``: requests with a ``chat_id`` count against the overall
window (and a group's), messages to a private chat against that chat's; requests without one
(``getUpdates``, ``answerCallbackQuery``, ``getMe``) are not paced. Callers say how urgent a
send is through python-telegram-bot's ``rate_limit_args`` (a ``Priority``); a call without
it is a reply in conversation, served first. A 429 that still gets through blocks every send
(of every process, with a shared budget) for its ``retry_after``, then the request is tried
again ``max_retries`` times before the ``RetryAfter`` reaches the caller.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

from bot.notifier import retry_after_seconds
from scheduler.outbox.budget import MemoryBackend, Priority, TelegramBudget

log = logging.getLogger(__name__)

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]

# Methods that put something in a chat (edits and callback answers are not paced per chat).
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


class PacedRateLimiter(BaseRateLimiter[Priority]):
    """Waits for the budget before each request, by priority; handles a 429 for everyone."""

    def __init__(
        self,
        *,
        budget: TelegramBudget | None = None,
        overall_max_rate: float = 30,
        group_max_rate: int = 20,
        per_chat_burst: int = 3,
        per_chat_interval: float = 1.1,
        max_retries: int = 3,
    ) -> None:
        """Wait for ``budget``; without one, an in-memory budget of this process with these
        limits (0 switches one off): ``overall_max_rate`` a second, ``group_max_rate`` a
        minute per group, ``per_chat_burst`` at once to a private chat then one every
        ``per_chat_interval`` seconds. ``max_retries``: tries after a 429 before its
        ``RetryAfter`` reaches the caller (3, as python-telegram-bot's limiter did: a couple
        of 429s never cost a reminder its turn)."""
        self.budget = budget or TelegramBudget(
            MemoryBackend(),
            rate=overall_max_rate,
            per_chat_burst=per_chat_burst,
            per_chat_interval=per_chat_interval,
            group_per_minute=group_max_rate,
        )
        self.max_retries = max(0, max_retries)

    async def initialize(self) -> None:
        """Nothing to prepare: a shared backend connects on first use."""

    async def shutdown(self) -> None:
        """Close the budget's connections."""
        await self.budget.close()

    async def _count_sent(self) -> None:
        """The budget counts a send as it leaves; a backend that fails to count it does not
        fail the send (the pace alone still spaces what follows)."""
        try:
            await self.budget.sent()
        except Exception:
            log.warning("The Telegram budget could not count a send", exc_info=True)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Priority | None,
    ) -> JSONResult:
        """Wait for the budget at the request's priority, then make it."""
        chat_id: Any = data.get("chat_id")
        if chat_id is None:
            return await callback(*args, **kwargs)
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        priority = Priority(rate_limit_args) if rate_limit_args is not None else Priority.REPLY
        private = isinstance(chat_id, int) and chat_id > 0
        paced_chat = private and endpoint.lower() in PACED_METHODS
        for attempt in range(self.max_retries + 1):
            await self.budget.acquire(
                priority,
                private_chat=chat_id if paced_chat else None,
                group_chat=None if private else chat_id,
            )
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                await self._count_sent()
                seconds = retry_after_seconds(exc)
                await self.budget.block(seconds)
                if attempt == self.max_retries:
                    raise
                log.warning("Telegram answered 429: every send waits %.1f s", seconds)
                continue
            except TelegramError:
                await self._count_sent()  # it left, whatever came back
                raise
            await self._count_sent()
            return result
        raise AssertionError("unreachable")  # pragma: no cover
