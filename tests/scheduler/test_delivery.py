"""Delivery: every reminder once, at its local hour, never stale, through restarts and failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from content.plan import CarePlan
from scheduler.clock import FakeClock
from scheduler.outbox.notifier import (
    MessageRejectedError,
    OutgoingReminder,
    RecipientGoneError,
    TransientDeliveryError,
)
from scheduler.outbox.reminders import DeliveryPolicy
from storage.database import Database
from storage.models import DeliveryLog, DeliveryOutcome, Patient, PatientStatus, ReminderStatus
from tests.fakes import RecordingNotifier
from tests.scheduler.harness import start_engine, statuses

KARACHI = ZoneInfo("Asia/Karachi")
SESSION = date(2026, 11, 22)
ALL = ["evening_before", "day0_evening", "day1_morning", "day3_peeling", "day28_book"]
EXPECTED_LOCAL = {
    "evening_before": datetime(2026, 11, 21, 19, 0, tzinfo=KARACHI),
    "day0_evening": datetime(2026, 11, 22, 18, 0, tzinfo=KARACHI),
    "day1_morning": datetime(2026, 11, 23, 9, 0, tzinfo=KARACHI),
    "day3_peeling": datetime(2026, 11, 25, 9, 0, tzinfo=KARACHI),
    "day28_book": datetime(2026, 12, 20, 10, 0, tzinfo=KARACHI),
}


async def test_every_milestone_arrives_once_in_order_at_its_local_time(
    database: Database, clock: FakeClock
) -> None:
    """Travelling through the whole plan delivers each milestone exactly once, on time."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.travel(timedelta(days=40))
    await engine.stop()

    assert engine.notifier.milestones() == ALL
    for delivery in engine.notifier.sent:
        assert delivery.at == EXPECTED_LOCAL[delivery.reminder.milestone_id]
        assert delivery.reminder.chat_id == 7
    assert set((await statuses(database)).values()) == {ReminderStatus.SENT}
    day1 = next(d for d in engine.notifier.sent if d.reminder.milestone_id == "day1_morning")
    assert day1.reminder.day == 1 and day1.reminder.phase_id == "first_48h"


async def test_a_restart_between_any_two_steps_loses_and_repeats_nothing(
    database: Database, clock: FakeClock
) -> None:
    """A new engine (new worker, new connections) after every step delivers the same."""
    notifier = RecordingNotifier(clock)
    engine = await start_engine(database, clock, notifier=notifier)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    for _ in range(40 * 4):
        await engine.stop()
        await engine.database.dispose()
        restarted_db = Database(database.url, **database.options)
        engine = await start_engine(restarted_db, clock, notifier=notifier)
        await engine.travel(timedelta(hours=6))
    await engine.stop()
    await engine.database.dispose()

    assert notifier.milestones() == ALL
    assert [d.at for d in notifier.sent] == [EXPECTED_LOCAL[m] for m in ALL]


async def test_after_downtime_valid_reminders_are_sent_and_stale_ones_expire(
    database: Database, clock: FakeClock
) -> None:
    """No burst of stale messages after the process was down for days."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.stop()
    # Down from Friday until Monday 10:00 local: day1_morning (09:00, valid 10 h) is late but
    # valid; evening_before and day0_evening went stale.
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=KARACHI))
    engine = await start_engine(database, clock, notifier=engine.notifier)
    await engine.stop()

    assert engine.notifier.milestones() == ["day1_morning"]
    assert engine.notifier.sent[0].at == datetime(2026, 11, 23, 10, 0, tzinfo=KARACHI)
    found = await statuses(database)
    assert found["evening_before"] is ReminderStatus.EXPIRED
    assert found["day0_evening"] is ReminderStatus.EXPIRED
    assert found["day3_peeling"] is ReminderStatus.PENDING


async def test_apscheduler_holds_one_wake_job_that_is_never_dropped_late(
    database: Database, clock: FakeClock
) -> None:
    """APScheduler is only the timer: one job, no 1-second misfire grace, however many
    reminders are planned; it is set for the next due instant."""
    engine = await start_engine(database, clock)
    job_defaults = engine.runner.scheduler._job_defaults
    assert job_defaults["misfire_grace_time"] is None
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.care.register_session(chat_id=8, session_date=SESSION)
    clock.set(EXPECTED_LOCAL["evening_before"] - timedelta(seconds=30))
    await engine.tick()
    jobs = engine.runner.scheduler.get_jobs()
    assert [job.id for job in jobs] == ["reminders:wake"]
    assert jobs[0].misfire_grace_time is None
    # Due in 30 s by the (fake) clock: the wake is 30 s from now in real time.
    left = (jobs[0].next_run_time - datetime.now(UTC)).total_seconds()
    assert 20 < left <= 30
    await engine.stop()
    assert engine.runner.scheduler.get_jobs() == []


async def _log(database: Database) -> list[tuple[DeliveryOutcome, str | None]]:
    async with database.session() as session:
        rows = await session.execute(
            select(DeliveryLog.outcome, DeliveryLog.error).order_by(DeliveryLog.id)
        )
        return [(outcome, error) for outcome, error in rows.all()]


async def test_transient_failures_are_retried_with_backoff(
    database: Database, clock: FakeClock
) -> None:
    """A timeout, then a 429 asking for 7 s: the third attempt succeeds at the right times."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    engine.notifier.failures[7] = [
        TransientDeliveryError("timeout"),
        TransientDeliveryError("429", retry_after=7),
    ]
    await engine.travel(timedelta(days=1, hours=12))
    await engine.stop()

    first = engine.notifier.sent[0]
    assert first.reminder.milestone_id == "evening_before"
    # due, +30 s backoff after the timeout, +7 s asked for by the 429
    assert first.at == EXPECTED_LOCAL["evening_before"] + timedelta(seconds=37)
    assert (await _log(database))[:3] == [
        (DeliveryOutcome.RETRY, "timeout"),
        (DeliveryOutcome.RETRY, "429"),
        (DeliveryOutcome.SENT, None),
    ]


async def test_a_reminder_failing_every_attempt_is_marked_failed_and_the_loop_goes_on(
    database: Database, clock: FakeClock
) -> None:
    """After the attempt limit the reminder fails; the next one is still delivered."""
    policy = DeliveryPolicy(max_attempts=3, base_backoff=timedelta(seconds=10))
    engine = await start_engine(database, clock, policy=policy)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    engine.notifier.failures[7] = [TransientDeliveryError("5xx") for _ in range(3)]
    await engine.travel(timedelta(days=2, hours=12))
    await engine.stop()

    found = await statuses(database)
    assert found["evening_before"] is ReminderStatus.FAILED
    assert engine.notifier.milestones() == ["day0_evening"]
    assert [o for o, _ in await _log(database)] == [
        DeliveryOutcome.RETRY,
        DeliveryOutcome.RETRY,
        DeliveryOutcome.FAILED,
        DeliveryOutcome.SENT,
    ]


async def test_a_retry_that_would_arrive_stale_expires_instead(
    database: Database, clock: FakeClock
) -> None:
    """A 429 asking to wait past the reminder's expiry does not make it arrive stale."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    engine.notifier.failures[7] = [TransientDeliveryError("429", retry_after=13 * 3600)]
    await engine.travel(timedelta(days=2, hours=12))
    await engine.stop()

    assert (await statuses(database))["evening_before"] is ReminderStatus.EXPIRED
    assert engine.notifier.milestones() == ["day0_evening"]


async def test_a_blocked_user_is_stopped_and_their_reminders_cancelled(
    database: Database, clock: FakeClock
) -> None:
    """A 403 stops that patient only; another patient's reminders still arrive."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.care.register_session(chat_id=8, session_date=SESSION)
    engine.notifier.failures[7] = [RecipientGoneError("Forbidden: bot was blocked by the user")]
    await engine.travel(timedelta(days=40))
    await engine.stop()

    assert engine.notifier.milestones(7) == []
    assert engine.notifier.milestones(8) == ALL
    async with database.session() as session:
        status = (
            await session.execute(select(Patient.status).where(Patient.chat_id == 7))
        ).scalar_one()
    assert status is PatientStatus.STOPPED
    mine = await engine.care.reminders(chat_id=7)
    assert [r.status for r in mine] == [ReminderStatus.FAILED] + [ReminderStatus.CANCELLED] * 4


async def test_a_rejected_message_fails_alone(database: Database, clock: FakeClock) -> None:
    """A 400 for one message fails that reminder without retrying or stopping the patient."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    engine.notifier.failures[7] = [MessageRejectedError("Bad Request: chat not found")]
    await engine.travel(timedelta(days=40))
    await engine.stop()

    assert engine.notifier.milestones() == ALL[1:]
    assert (await statuses(database))["evening_before"] is ReminderStatus.FAILED


async def test_a_notifier_bug_is_retried_not_fatal(database: Database, clock: FakeClock) -> None:
    """An unexpected exception from the notifier is treated as transient."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    engine.notifier.failures[7] = [RuntimeError("boom")]
    await engine.travel(timedelta(days=40))
    await engine.stop()

    assert engine.notifier.milestones() == ALL
    assert (await _log(database))[0] == (DeliveryOutcome.RETRY, "RuntimeError")


async def test_a_hung_send_times_out_and_is_retried(database: Database, clock: FakeClock) -> None:
    """A send that never returns is cut off by the send timeout and tried again."""
    hang = asyncio.Event()
    calls = 0

    class HangingOnce(RecordingNotifier):
        async def send_reminder(self, reminder: OutgoingReminder) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                await hang.wait()
            await super().send_reminder(reminder)

    policy = DeliveryPolicy(send_timeout=timedelta(milliseconds=50))
    engine = await start_engine(database, clock, notifier=HangingOnce(clock), policy=policy)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.travel(timedelta(days=40))
    await engine.stop()

    assert engine.notifier.milestones() == ALL
    assert (await _log(database))[0] == (DeliveryOutcome.RETRY, "timeout")


async def test_quiet_hours_hold_a_resumed_reminder_until_morning(
    database: Database, clock: FakeClock
) -> None:
    """Resuming at 22:00 local sends a still-valid reminder at 08:00, not at night."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=date(2026, 11, 20))
    # day0_evening is due today 18:00 and valid 14 h (to 08:00 tomorrow); day1 at 09:00.
    await engine.care.pause(chat_id=7)
    clock.set(datetime(2026, 11, 20, 22, 0, tzinfo=KARACHI))
    await engine.care.resume(chat_id=7)
    await engine.tick()
    assert engine.notifier.sent == []
    await engine.travel(timedelta(hours=12))
    await engine.stop()

    # 08:00 is the end of quiet hours but also day0_evening's expiry: it is not sent stale.
    assert engine.notifier.milestones() == ["day1_morning"]
    assert (await statuses(database))["day0_evening"] is ReminderStatus.EXPIRED


async def test_sent_times_are_utc_and_match_the_rows(database: Database, clock: FakeClock) -> None:
    """sent_at in the database is the clock's instant of delivery."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    await engine.travel(timedelta(days=2))
    await engine.stop()
    rows = [r for r in await engine.care.reminders(chat_id=7) if r.status is ReminderStatus.SENT]
    assert [r.sent_at for r in rows] == [d.at for d in engine.notifier.sent]
    assert all(r.sent_at is not None and r.sent_at.tzinfo is UTC for r in rows)


async def test_a_plan_that_cannot_be_loaded_is_retried_not_lost(
    database: Database, clock: FakeClock
) -> None:
    """An operator's broken plan file delays reminders; it does not fail or crash them."""
    engine = await start_engine(database, clock)
    await engine.care.register_session(chat_id=7, session_date=SESSION)
    plan = engine.plan
    broken = True

    def plans(_plan_id: str, _language: str = "en") -> CarePlan:
        if broken:
            raise OSError("plan file unreadable")
        return plan

    engine.dispatcher.plans = plans
    clock.set(EXPECTED_LOCAL["evening_before"])
    await engine.tick()
    assert engine.notifier.sent == []
    assert (await _log(database)) == [(DeliveryOutcome.RETRY, "plan unavailable: OSError")]
    broken = False
    await engine.travel(timedelta(minutes=5))
    await engine.stop()
    assert engine.notifier.milestones() == ["evening_before"]
