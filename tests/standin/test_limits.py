"""Flood limits (429 with retry_after) and injected faults, seen through the real Bot."""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.notifier import retry_after_seconds as seconds
from bot.standin import StandIn
from tests.standin.conftest import CHAT, make_bot

# Reading RetryAfter.retry_after warns until PTB makes it a timedelta; the helper takes both.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_a_private_chat_gets_a_burst_then_429(bot: Bot, standin: StandIn) -> None:
    for index in range(3):
        await bot.send_message(CHAT, f"burst {index}")
    with pytest.raises(RetryAfter) as error:
        await bot.send_message(CHAT, "one too many")
    assert seconds(error.value) == 1
    call = standin.calls[-1]
    assert (call.status, call.description) == (429, "Too Many Requests: retry after 1")
    assert (standin.throttled, standin.rejected, len(standin.messages)) == (1, 0, 3)
    # Other chats are not affected by this chat's limit.
    standin.private_chat(2002)
    await bot.send_message(2002, "elsewhere")


async def test_the_per_chat_limit_refills_at_its_rate(standin: StandIn) -> None:
    # Half a second between two sends: "too soon" stays too soon on a loaded machine.
    standin.per_chat_rate, standin.per_chat_burst = 2.0, 1
    async with make_bot(standin) as bot:
        await bot.send_message(CHAT, "first")
        with pytest.raises(RetryAfter):
            await bot.send_message(CHAT, "too soon")
        await asyncio.sleep(0.55)
        await bot.send_message(CHAT, "after 1/2 s")


async def test_the_global_cap_covers_all_chats(standin: StandIn) -> None:
    standin.global_rate, standin.per_chat_rate = 5, None
    for chat_id in range(1, 7):
        standin.private_chat(chat_id)
    async with make_bot(standin) as bot:
        for chat_id in range(1, 6):
            await bot.send_message(chat_id, "broadcast")
        with pytest.raises(RetryAfter) as error:
            await bot.send_message(6, "broadcast")
    assert seconds(error.value) >= 1
    assert standin.throttled == 1


async def test_a_group_gets_20_a_minute(standin: StandIn) -> None:
    group = standin.group_chat(-100500, title="Clinic staff")
    async with make_bot(standin) as bot:
        for index in range(20):
            await bot.send_message(group.chat_id, f"note {index}")
        with pytest.raises(RetryAfter) as error:
            await bot.send_message(group.chat_id, "note 21")
    assert 1 <= seconds(error.value) <= 60
    assert len(group.messages) == 20


async def test_limits_can_be_switched_off() -> None:
    async with StandIn(global_rate=None, per_chat_rate=None, group_rate_per_minute=None) as api:
        api.private_chat(CHAT)
        async with make_bot(api) as bot:
            await asyncio.gather(*(bot.send_message(CHAT, f"{i}") for i in range(50)))
        assert len(api.messages) == 50 and api.throttled == 0


@pytest.mark.parametrize(
    ("code", "error_type", "text"),
    [
        (400, BadRequest, "injected failure"),
        (403, Forbidden, "bot was blocked by the user"),
        (500, NetworkError, "internal server error"),
        (502, NetworkError, "bad gateway"),
    ],
)
async def test_fail_next_answers_with_the_given_error(
    bot: Bot, standin: StandIn, code: int, error_type: type[Exception], text: str
) -> None:
    standin.fail_next("sendMessage", error_code=code, count=2)
    for _ in range(2):
        with pytest.raises(error_type, match=f"(?i){text}"):
            await bot.send_message(CHAT, "hi")
    await bot.send_message(CHAT, "third time lucky")
    assert [c.status for c in standin.calls[-3:]] == [code, code, 200]
    assert [m.text for m in standin.messages] == ["third time lucky"]


async def test_fail_next_429_carries_retry_after(bot: Bot, standin: StandIn) -> None:
    standin.fail_next("sendmessage", retry_after=7)
    with pytest.raises(RetryAfter) as error:
        await bot.send_message(CHAT, "hi")
    assert seconds(error.value) == 7
    assert standin.calls[-1].description == "Too Many Requests: retry after 7"


async def test_fail_next_can_target_one_chat(bot: Bot, standin: StandIn) -> None:
    standin.private_chat(2002)
    standin.fail_next("sendMessage", error_code=403, chat_id=2002)
    await bot.send_message(CHAT, "not this one")
    with pytest.raises(Forbidden):
        await bot.send_message(2002, "this one")


async def test_delay_next_times_the_client_out_but_still_sends(standin: StandIn) -> None:
    standin.delay_next("sendMessage", 0.4)
    async with make_bot(standin, read_timeout=0.15) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "slow")
        assert time.monotonic() - started < 0.5
        await standin.wait_until(lambda: len(standin.messages) == 1, timeout=2)
        assert standin.messages[0].text == "slow"
        await bot.send_message(CHAT, "fast again")


async def test_a_dropped_connection_is_a_network_error(bot: Bot, standin: StandIn) -> None:
    standin.drop_connection_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "lost")
    assert standin.messages == [] and standin.calls[-1].status == 0
    standin.drop_connection_next("sendMessage", applied=True)
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "sent, answer lost")
    assert [m.text for m in standin.messages] == ["sent, answer lost"]
