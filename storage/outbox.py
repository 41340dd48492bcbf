"""The outbox: messages to staff kept until they are delivered, claimed like reminders.

Reminders and broadcast copies are rows of the same table (``storage.reminders`` and
``storage.broadcasts`` read and write them); what is here works on the messages to staff
only, except ``cancel_for_chat``, which cancels the messages and copies waiting for a chat
that is gone (its reminders are settled through its patient, ``stop_recipient``).

A message is claimed with a lease before it is sent (one conditional UPDATE; on PostgreSQL
the batch is picked with ``FOR UPDATE SKIP LOCKED``), so two processes never both send it,
and a process that dies mid-send leaves it to the next one once the lease runs out. A
message that is done with loses its text and its buttons; the row stays for the record
until ``prune`` removes it by age.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import REMINDER, MessageStatus, OutboxMessage


@dataclass(frozen=True)
class NewMessage:
    """A message to put in the outbox."""

    kind: str
    priority: int
    chat_id: int
    body: str
    due_at: datetime
    expires_at: datetime
    buttons: str | None = None
    clinic_id: int | None = None
    staff_id: int | None = None
    patient_id: int | None = None


@dataclass(frozen=True)
class ClaimedMessage:
    """A message claimed for sending, with everything the send needs."""

    id: int
    kind: str
    priority: int
    chat_id: int
    body: str
    buttons: str | None
    due_at: datetime
    expires_at: datetime
    attempts: int


@dataclass(frozen=True)
class SettledMessage:
    """What became of a claimed message: a final status, or pending again at ``due_at``."""

    message_id: int
    status: MessageStatus
    at: datetime
    error: str | None = None
    due_at: datetime | None = None


_CLAIMED = (
    OutboxMessage.id,
    OutboxMessage.kind,
    OutboxMessage.priority,
    OutboxMessage.chat_id,
    OutboxMessage.body,
    OutboxMessage.buttons,
    OutboxMessage.due_at,
    OutboxMessage.expires_at,
    OutboxMessage.attempts,
)


# The messages to staff among the outbox's rows (neither a broadcast copy nor a reminder).
TO_STAFF = and_(OutboxMessage.broadcast_id.is_(None), OutboxMessage.kind != REMINDER)


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    return [
        TO_STAFF,
        OutboxMessage.status == MessageStatus.PENDING,
        OutboxMessage.due_at <= now,
        OutboxMessage.expires_at > now,
        or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.lease_until <= now),
    ]


def _ours(message_id: int, owner: str) -> list[ColumnElement[bool]]:
    return [
        OutboxMessage.id == message_id,
        OutboxMessage.claimed_by == owner,
        OutboxMessage.status == MessageStatus.PENDING,
    ]


class OutboxRepository:
    """Reads and writes of the outbox inside the caller's unit of work (never commits)."""

    def __init__(self, session: AsyncSession) -> None:
        """Work in ``session``."""
        self.session = session

    async def add(self, *, messages: Sequence[NewMessage], now: datetime) -> list[int]:
        """Put ``messages`` in the outbox, pending; returns their ids in the same order."""
        ids: list[int] = []
        for message in messages:  # one by one: RETURNING of a multi-row insert is unordered
            result = await self.session.execute(
                insert(OutboxMessage)
                .values(
                    kind=message.kind,
                    priority=message.priority,
                    chat_id=message.chat_id,
                    body=message.body,
                    buttons=message.buttons,
                    clinic_id=message.clinic_id,
                    staff_id=message.staff_id,
                    patient_id=message.patient_id,
                    status=MessageStatus.PENDING,
                    created_at=now,
                    due_at=message.due_at,
                    expires_at=message.expires_at,
                    attempts=0,
                )
                .returning(OutboxMessage.id)
            )
            ids.append(result.scalar_one())
        return ids

    async def claim(
        self,
        *,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        skip_locked: bool,
        ids: Sequence[int] | None = None,
    ) -> list[ClaimedMessage]:
        """Take up to ``limit`` due messages (only among ``ids`` when given) for sending, in
        one statement: most urgent first, then oldest."""
        target = (
            select(OutboxMessage.id)
            .where(*_claimable(now))
            .order_by(OutboxMessage.priority, OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
        )
        if ids is not None:
            if not ids:
                return []
            target = target.where(OutboxMessage.id.in_(ids))
        if skip_locked:
            target = target.with_for_update(skip_locked=True, of=OutboxMessage)
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(target.scalar_subquery()))
            .values(claimed_by=owner, lease_until=lease_until, attempts=OutboxMessage.attempts + 1)
            .returning(*_CLAIMED)
            .execution_options(synchronize_session=False)
        )
        claimed = [ClaimedMessage(**row._asdict()) for row in result.all()]
        claimed.sort(key=lambda m: (m.priority, m.due_at, m.id))
        return claimed

    async def settle(self, *, owner: str, outcomes: Sequence[SettledMessage]) -> set[int]:
        """Write down what became of claimed messages; returns the ids that were still ours
        (a claim whose lease ran out and was taken by another process is left alone)."""
        ours: set[int] = set()
        for outcome in outcomes:
            values: dict[str, object] = {"claimed_by": None, "lease_until": None}
            values["error"] = outcome.error
            if outcome.status is MessageStatus.PENDING:
                values["due_at"] = outcome.due_at or outcome.at
            else:
                values.update(
                    status=outcome.status, finished_at=outcome.at, body=None, buttons=None
                )
            result = await self.session.execute(
                update(OutboxMessage)
                .where(*_ours(outcome.message_id, owner))
                .values(**values)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            )
            if result.scalar_one_or_none() is not None:
                ours.add(outcome.message_id)
        return ours

    async def hand_back(self, *, owner: str, message_ids: Sequence[int]) -> None:
        """Give back claims never attempted (a stop): pending, the attempt not counted."""
        if not message_ids:
            return
        await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(message_ids),
                OutboxMessage.claimed_by == owner,
                OutboxMessage.status == MessageStatus.PENDING,
            )
            .values(claimed_by=None, lease_until=None, attempts=OutboxMessage.attempts - 1)
            .execution_options(synchronize_session=False)
        )

    async def expire_stale(self, *, now: datetime) -> int:
        """Mark pending messages past their expiry as expired (never sent); returns how many."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                TO_STAFF,
                OutboxMessage.status == MessageStatus.PENDING,
                OutboxMessage.expires_at <= now,
                or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.lease_until <= now),
            )
            .values(
                status=MessageStatus.EXPIRED,
                finished_at=now,
                body=None,
                buttons=None,
                claimed_by=None,
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def cancel_for_chat(self, *, chat_id: int, now: datetime) -> int:
        """Cancel what is still pending for ``chat_id`` (it blocked the bot or is gone)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.status == MessageStatus.PENDING,
                OutboxMessage.kind != REMINDER,
            )
            .values(status=MessageStatus.CANCELLED, finished_at=now, body=None, buttons=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def next_wake(self, *, now: datetime) -> datetime | None:
        """When there may next be something to claim: the earliest due instant of a pending
        unclaimed message, or the end of the earliest lease running."""
        due = await self.session.execute(
            select(OutboxMessage.due_at)
            .where(
                TO_STAFF,
                OutboxMessage.status == MessageStatus.PENDING,
                or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.lease_until <= now),
            )
            .order_by(OutboxMessage.due_at)
            .limit(1)
        )
        lease = await self.session.execute(
            select(OutboxMessage.lease_until)
            .where(
                TO_STAFF,
                OutboxMessage.status == MessageStatus.PENDING,
                OutboxMessage.lease_until > now,
            )
            .order_by(OutboxMessage.lease_until)
            .limit(1)
        )
        instants = [due.scalar_one_or_none(), lease.scalar_one_or_none()]
        return min((i for i in instants if i is not None), default=None)

    async def prune(self, *, finished_before: datetime) -> int:
        """Delete messages to staff done with before ``finished_before``; returns how many
        (broadcast copies stay as their broadcast's record)."""
        result = await self.session.execute(
            delete(OutboxMessage)
            .where(
                TO_STAFF,
                OutboxMessage.status != MessageStatus.PENDING,
                OutboxMessage.finished_at < finished_before,
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def get(self, message_id: int) -> OutboxMessage | None:
        """One message by id (for tests and the operator)."""
        return await self.session.get(OutboxMessage, message_id)
