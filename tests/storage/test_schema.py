"""The migrated schema matches the models, and the database enforces what it must."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, ForeignKeyConstraint, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from storage.broadcasts import BroadcastRepository
from storage.database import SCHEMA_HEAD, Database, alembic_config, head_revision
from storage.delivery_log import DeliveryLogRepository
from storage.models import (
    Base,
    Broadcast,
    BroadcastStatus,
    Clinic,
    ClinicMessage,
    DeliveryOutcome,
    Escalation,
    MessageStatus,
    OutboxMessage,
    Patient,
    Question,
    Reminder,
    TreatmentSession,
)
from storage.patients import PatientRepository, delete_patient
from storage.reminders import NewReminder, Recipient, ReminderRepository
from storage.sessions import SessionRepository
from tests.copies import copy_row

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
            recipient=Recipient(treatment.id, patient.id, chat_id),
            now=NOW,
            reminders=[
                NewReminder("a", NOW, NOW + timedelta(hours=1)),
                NewReminder("b", NOW + timedelta(days=1), NOW + timedelta(days=2)),
            ],
        )
        await session.commit()
        return patient.id, treatment.id


def _diff(connection: Connection) -> list[object]:
    diff = list(compare_metadata(MigrationContext.configure(connection), Base.metadata))
    if connection.dialect.name == "sqlite":
        diff = _without_inline_references(connection, diff)
    return diff


def _without_inline_references(connection: Connection, diff: list[Any]) -> list[Any]:
    """Drop the remove/add pairs SQLAlchemy's SQLite reflection invents for inline references.

    Migration 0004 adds foreign key columns with SQLite's ``ADD COLUMN ... REFERENCES``, so the
    table is not rebuilt (a rebuild would cascade deletes). SQLAlchemy parses constraint names
    and ON DELETE only from table-level clauses, so it reflects these without either; here the
    pair is accepted only when SQLite's own PRAGMA reports the ON DELETE the model declares.
    """

    def key(fk: ForeignKeyConstraint) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        return (
            fk.table.name,
            tuple(fk.column_keys),
            tuple(element.target_fullname for element in fk.elements),
        )

    removed = {key(item[1]): item for item in diff if item[0] == "remove_fk"}
    kept = []
    for item in diff:
        if item[0] != "add_fk" or key(item[1]) not in removed:
            kept.append(item)
            continue
        fk = item[1]
        table, columns, _ = key(fk)
        pragma = connection.exec_driver_sql(f"PRAGMA foreign_key_list({table})").mappings().all()
        declared = [
            row for row in pragma if row["from"] == columns[0] and row["on_delete"] == fk.ondelete
        ]
        if len(columns) == 1 and declared:
            del removed[key(fk)]
        else:
            kept.append(item)
    return [item for item in kept if item[0] != "remove_fk" or key(item[1]) in removed]


async def test_migrated_schema_matches_models(database: Database) -> None:
    """Alembic's autogenerate finds nothing to change after `upgrade head`."""
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
    assert await database.current_revision() == head_revision()


def test_the_schema_head_a_start_checks_is_alembics_newest_migration() -> None:
    """``upgrade`` reads the revision and skips Alembic when it is ``SCHEMA_HEAD``: a new
    migration must move it, or starts would skip the migration."""
    assert head_revision() == SCHEMA_HEAD


async def test_a_database_at_the_head_is_only_read_at_start(database: Database) -> None:
    """A second ``upgrade`` finds the head and changes nothing; the revision is read from
    Alembic's table without Alembic, and a database never migrated has none."""
    await database.upgrade()
    assert await database.current_revision() == SCHEMA_HEAD
    empty = Database(database.url.set(database=database.url.database + "-none"))
    if database.is_sqlite:
        assert await empty.current_revision() is None
    await empty.dispose()


async def test_upgrading_a_database_with_patients_keeps_every_row(tmp_path: Path) -> None:
    """Migrations after the first run on live data: nothing cascades away on SQLite."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        await database.upgrade("0003")
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql(
                "INSERT INTO patients (id, chat_id, language, timezone, quiet_start, quiet_end,"
                " status, created_at, updated_at) VALUES (1, 42, 'en', 'Asia/Karachi',"
                " '21:00:00', '08:00:00', 'active', '2026-11-20 04:00:00', '2026-11-20 04:00:00')"
            )
            await connection.exec_driver_sql(
                "INSERT INTO treatment_sessions (id, patient_id, session_date, number, plan_id,"
                " created_at) VALUES (1, 1, '2026-11-20', 1, 'microneedling', '2026-11-20')"
            )
            await connection.exec_driver_sql(
                "INSERT INTO reminders (session_id, milestone_id, due_at, expires_at, status,"
                " attempts, snoozes) VALUES (1, 'a', '2026-11-21', '2026-11-22', 'pending', 0, 0)"
            )
        await database.upgrade()
        async with database.engine.connect() as connection:
            counts = [
                (await connection.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("patients", "treatment_sessions", "outbox")
            ]
            opted_out = (
                await connection.exec_driver_sql("SELECT news_opt_out FROM patients")
            ).scalar()
        assert counts == [1, 1, 1]
        assert not opted_out
    finally:
        await database.dispose()


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
    patient_id, session_id = await seed(database)
    async with database.session() as session:
        with pytest.raises(IntegrityError):
            await ReminderRepository(session).add_many(
                recipient=Recipient(session_id, patient_id, 42),
                now=NOW,
                reminders=[NewReminder("a", NOW, NOW + timedelta(hours=2))],
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
    patient_id, session_id = await seed(database)
    async with database.session() as session:
        with pytest.raises(StatementError, match="naive"):
            await ReminderRepository(session).add_many(
                recipient=Recipient(session_id, patient_id, 42),
                now=NOW,
                reminders=[NewReminder("c", datetime(2026, 1, 1), NOW)],  # noqa: DTZ001
            )


async def test_deleting_a_patient_leaves_no_row_in_any_table(database: Database) -> None:
    """Erasure cascades from the patient through sessions, reminders, the delivery log,
    questions, escalations (shared words included), their copies of clinic broadcasts and the
    messages to staff about them."""
    patient_id, session_id = await seed(database, chat_id=1)
    other_id, _ = await seed(database, chat_id=2)
    async with database.session() as session:
        clinic = Clinic(name="C", timezone="Asia/Karachi", plan_id="microneedling",
                        quiet_start=time(21), quiet_end=time(8), created_at=NOW)  # fmt: skip
        session.add(clinic)
        await session.flush()
        broadcast = Broadcast(clinic_id=clinic.id, text="News", created_at=NOW)
        session.add(broadcast)
        await session.flush()
        for pid, chat in ((patient_id, 1), (other_id, 2)):
            session.add(copy_row(broadcast_id=broadcast.id, patient_id=pid, chat_id=chat, now=NOW))
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
        escalation = Escalation(
            patient_id=patient_id,
            question_id=question.id,
            day=1,
            topic="redness",
            level="urgent",
            message_text="shared words",
            created_at=NOW,
            clinic_id=clinic.id,
        )
        session.add(escalation)
        await session.flush()
        session.add(ClinicMessage(escalation_id=escalation.id, message_id=7, sent_at=NOW))
        for pid in (patient_id, None):  # an alert about the patient waiting for a colleague
            session.add(
                OutboxMessage(
                    kind="alert",
                    priority=1,
                    chat_id=900,
                    clinic_id=clinic.id,
                    patient_id=pid,
                    body="<b>alert</b>",
                    created_at=NOW,
                    due_at=NOW,
                    expires_at=NOW,
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
    # The other patient keeps one patient row, one session, two reminders and their copy of
    # the broadcast (three outbox rows, with the alert not about anyone); the clinic keeps
    # itself and its broadcast; nothing else.
    assert counts == {
        "patients": 1,
        "treatment_sessions": 1,
        "delivery_log": 0,
        "questions": 0,
        "question_counts": 0,
        "escalations": 0,
        "clinic_messages": 0,
        "clinics": 1,
        "staff": 0,
        "invites": 0,
        "broadcasts": 1,
        "capacity_warnings": 0,
        "web_logins": 0,
        "web_sessions": 0,
        "outbox": 4,
    }


async def test_status_values_are_checked_by_the_database(database: Database) -> None:
    """A status outside the enum is refused by the database itself, not only by Python."""
    _, session_id = await seed(database)
    async with database.session() as session:
        with pytest.raises(IntegrityError):
            await session.execute(text("UPDATE outbox SET status = 'bogus'"))
            await session.flush()
    async with database.session() as session:
        statuses = (await session.execute(select(Reminder.status))).scalars().all()
    assert set(statuses) == {"pending"}
    # The outbox's check was rebuilt by a migration (0012 added "skipped"): still enforced.
    async with database.session() as session:
        session.add(OutboxMessage(kind="alert", priority=1, chat_id=1, body="-", created_at=NOW,
                                  due_at=NOW, expires_at=NOW, attempts=0))  # fmt: skip
        await session.flush()
        await session.execute(text("UPDATE outbox SET status = 'skipped'"))
        with pytest.raises(IntegrityError):
            await session.execute(text("UPDATE outbox SET status = 'bogus'"))
            await session.flush()


def _downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(connection), revision)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_broadcast_copies_move_into_the_outbox_and_back(backend: str, tmp_path: Path) -> None:
    """Migration 0012 makes every copy of ``broadcast_recipients`` a row of the outbox with
    its state (sent, held for quiet hours, skipped with its reason, claimed); the copies
    still pending are claimable there; the downgrade puts them back."""
    from tests.conftest import drop_schema, unmigrated_database

    database, schema = await unmigrated_database(backend, tmp_path)
    try:
        await database.upgrade("0011_outbox")
        held_until = NOW + timedelta(hours=5)
        async with database.session() as session:
            clinic = Clinic(name="C", timezone="UTC", plan_id="microneedling",
                            quiet_start=time(22), quiet_end=time(2), created_at=NOW)  # fmt: skip
            session.add(clinic)
            await session.flush()
            broadcast = Broadcast(clinic_id=clinic.id, text="News", created_at=NOW,
                                  status=BroadcastStatus.SENDING, started_at=NOW)  # fmt: skip
            session.add(broadcast)
            await session.flush()
            ids = []
            for chat in (1, 2, 3, 4):
                patient = Patient(chat_id=chat, clinic_id=clinic.id, language="en",
                                  timezone="UTC", quiet_start=time(22), quiet_end=time(2),
                                  created_at=NOW, updated_at=NOW)  # fmt: skip
                session.add(patient)
                await session.flush()
                ids.append(patient.id)
            await session.commit()
            clinic_id, broadcast_id = clinic.id, broadcast.id
        rows = [  # patient, chat, status, last_error, not_before, sent_at
            (ids[0], 1, "sent", None, None, NOW),
            (ids[1], 2, "pending", None, held_until, None),
            (ids[2], 3, "skipped", "expired", None, None),
            (ids[3], 4, "pending", None, None, None),
        ]
        async with database.engine.begin() as connection:
            for patient_id, chat, status, error, not_before, sent_at in rows:
                await connection.execute(
                    text(
                        "INSERT INTO broadcast_recipients (broadcast_id, patient_id, chat_id,"
                        " status, attempts, last_error, not_before, sent_at)"
                        " VALUES (:b, :p, :c, :s, 1, :e, :n, :t)"
                    ),
                    {"b": broadcast_id, "p": patient_id, "c": chat, "s": status, "e": error,
                     "n": _plain(database, not_before), "t": _plain(database, sent_at)},
                )  # fmt: skip

        await database.upgrade()
        async with database.session() as session:
            repo = BroadcastRepository(session)
            copies = {c.chat_id: c for c in await repo.recipients(broadcast_id=broadcast_id)}
            assert {c: (r.kind, r.status, r.attempts, r.error) for c, r in copies.items()} == {
                1: ("broadcast", MessageStatus.SENT, 1, None),
                2: ("broadcast", MessageStatus.PENDING, 1, None),
                3: ("broadcast", MessageStatus.SKIPPED, 1, "expired"),
                4: ("broadcast", MessageStatus.PENDING, 1, None),
            }
            assert copies[1].finished_at == NOW and copies[2].due_at == held_until
            assert all(c.clinic_id == clinic_id for c in copies.values())
            assert await repo.held_and_expired(broadcast_id=broadcast_id, now=NOW) == (1, 1)
            claimed = await repo.claim(broadcast_id=broadcast_id, owner="w", now=NOW,
                                       lease_until=NOW + timedelta(minutes=2), limit=10,
                                       skip_locked=database.is_postgresql)  # fmt: skip
            assert [c.chat_id for c in claimed] == [4]
            await session.rollback()
        async with database.engine.begin() as connection:
            await connection.run_sync(_downgrade, "0011_outbox")
        async with database.engine.connect() as connection:
            back = (
                await connection.execute(
                    text(
                        "SELECT chat_id, status, last_error FROM broadcast_recipients"
                        " ORDER BY chat_id"
                    )  # fmt: skip
                )
            ).all()
            left = (await connection.execute(text("SELECT count(*) FROM outbox"))).scalar()
        assert [tuple(r) for r in back] == [
            (1, "sent", None), (2, "pending", None), (3, "skipped", "expired"),
            (4, "pending", None),
        ]  # fmt: skip
        assert left == 0
        await database.upgrade()
        assert await database.current_revision() == SCHEMA_HEAD
    finally:
        await database.dispose()
        if schema:
            await drop_schema(schema)


def _plain(database: Database, value: datetime | None) -> datetime | None:
    """An instant as a raw insert stores it: naive UTC on SQLite."""
    if value is None or database.is_postgresql:
        return value
    return value.replace(tzinfo=None)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_reminders_move_into_the_outbox_with_their_ids_and_back(
    backend: str, tmp_path: Path
) -> None:
    """Migration 0013 makes every reminder a row of the outbox with its id (sent buttons
    carry it), its state and its delivery log; the outbox's own rows move out of the way;
    the pending reminder is claimable there, a new one gets a fresh id, erasing the patient
    still takes everything; the downgrade puts the reminders back."""
    from tests.conftest import drop_schema, unmigrated_database

    database, schema = await unmigrated_database(backend, tmp_path)
    try:
        await database.upgrade("0012_copies_in_outbox")
        async with database.session() as session:
            session.add(Patient(id=1, chat_id=42, language="ur", timezone="UTC",
                                quiet_start=time(22), quiet_end=time(7), created_at=NOW,
                                updated_at=NOW))  # fmt: skip
            await session.flush()
            session.add(TreatmentSession(id=7, patient_id=1, session_date=date(2026, 11, 19),
                                         plan_id="microneedling", created_at=NOW))  # fmt: skip
            await session.commit()
        async with database.engine.begin() as connection:
            for statement in [
                # reminder 1 was sent and pressed "done"; 2 is pending and due
                "INSERT INTO reminders (id, session_id, milestone_id, due_at, expires_at,"
                 " status, attempts, sent_at, acknowledged_at, snoozes) VALUES (1, 7,"
                 " 'day1_care', :now, :later, 'sent', 1, :now, :now, 1)",
                "INSERT INTO reminders (id, session_id, milestone_id, due_at, expires_at,"
                 " status, attempts, last_error) VALUES (2, 7, 'day2_care', :now, :later,"
                 " 'pending', 1, 'timeout')",
                "INSERT INTO delivery_log (reminder_id, attempt, worker, outcome, at)"
                 " VALUES (1, 1, 'w', 'sent', :now)",
                # an alert to staff holds id 1 in the outbox: it must make way
                "INSERT INTO outbox (id, kind, priority, chat_id, body, status, created_at,"
                 " due_at, expires_at, attempts) VALUES (1, 'alert', 1, 900, 'x', 'pending',"
                 " :now, :now, :later, 0)",
            ]:  # fmt: skip
                await connection.execute(
                    text(statement),
                    {"now": _plain(database, NOW),
                     "later": _plain(database, NOW + timedelta(days=1))},
                )  # fmt: skip

        await database.upgrade()
        async with database.session() as session:
            reminders = ReminderRepository(session)
            done, due = await reminders.for_session(session_id=7)
            assert (done.id, done.kind, done.status, done.sent_at, done.acknowledged_at) == (
                1, "reminder", MessageStatus.SENT, NOW, NOW
            )  # fmt: skip
            assert (done.snoozes, done.patient_id, done.chat_id, done.priority) == (1, 1, 42, 2)
            assert (due.id, due.status, due.last_error, due.attempts) == (
                2, MessageStatus.PENDING, "timeout", 1
            )  # fmt: skip
            kinds = dict(
                (await session.execute(select(OutboxMessage.kind, OutboxMessage.id))).all()
            )
            assert kinds["alert"] > 2, "the alert moved above the reminders"
            log = (await session.execute(text("SELECT reminder_id FROM delivery_log"))).scalars()
            assert list(log) == [1]
            claimed = await reminders.claim_due(owner="w", now=NOW, limit=10,
                                                lease_until=NOW + timedelta(minutes=2),
                                                skip_locked=database.is_postgresql)  # fmt: skip
            assert [c.id for c in claimed] == [2] and claimed[0].chat_id == 42
            added = await reminders.add_many(
                recipient=Recipient(7, 1, 42), now=NOW,
                reminders=[NewReminder("day3_care", NOW, NOW + timedelta(days=1))],
            )  # fmt: skip
            assert added == 1
            await session.commit()
            ids = [r.id for r in await reminders.for_session(session_id=7)]
            assert len(set(ids) | {kinds["alert"]}) == 4
        async with database.engine.begin() as connection:
            await connection.run_sync(_downgrade, "0012_copies_in_outbox")
        async with database.engine.connect() as connection:
            back = (
                await connection.execute(
                    text(
                        "SELECT id, milestone_id, status, sent_at IS NOT NULL, snoozes"
                        " FROM reminders ORDER BY id"
                    )  # fmt: skip
                )
            ).all()
            left = (await connection.execute(text("SELECT kind FROM outbox"))).scalars().all()
            log = (await connection.execute(text("SELECT reminder_id FROM delivery_log"))).all()
        assert [tuple(r)[1:] for r in back] == [
            ("day1_care", "sent", True, 1), ("day2_care", "pending", False, 0),
            ("day3_care", "pending", False, 0),
        ]  # fmt: skip
        assert [r[0] for r in back][:2] == [1, 2] and left == ["alert"] and len(log) == 1
        await database.upgrade()
        async with database.session() as session:
            await delete_patient(session, patient_id=1)
            await session.commit()
        async with database.engine.connect() as connection:
            rows = [
                (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
                for table in ("outbox", "delivery_log", "treatment_sessions")
            ]
        assert rows == [1, 0, 0], "only the alert not about anyone stays"
    finally:
        await database.dispose()
        if schema:
            await drop_schema(schema)
