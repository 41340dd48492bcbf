"""Registering a session in chat, every way a patient can, over the real Bot API stand-in."""

from __future__ import annotations

from datetime import date

import pytest

from tests.e2e.harness import WAIT, BotHarness, begin, press, register, say

# The clock of every test: Friday 20 November 2026, 09:00 in Karachi.
TODAY = date(2026, 11, 20)


async def assert_registered(bot: BotHarness, chat_id: int, expected: date) -> None:
    sessions = await bot.sessions(chat_id)
    assert [s.session_date for s in sessions] == [expected]
    stored = {(r.milestone_id, r.due_at) for r in await bot.reminders(chat_id)}
    assert stored == bot.expected_reminders(expected)
    assert stored, "a registration within the plan stores reminders"


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (["press:Today"], TODAY),
        (["press:Yesterday"], date(2026, 11, 19)),
        (["today"], TODAY),
        (["Yesterday"], date(2026, 11, 19)),
        (["3 days ago"], date(2026, 11, 17)),
        (["last Friday"], date(2026, 11, 13)),
        (["20/11"], TODAY),
        (["18 Nov"], date(2026, 11, 18)),
        (["2026-11-16"], date(2026, 11, 16)),
    ],
    ids=[
        "today-button",
        "yesterday-button",
        "today",
        "yesterday",
        "3-days-ago",
        "last-friday",
        "20/11",
        "18-nov",
        "iso",
    ],
)
async def test_each_style_stores_exactly_the_plan(
    bot: BotHarness, steps: list[str], expected: date
) -> None:
    chat = bot.chat()
    confirmation = await register(chat, *steps)
    assert "All set" in confirmation.text
    await assert_registered(bot, chat.chat_id, expected)


async def test_today_at_nine_keeps_every_milestone_from_the_session_on(bot: BotHarness) -> None:
    """Independent of the planner: registering 'today' drops only the evening-before tip."""
    chat = bot.chat()
    await register(chat, "press:Today")
    stored = [r.milestone_id for r in await bot.reminders(chat.chat_id)]
    assert stored[:3] == ["day0_evening", "day1_morning", "day1_evening"]
    assert "prep_evening" not in stored
    assert not any(m.startswith("catch_up_") for m in stored)
    assert stored[-1] == "maintenance_12m" and len(stored) == len(set(stored)) == 14


async def test_the_confirmation_says_where_the_patient_is_and_what_comes_next(
    bot: BotHarness,
) -> None:
    chat = bot.chat()
    confirmation = await register(chat, "3 days ago")
    assert "day 3" in confirmation.text
    assert "Coming up" in confirmation.text
    assert confirmation.text.count("\n• ") == 3
    assert "Asia/Karachi" in confirmation.text
    assert any(b.callback_data == "tz:change" for row in confirmation.buttons for b in row)


async def test_the_calendar_picks_a_day_and_navigates_months(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat)
    question = chat.last
    chat.press("📅 Pick a date")
    await bot.standin.wait_until(
        lambda: any(b.callback_data.startswith("cal:") for row in question.buttons for b in row),
        timeout=WAIT,
    )
    chat.press("‹", message=question)
    await bot.standin.wait_until(
        lambda: any("October" in b.text for row in question.buttons for b in row), timeout=WAIT
    )
    chat.press("30", message=question)
    await chat.wait_for(1, timeout=WAIT)
    await assert_registered(bot, chat.chat_id, date(2026, 10, 30))


async def test_an_ambiguous_date_is_confirmed_in_words(bot: BotHarness) -> None:
    chat = bot.chat()
    reply = await register(chat, "03/11")
    assert "did you mean" in reply.text
    labels = [b.text for row in reply.buttons for b in row]
    assert len(labels) == 2 and "3 Nov" in labels[0] and "11 Mar" in labels[1]
    assert await bot.sessions(chat.chat_id) == []
    await press(chat, 1)
    await assert_registered(bot, chat.chat_id, date(2026, 3, 11))


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("banana", "couldn't read"),
        ("31/02", "There's no 31 February"),
        ("2029-01-01", "more than 90 days"),
        ("01/01/2020", "more than two years"),
        ("🙂", "couldn't read"),
    ],
)
async def test_a_bad_date_is_explained_and_asked_again(
    bot: BotHarness, typed: str, words: str
) -> None:
    chat = bot.chat()
    reply = await register(chat, typed)
    assert words in reply.text
    assert any(b.text == "Today" for row in reply.buttons for b in row)
    assert await bot.sessions(chat.chat_id) == []
    await say(chat, "yesterday")
    await assert_registered(bot, chat.chat_id, date(2026, 11, 19))


async def test_no_to_consent_stores_nothing(bot: BotHarness) -> None:
    chat = bot.chat()
    (greeting,) = await begin(chat)
    assert "not a diagnosis" in greeting.text
    await press(chat, "No, thanks")
    assert await bot.patient(chat.chat_id) is None
