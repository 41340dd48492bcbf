"""SQLite through one-trip cursors: the same results, errors and transactions as aiosqlite's,
in fewer trips to SQLite's thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from storage.database import Database
from storage.models import QuestionCount
from storage.sqlite_link import OneHopConnection


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite file."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'link.sqlite3'}")
    await database.upgrade()
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every call sent to SQLite's thread, in order."""
    sent: list[str] = []
    original = OneHopConnection._execute

    async def counted(self: OneHopConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(OneHopConnection, "_execute", counted)
    return sent


def count_row(topic: str) -> dict[str, Any]:
    return {"topic": topic, "level": "normal", "day": 1, "count": 1}


async def test_rows_rowcount_and_ids_come_back(sqlite: Database) -> None:
    """Inserted ids, rows read back (all, one, none) and the rows an UPDATE changed."""
    async with sqlite.session() as session:
        first = await session.execute(insert(QuestionCount).values(count_row("a")))
        await session.execute(insert(QuestionCount), [count_row("b"), count_row("c")])
        changed = await session.execute(
            text("UPDATE question_counts SET count = count + 1 WHERE topic != 'a'")
        )
        await session.commit()
    assert first.inserted_primary_key is not None
    assert getattr(changed, "rowcount", None) == 2
    async with sqlite.session() as session:
        rows = (
            await session.execute(
                select(QuestionCount.topic, QuestionCount.count).order_by(QuestionCount.topic)
            )
        ).all()
        none = (
            await session.execute(select(QuestionCount.id).where(QuestionCount.topic == "z"))
        ).scalar_one_or_none()
    assert [tuple(r) for r in rows] == [("a", 1), ("b", 2), ("c", 2)]
    assert none is None


async def test_a_failed_statement_raises_and_its_transaction_rolls_back(sqlite: Database) -> None:
    """SQLite's error reaches the caller as SQLAlchemy's; nothing of the transaction stays."""
    async with sqlite.session() as session:
        await session.execute(insert(QuestionCount).values(count_row("a")))
        await session.commit()
    with pytest.raises(IntegrityError):
        async with sqlite.session() as session:
            await session.execute(insert(QuestionCount).values(count_row("b")))
            # the same topic, level and day again breaks the unique constraint
            await session.execute(insert(QuestionCount).values(count_row("a")))
    async with sqlite.session() as session:
        topics = (await session.execute(select(QuestionCount.topic))).scalars().all()
    assert topics == ["a"]


async def test_a_transaction_costs_one_trip_a_statement_and_one_to_commit(
    sqlite: Database, trips: list[str]
) -> None:
    """BEGIN IMMEDIATE rides with the first statement; a commit or rollback with nothing open
    (the pool's, when the connection comes back) is not sent at all."""
    async with sqlite.session() as session:
        await session.execute(insert(QuestionCount).values(count_row("a")))
        await session.execute(select(QuestionCount.id))
        await session.commit()
    assert trips == ["_run", "_run", "commit"]
    trips.clear()
    async with sqlite.session() as session:
        await session.execute(select(QuestionCount.id))
    assert trips == ["_run", "rollback"]  # the read's transaction, rolled back once
    trips.clear()
    async with sqlite.session() as session:
        await session.connection()  # began: BEGIN waits for a statement
        await session.commit()  # none came: nothing ran, nothing to end
    assert trips == []


async def test_begin_immediate_still_holds_the_write_lock(sqlite: Database) -> None:
    """The first statement of a transaction takes SQLite's write lock, even a read."""
    async with sqlite.session() as session:
        await session.execute(select(QuestionCount.id))
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, OneHopConnection)
        assert driver._conn.in_transaction


async def test_a_read_outside_a_transaction_does_not_wait_for_a_writer(sqlite: Database) -> None:
    """``Database.reading`` on SQLite reads what was committed while another session of this
    process holds the write lock (and its turn at it), and begins no transaction."""
    async with sqlite.session() as writer:
        await writer.execute(insert(QuestionCount).values(count_row("a")))
        async with asyncio.timeout(5), sqlite.reading() as reader:
            before = (await reader.execute(select(QuestionCount.topic))).scalars().all()
            raw = await (await reader.connection()).get_raw_connection()
            assert isinstance(raw.driver_connection, OneHopConnection)
            assert not raw.driver_connection._conn.in_transaction
        assert before == []  # not committed yet
        await writer.commit()
    async with sqlite.reading() as reader:
        after = (await reader.execute(select(QuestionCount.topic))).scalars().all()
    assert after == ["a"]
