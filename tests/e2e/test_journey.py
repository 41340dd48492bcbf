"""Living through a whole plan: every reminder once, in order, at its local hour, none stale."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.standin import SentMessage
from content.loader import load_plan
from storage.models import ReminderStatus
from tests.e2e.harness import KARACHI, WAIT, BotHarness, register

pytestmark = pytest.mark.fast_chat


def reminder_messages(messages: list[SentMessage]) -> list[SentMessage]:
    return [
        m
        for m in messages
        if any(
            b.callback_data and b.callback_data.startswith("rem:") for row in m.buttons for b in row
        )
        or " · day " in m.text
    ]


async def check_whole_plan(bot: BotHarness, chat_id: int) -> None:
    plan = load_plan()
    rows = await bot.reminders(chat_id)
    assert rows and all(r.status is ReminderStatus.SENT for r in rows), [
        (r.milestone_id, r.status) for r in rows
    ]
    for row in rows:
        assert row.sent_at is not None
        assert row.due_at <= row.sent_at < row.expires_at
        milestone = plan.milestone(row.milestone_id)
        local = row.sent_at.astimezone(KARACHI)
        assert (local.hour, local.minute) == (milestone.at.hour, milestone.at.minute), (
            row.milestone_id
        )
    chat = bot.chats[chat_id]
    arrived = reminder_messages(chat.messages)
    assert len(arrived) == len(rows)
    for message, row in zip(arrived, rows, strict=True):
        assert plan.milestone(row.milestone_id).headline in message.text


async def test_a_whole_plan_arrives_once_in_order_at_local_hours(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await bot.travel(timedelta(days=370))
    await check_whole_plan(bot, chat.chat_id)


async def test_a_restart_mid_plan_loses_and_repeats_nothing(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await bot.travel(timedelta(days=2, hours=3))
    await bot.restart()
    await bot.travel(timedelta(days=5))
    await bot.restart()
    await bot.travel(timedelta(days=365))
    await check_whole_plan(bot, chat.chat_id)


async def test_a_snoozed_reminder_comes_back_once_and_the_rest_go_on(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await bot.travel(timedelta(days=1))  # Saturday 09:00: day1_morning has just arrived
    morning = reminder_messages(chat.messages)[-1]
    assert "day 1" in morning.text
    chat.press("⏰ Remind me in 2 hours", message=morning)
    (answer,) = await chat.wait_for(1, timeout=WAIT)
    assert "11:00" in answer.text
    await bot.travel(timedelta(hours=3))
    again = reminder_messages(chat.messages)
    assert [m.text for m in again].count(morning.text) == 2
    await bot.travel(timedelta(days=1))
    rows = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    assert rows["day1_morning"].status is ReminderStatus.SENT
    assert rows["day1_morning"].snoozes == 1
    assert rows["day2_morning"].status is ReminderStatus.SENT


async def test_a_snooze_past_the_expiry_is_refused(bot: BotHarness) -> None:
    """day1_morning (09:00) goes stale at 14:00: snoozed to 11:00, then 13:00, then no."""
    chat = bot.chat()
    await register(chat, "press:Today")
    await bot.travel(timedelta(days=1))
    morning = reminder_messages(chat.messages)[-1]
    for hour in (11, 13):
        chat.press("⏰ Remind me in 2 hours", message=reminder_messages(chat.messages)[-1])
        (answer,) = await chat.wait_for(1, timeout=WAIT)
        assert f"{hour}:00" in answer.text
        await bot.travel(timedelta(hours=2))
    chat.press("⏰ Remind me in 2 hours", message=reminder_messages(chat.messages)[-1])
    await bot.standin.wait_until(lambda: bool(chat.callback_answers[-1].text), timeout=WAIT)
    assert "out of date" in chat.callback_answers[-1].text
    await bot.travel(timedelta(hours=5))
    rows = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    assert rows["day1_morning"].snoozes == 2
    assert rows["day1_morning"].status is ReminderStatus.SENT
    assert [m.text for m in reminder_messages(chat.messages)].count(morning.text) == 3


async def test_done_takes_the_buttons_off(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await bot.travel(timedelta(hours=10))
    evening = reminder_messages(chat.messages)[-1]
    chat.press("✅ Done", message=evening)
    await bot.standin.wait_until(lambda: not evening.buttons, timeout=WAIT)
    rows = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    assert rows["day0_evening"].acknowledged_at is not None
