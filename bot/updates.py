"""Update processing: different chats in parallel, one chat's updates strictly in order.

python-telegram-bot either processes every update one after another, or (with concurrent
updates) in any order. A patient's "20/11" must be handled after the /change that asked for
it, while a thousand patients registering at once should not wait for each other: each chat
gets a lock, taken before a slot of the overall concurrency limit, so a flood from one chat
queues behind its own lock and never occupies the slots the other chats need.

Polling asks Telegram for no more updates while enough are ready to run (``room``, awaited by
the ``getUpdates`` request). Telegram keeps updates until they are asked for; fetched all at
once, a backlog (a thousand patients answering in the same minute, or the updates waiting
after a restart) was parsed and queued in one go while the handlers already running waited
for the event loop: in ``bench.bot_registration`` the first 32 updates of each step took three
to four times as long as the rest. An update counts as ready from the moment it is queued
(``UpdateQueue``) until its handlers end, except while it waits for its own chat's turn, so
one chat's flood never holds back the other chats' updates.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from scheduler.care.turns import Turns


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """At most ``concurrency`` handlers at once; in arrival order within one chat.

    python-telegram-bot's own semaphore (``process_update`` is final) is set high, so that
    updates waiting for their chat's lock hold no slot; ``concurrency`` is applied inside.
    """

    def __init__(self, concurrency: int = 32, backlog: int = 4096, ahead: int = 0) -> None:
        """``ahead``: updates ready to run (queued, waiting for a slot or in one) before
        polling waits for ``room``; by default twice ``concurrency``, so the slots stay busy
        while the next ``getUpdates`` is under way."""
        super().__init__(backlog)
        self.concurrency = concurrency
        self.ahead = ahead or 2 * concurrency
        self.ready = 0  # fetched and not yet waiting for their chat, or holding its turn
        self._room = asyncio.Event()
        self._room.set()
        self._slots = asyncio.Semaphore(concurrency)
        self._turns = Turns()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Queue behind the chat's earlier updates, then take a slot and run the handlers."""
        chat_id = _chat_id(update)
        self._leave()  # counted since it was fetched (``UpdateQueue``)
        if chat_id is None:
            async with self._counted(), self._slots:
                await coroutine
            return
        async with self.hold(chat_id), self._counted(), self._slots:
            await coroutine

    def queue(self) -> UpdateQueue:
        """The Application's update queue: each update put in it counts as ready at once,
        before its task starts (polling may ask for more in between)."""
        return UpdateQueue(self)

    def arrived(self) -> None:
        """An update was put in the queue."""
        self.ready += 1

    async def room(self) -> None:
        """Return once fewer than ``ahead`` updates are ready to run (polling waits for
        this before it asks Telegram for more)."""
        while self.ready >= self.ahead:
            self._room.clear()
            await self._room.wait()

    @asynccontextmanager
    async def _counted(self) -> AsyncIterator[None]:
        self.ready += 1
        try:
            yield
        finally:
            self._leave()

    def _leave(self) -> None:
        self.ready -= 1
        if self.ready < self.ahead:
            self._room.set()

    def hold(self, chat_id: int) -> AbstractAsyncContextManager[None]:
        """Take the chat's turn: the reminder notifier uses this too, so a reminder due at
        the moment of registering arrives after the confirmation, not before it."""
        return self._turns.hold(chat_id)

    async def initialize(self) -> None:
        """Nothing is ready yet (updates still queued at a stop were dropped)."""
        self.ready = 0
        self._room.set()

    async def shutdown(self) -> None:
        """Nothing to tear down."""


class UpdateQueue(asyncio.Queue[object]):
    """python-telegram-bot's update queue, telling the processor of each update put in it
    (``put`` calls ``put_nowait``; the Application's stop signal is not an update)."""

    def __init__(self, processor: PerChatUpdateProcessor) -> None:
        super().__init__()
        self._processor = processor

    def put_nowait(self, item: object) -> None:
        """Queue ``item``; an update counts as ready from now."""
        super().put_nowait(item)
        if isinstance(item, Update):
            self._processor.arrived()


def _chat_id(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None
