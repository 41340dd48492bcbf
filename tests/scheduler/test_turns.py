"""Turns: one key at a time in arrival order, keys side by side, nothing kept afterwards."""

from __future__ import annotations

import asyncio

from scheduler.care.turns import Turns


async def test_one_key_runs_in_arrival_order_and_is_dropped_after() -> None:
    turns = Turns()
    order: list[int] = []

    async def holder(n: int) -> None:
        async with turns.hold("chat"):
            order.append(n)
            await asyncio.sleep(0)
            order.append(n)

    await asyncio.gather(*(holder(n) for n in range(5)))
    assert order == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert len(turns) == 0


async def test_different_keys_do_not_wait_for_each_other() -> None:
    turns = Turns()
    inside = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with turns.hold(1):
            inside.set()
            await release.wait()

    task = asyncio.create_task(first())
    await inside.wait()
    async with asyncio.timeout(1), turns.hold(2):
        assert len(turns) == 2
    release.set()
    await task
    assert len(turns) == 0


async def test_a_failing_holder_frees_the_key() -> None:
    turns = Turns()
    try:
        async with turns.hold("k"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with asyncio.timeout(1), turns.hold("k"):
        pass
    assert len(turns) == 0
