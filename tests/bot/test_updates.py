"""``PerChatUpdateProcessor`` under the real python-telegram-bot Application, polling the
stand-in: polling fetches no more updates while enough are ready to run, one chat's flood does
not hold the other chats back, and every update is handled once, in order within its chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.standin import StandIn
from bot.transport import AiohttpRequest
from bot.updates import PerChatUpdateProcessor

FIRST_CHAT = 5000


@asynccontextmanager
async def polling(
    standin: StandIn,
    processor: PerChatUpdateProcessor,
    handle: Callable[[Update], object],
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The Application, wired as ``bot.application`` wires it, polling ``standin``;
    ``handle`` runs for every text message (awaited when it returns an awaitable)."""

    async def on_text(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        outcome = handle(update)
        if asyncio.iscoroutine(outcome):
            await outcome

    application = (
        ApplicationBuilder()
        .token(standin.token)
        .base_url(standin.base_url)
        .base_file_url(standin.base_file_url)
        .concurrent_updates(processor)
        .update_queue(processor.queue())
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connection_pool_size=1, wait_before=processor.room))
        .job_queue(None)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, on_text))
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        await application.start()
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


def get_updates_calls(standin: StandIn) -> int:
    return sum(1 for call in standin.calls if call.method.lower() == "getupdates")


async def test_polling_waits_while_enough_updates_are_ready_to_run() -> None:
    processor = PerChatUpdateProcessor(concurrency=4, ahead=8)
    release = asyncio.Event()
    started: list[int] = []
    handled: list[int] = []

    async def slow(update: Update) -> None:
        assert update.effective_chat is not None
        started.append(update.effective_chat.id)
        await release.wait()
        handled.append(update.effective_chat.id)

    async with StandIn(per_chat_rate=None) as standin:
        chats = [standin.private_chat(FIRST_CHAT + i) for i in range(300)]
        async with polling(standin, processor, slow):
            try:
                for chat in chats:
                    chat.send("hello")
                await standin.wait_until(lambda: len(started) == 4, 10)
                calls = get_updates_calls(standin)
                await asyncio.sleep(0.3)  # time enough for many polls, had polling not waited
                # One batch of 100 fetched: polling asked for no more, so none is confirmed.
                assert get_updates_calls(standin) == calls
                assert standin.pending_updates == 300
                assert processor.ready == 100
                assert len(started) == 4  # the concurrency still holds
            finally:
                release.set()  # else stopping would wait for the handlers forever
            await standin.wait_until(lambda: len(handled) == 300, 30)
            await standin.wait_until(lambda: standin.pending_updates == 0, 10)
        assert sorted(handled) == [chat.chat_id for chat in chats]  # each once
        assert processor.ready == 0


async def test_one_chats_flood_does_not_hold_back_the_other_chats() -> None:
    processor = PerChatUpdateProcessor(concurrency=4, ahead=8)
    release = asyncio.Event()
    flood_chat = FIRST_CHAT
    by_chat: dict[int, list[str]] = {}

    async def handle(update: Update) -> None:
        assert update.effective_chat is not None and update.effective_message is not None
        chat_id = update.effective_chat.id
        by_chat.setdefault(chat_id, []).append(update.effective_message.text or "")
        if chat_id == flood_chat:
            await release.wait()

    async with StandIn(per_chat_rate=None) as standin:
        flood = standin.private_chat(flood_chat)
        others = [standin.private_chat(FIRST_CHAT + 1 + i) for i in range(20)]
        async with polling(standin, processor, handle):
            for n in range(150):  # more than one batch: the others come in the second
                flood.send(f"flood {n}")
            for chat in others:
                chat.send("hello")
            try:
                # The flood's first message is stuck; its 149 others wait for their chat's
                # turn without counting as ready, so polling went on and the others ran.
                await standin.wait_until(lambda: len(by_chat) == 21, 10)
                assert by_chat[flood_chat] == ["flood 0"]
            finally:
                release.set()  # else stopping would wait for the handlers forever
            await standin.wait_until(lambda: len(by_chat[flood_chat]) == 150, 30)
        assert by_chat[flood_chat] == [f"flood {n}" for n in range(150)]  # in order
        assert all(by_chat[chat.chat_id] == ["hello"] for chat in others)
        assert processor.ready == 0
