"""An outage of the Bot API: every call fails with a 5xx or hangs until the client times out,
and nothing a call asked for takes effect; once it ends, calls work again."""

from __future__ import annotations

import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bot.standin import StandIn
from tests.standin.conftest import CHAT, make_bot


async def test_an_outage_answers_5xx_and_sends_nothing(bot: Bot, standin: StandIn) -> None:
    standin.outage(seconds=600, status=502)
    assert standin.in_outage
    with pytest.raises(NetworkError, match="(?i)bad gateway"):
        await bot.send_message(CHAT, "lost in the outage")
    with pytest.raises(NetworkError):
        await bot.get_updates()
    assert standin.messages == []
    assert [c.status for c in standin.calls[-2:]] == [502, 502]
    standin.end_outage()
    assert not standin.in_outage
    await bot.send_message(CHAT, "back")
    assert [m.text for m in standin.messages] == ["back"]


async def test_a_hanging_outage_times_the_client_out_without_effect(standin: StandIn) -> None:
    async with make_bot(standin, read_timeout=0.15) as bot:
        standin.outage(seconds=600, status=None, hang=True)
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "never arrives")
        standin.end_outage()
        await standin.wait_until(lambda: len(standin.calls) >= 2, what="the hung call's record")
        assert standin.calls[-1].status == 0
        await bot.send_message(CHAT, "after the outage")
    assert [m.text for m in standin.messages] == ["after the outage"]


async def test_an_outage_ends_by_itself(bot: Bot, standin: StandIn) -> None:
    standin.outage(seconds=0)
    assert not standin.in_outage
    await bot.send_message(CHAT, "no outage left")
    assert len(standin.messages) == 1


def test_an_outage_answers_only_server_errors(standin: StandIn) -> None:
    with pytest.raises(ValueError, match="5xx"):
        standin.outage(seconds=1, status=429)
