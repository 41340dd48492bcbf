"""Reminders survive every state change: resume, unblock, quiet hours and time zone replan the
fresh ones, and a reminder's buttons act only while the reminder is current."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from scheduler.care.planning import QuietHours, QuietHoursTooLong
from scheduler.care.views import ReminderButtonError, ReminderProblem
from scheduler.clock import FakeClock
from scheduler.outbox.notifier import RecipientGoneError
from storage.database import Database
from storage.models import Patient, PatientStatus, ReminderStatus
from storage.reminders import ReminderRepository
from tests.scheduler.harness import Engine, start_engine, statuses

KARACHI = ZoneInfo("Asia/Karachi")
TOKYO = ZoneInfo("Asia/Tokyo")
SESSION = date(2026, 11, 22)  # the clock starts on the 20th, 09:00 in Karachi
# Where each milestone of the small plan falls for SESSION, in Karachi.
LOCAL_TIMES = {
    "evening_before": datetime(2026, 11, 21, 19, 0, tzinfo=KARACHI),
    "day0_evening": datetime(2026, 11, 22, 18, 0, tzinfo=KARACHI),
    "day1_morning": datetime(2026, 11, 23, 9, 0, tzinfo=KARACHI),
    "day3_peeling": datetime(2026, 11, 25, 9, 0, tzinfo=KARACHI),
    "day28_book": datetime(2026, 12, 20, 10, 0, tzinfo=KARACHI),
}
EVERY_ONCE = Counter(LOCAL_TIMES.keys())


def deliveries(engine: Engine) -> Counter[str]:
    """How many times each milestone was delivered."""
    return Counter(engine.notifier.milestones())


def delivered_at(engine: Engine) -> dict[str, datetime]:
    """When each milestone was (last) delivered."""
    return {d.reminder.milestone_id: d.at for d in engine.notifier.sent}


async def patient_status(database: Database) -> PatientStatus:
    async with database.session() as session:
        return (await session.execute(select(Patient.status))).scalar_one()


# -- resume ------------------------------------------------------------------------------


async def test_stop_then_resume_restores_every_future_reminder_at_its_local_time(
    database: Database, clock: FakeClock
) -> None:
    """The bug: "Reminders are back on", but every row stayed cancelled. Now the whole plan
    comes, each reminder once, at its local hour."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.care.stop(chat_id=7)
    await engine.travel(timedelta(hours=6))
    result = await engine.care.resume(chat_id=7)
    assert (result.restored, result.pending, result.stale) == (5, 5, 0)
    assert [r.milestone_id for r in await engine.care.upcoming(chat_id=7, limit=10)] == list(
        LOCAL_TIMES
    )
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert deliveries(engine) == EVERY_ONCE
    assert delivered_at(engine) == LOCAL_TIMES


async def test_resume_sends_what_is_still_fresh_and_counts_what_went_stale(
    database: Database, clock: FakeClock
) -> None:
    """Stopped until the 23rd at 10:00: the evening before and day 0 went stale meanwhile;
    day 1's morning reminder (09:00, fresh until 19:00) comes at once, the rest on time."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.care.stop(chat_id=7)
    await engine.travel(timedelta(days=3, hours=1))
    assert engine.notifier.sent == []
    result = await engine.care.resume(chat_id=7)
    assert (result.restored, result.stale) == (3, 2)
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert deliveries(engine) == Counter(["day1_morning", "day3_peeling", "day28_book"])
    assert delivered_at(engine)["day1_morning"] == datetime(2026, 11, 23, 10, 0, tzinfo=KARACHI)
    found = await statuses(database)
    assert found["evening_before"] is found["day0_evening"] is ReminderStatus.EXPIRED


async def test_resume_never_sends_a_reminder_twice(database: Database, clock: FakeClock) -> None:
    """Stop and resume after two reminders went out: those two are not sent again."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.travel(timedelta(days=2, hours=10))  # the 22nd, 19:00: two sent
    assert deliveries(engine) == Counter(["evening_before", "day0_evening"])
    await engine.care.stop(chat_id=7)
    await engine.care.resume(chat_id=7)
    await engine.care.stop(chat_id=7)
    await engine.care.resume(chat_id=7)
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert deliveries(engine) == EVERY_ONCE


async def test_pause_then_resume_replans_too(database: Database, clock: FakeClock) -> None:
    """A pause holds; resume brings back what is fresh and plans the rest at local hours."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.care.pause(chat_id=7)
    await engine.travel(timedelta(days=3, hours=1))
    result = await engine.care.resume(chat_id=7)
    assert result.stale == 2
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert deliveries(engine) == Counter(["day1_morning", "day3_peeling", "day28_book"])


async def test_an_already_booked_nudge_stays_cancelled_after_a_resume(
    database: Database, clock: FakeClock
) -> None:
    """A replan restores what was held, not what the patient answered."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.travel(timedelta(days=30, hours=2))  # 20 December, 11:00: day28_book sent
    (book,) = [d.reminder for d in engine.notifier.sent if d.reminder.milestone_id == "day28_book"]
    await engine.care.mark_booked(chat_id=7, reminder_id=book.reminder_id)
    await engine.care.stop(chat_id=7)
    await engine.care.resume(chat_id=7)
    await engine.travel(timedelta(days=10))
    await engine.stop()
    assert deliveries(engine)["day28_book"] == 1


# -- block and unblock --------------------------------------------------------------------


async def test_unblocking_gives_back_the_reminders_the_block_took(
    database: Database, clock: FakeClock
) -> None:
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    assert await engine.care.mark_blocked(chat_id=7)
    await engine.travel(timedelta(hours=6))
    assert await engine.care.mark_unblocked(chat_id=7) is PatientStatus.ACTIVE
    assert await engine.care.mark_unblocked(chat_id=7) is None  # a second one: nothing to do
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert await patient_status(database) is PatientStatus.ACTIVE
    assert delivered_at(engine) == LOCAL_TIMES
    assert deliveries(engine) == EVERY_ONCE


async def test_a_block_found_by_a_failed_send_is_undone_by_the_unblock_too(
    database: Database, clock: FakeClock
) -> None:
    """No my_chat_member seen: the 403 of the first send stopped the patient."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    engine.notifier.failures[7] = [RecipientGoneError("Forbidden: bot was blocked by the user")]
    await engine.travel(timedelta(days=1, hours=11))  # the evening before fails: 403
    assert await patient_status(database) is PatientStatus.STOPPED
    assert await engine.care.mark_unblocked(chat_id=7) is PatientStatus.ACTIVE
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert deliveries(engine) == Counter(["day0_evening", "day1_morning", "day3_peeling",
                                          "day28_book"])  # fmt: skip


async def test_a_stop_before_the_block_stays_a_stop(database: Database, clock: FakeClock) -> None:
    """The patient asked for no messages: an unblock does not switch them back on."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.care.stop(chat_id=7)
    await engine.care.mark_blocked(chat_id=7)
    assert await engine.care.mark_unblocked(chat_id=7) is None
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert engine.notifier.sent == []
    assert await patient_status(database) is PatientStatus.STOPPED


async def test_a_pause_before_the_block_stays_a_pause(database: Database, clock: FakeClock) -> None:
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.care.pause(chat_id=7)
    await engine.care.mark_blocked(chat_id=7)
    await engine.care.mark_blocked(chat_id=7)  # twice: the first status is the one kept
    assert await engine.care.mark_unblocked(chat_id=7) is PatientStatus.PAUSED
    await engine.travel(timedelta(days=2))
    assert engine.notifier.sent == []
    await engine.care.resume(chat_id=7)
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert deliveries(engine) == EVERY_ONCE - Counter(["evening_before"])


async def test_unblocking_an_unknown_chat_does_nothing(
    database: Database, clock: FakeClock
) -> None:
    engine = await start_engine(database, clock)
    assert await engine.care.mark_unblocked(chat_id=99) is None
    await engine.stop()


# -- quiet hours --------------------------------------------------------------------------


@pytest.mark.parametrize("span", ["00:00-23:59", "20:00-13:00", "09:00-08:00"])
async def test_quiet_hours_leaving_under_eight_waking_hours_are_refused(
    database: Database, clock: FakeClock, span: str
) -> None:
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    before = await statuses(database)
    with pytest.raises(QuietHoursTooLong) as refused:
        await engine.care.set_quiet_hours(chat_id=7, quiet_hours=QuietHours.parse(span))
    await engine.stop()
    assert refused.value.awake < timedelta(hours=8)
    assert await statuses(database) == before
    async with database.session() as session:
        patient = (await session.execute(select(Patient))).scalar_one()
    assert (patient.quiet_start, patient.quiet_end) == (time(21), time(8))


def test_eight_waking_hours_are_enough() -> None:
    assert QuietHours.parse("16:00-08:00").check().awake() == timedelta(hours=8)
    assert QuietHours.parse("off").check().awake() == timedelta(days=1)
    assert QuietHours.parse("08:00-23:00").awake() == timedelta(hours=9)


async def test_quiet_hours_changed_and_back_restore_what_the_span_swallowed(
    database: Database, clock: FakeClock
) -> None:
    """08:00-23:00 leaves no room for the 09:00 reminders before their expiry; going back to
    21:00-08:00 plans them again at 09:00 (the bug: they stayed expired for good)."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.care.set_quiet_hours(chat_id=7, quiet_hours=QuietHours.parse("08:00-23:00"))
    found = await statuses(database)
    assert found["day1_morning"] is found["day3_peeling"] is ReminderStatus.EXPIRED
    assert found["day0_evening"] is ReminderStatus.PENDING  # moved to 23:00, before 08:00
    result = await engine.care.set_quiet_hours(
        chat_id=7, quiet_hours=QuietHours.parse("21:00-08:00")
    )
    assert result is not None and result.restored == 2
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert delivered_at(engine) == LOCAL_TIMES
    assert deliveries(engine) == EVERY_ONCE


async def test_a_quiet_hours_change_while_stopped_sends_nothing(
    database: Database, clock: FakeClock
) -> None:
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.care.stop(chat_id=7)
    await engine.care.set_quiet_hours(chat_id=7, quiet_hours=QuietHours.parse("22:00-07:00"))
    await engine.care.set_timezone(chat_id=7, timezone="Asia/Tokyo")
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert engine.notifier.sent == []
    assert set((await statuses(database)).values()) == {ReminderStatus.CANCELLED}


# -- time zone ----------------------------------------------------------------------------


async def test_a_time_zone_change_keeps_a_fresh_reminder(
    database: Database, clock: FakeClock
) -> None:
    """At 06:00 in Karachi it is 10:00 in Tokyo: day 1's 09:00 reminder is an hour late
    there, but fresh until 19:00 Tokyo time, so it comes now instead of expiring."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.travel(timedelta(days=2, hours=21))  # the 23rd, 06:00 in Karachi
    assert deliveries(engine) == Counter(["evening_before", "day0_evening"])
    await engine.care.set_timezone(chat_id=7, timezone="Asia/Tokyo")
    await engine.travel(timedelta(days=40))
    await engine.stop()
    assert deliveries(engine) == EVERY_ONCE
    sent = delivered_at(engine)
    assert sent["day1_morning"] == datetime(2026, 11, 23, 10, 0, tzinfo=TOKYO)
    assert sent["day3_peeling"] == datetime(2026, 11, 25, 9, 0, tzinfo=TOKYO)


# -- buttons on reminders that are no longer current --------------------------------------


async def _sent_day1(engine: Engine) -> int:
    """Register "yesterday" (the 19th): day 1's 09:00 reminder goes out now; its id."""
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 19))
    await engine.tick()
    (sent,) = [
        d.reminder for d in engine.notifier.sent if d.reminder.milestone_id == "day1_morning"
    ]
    return sent.reminder_id


async def test_snoozing_a_reminder_of_a_superseded_session_is_refused(
    database: Database, clock: FakeClock
) -> None:
    """The bug: the old "day 1" advice came back two hours later to a patient on day 0."""
    engine = await start_engine(database, clock)
    old = await _sent_day1(engine)
    await engine.care.register_session(
        chat_id=7, session_date=date(2026, 11, 20), next_in_series=True
    )
    for call in (
        engine.care.snooze(chat_id=7, reminder_id=old, delay=timedelta(hours=2)),
        engine.care.acknowledge(chat_id=7, reminder_id=old),
        engine.care.mark_booked(chat_id=7, reminder_id=old),
    ):
        with pytest.raises(ReminderButtonError) as refused:
            await call
        assert refused.value.problem is ReminderProblem.OUT_OF_DATE
    await engine.travel(timedelta(hours=4))
    await engine.stop()
    assert deliveries(engine)["day1_morning"] == 1  # the new session's comes tomorrow
    rows = {(r.session_id, r.milestone_id): r for r in await engine.care.reminders(chat_id=7)}
    (old_row,) = [r for r in rows.values() if r.id == old]
    assert (old_row.status, old_row.snoozes, old_row.acknowledged_at) == (
        ReminderStatus.SENT,
        0,
        None,
    )


async def test_snoozing_after_the_date_was_changed_is_refused(
    database: Database, clock: FakeClock
) -> None:
    """/change moves the same session: a reminder drawn for the old date is out of date."""
    engine = await start_engine(database, clock)
    old = await _sent_day1(engine)
    await engine.care.change_session_date(chat_id=7, session_date=date(2026, 11, 20))
    with pytest.raises(ReminderButtonError) as refused:
        await engine.care.snooze(chat_id=7, reminder_id=old, delay=timedelta(hours=2))
    assert refused.value.problem is ReminderProblem.OUT_OF_DATE
    # Changed back to the date it was drawn for, it is current again.
    await engine.care.change_session_date(chat_id=7, session_date=date(2026, 11, 19))
    await engine.care.acknowledge(chat_id=7, reminder_id=old)
    await engine.stop()


async def test_a_time_zone_change_does_not_make_an_old_date_current_again(
    database: Database, clock: FakeClock
) -> None:
    """A replan after a time zone change gives a sent reminder its new local expiry only if
    it was current before: one drawn for the date before a /change stays out of date."""
    engine = await start_engine(database, clock)
    old = await _sent_day1(engine)
    await engine.care.change_session_date(chat_id=7, session_date=date(2026, 11, 20))
    await engine.care.set_timezone(chat_id=7, timezone="Asia/Dubai")
    await engine.care.set_quiet_hours(chat_id=7, quiet_hours=QuietHours.parse("22:00-07:00"))
    with pytest.raises(ReminderButtonError) as refused:
        await engine.care.acknowledge(chat_id=7, reminder_id=old)
    assert refused.value.problem is ReminderProblem.OUT_OF_DATE
    await engine.stop()


async def test_a_replan_leaves_a_reminder_being_delivered_to_its_worker(
    database: Database, clock: FakeClock
) -> None:
    """Taking a live claim away would let the worker's send go unrecorded, and the reminder
    go out twice."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    (row,) = [r for r in await engine.care.reminders(chat_id=7) if r.milestone_id == "day28_book"]
    now = clock.now()
    async with database.session() as session:
        claimed = await ReminderRepository(session).claim(
            reminder_id=row.id,
            owner="elsewhere",
            now=row.due_at,
            lease_until=now + timedelta(minutes=5),
            skip_locked=False,
        )
        await session.commit()
    assert claimed is not None
    await engine.care.set_timezone(chat_id=7, timezone="Asia/Tokyo")
    await engine.stop()
    (after,) = [r for r in await engine.care.reminders(chat_id=7) if r.id == row.id]
    assert (after.claimed_by, after.due_at) == ("elsewhere", row.due_at)


async def test_a_button_on_a_stale_reminder_is_refused(
    database: Database, clock: FakeClock
) -> None:
    """day1_morning is fresh until 19:00; after that its snooze and booking buttons change
    nothing ("Done" still thanks the patient: it brings no advice back)."""
    engine = await start_engine(database, clock)
    old = await _sent_day1(engine)
    await engine.travel(timedelta(hours=10, minutes=1))
    with pytest.raises(ReminderButtonError) as refused:
        await engine.care.snooze(chat_id=7, reminder_id=old, delay=timedelta(hours=2))
    assert refused.value.problem is ReminderProblem.OUT_OF_DATE
    with pytest.raises(ReminderButtonError) as refused:
        await engine.care.mark_booked(chat_id=7, reminder_id=old)
    assert refused.value.problem is ReminderProblem.OUT_OF_DATE
    await engine.care.acknowledge(chat_id=7, reminder_id=old)
    (row,) = [r for r in await engine.care.reminders(chat_id=7) if r.id == old]
    assert row.acknowledged_at is not None and row.snoozes == 0
    await engine.stop()


async def test_current_buttons_work_and_survive_a_time_zone_change(
    database: Database, clock: FakeClock
) -> None:
    engine = await start_engine(database, clock)
    current = await _sent_day1(engine)
    await engine.care.set_timezone(chat_id=7, timezone="Asia/Dubai")
    await engine.care.acknowledge(chat_id=7, reminder_id=current)
    snooze = await engine.care.snooze(chat_id=7, reminder_id=current, delay=timedelta(hours=2))
    assert snooze.due_at == datetime(2026, 11, 20, 6, 0, tzinfo=ZoneInfo("UTC"))
    await engine.stop()


async def test_a_forged_reminder_id_finds_nothing(database: Database, clock: FakeClock) -> None:
    engine = await start_engine(database, clock)
    current = await _sent_day1(engine)
    await engine.care.register_session(chat_id=8, session_date=date(2026, 11, 19))
    for chat_id, reminder_id in ((8, current), (7, current + 1000), (99, current)):
        with pytest.raises(ReminderButtonError) as refused:
            await engine.care.acknowledge(chat_id=chat_id, reminder_id=reminder_id)
        assert refused.value.problem is ReminderProblem.NOT_FOUND
    await engine.stop()
