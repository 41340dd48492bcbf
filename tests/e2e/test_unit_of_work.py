"""One unit of work per update: how many database transactions a patient's update costs.

Every BEGIN the engine runs while an update is handled is counted for that update (those of
the tasks it starts too, such as the group commit of a registration); the reminder loop's
wake-up after a registration is its own business (issue 14, the outbox) and is left out.
A typical update reads its chat once and writes once: at most two transactions. A question
typed in free text costs one more the first time in an hour (the patient's last-seen time,
written at most hourly) besides the visit and the question's record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event

from bot.updates import PerChatUpdateProcessor
from tests.e2e.harness import WAIT, BotHarness, choose_language, press, say

MAX_TRANSACTIONS = 2
MAX_FOR_A_QUESTION = 3

_counter: ContextVar[list[int] | None] = ContextVar("update_transactions", default=None)


@contextmanager
def counting(bot: BotHarness) -> Iterator[list[list[int]]]:
    """Count the transactions of each update handled inside the block, in arrival order."""
    assert bot.runtime is not None
    runtime = bot.runtime
    processor = runtime.application.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    per_update: list[list[int]] = []
    handle = processor.do_process_update
    refill = runtime.services.care.on_schedule_changed
    assert refill is not None

    async def counted(update: object, coroutine: Awaitable[Any]) -> None:
        counter = [0]
        per_update.append(counter)
        token = _counter.set(counter)
        try:
            await handle(update, coroutine)
        finally:
            _counter.reset(token)

    async def uncounted() -> object:
        token = _counter.set(None)
        try:
            return await refill()
        finally:
            _counter.reset(token)

    def begin(*_: object) -> None:
        counter = _counter.get()
        if counter is not None:
            counter[0] += 1

    engine = runtime.services.database.engine.sync_engine
    processor.do_process_update = counted  # type: ignore[method-assign]
    runtime.services.care.on_schedule_changed = uncounted
    event.listen(engine, "begin", begin)
    try:
        yield per_update
    finally:
        event.remove(engine, "begin", begin)
        processor.do_process_update = handle  # type: ignore[method-assign]
        runtime.services.care.on_schedule_changed = refill


async def test_registering_costs_at_most_two_transactions_an_update(bot: BotHarness) -> None:
    chat = bot.chat()
    with counting(bot) as per_update:
        chat.start()
        await chat.wait_for(1, timeout=WAIT)  # the language question
        await choose_language(chat)  # the consent question
        await press(chat, "Yes, that's fine")  # the date question
        (confirmation,) = await press(chat, "Today")
        assert "coming up" in confirmation.text.lower()
        await say(chat, "/status")
        await say(chat, "is some redness normal?")
    counts = [c[0] for c in per_update]
    assert len(counts) == 6, counts
    *typical, question = counts
    assert all(1 <= n <= MAX_TRANSACTIONS for n in typical), counts
    assert question <= MAX_FOR_A_QUESTION, counts
