"""Clinic broadcasts: the broadcast rows, and their copies, which are rows of the outbox.

A copy (an outbox row of kind ``broadcast``, one per patient) is claimed atomically (pending,
due, and unclaimed or with an expired lease) before its send and settled after it, so two
workers never send the same copy while their leases hold. Nothing here commits: the use case
owning the unit of work does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Broadcast,
    BroadcastStatus,
    OutboxMessage,
    Patient,
    PatientStatus,
    RecipientStatus,
    Staff,
    TreatmentSession,
)

UNFINISHED = (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING)
COPY = "broadcast"  # the outbox kind of a broadcast copy
EXPIRED = "expired"  # the ``error`` of a copy the patient's quiet hours held too long
MOVED = "not the clinic's patient"  # the patient left the clinic (switched, or was removed)


@dataclass(frozen=True)
class NewRecipient:
    """A recipient row to insert: which patient, at which chat."""

    patient_id: int
    chat_id: int


@dataclass(frozen=True)
class ClaimedRecipient:
    """A recipient row this worker has claimed for sending."""

    id: int
    broadcast_id: int
    patient_id: int
    chat_id: int
    attempts: int
    language: str = "en"


@dataclass(frozen=True)
class Candidate:
    """A patient who may receive a clinic's broadcasts (active, not opted out)."""

    patient_id: int
    chat_id: int
    language: str
    timezone: str
    last_seen_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class LatestSession:
    """A patient's most recent session: its date, plan, and whether the next one is booked."""

    patient_id: int
    session_date: date
    plan_id: str
    booked_at: datetime | None


class RecipientCheck:
    """What a recipient's pre-send check found (see ``BroadcastRepository.prepare_many``)."""

    READY = "ready"
    INACTIVE = "inactive"
    LOST = "lost"
    HELD = "held"  # given back until the patient's quiet hours end (decided by the sender)


@dataclass(frozen=True)
class ReadyRecipient:
    """A copy that passed the pre-send check, with what decides whether it goes now: the
    patient's zone and quiet span, and when the broadcast was due (its expiry counts from
    there)."""

    recipient_id: int
    timezone: str
    quiet_start: time
    quiet_end: time
    scheduled_at: datetime | None


@dataclass(frozen=True)
class BroadcastLine:
    """One of a clinic's broadcasts as its list shows it: what, to whom, when, by whom, and
    how many copies are in each state."""

    id: int
    status: BroadcastStatus
    text: str
    photo: bool
    audience: str
    created_at: datetime
    scheduled_at: datetime | None
    finished_at: datetime | None
    created_by: str | None
    counts: dict[RecipientStatus, int]

    @property
    def total(self) -> int:
        """Every copy, whatever its state."""
        return sum(self.counts.values())


def _claimable(broadcast_id: int, now: datetime) -> list[ColumnElement[bool]]:
    return [
        OutboxMessage.broadcast_id == broadcast_id,
        OutboxMessage.status == RecipientStatus.PENDING,
        or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.lease_until < now),
        OutboxMessage.due_at <= now,
    ]


def _ours(recipient_id: int, owner: str) -> list[ColumnElement[bool]]:
    return [
        OutboxMessage.id == recipient_id,
        OutboxMessage.claimed_by == owner,
        OutboxMessage.status == RecipientStatus.PENDING,
    ]


class BroadcastRepository:
    """Broadcasts of a clinic and their recipients."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    # -- broadcasts ---------------------------------------------------------------------

    async def add(
        self,
        *,
        clinic_id: int,
        created_by: int | None,
        text: str,
        photo: str | None,
        audience: str,
        now: datetime,
    ) -> Broadcast:
        """A new draft broadcast."""
        broadcast = Broadcast(
            clinic_id=clinic_id,
            created_by=created_by,
            text=text,
            photo=photo,
            audience=audience,
            status=BroadcastStatus.DRAFT,
            created_at=now,
        )
        self.session.add(broadcast)
        await self.session.flush()
        return broadcast

    async def get(self, *, broadcast_id: int, clinic_id: int | None) -> Broadcast | None:
        """The broadcast, only if it belongs to ``clinic_id`` (None: any clinic, for workers)."""
        query = (
            select(Broadcast)
            .where(Broadcast.id == broadcast_id)
            .execution_options(populate_existing=True)
        )
        if clinic_id is not None:
            query = query.where(Broadcast.clinic_id == clinic_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def update(
        self,
        *,
        broadcast_id: int,
        clinic_id: int | None,
        values: dict[str, object],
        statuses: Sequence[BroadcastStatus] | None = None,
    ) -> bool:
        """Set ``values`` on the broadcast if it is the clinic's (and in one of ``statuses``)."""
        conditions: list[ColumnElement[bool]] = [Broadcast.id == broadcast_id]
        if clinic_id is not None:
            conditions.append(Broadcast.clinic_id == clinic_id)
        if statuses is not None:
            conditions.append(Broadcast.status.in_(list(statuses)))
        result = await self.session.execute(
            update(Broadcast)
            .where(*conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def start(self, *, broadcast_id: int, now: datetime) -> bool:
        """Move a scheduled broadcast to sending; False if another worker already did (or it
        was cancelled). The winner is the one to materialise its recipients."""
        result = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.SCHEDULED)
            .values(status=BroadcastStatus.SENDING, started_at=now)
            .returning(Broadcast.id)
        )
        return result.scalar_one_or_none() is not None

    async def finish(self, *, broadcast_id: int, now: datetime) -> bool:
        """Mark a sending broadcast done if no recipient is pending; True for the one caller
        that did it."""
        result = await self.session.execute(
            update(Broadcast)
            .where(
                Broadcast.id == broadcast_id,
                Broadcast.status == BroadcastStatus.SENDING,
                ~select(OutboxMessage.id)
                .where(
                    OutboxMessage.broadcast_id == broadcast_id,
                    OutboxMessage.status == RecipientStatus.PENDING,
                )
                .exists(),
            )
            .values(status=BroadcastStatus.DONE, finished_at=now)
            .returning(Broadcast.id)
        )
        return result.scalar_one_or_none() is not None

    async def cancel(self, *, broadcast_id: int, clinic_id: int | None, now: datetime) -> bool:
        """Cancel an unfinished broadcast of the clinic and every pending recipient of it.

        A recipient whose send is under way keeps its claim: if the send succeeds it is
        recorded as sent, so the report tells what really went out.
        """
        changed = await self.update(
            broadcast_id=broadcast_id,
            clinic_id=clinic_id,
            values={"status": BroadcastStatus.CANCELLED, "finished_at": now},
            statuses=UNFINISHED,
        )
        if changed:
            await self.session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.broadcast_id == broadcast_id,
                    OutboxMessage.status == RecipientStatus.PENDING,
                )
                .values(status=RecipientStatus.CANCELLED, error="cancelled", finished_at=now)
                .execution_options(synchronize_session=False)
            )
        return changed

    async def due(self, *, now: datetime) -> list[int]:
        """Broadcasts to work on: scheduled for now or earlier, or sending (resumed after a
        restart), oldest first."""
        result = await self.session.execute(
            select(Broadcast.id)
            .where(
                or_(
                    (Broadcast.status == BroadcastStatus.SCHEDULED)
                    & (Broadcast.scheduled_at <= now),
                    Broadcast.status == BroadcastStatus.SENDING,
                )
            )
            .order_by(Broadcast.scheduled_at, Broadcast.id)
        )
        return list(result.scalars())

    async def next_wake(self, *, now: datetime) -> datetime | None:
        """When a copy may next become claimable: the earliest scheduled broadcast, the end
        of a held copy's quiet hours, or the end of a lease another worker holds."""
        scheduled = select(func.min(Broadcast.scheduled_at)).where(
            Broadcast.status == BroadcastStatus.SCHEDULED
        )
        sending = OutboxMessage.broadcast_id.in_(
            select(Broadcast.id).where(Broadcast.status == BroadcastStatus.SENDING)
        )
        pending = OutboxMessage.status == RecipientStatus.PENDING
        held = select(func.min(OutboxMessage.due_at)).where(
            pending, sending, OutboxMessage.due_at > now
        )
        leased = select(func.min(OutboxMessage.lease_until)).where(
            pending, sending, OutboxMessage.lease_until > now
        )
        instants = [
            (await self.session.execute(query)).scalar_one_or_none()
            for query in (scheduled, held, leased)
        ]
        return min((i for i in instants if i is not None), default=None)

    async def status(self, *, broadcast_id: int) -> BroadcastStatus | None:
        """The broadcast's status, or None if there is no such broadcast."""
        result = await self.session.execute(
            select(Broadcast.status).where(Broadcast.id == broadcast_id)
        )
        return result.scalar_one_or_none()

    # -- audiences ----------------------------------------------------------------------

    async def candidates(self, *, clinic_id: int, language: str | None = None) -> list[Candidate]:
        """The clinic's active patients who did not opt out of its news (of one language)."""
        query = select(
            Patient.id,
            Patient.chat_id,
            Patient.language,
            Patient.timezone,
            Patient.last_seen_at,
            Patient.created_at,
        ).where(
            Patient.clinic_id == clinic_id,
            Patient.status == PatientStatus.ACTIVE,
            Patient.news_opt_out.is_(False),
        )
        if language is not None:
            query = query.where(Patient.language == language)
        result = await self.session.execute(query.order_by(Patient.id))
        return [Candidate(*row) for row in result.all()]

    async def latest_sessions(self, *, clinic_id: int) -> dict[int, LatestSession]:
        """The most recent session of each of the clinic's patients, by patient id."""
        result = await self.session.execute(
            select(
                TreatmentSession.patient_id,
                TreatmentSession.session_date,
                TreatmentSession.plan_id,
                TreatmentSession.booked_at,
            )
            .join(Patient, Patient.id == TreatmentSession.patient_id)
            .where(Patient.clinic_id == clinic_id)
            .order_by(TreatmentSession.patient_id, TreatmentSession.number)
        )
        return {row[0]: LatestSession(*row) for row in result.all()}

    # -- recipients ---------------------------------------------------------------------

    async def add_recipients(
        self,
        *,
        broadcast_id: int,
        recipients: Iterable[NewRecipient],
        clinic_id: int,
        priority: int,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        """Put the broadcast's copies in the outbox, pending and due now, in one statement;
        returns how many. ``expires_at``: when a copy is news no more."""
        rows = [
            {
                "kind": COPY,
                "priority": priority,
                "broadcast_id": broadcast_id,
                "clinic_id": clinic_id,
                "patient_id": r.patient_id,
                "chat_id": r.chat_id,
                "status": RecipientStatus.PENDING,
                "created_at": now,
                "due_at": now,
                "expires_at": expires_at,
                "attempts": 0,
            }
            for r in recipients
        ]
        if rows:
            await self.session.execute(insert(OutboxMessage), rows)
        return len(rows)

    async def has_recipients(self, *, broadcast_id: int) -> bool:
        """Whether the broadcast's recipient rows exist yet."""
        result = await self.session.execute(
            select(OutboxMessage.id).where(OutboxMessage.broadcast_id == broadcast_id).limit(1)
        )
        return result.first() is not None

    async def claim(
        self,
        *,
        broadcast_id: int,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        skip_locked: bool,
    ) -> list[ClaimedRecipient]:
        """Atomically take up to ``limit`` pending recipients of a sending broadcast.

        Only rows that are pending and unclaimed (or whose lease ran out) are taken. On
        PostgreSQL they are first locked with ``FOR UPDATE SKIP LOCKED`` so a racing worker
        takes other rows instead of waiting; on SQLite the transaction holds the write lock.
        """
        sending = (
            select(Broadcast.id)
            .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.SENDING)
            .exists()
        )
        target = (
            select(OutboxMessage.id)
            .where(*_claimable(broadcast_id, now), sending)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        if skip_locked:
            ids = list(
                (await self.session.execute(target.with_for_update(skip_locked=True))).scalars()
            )
            if not ids:
                return []
            chosen: ColumnElement[bool] = OutboxMessage.id.in_(ids)
        else:
            chosen = OutboxMessage.id.in_(target.scalar_subquery())
        result = await self.session.execute(
            update(OutboxMessage)
            .where(chosen, *_claimable(broadcast_id, now))
            .values(claimed_by=owner, lease_until=lease_until)
            .returning(
                OutboxMessage.id,
                OutboxMessage.broadcast_id,
                OutboxMessage.patient_id,
                OutboxMessage.chat_id,
                OutboxMessage.attempts,
            )
            .execution_options(synchronize_session=False)
        )
        rows = result.all()
        if not rows:
            return []
        # The language each copy is labelled in: one more query per batch, not per copy.
        found = await self.session.execute(
            select(Patient.id, Patient.language).where(
                Patient.id.in_({row.patient_id for row in rows})
            )
        )
        languages: dict[int, str] = {row[0]: row[1] for row in found.all()}
        claimed = [
            ClaimedRecipient(
                id=row.id,
                broadcast_id=broadcast_id,
                patient_id=row.patient_id or 0,  # a copy always names its patient
                chat_id=row.chat_id,
                attempts=row.attempts,
                language=languages.get(row.patient_id or 0, "en"),
            )
            for row in rows
        ]
        return sorted(claimed, key=lambda r: r.id)

    async def renew(
        self, *, recipient_ids: Sequence[int], owner: str, lease_until: datetime
    ) -> int:
        """Extend our claim on copies still pending and ours (a send waiting its turn in the
        Telegram budget keeps its row); returns how many were renewed."""
        if not recipient_ids:
            return 0
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(sorted(set(recipient_ids))),
                OutboxMessage.claimed_by == owner,
                OutboxMessage.status == RecipientStatus.PENDING,
            )
            .values(lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))

    async def prepare_many(
        self, *, recipient_ids: Sequence[int], owner: str, lease_until: datetime
    ) -> tuple[dict[int, str], dict[int, ReadyRecipient]]:
        """Just before the sends: renew our claims and check each patient may still receive
        news, in a few statements. A check for each id: ``RecipientCheck.READY``;
        ``INACTIVE`` when the patient is paused, stopped, opted out, gone or no longer the
        clinic's (the copy is then skipped); ``LOST`` when the copy is no longer ours to send
        (cancelled, or taken by another worker after our lease ran out). And the facts of the
        ready ones (by id) for the caller's quiet-hours decision."""
        wanted = sorted(set(recipient_ids))
        checks = dict.fromkeys(wanted, RecipientCheck.LOST)
        if not wanted:
            return checks, {}
        renewed = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(wanted),
                OutboxMessage.claimed_by == owner,
                OutboxMessage.status == RecipientStatus.PENDING,
            )
            .values(lease_until=lease_until)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        ours = sorted(renewed.scalars())
        if not ours:
            return checks, {}
        rows = (
            await self.session.execute(
                select(
                    OutboxMessage.id,
                    Patient.status,
                    Patient.news_opt_out,
                    Patient.clinic_id,
                    Broadcast.clinic_id,
                    Patient.timezone,
                    Patient.quiet_start,
                    Patient.quiet_end,
                    Broadcast.scheduled_at,
                )
                .join(Broadcast, Broadcast.id == OutboxMessage.broadcast_id)
                .outerjoin(Patient, Patient.id == OutboxMessage.patient_id)
                .where(OutboxMessage.id.in_(ours))
            )
        ).all()
        ready: dict[int, ReadyRecipient] = {}
        skipped: dict[str, list[int]] = {}
        for rid, status, opted_out, patient_clinic, clinic, zone, start, end, due in rows:
            if status is not PatientStatus.ACTIVE or opted_out:
                skipped.setdefault("inactive", []).append(rid)
            elif patient_clinic != clinic:
                skipped.setdefault(MOVED, []).append(rid)
            else:
                ready[rid] = ReadyRecipient(rid, zone, start, end, due)
        for reason, ids in skipped.items():
            await self.skip_many(recipient_ids=ids, owner=owner, reason=reason)
            for rid in ids:
                checks[rid] = RecipientCheck.INACTIVE
        for rid in ready:
            checks[rid] = RecipientCheck.READY
        return checks, ready

    async def skip_many(self, *, recipient_ids: Sequence[int], owner: str, reason: str) -> None:
        """Skip claimed copies without sending them, for ``reason``."""
        if recipient_ids:
            await self.session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(sorted(set(recipient_ids))),
                    OutboxMessage.claimed_by == owner,
                    OutboxMessage.status == RecipientStatus.PENDING,
                )
                .values(status=RecipientStatus.SKIPPED, lease_until=None, error=reason[:200])
                .execution_options(synchronize_session=False)
            )

    async def hold(self, *, recipient_id: int, owner: str, until: datetime) -> bool:
        """Give a claimed copy back, not to be claimed again before ``until`` (the end of the
        patient's quiet hours)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(*_ours(recipient_id, owner))
            .values(claimed_by=None, lease_until=None, due_at=until)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def mark_sent(self, *, recipient_id: int, owner: str, now: datetime) -> bool:
        """Record a send that the other side accepted; False if the claim was not ours.

        A row cancelled while its send was under way is recorded as sent too: it went out.
        """
        recorded = await self.mark_sent_many(recipient_ids=[recipient_id], owner=owner, now=now)
        return recipient_id in recorded

    async def mark_sent_many(
        self, *, recipient_ids: Sequence[int], owner: str, now: datetime
    ) -> set[int]:
        """``mark_sent`` for several recipients in one statement; the ids recorded."""
        if not recipient_ids:
            return set()
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(sorted(set(recipient_ids))),
                OutboxMessage.claimed_by == owner,
                OutboxMessage.status.in_([RecipientStatus.PENDING, RecipientStatus.CANCELLED]),
            )
            .values(status=RecipientStatus.SENT, finished_at=now, lease_until=None, error=None)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        return set(result.scalars())

    async def mark_failed(
        self, *, recipient_id: int, owner: str, error: str, attempted: bool = True
    ) -> bool:
        """Give up on a recipient (``attempted``: this failure counts as an attempt)."""
        values: dict[str, object] = {
            "status": RecipientStatus.FAILED,
            "lease_until": None,
            "error": error[:200],
        }
        if attempted:
            values["attempts"] = OutboxMessage.attempts + 1
        result = await self.session.execute(
            update(OutboxMessage)
            .where(*_ours(recipient_id, owner))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def record_attempt(self, *, recipient_id: int, owner: str, error: str) -> int | None:
        """Count one failed attempt and keep the claim for a retry; the new count, or None
        if the claim is no longer ours."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(*_ours(recipient_id, owner))
            .values(attempts=OutboxMessage.attempts + 1, error=error[:200])
            .returning(OutboxMessage.attempts)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()

    async def release(self, *, recipient_id: int, owner: str, error: str | None = None) -> bool:
        """Make a claimed recipient pending and free again, for any worker to take."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(*_ours(recipient_id, owner))
            .values(claimed_by=None, lease_until=None, error=error)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def counts(self, *, broadcast_id: int) -> dict[RecipientStatus, int]:
        """How many recipients of the broadcast are in each status (every status present)."""
        result = await self.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.broadcast_id == broadcast_id)
            .group_by(OutboxMessage.status)
        )
        counts = dict.fromkeys(RecipientStatus, 0)
        for status, count in result.all():
            counts[RecipientStatus(status)] = int(count)
        return counts

    async def history(self, *, clinic_id: int, limit: int) -> list[BroadcastLine]:
        """The clinic's latest ``limit`` broadcasts, newest first, with their copies counted
        by state (two queries, whatever the number of broadcasts or copies)."""
        result = await self.session.execute(
            select(Broadcast, Staff.name)
            .outerjoin(Staff, Staff.id == Broadcast.created_by)
            .where(Broadcast.clinic_id == clinic_id)
            .order_by(Broadcast.id.desc())
            .limit(limit)
        )
        rows = result.all()
        counts: dict[int, dict[RecipientStatus, int]] = {
            broadcast.id: dict.fromkeys(RecipientStatus, 0) for broadcast, _ in rows
        }
        if counts:
            grouped = await self.session.execute(
                select(OutboxMessage.broadcast_id, OutboxMessage.status, func.count())
                .where(OutboxMessage.broadcast_id.in_(list(counts)))
                .group_by(OutboxMessage.broadcast_id, OutboxMessage.status)
            )
            for broadcast_id, status, count in grouped.all():
                if broadcast_id is not None:
                    counts[broadcast_id][RecipientStatus(status)] = int(count)
        return [
            BroadcastLine(
                id=broadcast.id,
                status=broadcast.status,
                text=broadcast.text,
                photo=bool(broadcast.photo),
                audience=broadcast.audience,
                created_at=broadcast.created_at,
                scheduled_at=broadcast.scheduled_at,
                finished_at=broadcast.finished_at,
                created_by=name,
                counts=counts[broadcast.id],
            )
            for broadcast, name in rows
        ]

    async def held_and_expired(self, *, broadcast_id: int, now: datetime) -> tuple[int, int]:
        """How many copies wait for their patient's quiet hours to end, and how many were
        skipped because those lasted past the broadcast's expiry."""
        held = await self.session.execute(
            select(func.count()).where(
                OutboxMessage.broadcast_id == broadcast_id,
                OutboxMessage.status == RecipientStatus.PENDING,
                OutboxMessage.due_at > now,
            )
        )
        expired = await self.session.execute(
            select(func.count()).where(
                OutboxMessage.broadcast_id == broadcast_id,
                OutboxMessage.status == RecipientStatus.SKIPPED,
                OutboxMessage.error == EXPIRED,
            )
        )
        return int(held.scalar_one()), int(expired.scalar_one())

    async def for_patient(self, *, patient_id: int) -> Sequence[OutboxMessage]:
        """A patient's copies of clinic broadcasts, oldest first (for their data export)."""
        result = await self.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.patient_id == patient_id, OutboxMessage.broadcast_id.is_not(None))
            .order_by(OutboxMessage.id)
        )
        return result.scalars().all()

    async def recipients(self, *, broadcast_id: int) -> Sequence[OutboxMessage]:
        """Every recipient row of the broadcast, by id."""
        result = await self.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.broadcast_id == broadcast_id)
            .order_by(OutboxMessage.id)
        )
        return result.scalars().all()


__all__ = [
    "BroadcastLine",
    "BroadcastRepository",
    "Candidate",
    "ClaimedRecipient",
    "LatestSession",
    "NewRecipient",
    "EXPIRED",
    "MOVED",
    "ReadyRecipient",
    "RecipientCheck",
]
