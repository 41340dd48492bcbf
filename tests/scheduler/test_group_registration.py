"""Registrations arriving together are written in one transaction, exactly as one by one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date, time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.care.planning import QuietHours
from scheduler.care.sessions import CareService
from scheduler.care.views import Registration
from scheduler.clock import FakeClock
from storage.database import Database
from storage.models import Patient, Reminder, TreatmentSession
from tests.plans import small_plan

TODAY = date(2026, 11, 20)  # the clock fixture's day in Karachi


def care_service(
    database: Database, clock: FakeClock, hook: Callable[[], Awaitable[None]]
) -> CareService:
    """The use case with the test plan and a refill hook that counts."""
    plan = small_plan()
    return CareService(
        database=database,
        clock=clock,
        plans=lambda _plan_id, _language="en": plan,
        default_timezone="Asia/Karachi",
        default_quiet_hours=QuietHours.parse("21:00-08:00"),
        on_schedule_changed=hook,
    )


# (chat offset, keyword arguments) of every kind of registration, in the order they arrive.
MIXED: list[tuple[int, dict[str, Any]]] = [
    (1, {"session_date": date(2026, 11, 22)}),  # a new patient, every milestone ahead
    (2, {"session_date": date(2026, 11, 17)}),  # three days ago: what is ahead and a catch-up
    (3, {"session_date": date(2026, 11, 21), "timezone": "Europe/London"}),  # consented first
    (4, {"session_date": date(2026, 11, 23)}),  # has a session: its date moves
    (5, {"session_date": date(2026, 11, 21), "next_in_series": True}),  # the next session
    (6, {"session_date": date(2026, 11, 22)}),  # twice in one batch: the second moves it
    (6, {"session_date": date(2026, 11, 24)}),
    (7, {"session_date": date(2027, 6, 1)}),  # too far ahead: refused, alone
    (8, {"session_date": TODAY, "timezone": "Mars/Olympus"}),  # unknown zone: refused, alone
    (9, {"session_date": TODAY}),  # the same day as the bad ones, unaffected by them
    (10, {"session_date": date(2026, 11, 21)}),  # consented, then stopped: active again
]


async def prepare(care: CareService, base: int) -> None:
    """Patients 3 and 10 have consented (3 chose late quiet hours, 10 stopped); 4 and 5
    have a session."""
    await care.consent(chat_id=base + 3)
    await care.set_quiet_hours(chat_id=base + 3, quiet_hours=QuietHours.parse("22:00-10:30"))
    await care.consent(chat_id=base + 10)
    async with care.database.session() as session:
        patient = (
            await session.execute(select(Patient).where(Patient.chat_id == base + 10))
        ).scalar_one()
        patient.status = patient.status.STOPPED
        await session.commit()
    await care.register_session(chat_id=base + 4, session_date=date(2026, 11, 19))
    await care.register_session(chat_id=base + 5, session_date=date(2026, 10, 1))


def outcome(result: Registration | BaseException) -> object:
    """What a caller sees, without the row ids that differ between the two runs."""
    if isinstance(result, BaseException):
        return type(result).__name__
    fields = asdict(result)
    del fields["patient_id"], fields["session_id"]
    if fields["view"] is not None:  # the two runs use other chats
        del fields["view"]["patient_id"], fields["view"]["chat_id"]
    return fields


async def snapshot(database: Database, base: int) -> dict[int, object]:
    """Every patient of the run with its sessions and reminders, by chat offset."""
    async with database.session() as session:
        patients = (
            (
                await session.execute(
                    select(Patient).where(Patient.chat_id > base, Patient.chat_id <= base + 99)
                )
            )
            .scalars()
            .all()
        )
        result: dict[int, object] = {}
        for patient in patients:
            sessions = (
                (
                    await session.execute(
                        select(TreatmentSession)
                        .where(TreatmentSession.patient_id == patient.id)
                        .order_by(TreatmentSession.number)
                    )
                )
                .scalars()
                .all()
            )
            result[patient.chat_id - base] = (
                patient.timezone,
                patient.status,
                [
                    (
                        s.number,
                        s.session_date,
                        sorted(
                            (r.milestone_id, r.due_at, r.expires_at, r.status)
                            for r in (
                                await session.execute(
                                    select(Reminder).where(Reminder.session_id == s.id)
                                )
                            ).scalars()
                        ),
                    )
                    for s in sessions
                ],
            )
        return result


async def test_a_batch_writes_exactly_what_one_by_one_writes(
    database: Database, clock: FakeClock
) -> None:
    """Every kind of registration, alone and all at once: the same rows, the same answers."""
    hooks: list[int] = []

    async def hook() -> None:
        hooks.append(1)

    care = care_service(database, clock, hook)
    alone, together = 100, 200
    await prepare(care, alone)
    await prepare(care, together)

    one_by_one = []
    for offset, kwargs in MIXED:
        try:
            one_by_one.append(await care.register_session(chat_id=alone + offset, **kwargs))
        except Exception as error:
            one_by_one.append(error)
    batches, hooks_before = care._registrations.batches, len(hooks)
    at_once = await asyncio.gather(
        *(care.register_session(chat_id=together + o, **kw) for o, kw in MIXED),
        return_exceptions=True,
    )

    assert care._registrations.batches == batches + 1  # one transaction for all of them
    assert len(hooks) == hooks_before + 1  # and one refill
    assert [outcome(r) for r in at_once] == [outcome(r) for r in one_by_one]
    assert outcome(at_once[7]) == "SessionDateError"
    assert outcome(at_once[8]) == "UnknownTimeZoneError"
    alone_rows, together_rows = await snapshot(database, alone), await snapshot(database, together)
    assert together_rows == alone_rows
    assert set(together_rows) == {1, 2, 3, 4, 5, 6, 9, 10}  # the refused new patients: nothing


async def test_many_new_patients_at_once(database: Database, clock: FakeClock) -> None:
    """A hundred first registrations at once: a hundred patients, sessions and plans."""

    async def hook() -> None:
        return None

    care = care_service(database, clock, hook)
    results = await asyncio.gather(
        *(
            care.register_session(chat_id=1000 + i, session_date=date(2026, 11, 22))
            for i in range(100)
        )
    )
    assert care._registrations.batches <= 2
    assert len({r.patient_id for r in results}) == len({r.session_id for r in results}) == 100
    async with database.session() as session:
        owners = dict(
            (await session.execute(select(TreatmentSession.id, TreatmentSession.patient_id))).all()
        )
        chats = dict((await session.execute(select(Patient.id, Patient.chat_id))).all())
        counts = (await session.execute(select(Reminder.session_id, Reminder.id))).all()
    # Each answer names its own patient's rows: no mix-up of ids inside the batch.
    for i, result in enumerate(results):
        assert owners[result.session_id] == result.patient_id
        assert chats[result.patient_id] == 1000 + i
    per_session: dict[int, int] = {}
    for session_id, _ in counts:
        per_session[session_id] = per_session.get(session_id, 0) + 1
    assert per_session == {r.session_id: r.created for r in results}


async def test_when_the_bulk_write_fails_the_batch_is_written_one_by_one(
    database: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk write that fails (say, a chat registered meanwhile by another process) is rolled
    back to its savepoint, and every request of the batch is then written step by step."""

    async def hook() -> None:
        return None

    async def conflict(*args: object, **kwargs: object) -> dict[int, object]:
        async with asyncio.timeout(1):
            session = args[1]
            assert isinstance(session, AsyncSession)
            session.add(
                Patient(
                    chat_id=-1,
                    timezone="UTC",
                    quiet_start=time(21),
                    quiet_end=time(8),
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
            await session.flush()
        raise IntegrityError("INSERT", {}, Exception("duplicate chat"))

    care = care_service(database, clock, hook)
    monkeypatch.setattr(CareService, "_register_fresh", conflict)
    results = await asyncio.gather(
        *(care.register_session(chat_id=500 + i, session_date=date(2026, 11, 22)) for i in range(5))
    )
    assert care._registrations.batches == 1
    assert [r.created for r in results] == [5] * 5
    rows = await snapshot(database, 499)
    assert set(rows) == {1, 2, 3, 4, 5}  # and nothing of the rolled-back bulk write (chat -1)
    async with database.session() as session:
        assert (await session.execute(select(Patient).where(Patient.chat_id == -1))).first() is None
