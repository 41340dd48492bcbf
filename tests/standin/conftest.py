"""Fixtures: a running stand-in and the real python-telegram-bot ``Bot`` pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.standin import StandIn

CHAT = 1001
# A real 1x1 PNG: Telegram refuses a "photo" that is not an image.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    """The stand-in with Telegram's limits, and one private chat that started the bot."""
    async with StandIn() as server:
        server.private_chat(CHAT)
        yield server


def make_bot(standin: StandIn, *, read_timeout: float = 5.0) -> Bot:
    """The real Bot, talking HTTP to the stand-in."""
    return Bot(
        standin.token,
        base_url=standin.base_url,
        base_file_url=standin.base_file_url,
        request=HTTPXRequest(read_timeout=read_timeout),
        get_updates_request=HTTPXRequest(read_timeout=read_timeout + 10),
    )


@pytest.fixture
async def bot(standin: StandIn) -> AsyncIterator[Bot]:
    """An initialised Bot (initialize() calls getMe)."""
    async with make_bot(standin) as client:
        yield client
