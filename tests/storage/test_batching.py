"""Group commit: requests that queue up share one transaction, each keeps its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.batching import GroupCommit
from storage.database import Database
from storage.models import QuestionCount


async def questions(database: Database) -> list[str]:
    """The topics of every count row (a table with few columns and no foreign key)."""
    async with database.session() as session:
        return sorted((await session.execute(select(QuestionCount.topic))).scalars())


class Writer:
    """Writes one question row per request; a request "bad" fails alone, "boom" the batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def __call__(
        self, session: AsyncSession, requests: Sequence[str]
    ) -> list[int | Exception]:
        self.batches.append(list(requests))
        outcomes: list[int | Exception] = []
        for topic in requests:
            if topic == "boom":
                raise RuntimeError("the whole batch fails")
            if topic == "bad":
                outcomes.append(ValueError("this one is bad"))
                continue
            session.add(QuestionCount(topic=topic, level="normal", day=1, count=1))
            await session.flush()
            outcomes.append(len(outcomes))
        await asyncio.sleep(0)  # give later callers the chance to queue behind this batch
        return outcomes


async def test_requests_arriving_together_share_a_commit(database: Database) -> None:
    """The first request starts alone; those queued behind it go in as one batch."""
    writer, hooks = Writer(), []

    async def hook() -> None:
        hooks.append(len(writer.batches))

    commit: GroupCommit[str, int] = GroupCommit(database, writer, after_commit=hook)
    results = await asyncio.gather(*(commit.submit(f"t{i:02}") for i in range(20)))
    assert [len(b) for b in writer.batches] == [20]  # all queued before the drainer ran
    assert results == list(range(20))
    assert hooks == [1]
    more = [asyncio.create_task(commit.submit("first"))]
    await asyncio.sleep(0.001)  # the first is under way, alone
    more += [asyncio.create_task(commit.submit(f"later{i}")) for i in range(5)]
    await asyncio.gather(*more)
    assert [len(b) for b in writer.batches[1:]] == [1, 5]
    assert (commit.batches, commit.requests) == (3, 26)
    assert len(await questions(database)) == 26


async def test_a_failing_request_fails_alone(database: Database) -> None:
    """Its caller gets its exception; the others of the batch are committed."""
    commit: GroupCommit[str, int] = GroupCommit(database, Writer())
    outcomes = await asyncio.gather(
        commit.submit("a"), commit.submit("bad"), commit.submit("b"), return_exceptions=True
    )
    assert isinstance(outcomes[1], ValueError)
    assert await questions(database) == ["a", "b"]


async def test_a_failing_batch_keeps_nothing(database: Database) -> None:
    """When the batch itself fails, every caller of it gets the error and no row is kept."""
    hooks: list[int] = []

    async def hook() -> None:
        hooks.append(1)

    commit: GroupCommit[str, int] = GroupCommit(database, Writer(), after_commit=hook)
    outcomes = await asyncio.gather(
        commit.submit("a"), commit.submit("boom"), commit.submit("b"), return_exceptions=True
    )
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert await questions(database) == []
    assert hooks == []
    assert await commit.submit("after") == 0  # the next batch is not affected


async def test_batches_are_capped(database: Database) -> None:
    """No batch is larger than ``max_batch``."""
    writer = Writer()
    commit: GroupCommit[str, int] = GroupCommit(database, writer, max_batch=4)
    await asyncio.gather(*(commit.submit(f"t{i}") for i in range(10)))
    assert [len(b) for b in writer.batches] == [4, 4, 2]
    async with database.session() as session:
        assert (await session.execute(select(func.count(QuestionCount.id)))).scalar_one() == 10


async def test_a_request_given_up_before_it_starts_is_not_written(database: Database) -> None:
    """A caller cancelled while queued leaves nothing behind."""
    writer = Writer()
    commit: GroupCommit[str, int] = GroupCommit(database, writer)
    first = asyncio.create_task(commit.submit("first"))
    await asyncio.sleep(0.001)
    gone = asyncio.create_task(commit.submit("gone"))
    kept = asyncio.create_task(commit.submit("kept"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.gather(first, kept)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await questions(database) == ["first", "kept"]


def test_max_batch_must_be_positive(tmp_path: object) -> None:
    """A batch of none is a configuration error."""
    with pytest.raises(ValueError):
        GroupCommit(Database("sqlite+aiosqlite://"), Writer(), max_batch=0)
