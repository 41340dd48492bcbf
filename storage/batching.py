"""Group commit: requests that arrive together are written in one transaction.

A registration is a handful of small statements, and through aiosqlite each statement is a
round trip to the database thread (about half a millisecond on a small machine): a
registration costs its round trips, not its rows. When many patients register at once (the
bot handles different chats in parallel), the requests that queue up behind the transaction
in progress are handed together to a batch function that writes them with set-based
statements (one SELECT for all their patients, one INSERT for all their rows) and committed
once. Nobody waits for a batch to fill: a request that arrives when nothing is in progress
starts at once, alone.

Each caller still gets its own outcome: its result after the shared commit, or its own
exception if the batch function reports one for it. If the commit itself fails, every request
of that batch gets the error and nothing of it is kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import Database

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Result = TypeVar("Result")

# Writes every request of a batch in ``session`` (without committing) and returns, in the
# same order, each one's result or the exception that is its caller's alone.
BatchWriter = Callable[[AsyncSession, Sequence[Request]], Awaitable[list[Result | Exception]]]
AfterCommit = Callable[[], Awaitable[object]]

DEFAULT_MAX_BATCH = 64


@dataclass
class _Pending(Generic[Request, Result]):
    request: Request
    future: asyncio.Future[Result] = field(repr=False)


class GroupCommit(Generic[Request, Result]):
    """Writes requests through ``write``, batching those that queue up behind each other."""

    def __init__(
        self,
        database: Database,
        write: BatchWriter[Request, Result],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        after_commit: AfterCommit | None = None,
    ) -> None:
        """``after_commit`` runs once after each committed batch, before anyone is answered."""
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.database = database
        self.write = write
        self.max_batch = max_batch
        self.after_commit = after_commit
        self._queue: deque[_Pending[Request, Result]] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0
        self.requests = 0

    async def submit(self, request: Request) -> Result:
        """Write ``request`` (possibly with others, in one transaction) and return its result."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(request, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="group-commit")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch: list[_Pending[Request, Result]] = []
            while self._queue and len(batch) < self.max_batch:
                pending = self._queue.popleft()
                if not pending.future.cancelled():  # its caller gave up before it started
                    batch.append(pending)
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[_Pending[Request, Result]]) -> None:
        try:
            async with self.database.session() as session:
                outcomes = await self.write(session, [p.request for p in batch])
                if len(outcomes) != len(batch):
                    raise RuntimeError(f"{len(outcomes)} outcomes for {len(batch)} requests")
                await session.commit()
        except BaseException as error:
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        self.batches += 1
        self.requests += len(batch)
        if self.after_commit is not None and not all(isinstance(o, Exception) for o in outcomes):
            try:
                await self.after_commit()
            except Exception:  # the data is committed; whoever relies on the hook catches up
                log.exception("hook after a group commit failed")
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if isinstance(outcome, Exception):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)
