"""Registering, moving, pausing, resuming and stopping a patient's care."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from scheduler.care.planning import SessionDateError, UnknownTimeZoneError
from scheduler.care.views import NoSessionError
from scheduler.clock import FakeClock
from storage.database import Database
from storage.models import Base, Patient, PatientStatus, ReminderStatus
from storage.reminders import ReminderRepository
from tests.scheduler.harness import start_engine, statuses

KARACHI = ZoneInfo("Asia/Karachi")


async def row_counts(database: Database) -> dict[str, int]:
    """Rows in every table the models define."""
    async with database.session() as session:
        return {
            table.name: int(
                (await session.execute(select(func.count()).select_from(table))).scalar_one()
            )
            for table in Base.metadata.sorted_tables
        }


async def test_registering_ahead_stores_every_milestone(
    database: Database, clock: FakeClock
) -> None:
    """A session the day after tomorrow gets all five milestones, and no catch-up."""
    engine = await start_engine(database, clock)
    result = await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    await engine.stop()
    assert (result.created, result.catch_up, result.session_number) == (5, False, 1)
    assert set(await statuses(database)) == {
        "evening_before",
        "day0_evening",
        "day1_morning",
        "day3_peeling",
        "day28_book",
    }


async def test_registering_the_same_date_twice_changes_nothing(
    database: Database, clock: FakeClock
) -> None:
    """A double tap on "Today" does not create a second session or a duplicate reminder."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    before = await row_counts(database)
    again = await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    await engine.stop()
    assert again.unchanged
    assert await row_counts(database) == before


async def test_a_session_three_days_ago_gets_what_is_ahead_and_one_catch_up(
    database: Database, clock: FakeClock
) -> None:
    """No burst of missed reminders: the future ones, plus the current phase's key advice."""
    clock.set(datetime(2026, 11, 20, 10, 0, tzinfo=KARACHI))
    engine = await start_engine(database, clock)
    result = await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 17))
    await engine.tick()
    await engine.stop()
    assert result.catch_up
    assert set(await statuses(database)) == {"catch_up_first_week", "day28_book"}
    # It is 10:00 local on day 3: the catch-up goes out at once, with the week's advice.
    assert engine.notifier.milestones() == ["catch_up_first_week"]
    message = engine.notifier.sent[0].reminder
    assert "week advice" in message.text and message.day == 3


async def test_a_catch_up_at_night_waits_for_the_morning(
    database: Database, clock: FakeClock
) -> None:
    """Registering late at night does not wake the patient."""
    clock.set(datetime(2026, 11, 20, 23, 30, tzinfo=KARACHI))
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 19))
    assert engine.notifier.sent == []
    await engine.travel(timedelta(hours=10))
    await engine.stop()
    assert engine.notifier.milestones() == ["catch_up_first_48h", "day3_peeling"][:1]
    assert engine.notifier.sent[0].at == datetime(2026, 11, 21, 8, 0, tzinfo=KARACHI)


async def test_moving_the_date_keeps_sent_ones_and_expires_the_past(
    database: Database, clock: FakeClock
) -> None:
    """Sent stays sent; pending ones now in the past expire; future ones move."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    await engine.travel(timedelta(days=1, hours=12))  # evening_before is sent
    assert engine.notifier.milestones() == ["evening_before"]
    # The session really was yesterday (the 20th): day0_evening (20th 18:00) is past.
    result = await engine.care.change_session_date(chat_id=7, session_date=date(2026, 11, 20))
    await engine.stop()
    found = await statuses(database)
    assert found["evening_before"] is ReminderStatus.SENT
    assert found["day0_evening"] is ReminderStatus.EXPIRED
    assert found["day1_morning"] is ReminderStatus.EXPIRED  # 21st 09:00 < now (21st 16:00)
    assert found["day3_peeling"] is ReminderStatus.PENDING
    assert result.expired == 2
    rows = {r.milestone_id: r for r in await engine.care.reminders(chat_id=7)}
    # It is 21:00 local, quiet hours: the catch-up waits for 08:00.
    assert found["catch_up_first_48h"] is ReminderStatus.PENDING
    assert rows["catch_up_first_48h"].due_at == datetime(2026, 11, 22, 8, 0, tzinfo=KARACHI)
    assert rows["day3_peeling"].due_at == datetime(2026, 11, 23, 9, 0, tzinfo=KARACHI)


async def test_moving_the_date_later_moves_pending_reminders(
    database: Database, clock: FakeClock
) -> None:
    """Postponing the session re-times every pending reminder in one transaction."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    await engine.care.change_session_date(chat_id=7, session_date=date(2026, 11, 29))
    await engine.travel(timedelta(days=45))
    await engine.stop()
    sent = {d.reminder.milestone_id: d.at for d in engine.notifier.sent}
    assert sent["evening_before"] == datetime(2026, 11, 28, 19, 0, tzinfo=KARACHI)
    assert sent["day28_book"] == datetime(2026, 12, 27, 10, 0, tzinfo=KARACHI)
    assert len(engine.notifier.sent) == 5


async def test_pause_holds_and_resume_sends_what_is_still_valid(
    database: Database, clock: FakeClock
) -> None:
    """While paused nothing arrives; on resume the valid reminder comes, stale ones expire."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    await engine.care.pause(chat_id=7)
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=KARACHI))
    await engine.tick()
    assert engine.notifier.sent == []
    await engine.care.resume(chat_id=7)
    await engine.tick()
    await engine.stop()
    assert engine.notifier.milestones() == ["day1_morning"]
    found = await statuses(database)
    assert found["evening_before"] is found["day0_evening"] is ReminderStatus.EXPIRED


async def test_stop_cancels_every_pending_reminder(database: Database, clock: FakeClock) -> None:
    """After /stop nothing more is sent; the data stays until deleted."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    assert await engine.care.stop(chat_id=7) == 5
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert engine.notifier.sent == []
    assert set((await statuses(database)).values()) == {ReminderStatus.CANCELLED}


async def test_registering_again_after_stop_reactivates(
    database: Database, clock: FakeClock
) -> None:
    """A stopped patient who registers a new session is active again."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    await engine.care.stop(chat_id=7)
    await engine.care.register_session(
        chat_id=7, session_date=date(2026, 11, 22), next_in_series=True
    )
    await engine.stop()
    async with database.session() as session:
        status = (await session.execute(select(Patient.status))).scalar_one()
    assert status is PatientStatus.ACTIVE


async def test_the_next_session_supersedes_the_previous_one(
    database: Database, clock: FakeClock
) -> None:
    """Session 2 cancels session 1's pending reminders; the sixth gets no rebooking nudge."""
    engine = await start_engine(database, clock)
    first = await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 21))
    second = await engine.care.register_session(
        chat_id=7, session_date=date(2026, 11, 22), next_in_series=True
    )
    assert second.session_number == 2
    async with database.session() as session:
        rows = await ReminderRepository(session).for_session(session_id=first.session_id)
    assert rows
    assert {r.status for r in rows} == {ReminderStatus.CANCELLED}
    for _ in range(4):
        latest = await engine.care.register_session(
            chat_id=7, session_date=date(2026, 11, 22), next_in_series=True
        )
    await engine.stop()
    assert latest.session_number == 6
    async with database.session() as session:
        sixth = await ReminderRepository(session).for_session(session_id=latest.session_id)
    assert "day28_book" not in {r.milestone_id for r in sixth}


@pytest.mark.parametrize("session_date", [date(2027, 2, 19), date(2024, 11, 19)])
async def test_dates_out_of_range_are_refused_and_nothing_is_stored(
    database: Database, clock: FakeClock, session_date: date
) -> None:
    """More than 90 days ahead or two years back: a clear error, and no row anywhere."""
    engine = await start_engine(database, clock)
    with pytest.raises(SessionDateError):
        await engine.care.register_session(chat_id=7, session_date=session_date)
    await engine.stop()
    assert set((await row_counts(database)).values()) == {0}


async def test_an_unknown_time_zone_is_refused(database: Database, clock: FakeClock) -> None:
    """A bad zone name never reaches the database."""
    engine = await start_engine(database, clock)
    with pytest.raises(UnknownTimeZoneError):
        await engine.care.register_session(
            chat_id=7, session_date=date(2026, 11, 22), timezone="Mars/Olympus"
        )
    await engine.stop()
    assert set((await row_counts(database)).values()) == {0}


async def test_registration_is_one_transaction(
    database: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If writing the reminders fails, the patient and the session are not left behind."""
    engine = await start_engine(database, clock)

    async def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ReminderRepository, "add_for_sessions", broken)
    with pytest.raises(RuntimeError):
        await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    await engine.stop()
    assert set((await row_counts(database)).values()) == {0}


async def test_changing_the_time_zone_replans_pending_reminders(
    database: Database, clock: FakeClock
) -> None:
    """Moving to London keeps each reminder at its local hour there."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    await engine.care.set_timezone(chat_id=7, timezone="Europe/London")
    await engine.stop()
    rows = {r.milestone_id: r for r in await engine.care.reminders(chat_id=7)}
    london = ZoneInfo("Europe/London")
    assert rows["day1_morning"].due_at == datetime(2026, 11, 23, 9, 0, tzinfo=london)


async def test_acting_on_an_unknown_chat_says_so(database: Database, clock: FakeClock) -> None:
    """Pause, resume, stop and change for a chat with no session raise NoSessionError."""
    engine = await start_engine(database, clock)
    for call in (engine.care.pause, engine.care.resume, engine.care.stop):
        with pytest.raises(NoSessionError):
            await call(chat_id=99)
    with pytest.raises(NoSessionError):
        await engine.care.change_session_date(chat_id=99, session_date=date(2026, 11, 22))
    await engine.stop()


async def test_resume_itself_expires_what_went_stale(database: Database, clock: FakeClock) -> None:
    """Even with no refill during the pause, resuming never lets a stale reminder out."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    await engine.care.pause(chat_id=7)
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=KARACHI))
    assert (await engine.care.resume(chat_id=7)).stale == 2
    await engine.tick()
    await engine.stop()
    assert engine.notifier.milestones() == ["day1_morning"]


async def test_seen_is_noted_at_most_once_an_hour(database: Database, clock: FakeClock) -> None:
    """The clinic's "not heard from for N days" needs a last-seen time, not a write a message."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 22))
    first = clock.now()
    await engine.care.seen(chat_id=7)
    clock.advance(timedelta(minutes=59))
    await engine.care.seen(chat_id=7)
    async with database.session() as session:
        seen = (await session.execute(select(Patient.last_seen_at))).scalar_one()
    assert seen == first
    clock.advance(timedelta(minutes=2))
    await engine.care.seen(chat_id=7)
    await engine.care.seen(chat_id=8)  # not a patient: nothing happens
    await engine.stop()
    async with database.session() as session:
        seen = (await session.execute(select(Patient.last_seen_at))).scalar_one()
    assert seen == clock.now()


async def test_a_registration_wakes_the_sender_only_for_what_is_due_before_it_looks(
    database: Database, clock: FakeClock
) -> None:
    """Reminders hours ahead wait for the sender's timer (no pass over the table for each
    registration); a catch-up due now wakes it and goes out at once."""
    clock.set(datetime(2026, 11, 20, 10, 0, tzinfo=KARACHI))
    engine = await start_engine(database, clock)
    engine.care.sender_looks_at = engine.runner.looks_at  # as bot.services wires it
    looks_at = engine.runner.looks_at()
    assert looks_at is not None
    wakes: list[None] = []
    engine.care.on_schedule_changed = lambda: _counted(wakes, engine.runner.refill())
    ahead = await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 25))
    assert ahead.upcoming[0].due_at >= looks_at and wakes == []
    behind = await engine.care.register_session(chat_id=8, session_date=date(2026, 11, 17))
    assert behind.catch_up and len(wakes) == 1
    await engine.runner.wait_idle()
    assert engine.notifier.milestones() == ["catch_up_first_week"]
    await engine.travel(timedelta(days=6))  # the timer finds the first one's reminders
    await engine.stop()
    assert "evening_before" in engine.notifier.milestones()


async def _counted(wakes: list[None], refill: Awaitable[None]) -> None:
    wakes.append(None)
    await refill
