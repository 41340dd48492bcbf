"""Claims are atomic and leased: one worker wins, a dead worker's claim is taken again."""

from __future__ import annotations

from datetime import timedelta

from storage.database import Database
from storage.models import PatientStatus, ReminderStatus
from storage.patients import PatientRepository
from storage.reminders import ReminderRepository
from tests.storage.test_schema import NOW, seed

LEASE = timedelta(minutes=2)


async def claim(database: Database, reminder_id: int, owner: str, now=NOW):  # type: ignore[no-untyped-def]
    async with database.session() as session:
        claimed = await ReminderRepository(session).claim(
            reminder_id=reminder_id,
            owner=owner,
            now=now,
            lease_until=now + LEASE,
            skip_locked=database.is_postgresql,
        )
        await session.commit()
        return claimed


async def first_reminder(database: Database, session_id: int) -> int:
    async with database.session() as session:
        return (await ReminderRepository(session).for_session(session_id=session_id))[0].id


async def test_only_one_worker_can_claim_a_reminder(database: Database) -> None:
    """The second claim of the same due reminder gets nothing."""
    _, session_id = await seed(database)
    rid = await first_reminder(database, session_id)
    first = await claim(database, rid, "a")
    assert first is not None and first.attempts == 1 and first.chat_id == 42
    assert await claim(database, rid, "b") is None


async def test_a_reminder_not_yet_due_cannot_be_claimed(database: Database) -> None:
    """Claiming before the due instant fails; at the due instant it succeeds."""
    _, session_id = await seed(database)
    async with database.session() as session:
        rows = await ReminderRepository(session).for_session(session_id=session_id)
    later = rows[1]
    assert await claim(database, later.id, "a") is None
    assert await claim(database, later.id, "a", now=later.due_at) is not None


async def test_an_expired_lease_is_taken_again(database: Database) -> None:
    """A worker that died mid-send holds its claim only until the lease runs out."""
    _, session_id = await seed(database)
    rid = await first_reminder(database, session_id)
    assert await claim(database, rid, "dead") is not None
    assert await claim(database, rid, "b", now=NOW + LEASE - timedelta(seconds=1)) is None
    again = await claim(database, rid, "b", now=NOW + LEASE + timedelta(seconds=1))
    assert again is not None and again.attempts == 2


async def test_settling_needs_the_claim(database: Database) -> None:
    """A worker whose claim was taken over cannot mark the reminder sent."""
    _, session_id = await seed(database)
    rid = await first_reminder(database, session_id)
    await claim(database, rid, "slow")
    await claim(database, rid, "b", now=NOW + LEASE + timedelta(seconds=1))
    async with database.session() as session:
        repo = ReminderRepository(session)
        assert not await repo.settle(
            reminder_id=rid, owner="slow", status=ReminderStatus.SENT, now=NOW
        )
        assert await repo.settle(reminder_id=rid, owner="b", status=ReminderStatus.SENT, now=NOW)
        await session.commit()
    async with database.session() as session:
        row = (await ReminderRepository(session).for_session(session_id=session_id))[0]
    assert row.status is ReminderStatus.SENT and row.sent_at == NOW and row.claimed_by is None


async def test_reminders_of_a_paused_patient_are_not_claimed(database: Database) -> None:
    """Pause holds delivery at the claim itself, not only in the queue."""
    _, session_id = await seed(database)
    rid = await first_reminder(database, session_id)
    async with database.session() as session:
        patients = PatientRepository(session)
        patient = await patients.get_by_chat(chat_id=42)
        assert patient is not None
        await patients.set_status(patient=patient, status=PatientStatus.PAUSED, now=NOW)
        await session.commit()
    assert await claim(database, rid, "a") is None
