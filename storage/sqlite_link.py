"""aiosqlite with one trip to SQLite's thread per statement instead of four.

aiosqlite runs every call on its connection's own thread, and SQLAlchemy's adapter makes four
of them for each statement: create a cursor, execute, fetch the rows, close the cursor. Each
trip wakes that thread and then the event loop again (a queue put, a self-pipe write, a loop
turn), which with 32 updates in flight cost the bot more CPU than the statements themselves.
Here a cursor is only a holder on the event loop's side: ``execute`` runs the statement,
fetches its rows and closes the sqlite3 cursor in one call on the thread, and the rows,
``description``, ``rowcount`` and ``lastrowid`` are read from what that call brought back.

Two more trips go: a transaction's ``BEGIN IMMEDIATE`` waits for its first statement and runs
in that statement's trip (``begin_with_next_statement``; a transaction with no statement
never begins), and a commit or rollback with no transaction open (the pool's rollback when a
connection comes back, a read that began none) is not sent to the thread at all: sqlite3
would do nothing there.

Everything else (the thread, commit, rollback, close, the errors) is aiosqlite's. SQLAlchemy
reads every row of a plain cursor at once anyway; a server-side cursor here is buffered too,
which no query of ours relies on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import aiosqlite

_Outcome = tuple[Any, list[Any], int, int | None]


def _run(
    connection: sqlite3.Connection,
    begin: str | None,
    method: Callable[[sqlite3.Cursor], Callable[..., Any]],
    sql: str,
    parameters: Any,
) -> _Outcome:
    """On SQLite's thread: begin (if asked), execute, read every row, close the cursor."""
    if begin is not None:
        connection.execute(begin).close()
    cursor = connection.cursor()
    try:
        method(cursor)(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description is not None else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor:
    """The part of ``aiosqlite.Cursor`` SQLAlchemy uses, one thread trip per statement."""

    arraysize = 1

    def __init__(self, connection: OneHopConnection) -> None:
        """A cursor of ``connection``; nothing runs on the thread until ``execute``."""
        self._connection = connection
        self._rows: list[Any] = []
        self._position = 0
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> OneHopCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, method: Callable[..., Any], sql: str, parameters: Any) -> None:
        connection = self._connection
        begin, connection._pending_begin = connection._pending_begin, None
        outcome: _Outcome = await connection._execute(  # type: ignore[no-untyped-call]
            _run, connection._conn, begin, method, sql, parameters
        )
        self.description, self._rows, self.rowcount, self.lastrowid = outcome
        self._position = 0

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> OneHopCursor:
        """Run ``sql`` and keep its rows."""
        await self._run(_execute, sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> OneHopCursor:
        """Run ``sql`` once for each set of ``parameters``."""
        await self._run(_executemany, sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        """The rows not read yet."""
        rows = self._rows[self._position :]
        self._position = len(self._rows)
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """Up to ``size`` (by default ``arraysize``) of the rows not read yet."""
        end = self._position + (self.arraysize if size is None else size)
        rows = self._rows[self._position : end]
        self._position += len(rows)
        return rows

    async def fetchone(self) -> Any:
        """The next row, or None."""
        rows = await self.fetchmany(1)
        return rows[0] if rows else None

    async def close(self) -> None:
        """Nothing to do: ``execute`` closed the sqlite3 cursor already."""
        self._rows = []


def _execute(cursor: sqlite3.Cursor) -> Callable[..., Any]:
    return cursor.execute


def _executemany(cursor: sqlite3.Cursor) -> Callable[..., Any]:
    return cursor.executemany


class OneHopConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make one thread trip per statement."""

    _pending_begin: str | None = None

    def begin_with_next_statement(self, sql: str = "BEGIN IMMEDIATE") -> None:
        """Begin a transaction with ``sql``, in the same thread trip as its first statement."""
        self._pending_begin = sql

    def _in_transaction(self) -> bool:
        """Whether SQLite has a transaction open (read while no call of this connection runs
        on its thread: SQLAlchemy awaits each before the next). A begin still waiting for
        its first statement is forgotten: the transaction ends before it started."""
        self._pending_begin = None
        connection = self._connection
        return connection is not None and connection.in_transaction

    async def commit(self) -> None:
        """Commit the open transaction; without one, nothing to send to the thread."""
        if self._in_transaction():
            await super().commit()

    async def rollback(self) -> None:
        """Roll back the open transaction; without one, nothing to send to the thread."""
        if self._in_transaction():
            await super().rollback()

    def cursor(self) -> OneHopCursor:  # type: ignore[override]
        """A cursor that runs nothing on the thread until it executes."""
        return OneHopCursor(self)


def connector(*args: Any, **kwargs: Any) -> OneHopConnection:
    """What ``aiosqlite.connect(*args, **kwargs)`` returns, with one-hop cursors; its thread
    is a daemon, as SQLAlchemy makes aiosqlite's."""
    connection = OneHopConnection(partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True
    return connection
