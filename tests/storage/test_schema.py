"""The migrated schema matches the models, and the database enforces what it must."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from storage.database import Database, head_revision
from storage.models import Base, DeliveryOutcome, Escalation, Question, Reminder
from storage.repositories import (
    DeliveryLogRepository,
    NewReminder,
    PatientRepository,
    ReminderRepository,
    SessionRepository,
    delete_patient,
)

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


async def seed(database: Database, *, chat_id: int = 42) -> tuple[int, int]:
    """A patient with one session and two reminders; returns (patient id, session id)."""
    async with database.session() as session:
        patient = await PatientRepository(session).add(
            chat_id=chat_id,
            timezone="Asia/Karachi",
            quiet_start=time(21),
            quiet_end=time(8),
            now=NOW,
        )
        treatment = await SessionRepository(session).add(
            patient_id=patient.id,
            session_date=date(2026, 11, 20),
            number=1,
            plan_id="microneedling",
            now=NOW,
        )
        await ReminderRepository(session).add_many(
            session_id=treatment.id,
            reminders=[
                NewReminder("a", NOW, NOW + timedelta(hours=1)),
                NewReminder("b", NOW + timedelta(days=1), NOW + timedelta(days=2)),
            ],
        )
        await session.commit()
        return patient.id, treatment.id


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrated_schema_matches_models(database: Database) -> None:
    """Alembic's autogenerate finds nothing to change after `upgrade head`."""
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
    assert await database.current_revision() == head_revision()


async def test_upgrade_is_idempotent(database: Database) -> None:
    """Upgrading a database already at head changes nothing and does not fail."""
    await database.upgrade()
    assert await database.current_revision() == head_revision()


async def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(database: Database) -> None:
    """The embedded database is configured for several writers and integrity."""
    if not database.is_sqlite:
        pytest.skip("SQLite pragmas")
    async with database.engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 30000


async def test_a_milestone_cannot_be_planned_twice_for_one_session(database: Database) -> None:
    """The unique (session, milestone) constraint makes a duplicate reminder impossible."""
    _, session_id = await seed(database)
    async with database.session() as session:
        with pytest.raises(IntegrityError):
            await ReminderRepository(session).add_many(
                session_id=session_id, reminders=[NewReminder("a", NOW, NOW + timedelta(hours=2))]
            )


async def test_instants_come_back_aware_in_utc(database: Database) -> None:
    """A time stored from any zone is read back as the same instant, in UTC."""
    _, session_id = await seed(database)
    async with database.session() as session:
        rows = await ReminderRepository(session).for_session(session_id=session_id)
    assert rows[0].due_at == NOW
    assert rows[0].due_at.tzinfo is UTC


async def test_naive_datetimes_are_refused(database: Database) -> None:
    """A naive datetime is a bug; the column type refuses it."""
    _, session_id = await seed(database)
    async with database.session() as session:
        with pytest.raises(StatementError, match="naive"):
            await ReminderRepository(session).add_many(
                session_id=session_id,
                reminders=[NewReminder("c", datetime(2026, 1, 1), NOW)],  # noqa: DTZ001
            )


async def test_deleting_a_patient_leaves_no_row_in_any_table(database: Database) -> None:
    """Erasure cascades from the patient through sessions, reminders, the delivery log,
    questions and escalations (shared words included)."""
    patient_id, session_id = await seed(database, chat_id=1)
    await seed(database, chat_id=2)
    async with database.session() as session:
        reminders = await ReminderRepository(session).for_session(session_id=session_id)
        await DeliveryLogRepository(session).add(
            reminder_id=reminders[0].id,
            attempt=1,
            worker="w",
            outcome=DeliveryOutcome.SENT,
            at=NOW,
        )
        question = Question(patient_id=patient_id, day=1, topic="redness", level="urgent",
                            asked_at=NOW)  # fmt: skip
        session.add(question)
        await session.flush()
        session.add(
            Escalation(
                patient_id=patient_id,
                question_id=question.id,
                day=1,
                topic="redness",
                level="urgent",
                message_text="shared words",
                created_at=NOW,
            )  # fmt: skip
        )
        await session.commit()
    async with database.session() as session:
        await delete_patient(session, patient_id=patient_id)
        await session.commit()
    async with database.session() as session:
        counts = {
            table.name: (await session.execute(select(func.count()).select_from(table))).scalar()
            for table in Base.metadata.sorted_tables
        }
    # The other patient keeps one patient row, one session and two reminders; nothing else.
    assert counts == {
        "patients": 1,
        "treatment_sessions": 1,
        "reminders": 2,
        "delivery_log": 0,
        "questions": 0,
        "question_counts": 0,
        "escalations": 0,
    }


async def test_status_values_are_checked_by_the_database(database: Database) -> None:
    """A status outside the enum is refused by the database itself, not only by Python."""
    _, session_id = await seed(database)
    async with database.session() as session:
        with pytest.raises(IntegrityError):
            await session.execute(text("UPDATE reminders SET status = 'bogus'"))
            await session.flush()
    async with database.session() as session:
        statuses = (await session.execute(select(Reminder.status))).scalars().all()
    assert set(statuses) == {"pending"}
