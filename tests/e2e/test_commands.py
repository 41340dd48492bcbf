"""The patient's commands, each through the real Application and the stand-in."""

from __future__ import annotations

import json
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from storage.models import PatientStatus, ReminderStatus
from tests.e2e.harness import BotHarness, press, register, say
from tests.e2e.test_journey import reminder_messages


async def test_status_and_plan_say_where_the_patient_is(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "3 days ago")
    await bot.travel(timedelta(0))  # the catch-up message goes out now
    (status,) = await say(chat, "/status")
    assert "day 3" in status.text and "Next reminder" in status.text
    (plan,) = await say(chat, "/plan")
    assert "Your upcoming reminders" in plan.text
    assert plan.text.count("• ") >= 5


async def test_commands_are_registered_with_telegram(bot: BotHarness) -> None:
    names = [c["command"] for c in bot.standin.commands]
    assert names == [
        "start", "help", "status", "plan", "newsession", "change", "timezone", "quiet",
        "pause", "resume", "stop", "delete", "export", "news", "language", "cancel",
    ]  # fmt: skip
    # Users whose Telegram is in Urdu get the same menu described in Urdu script.
    assert bot.standin.menu(language="ur") == names
    urdu = bot.standin.menu_descriptions(language="ur")
    assert urdu["language"] == "زبان بدلیں" and urdu["start"].startswith("شروع")


async def test_pause_holds_and_resume_skips_what_went_stale(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    (paused,) = await say(chat, "/pause")
    assert "paused" in paused.text
    await bot.travel(timedelta(days=2))
    assert reminder_messages(chat.messages) == []
    held = {r.milestone_id: r.status for r in await bot.reminders(chat.chat_id)}
    assert held["day0_evening"] is ReminderStatus.EXPIRED  # went stale while paused
    assert held["day3_morning"] is ReminderStatus.PENDING
    (resumed,) = await say(chat, "/resume")
    assert "back on" in resumed.text
    await bot.travel(timedelta(days=1, hours=1))
    # Sunday 09:00's reminder was still valid at resume (until 15:00), then Monday's.
    arrived = reminder_messages(chat.messages)
    assert ["day 2" in arrived[0].text, "day 3" in arrived[1].text] == [True, True]
    assert len(arrived) == 2


async def test_stop_ends_all_messages_until_resume(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    (stopped,) = await say(chat, "/stop")
    assert "won't send you any more" in stopped.text
    patient = await bot.patient(chat.chat_id)
    assert patient is not None and patient.status is PatientStatus.STOPPED
    await bot.travel(timedelta(days=3))
    assert reminder_messages(chat.messages) == []


async def test_change_moves_the_reminders(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/change")
    await say(chat, "yesterday")
    sessions = await bot.sessions(chat.chat_id)
    assert [s.session_date for s in sessions] == [date(2026, 11, 19)]
    pending = {
        r.milestone_id
        for r in await bot.reminders(chat.chat_id)
        if r.status is ReminderStatus.PENDING
    }
    assert "day0_evening" not in pending and "day1_evening" in pending


async def test_newsession_starts_the_next_of_the_series(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "30 days ago")
    await bot.travel(timedelta(0))
    (question,) = await say(chat, "/newsession")
    assert "session 2" in question.text
    (confirmation,) = await say(chat, "today")
    assert "session 2 of your series" in confirmation.text
    assert [s.number for s in await bot.sessions(chat.chat_id)] == [1, 2]


async def test_a_typed_city_changes_the_time_zone_and_keeps_local_hours(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/timezone")
    (changed, where) = await say(chat, "London", replies=2)
    assert "Europe/London" in changed.text
    rows = [r for r in await bot.reminders(chat.chat_id) if r.milestone_id == "day1_morning"]
    local = rows[0].due_at.astimezone(ZoneInfo("Europe/London"))
    assert (local.hour, local.minute) == (9, 0)
    await say(chat, "/timezone")
    (unknown,) = await say(chat, "Atlantis")
    assert "couldn't find a time zone" in unknown.text


async def test_quiet_hours_typed_or_pressed(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/quiet")
    (bad,) = await say(chat, "whenever")
    assert "couldn't read" in bad.text
    (done,) = await say(chat, "22:00-07:00")
    assert "22:00-07:00" in done.text
    await say(chat, "/quiet")
    (off,) = await press(chat, "No quiet hours")
    assert "switched off" in off.text


async def test_export_sends_the_patients_data_as_json(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    (document,) = await say(chat, "/export")
    assert document.kind == "document"
    data = json.loads(document.file_bytes or b"{}")
    assert data["patient"]["chat_id"] == chat.chat_id
    assert data["patient"]["timezone"] == "Asia/Karachi"
    assert [s["date"] for s in data["sessions"]] == ["2026-11-20"]


async def test_help_and_a_stranger(bot: BotHarness) -> None:
    stranger = bot.chat(3003)
    (hello,) = await say(stranger, "hi there")
    assert "/start" in hello.text
    (status,) = await say(stranger, "/status")
    assert "/start" in status.text
    (help_text,) = await say(stranger, "/help")
    assert "/delete" in help_text.text
    assert await bot.patient(3003) is None
