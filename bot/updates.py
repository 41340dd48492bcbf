"""Update processing: different chats in parallel, one chat's updates strictly in order.

python-telegram-bot either processes every update one after another, or (with concurrent
updates) in any order. A patient's "20/11" must be handled after the /change that asked for
it, while a thousand patients registering at once should not wait for each other: each chat
gets a lock, taken before a slot of the overall concurrency limit, so a flood from one chat
queues behind its own lock and never occupies the slots the other chats need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from scheduler.care.turns import Turns


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """At most ``concurrency`` handlers at once; in arrival order within one chat.

    python-telegram-bot's own semaphore (``process_update`` is final) is set high, so that
    updates waiting for their chat's lock hold no slot; ``concurrency`` is applied inside.
    """

    def __init__(self, concurrency: int = 32, backlog: int = 4096) -> None:
        """See the module docstring."""
        super().__init__(backlog)
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._turns = Turns()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Queue behind the chat's earlier updates, then take a slot and run the handlers."""
        chat_id = _chat_id(update)
        if chat_id is None:
            async with self._slots:
                await coroutine
            return
        async with self.hold(chat_id), self._slots:
            await coroutine

    def hold(self, chat_id: int) -> AbstractAsyncContextManager[None]:
        """Take the chat's turn: the reminder notifier uses this too, so a reminder due at
        the moment of registering arrives after the confirmation, not before it."""
        return self._turns.hold(chat_id)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _chat_id(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None
