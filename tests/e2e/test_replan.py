"""Reminders survive every state change, through the real Application and the stand-in:
stop and resume, block and unblock, quiet hours, time zone, and old reminder buttons."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.standin import ChatHandle, SentMessage
from content.loader import load_plan
from scheduler.care.planning import catch_up_id, catch_up_phase
from storage.models import PatientStatus, ReminderStatus
from tests.e2e.harness import KARACHI, WAIT, BotHarness, press, register, say
from tests.e2e.test_journey import reminder_messages

pytestmark = pytest.mark.fast_chat

TOKYO = ZoneInfo("Asia/Tokyo")


def arrived(chat: ChatHandle) -> Counter[str]:
    """How many times each milestone's message arrived in the chat (by its headline)."""
    plan = load_plan()
    counts: Counter[str] = Counter()
    for message in reminder_messages(chat.messages):
        found = [m.id for m in plan.milestones if m.headline in message.text]
        if not found:  # a catch-up, titled with its phase's name
            found = [catch_up_id(p.id) for p in plan.phases if p.name in message.text]
        (milestone,) = found
        counts[milestone] += 1
    return counts


async def sent_once_at_local_hours(
    bot: BotHarness, chat: ChatHandle, zone: ZoneInfo = KARACHI, late: frozenset[str] = frozenset()
) -> set[str]:
    """Every row sent is in the chat exactly once, at its plan's local hour (except ``late``
    ones, sent when they came back); nothing else arrived. Returns the sent milestones."""
    plan = load_plan()
    rows = [r for r in await bot.reminders(chat.chat_id) if r.status is ReminderStatus.SENT]
    for row in rows:
        assert row.sent_at is not None
        local = row.sent_at.astimezone(zone)
        if row.milestone_id not in late and catch_up_phase(row.milestone_id) is None:
            at = plan.milestone(row.milestone_id).at
            assert (local.hour, local.minute) == (at.hour, at.minute), row.milestone_id
    sent = Counter(r.milestone_id for r in rows)
    assert arrived(chat) == sent
    return set(sent)


async def wait_status(bot: BotHarness, chat: ChatHandle, status: PatientStatus) -> None:
    for _ in range(200):
        patient = await bot.patient(chat.chat_id)
        if patient is not None and patient.status is status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"patient never became {status}")


async def test_stop_then_resume_restores_the_future_reminders(bot: BotHarness) -> None:
    """The bug: "Reminders are back on", /plan said none were planned, and none came."""
    chat = bot.chat()
    await register(chat, "press:Today")  # Friday the 20th, 09:00
    await bot.travel(timedelta(days=1, hours=1))  # day0_evening and day1_morning arrived
    assert arrived(chat) == Counter(["day0_evening", "day1_morning"])
    (stopped,) = await say(chat, "/stop")
    (plan,) = await say(chat, "/plan")
    assert "reminders are off" in plan.text and "No more reminders" not in plan.text
    await bot.travel(timedelta(days=1))  # Sunday 10:00: day1_evening went stale meanwhile
    assert arrived(chat) == Counter(["day0_evening", "day1_morning"])
    (resumed,) = await say(chat, "/resume")
    assert (
        "back on" in resumed.text
        and "1 reminder that went out of date meanwhile was skipped" in resumed.text
    )
    (plan,) = await say(chat, "/plan")
    assert "48 hours done" in plan.text  # day2_morning (09:00, fresh until 15:00): now
    assert "Peeling days" in plan.text and "No more reminders" not in plan.text
    await bot.travel(timedelta(days=400))
    sent = await sent_once_at_local_hours(bot, chat, late=frozenset({"day2_morning"}))
    plan_ids = {m.id for m in load_plan().milestones if m.applies_to(1)}
    assert sent == plan_ids - {"prep_evening", "day1_evening"}
    rows = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    assert rows["day1_evening"].status is ReminderStatus.EXPIRED
    assert rows["day2_morning"].sent_at == datetime(2026, 11, 22, 10, 0, tzinfo=KARACHI)


async def test_start_after_stop_offers_resume_and_the_button_restores(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/stop")
    await bot.travel(timedelta(hours=1))
    chat.start()
    (offer,) = await chat.wait_for(1, timeout=WAIT)
    assert "switched off" in offer.text
    (resumed,) = await press(chat, "▶️ Resume reminders")
    assert "back on" in resumed.text
    await bot.travel(timedelta(days=400))
    sent = await sent_once_at_local_hours(bot, chat)
    assert {"day0_evening", "day1_morning", "maintenance_12m"} <= sent


async def test_resume_when_nothing_is_held_says_so(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    (answer,) = await say(chat, "/resume")
    assert "already on" in answer.text


async def test_pause_says_what_really_happens(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    (paused,) = await say(chat, "/pause")
    assert "Nothing is lost" not in paused.text and "out of date" in paused.text
    (plan,) = await say(chat, "/plan")
    assert "paused" in plan.text


async def test_unblocking_brings_the_reminders_back_with_a_welcome(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    chat.block()
    await wait_status(bot, chat, PatientStatus.STOPPED)
    await bot.travel(timedelta(days=1, hours=1))
    assert arrived(chat) == Counter()
    chat.unblock()
    (welcome,) = await chat.wait_for(1, timeout=WAIT)
    assert "back on" in welcome.text
    await wait_status(bot, chat, PatientStatus.ACTIVE)
    await bot.travel(timedelta(days=400))
    # Saturday 10:00: day 1's 09:00 reminder is fresh until 14:00, so it comes at once.
    sent = await sent_once_at_local_hours(bot, chat, late=frozenset({"day1_morning"}))
    assert {"day1_morning", "day1_evening"} <= sent and "day0_evening" not in sent
    rows = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    assert rows["day1_morning"].sent_at == datetime(2026, 11, 21, 10, 0, tzinfo=KARACHI)


async def test_a_stop_before_a_block_stays_a_stop_after_the_unblock(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/stop")
    chat.block()
    await asyncio.sleep(0.3)
    chat.unblock()
    await asyncio.sleep(0.3)
    await bot.travel(timedelta(days=3))
    assert arrived(chat) == Counter()
    (status,) = await say(chat, "/status")
    assert "stopped" in status.text
    patient = await bot.patient(chat.chat_id)
    assert patient is not None and patient.status is PatientStatus.STOPPED


async def test_quiet_hours_leaving_under_eight_waking_hours_are_refused(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/quiet")
    (refused,) = await say(chat, "00:00-23:59")
    assert "shorter span" in refused.text and "0:01 hours" in refused.text
    patient = await bot.patient(chat.chat_id)
    assert patient is not None and (patient.quiet_start, patient.quiet_end) == (time(21), time(8))
    (done,) = await say(chat, "22:00-07:00")
    assert "22:00-07:00" in done.text


async def test_quiet_hours_changed_and_back_restore_days_five_and_six(bot: BotHarness) -> None:
    """08:00-20:00 pushes the 09:00 reminders past their expiry (15:00); back to 21:00-08:00
    they are planned again (the bug: they stayed expired for good)."""
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/quiet")
    await say(chat, "08:00-20:00")
    swallowed = {r.milestone_id: r.status for r in await bot.reminders(chat.chat_id)}
    assert swallowed["day5_morning"] is swallowed["day6_morning"] is ReminderStatus.EXPIRED
    await say(chat, "/quiet")
    await say(chat, "21:00-08:00")
    back = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    for milestone_id, day in (("day5_morning", 25), ("day6_morning", 26)):
        assert back[milestone_id].status is ReminderStatus.PENDING
        assert back[milestone_id].due_at == datetime(2026, 11, day, 9, 0, tzinfo=KARACHI)
    await bot.travel(timedelta(days=400))
    sent = await sent_once_at_local_hours(bot, chat)
    assert {"day5_morning", "day6_morning"} <= sent


async def test_a_time_zone_change_keeps_the_fresh_reminders(bot: BotHarness) -> None:
    """At 06:00 in Karachi it is 10:00 in Tokyo: day 1's 09:00 reminder is late there but
    fresh until 14:00, so it comes at once instead of expiring; the rest keep 09:00 Tokyo."""
    chat = bot.chat()
    await register(chat, "press:Today")
    await bot.travel(timedelta(hours=21))  # Saturday 06:00 in Karachi
    await say(chat, "/timezone")
    (changed, _where) = await say(chat, "Tokyo", replies=2)
    assert "Asia/Tokyo" in changed.text
    await bot.travel(timedelta(days=400))
    late = frozenset({"day0_evening", "day1_morning"})  # sent in Karachi; sent late
    sent = await sent_once_at_local_hours(bot, chat, zone=TOKYO, late=late)
    assert "day1_morning" in sent
    rows = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    assert rows["day1_morning"].sent_at == datetime(2026, 11, 21, 10, 0, tzinfo=TOKYO)


def _latest(chat: ChatHandle, headline: str) -> SentMessage:
    return [m for m in reminder_messages(chat.messages) if headline in m.text][-1]


async def test_buttons_on_a_superseded_reminder_are_out_of_date(bot: BotHarness) -> None:
    """Register "yesterday"; day 2's "makeup is fine again" arrives; /newsession today; the
    old message's snooze and Done answer "out of date" and nothing comes two hours later."""
    chat = bot.chat()
    await register(chat, "yesterday")
    await bot.travel(timedelta(days=1))  # Saturday 09:00: day 2 of the first session
    old = _latest(chat, "48 hours done")
    await say(chat, "/newsession")
    await say(chat, "today")
    for label in ("⏰ Remind me in 2 hours", "✅ Done"):
        answers = len(chat.callback_answers)
        chat.press(label, message=old)
        await bot.standin.wait_until(
            lambda n=answers: len(chat.callback_answers) > n,  # type: ignore[misc]
            timeout=WAIT,
        )
        assert "out of date" in chat.callback_answers[-1].text
    assert old.buttons  # nothing changed: the message keeps its buttons
    await bot.travel(timedelta(hours=3))
    assert arrived(chat)["day2_morning"] == 1
    rows = [r for r in await bot.reminders(chat.chat_id) if r.milestone_id == "day2_morning"]
    first = min(rows, key=lambda r: r.session_id)
    assert (first.status, first.snoozes, first.acknowledged_at) == (
        ReminderStatus.SENT,
        0,
        None,
    )
