"""Fixtures: a stand-in, and the real bot on the parametrised database with a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.standin import StandIn
from scheduler.clock import FakeClock
from storage.database import Database
from tests.e2e.harness import BotHarness, make_settings


@pytest.fixture
async def standin(request: pytest.FixtureRequest) -> AsyncIterator[StandIn]:
    """Telegram's limits as documented: 1 message a second per chat after a burst of 3.

    Tests marked ``fast_chat`` (journeys through a whole plan) allow 20 a second, and the
    bot's limiter is set to match, so a year of reminders does not take real minutes.
    """
    if request.node.get_closest_marker("fast_chat"):
        server = StandIn(per_chat_rate=20.0, per_chat_burst=20)
    else:
        server = StandIn(per_chat_rate=1.0, per_chat_burst=3)
    async with server:
        yield server


@pytest.fixture
async def bot(
    request: pytest.FixtureRequest,
    standin: StandIn,
    database: Database,
    clock: FakeClock,
    tmp_path: Path,
) -> AsyncIterator[BotHarness]:
    """The product, started; stopped after the test."""
    harness = BotHarness(
        standin=standin, database=database, clock=clock, settings=make_settings(tmp_path)
    )
    if request.node.get_closest_marker("fast_chat"):
        harness.per_chat_burst, harness.per_chat_interval = 20, 0.055
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
