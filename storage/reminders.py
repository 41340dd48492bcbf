"""Reminder rows: planning writes them; delivery claims, leases and settles them.

A reminder is a row of the outbox (kind ``reminder``, mapped as ``Reminder``): the one
delivery queue, next to the messages to staff and the broadcast copies. Statements through
``Reminder`` touch only rows of its kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, insert, literal, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery_log import DeliveryLogRepository, NewLogEntry
from storage.models import (
    REMINDER,
    Patient,
    PatientStatus,
    Reminder,
    ReminderStatus,
    TreatmentSession,
)
from storage.tables import core_table

# The Telegram budget's priority of a reminder (scheduler.outbox.budget.Priority.REMINDER,
# which a test holds equal): the outbox orders by it, storage does not depend on the budget.
PRIORITY = 2


@dataclass(frozen=True)
class Recipient:
    """Whose session a reminder is for: the session, its patient and their chat."""

    session_id: int
    patient_id: int
    chat_id: int


@dataclass(frozen=True)
class NewReminder:
    """A reminder row to insert for a session."""

    milestone_id: str
    due_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ClaimedReminder:
    """Everything delivery needs about a reminder this worker has claimed."""

    id: int
    milestone_id: str
    due_at: datetime
    expires_at: datetime
    attempts: int
    session_date: date
    session_number: int
    plan_id: str
    patient_id: int
    chat_id: int
    language: str
    timezone: str
    quiet_start: time
    quiet_end: time


@dataclass(frozen=True)
class Settled:
    """How one claimed reminder's attempt ends: a final ``status``, or ``PENDING`` again and
    due at ``due_at`` (a retry or a deferral). ``at`` is when it was attempted."""

    reminder_id: int
    status: ReminderStatus
    at: datetime
    error: str | None = None
    due_at: datetime | None = None


def _of_active_patient() -> ColumnElement[bool]:
    """Whether the reminder's patient is active.

    A correlated EXISTS: one primary-key lookup per reminder row. ``patient_id IN (SELECT
    ... every active patient)`` made SQLite build the whole list on every claim.
    """
    return (
        select(Patient.id)
        .where(Patient.id == Reminder.patient_id, Patient.status == PatientStatus.ACTIVE)
        .exists()
    )


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Reminder.status == ReminderStatus.PENDING,
        Reminder.due_at <= now,
        or_(Reminder.claimed_by.is_(None), Reminder.lease_until < now),
        _of_active_patient(),
    ]


def _claimed_select() -> Select[*tuple[Any, ...]]:
    """What delivery needs about claimed reminders: the row, its session and its patient."""
    return (
        select(
            Reminder.id,
            Reminder.milestone_id,
            Reminder.due_at,
            Reminder.expires_at,
            Reminder.attempts,
            TreatmentSession.session_date,
            TreatmentSession.number.label("session_number"),
            TreatmentSession.plan_id,
            Patient.id.label("patient_id"),
            Patient.chat_id,
            Patient.language,
            Patient.timezone,
            Patient.quiet_start,
            Patient.quiet_end,
        )
        .join(TreatmentSession, TreatmentSession.id == Reminder.session_id)
        .join(Patient, Patient.id == Reminder.patient_id)
    )


# settle_claims and DeliveryLogRepository.add_many in one PostgreSQL statement.
_PG_SETTLE_AND_LOG = text(
    """
    WITH outcome AS (
        SELECT * FROM unnest(
            CAST(:ids AS integer[]), CAST(:statuses AS varchar[]), CAST(:errors AS varchar[]),
            CAST(:ats AS timestamptz[]), CAST(:dues AS timestamptz[])
        ) AS o(id, status, error, at, due_at)
    ),
    settled AS (
        UPDATE outbox AS r
        SET status = outcome.status,
            error = outcome.error,
            finished_at = CASE WHEN outcome.status = 'sent' THEN outcome.at ELSE r.finished_at END,
            due_at = coalesce(outcome.due_at, r.due_at),
            claimed_by = NULL,
            lease_until = NULL
        FROM outcome
        WHERE r.id = outcome.id AND r.kind = 'reminder' AND r.claimed_by = :owner
            AND r.status = 'pending'
        RETURNING r.id
    ),
    logged AS (
        INSERT INTO delivery_log (reminder_id, attempt, worker, outcome, error, at)
        SELECT * FROM unnest(
            CAST(:log_ids AS integer[]), CAST(:log_attempts AS integer[]),
            CAST(:log_workers AS varchar[]), CAST(:log_outcomes AS varchar[]),
            CAST(:log_errors AS text[]), CAST(:log_ats AS timestamptz[])
        )
    )
    SELECT id FROM settled
    """
)


class ReminderRepository:
    """Reminder rows: planning writes, delivery claims and settles."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def add_many(
        self, *, recipient: Recipient, now: datetime, reminders: Iterable[NewReminder]
    ) -> int:
        """Insert pending reminders for a session in one statement; returns how many."""
        return await self.add_for_sessions(planned=[(recipient, r) for r in reminders], now=now)

    async def add_for_sessions(
        self, *, planned: Iterable[tuple[Recipient, NewReminder]], now: datetime
    ) -> int:
        """Insert pending reminders of several sessions in one statement; returns how many."""
        rows = [
            {
                "kind": REMINDER,
                "priority": PRIORITY,
                "chat_id": to.chat_id,
                "patient_id": to.patient_id,
                "session_id": to.session_id,
                "milestone_id": r.milestone_id,
                "created_at": now,
                "due_at": r.due_at,
                "expires_at": r.expires_at,
                "status": ReminderStatus.PENDING,
                "attempts": 0,
                "snoozes": 0,
            }
            for to, r in planned
        ]
        if rows:  # Core, not the ORM's bulk insert: nothing here needs the ORM, and it is faster
            await self.session.execute(insert(core_table(Reminder)), rows)
        return len(rows)

    async def get(self, *, reminder_id: int) -> Reminder | None:
        """One reminder by id, or None."""
        return await self.session.get(Reminder, reminder_id)

    async def for_session(self, *, session_id: int) -> Sequence[Reminder]:
        """Every reminder of a session, in due order."""
        result = await self.session.execute(
            select(Reminder)
            .where(Reminder.session_id == session_id)
            .order_by(Reminder.due_at, Reminder.id)
        )
        return result.scalars().all()

    async def for_patient(self, *, patient_id: int) -> Sequence[Reminder]:
        """Every reminder of every session of a patient, in due order."""
        result = await self.session.execute(
            select(Reminder)
            .where(Reminder.patient_id == patient_id)
            .order_by(Reminder.due_at, Reminder.id)
        )
        return result.scalars().all()

    async def settle_pending(
        self,
        *,
        status: ReminderStatus,
        reason: str,
        patient_id: int | None = None,
        session_ids: Sequence[int] | None = None,
        expired_by: datetime | None = None,
        milestone_ids: Sequence[str] | None = None,
    ) -> int:
        """Move pending reminders of a patient or of sessions to ``status``; returns how many.

        With ``expired_by``, only those whose expiry is at or before that instant.
        """
        conditions = [Reminder.status == ReminderStatus.PENDING]
        if patient_id is not None:
            conditions.append(Reminder.patient_id == patient_id)
        if session_ids is not None:
            conditions.append(Reminder.session_id.in_(session_ids))
        if expired_by is not None:
            conditions.append(Reminder.expires_at <= expired_by)
        if milestone_ids is not None:
            conditions.append(Reminder.milestone_id.in_(milestone_ids))
        result = await self.session.execute(
            update(Reminder)
            .where(*conditions)
            .values(status=status, last_error=reason, claimed_by=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def expire_stale(self, *, now: datetime) -> int:
        """Mark expired every pending reminder whose expiry has passed; returns how many."""
        result = await self.session.execute(
            update(Reminder)
            .where(Reminder.status == ReminderStatus.PENDING, Reminder.expires_at <= now)
            .values(status=ReminderStatus.EXPIRED, last_error="stale", lease_until=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def due_before(
        self, *, horizon: datetime, now: datetime, limit: int
    ) -> Sequence[tuple[int, datetime, int]]:
        """Pending reminders of active patients due by ``horizon`` and free to claim.

        Returns ``(id, due_at, session_id)`` in due order; claimed rows whose lease is still
        running belong to another worker and are left out.
        """
        result = await self.session.execute(
            select(Reminder.id, Reminder.due_at, Reminder.session_id)
            .where(
                Reminder.status == ReminderStatus.PENDING,
                Reminder.due_at <= horizon,
                or_(Reminder.claimed_by.is_(None), Reminder.lease_until < now),
                _of_active_patient(),
            )
            .order_by(Reminder.due_at, Reminder.id)
            .limit(limit)
        )
        return [(row[0], row[1], row[2]) for row in result.all()]

    async def next_due_after(self, *, after: datetime) -> datetime | None:
        """The earliest due instant after ``after`` of a pending reminder of an active patient."""
        result = await self.session.execute(
            select(func.min(Reminder.due_at)).where(
                Reminder.status == ReminderStatus.PENDING,
                Reminder.due_at > after,
                _of_active_patient(),
            )
        )
        return result.scalar_one_or_none()

    async def next_lease_expiry(self, *, now: datetime) -> datetime | None:
        """When the earliest lease held by any worker runs out (a crashed worker's claim)."""
        result = await self.session.execute(
            select(func.min(Reminder.lease_until)).where(
                Reminder.status == ReminderStatus.PENDING, Reminder.lease_until >= now
            )
        )
        return result.scalar_one_or_none()

    async def claim(
        self,
        *,
        reminder_id: int,
        owner: str,
        now: datetime,
        lease_until: datetime,
        skip_locked: bool,
    ) -> ClaimedReminder | None:
        """Atomically take a due reminder for delivery, or None if it is not ours to send.

        One conditional UPDATE: only a pending, due, unclaimed (or lease-expired) reminder of
        an active patient is taken, and ``attempts`` counts the claim. On PostgreSQL the row
        is first locked with ``FOR UPDATE SKIP LOCKED`` so a racing worker moves on at once
        instead of queueing behind the lock.
        """
        target = select(Reminder.id).where(Reminder.id == reminder_id, *_claimable(now))
        if skip_locked:
            target = target.with_for_update(skip_locked=True)
        result = await self.session.execute(
            update(Reminder)
            .where(Reminder.id == target.scalar_subquery())
            .values(claimed_by=owner, lease_until=lease_until, attempts=Reminder.attempts + 1)
            .returning(Reminder.id)
            .execution_options(synchronize_session=False)
        )
        if result.scalar_one_or_none() is None:
            return None
        row = (
            await self.session.execute(_claimed_select().where(Reminder.id == reminder_id))
        ).one()
        return ClaimedReminder(**row._asdict())

    async def claim_due(
        self, *, owner: str, now: datetime, lease_until: datetime, limit: int, skip_locked: bool
    ) -> list[ClaimedReminder]:
        """Take up to ``limit`` due reminders for delivery in one statement, earliest first.

        The batch form of ``claim``: one conditional UPDATE over the first ``limit`` claimable
        rows in due order. On PostgreSQL they are picked with ``FOR UPDATE SKIP LOCKED``, so
        several workers claiming at once take disjoint batches without waiting on each
        other; SQLite has one writer at a time, which makes the conditional update enough.
        """
        target = (
            select(Reminder.id)
            .where(*_claimable(now), Reminder.expires_at > now)
            .order_by(Reminder.due_at, Reminder.id)
            .limit(limit)
        )
        if skip_locked:
            target = target.with_for_update(skip_locked=True, of=Reminder)
        result = await self.session.execute(
            update(Reminder)
            .where(Reminder.id.in_(target.scalar_subquery()))
            .values(claimed_by=owner, lease_until=lease_until, attempts=Reminder.attempts + 1)
            .returning(Reminder.id)
            .execution_options(synchronize_session=False)
        )
        ids = list(result.scalars().all())
        if not ids:
            return []
        rows = await self.session.execute(_claimed_select().where(Reminder.id.in_(ids)))
        claimed = [ClaimedReminder(**row._asdict()) for row in rows.all()]
        claimed.sort(key=lambda c: (c.due_at, c.id))
        return claimed

    async def next_wake(self, *, now: datetime) -> datetime | None:
        """When there may next be something to claim: the earliest due instant of a claimable
        reminder (in the past if one is due now), or the end of the earliest lease running."""
        due = await self.session.execute(
            select(Reminder.due_at)
            .where(
                Reminder.status == ReminderStatus.PENDING,
                or_(Reminder.claimed_by.is_(None), Reminder.lease_until < now),
                _of_active_patient(),
            )
            .order_by(Reminder.due_at)
            .limit(1)
        )
        instants = [due.scalar_one_or_none(), await self.next_lease_expiry(now=now)]
        return min((i for i in instants if i is not None), default=None)

    async def settle_and_log(
        self, *, owner: str, outcomes: Sequence[Settled], entries: Sequence[NewLogEntry]
    ) -> set[int]:
        """``settle_claims`` and the delivery-log rows of the same attempts, together.

        On PostgreSQL this is one statement whatever the number of rows (arrays unnested in
        a CTE: one round trip, and one text that is prepared once); elsewhere an UPDATE and a
        multi-row INSERT. Returns the ids still ours.
        """
        if self.session.get_bind().dialect.name != "postgresql" or not outcomes:
            ours = await self.settle_claims(owner=owner, outcomes=outcomes)
            await DeliveryLogRepository(self.session).add_many(entries=entries)
            return ours
        result = await self.session.execute(
            _PG_SETTLE_AND_LOG,
            {
                "owner": owner,
                "ids": [o.reminder_id for o in outcomes],
                "statuses": [o.status.value for o in outcomes],
                "errors": [o.error for o in outcomes],
                "ats": [o.at for o in outcomes],
                "dues": [o.due_at for o in outcomes],
                "log_ids": [e.reminder_id for e in entries],
                "log_attempts": [e.attempt for e in entries],
                "log_workers": [e.worker for e in entries],
                "log_outcomes": [e.outcome.value for e in entries],
                "log_errors": [e.error for e in entries],
                "log_ats": [e.at for e in entries],
            },
        )
        return set(result.scalars().all())

    async def settle_claims(self, *, owner: str, outcomes: Sequence[Settled]) -> set[int]:
        """Settle many claims of ``owner`` in one statement; returns the ids still ours.

        Each outcome either finishes its reminder (a final status, ``sent_at`` for a send) or
        gives it back due again at ``due_at`` (a retry or a quiet-hours deferral). A claim
        that was no longer ours (its lease ran out and another worker took it) is left alone.
        """
        if not outcomes:
            return set()
        columns = core_table(Reminder).c

        def per_row(column: Any, values: dict[int, Any]) -> Any:
            if not values:
                return column
            whens = {rid: literal(v, type_=column.type) for rid, v in values.items()}
            return case(whens, value=columns.id, else_=column)

        result = await self.session.execute(
            update(Reminder)
            .where(
                Reminder.id.in_([o.reminder_id for o in outcomes]),
                Reminder.claimed_by == owner,
                Reminder.status == ReminderStatus.PENDING,
            )
            .values(
                status=per_row(columns.status, {o.reminder_id: o.status for o in outcomes}),
                last_error=per_row(columns.error, {o.reminder_id: o.error for o in outcomes}),
                sent_at=per_row(
                    columns.finished_at,
                    {o.reminder_id: o.at for o in outcomes if o.status is ReminderStatus.SENT},
                ),
                due_at=per_row(
                    columns.due_at,
                    {o.reminder_id: o.due_at for o in outcomes if o.due_at is not None},
                ),
                claimed_by=None,
                lease_until=None,
            )
            .returning(Reminder.id)
            .execution_options(synchronize_session=False)
        )
        return set(result.scalars().all())

    async def hand_back(self, *, owner: str, reminder_ids: Sequence[int]) -> int:
        """Give back claims of ``owner`` that were never attempted (a worker stopping):
        unclaimed again, due as they were, their attempt not counted. Returns how many."""
        if not reminder_ids:
            return 0
        result = await self.session.execute(
            update(Reminder)
            .where(
                Reminder.id.in_(reminder_ids),
                Reminder.claimed_by == owner,
                Reminder.status == ReminderStatus.PENDING,
            )
            .values(claimed_by=None, lease_until=None, attempts=Reminder.attempts - 1)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def settle(
        self,
        *,
        reminder_id: int,
        owner: str,
        status: ReminderStatus,
        now: datetime,
        error: str | None = None,
    ) -> bool:
        """Finish a claim with a final status; False if the claim was no longer ours."""
        values: dict[str, object] = {
            "status": status,
            "claimed_by": None,
            "lease_until": None,
            "last_error": error,
        }
        if status is ReminderStatus.SENT:
            values["sent_at"] = now
        result = await self.session.execute(
            update(Reminder)
            .where(
                Reminder.id == reminder_id,
                Reminder.claimed_by == owner,
                Reminder.status == ReminderStatus.PENDING,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(
        self, *, reminder_id: int, owner: str, due_at: datetime, error: str | None
    ) -> bool:
        """Give a claim back, due again at ``due_at`` (a retry or a quiet-hours deferral)."""
        result = await self.session.execute(
            update(Reminder)
            .where(
                Reminder.id == reminder_id,
                Reminder.claimed_by == owner,
                Reminder.status == ReminderStatus.PENDING,
            )
            .values(due_at=due_at, claimed_by=None, lease_until=None, last_error=error)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def count_by_status(self) -> dict[ReminderStatus, int]:
        """How many reminders are in each status."""
        result = await self.session.execute(
            select(Reminder.status, func.count()).group_by(Reminder.status)
        )
        return {ReminderStatus(status): int(count) for status, count in result.all()}
