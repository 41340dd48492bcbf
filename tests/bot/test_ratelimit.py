"""The rate limiter over the Telegram budget, with the real python-telegram-bot ``ExtBot``
over HTTP to the stand-in: the priority each send says reaches the budget, and a 429 blocks
every send for its ``retry_after`` (on a fake monotonic clock: nothing waits for real)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import pytest
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.broadcasting import BotBroadcastTransport
from bot.notifier import TelegramNotifier
from bot.ratelimit import PacedRateLimiter
from bot.sending import send_html
from bot.standin import StandIn
from content.texts import load_texts
from scheduler.outbox.budget import MemoryBackend, Priority, TelegramBudget
from scheduler.outbox.notifier import OutgoingReminder
from tests.fakes import FakeMonotonic

T = TypeVar("T")
CHAT = 1001
GROUP = -100500


class RecordingBudget(TelegramBudget):
    """The real budget, noting what each acquire asked for."""

    def __init__(self, clock: FakeMonotonic) -> None:
        super().__init__(MemoryBackend(clock), clock=clock, rate=30, per_chat_burst=10)
        self.asked: list[tuple[Priority, int | None, int | str | None]] = []

    async def acquire(
        self,
        priority: Priority = Priority.REPLY,
        *,
        private_chat: int | None = None,
        group_chat: int | str | None = None,
    ) -> None:
        self.asked.append((priority, private_chat, group_chat))
        await super().acquire(priority, private_chat=private_chat, group_chat=group_chat)


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    """No per-chat limit at the stand-in: its 429s here are only the ones a test asks for."""
    async with StandIn(per_chat_rate=None) as server:
        server.private_chat(CHAT)
        server.group_chat(GROUP)
        yield server


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


async def paced(clock: FakeMonotonic, send: Awaitable[T]) -> T:
    """Await ``send`` (real HTTP to the stand-in) while moving the fake clock on, a slot of
    the pace at a time, for as long as it waits for the budget."""
    task = asyncio.ensure_future(send)
    async with asyncio.timeout(10):
        while not task.done():
            await clock.advance(0.034)
            await asyncio.wait({task}, timeout=0.01)
    return task.result()


@pytest.fixture
async def bot(
    standin: StandIn, clock: FakeMonotonic
) -> AsyncIterator[tuple[ExtBot[Any], RecordingBudget]]:
    budget = RecordingBudget(clock)
    client: ExtBot[Any] = ExtBot(
        standin.token,
        base_url=standin.base_url,
        base_file_url=standin.base_file_url,
        request=HTTPXRequest(read_timeout=5),
        rate_limiter=PacedRateLimiter(budget=budget),
    )
    async with client:
        yield client, budget


async def test_each_kind_of_send_reaches_the_budget_with_its_priority(
    bot: tuple[ExtBot[Any], RecordingBudget], clock: FakeMonotonic
) -> None:
    client, budget = bot
    await paced(clock, send_html(client, CHAT, "<b>hello</b>"))
    await paced(clock, send_html(client, CHAT, "an alert", priority=Priority.ALERT))
    reminder = OutgoingReminder(
        reminder_id=1,
        chat_id=CHAT,
        milestone_id="day0_evening",
        phase_id="first_day",
        day=0,
        text="Cool water only.",
        buttons=(),
        title="Evening",
    )
    await paced(clock, TelegramNotifier(client, load_texts).send_reminder(reminder))
    await paced(
        clock,
        BotBroadcastTransport(client, load_texts).send(
            chat_id=CHAT, text="Open Saturday", photo=None, clinic="North"
        ),
    )
    sends = [(p, chat) for p, chat, _ in budget.asked]
    assert sends == [
        (Priority.REPLY, CHAT),
        (Priority.ALERT, CHAT),
        (Priority.REMINDER, CHAT),
        (Priority.BROADCAST, CHAT),
    ]


async def test_an_edit_counts_overall_but_not_against_the_chat(
    bot: tuple[ExtBot[Any], RecordingBudget], clock: FakeMonotonic
) -> None:
    client, budget = bot
    sent = await paced(clock, send_html(client, CHAT, "first"))
    await paced(clock, client.edit_message_text("second", chat_id=CHAT, message_id=sent.message_id))
    assert budget.asked[-1] == (Priority.REPLY, None, None)


async def test_a_group_counts_against_its_own_window_not_a_private_chats(
    bot: tuple[ExtBot[Any], RecordingBudget],
) -> None:
    client, budget = bot
    await send_html(client, GROUP, "to the staff group", priority=Priority.ALERT)
    assert budget.asked[-1] == (Priority.ALERT, None, GROUP)


async def test_a_429_blocks_every_send_for_its_retry_after_then_is_retried(
    standin: StandIn, bot: tuple[ExtBot[Any], RecordingBudget], clock: FakeMonotonic
) -> None:
    client, budget = bot
    standin.fail_next("sendMessage", chat_id=CHAT, error_code=429, retry_after=7)
    send = asyncio.create_task(send_html(client, CHAT, "after the 429"))
    for _ in range(200):  # the real HTTP round trip of the refused send
        if await budget.backend.blocked_for() > 0:
            break
        await asyncio.sleep(0.01)
    assert await budget.backend.blocked_for() == pytest.approx(7.0)
    await clock.advance(6.9)
    assert not send.done()
    assert [m.text for m in standin.messages] == []
    await clock.advance(0.2)
    message = await asyncio.wait_for(send, 5)
    assert message.text == "after the 429"
    assert [m.text for m in standin.messages] == ["after the 429"]


async def test_a_429_that_lasts_reaches_the_caller(standin: StandIn, clock: FakeMonotonic) -> None:
    from telegram.error import RetryAfter

    budget = RecordingBudget(clock)
    client: ExtBot[Any] = ExtBot(
        standin.token,
        base_url=standin.base_url,
        base_file_url=standin.base_file_url,
        request=HTTPXRequest(read_timeout=5),
        rate_limiter=PacedRateLimiter(budget=budget, max_retries=0),
    )
    async with client:
        standin.fail_next("sendMessage", chat_id=CHAT, error_code=429, retry_after=3)
        with pytest.raises(RetryAfter):
            await send_html(client, CHAT, "refused")
    assert await budget.backend.blocked_for() == pytest.approx(3.0)
