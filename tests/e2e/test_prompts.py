"""Pending prompts never swallow a red flag, end on any command, expire, and old buttons are
refused without changing anything (issue 12: items 1 and 9, and the prompt rules)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.standin import CallbackAnswer, ChatHandle, SentMessage
from tests.e2e.harness import WAIT, BotHarness, choose_language, press, register, say

RED_FLAG = "my lips and tongue are swelling and I cannot breathe"
MIXED_RED_FLAG = "meri face bohat swollen hai aur I can't breathe properly"
ROMAN_URDU_RED_FLAG = "hont aur zuban soojh gaye hain aur saans lene mein mushkil ho rahi hai"
URDU_RED_FLAG = "ہونٹ سوج گئے ہیں اور سانس لینے میں مشکل ہو رہی ہے"
TODAY = date(2026, 11, 20)  # the harness clock's local date at the start


async def answer_to(bot: BotHarness, chat: ChatHandle, query_id: str) -> CallbackAnswer:
    """The bot's answer to one button press."""
    await bot.standin.wait_until(
        lambda: any(a.query_id == query_id for a in chat.callback_answers),
        timeout=WAIT,
        what=f"an answer to button press {query_id}",
    )
    return next(a for a in chat.callback_answers if a.query_id == query_id)


def is_urgent(message: SentMessage) -> bool:
    return message.text.startswith("🚨")


async def session_dates(bot: BotHarness, chat: ChatHandle) -> list[date]:
    return [s.session_date for s in await bot.sessions(chat.chat_id)]


@pytest.mark.parametrize("command", ["/change", "/newsession", "/timezone", "/quiet"])
async def test_a_red_flag_is_answered_whatever_prompt_is_pending(
    bot: BotHarness, command: str
) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, command)
    chat.send(RED_FLAG)
    urgent, back_to, prompt = await chat.wait_for(3, timeout=WAIT)
    assert is_urgent(urgent), urgent.text
    assert "back to what I asked" in back_to.text
    assert prompt.buttons  # the prompt again, with fresh buttons
    assert await session_dates(bot, chat) == [TODAY]  # nothing was read as an answer


async def test_a_mixed_language_red_flag_wins_over_the_date_step_of_registration(
    bot: BotHarness,
) -> None:
    chat = bot.chat()
    await register(chat)  # consented; the bot asks for the date
    chat.send(MIXED_RED_FLAG)
    (urgent, *_rest) = await chat.wait_for(1, timeout=WAIT)
    assert is_urgent(urgent), urgent.text
    assert await session_dates(bot, chat) == []


@pytest.mark.parametrize("words", [ROMAN_URDU_RED_FLAG, URDU_RED_FLAG])
async def test_an_urdu_red_flag_wins_over_a_pending_prompt(bot: BotHarness, words: str) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/quiet")
    urgent, _back_to, _prompt = await say(chat, words, replies=3)
    assert is_urgent(urgent), urgent.text
    patient = await bot.patient(chat.chat_id)
    assert patient is not None and patient.step == "quiet"  # still waiting for the span


async def test_the_prompt_still_works_after_a_red_flag(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/change")
    await say(chat, RED_FLAG, replies=3)
    await say(chat, "yesterday")
    assert await session_dates(bot, chat) == [TODAY - timedelta(days=1)]


async def test_a_question_during_a_prompt_is_answered_and_the_prompt_offered_again(
    bot: BotHarness,
) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/change")
    answer, back_to, prompt = await say(chat, "can I go to the gym?", replies=3)
    assert "gym" in answer.text.lower() or "exercise" in answer.text.lower(), answer.text
    assert "back to what I asked" in back_to.text
    assert prompt.buttons
    (unreadable,) = await say(chat, "blue banana")
    assert "couldn't read" in unreadable.text
    assert await session_dates(bot, chat) == [TODAY]


async def test_cancel_ends_a_patients_prompt(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/change")
    (cancelled,) = await say(chat, "/cancel")
    assert "stopped waiting" in cancelled.text
    await say(chat, "yesterday")  # now just words, not a new date
    assert await session_dates(bot, chat) == [TODAY]
    (nothing,) = await say(chat, "/cancel")
    assert "nothing to cancel" in nothing.text


@pytest.mark.parametrize("command", ["/status", "/help", "/start", "/plan"])
async def test_any_command_leaves_the_pending_prompt(bot: BotHarness, command: str) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/change")
    chat.send(command)
    await chat.wait_for(1, timeout=WAIT)
    patient = await bot.patient(chat.chat_id)
    assert patient is not None and patient.step is None
    await say(chat, "yesterday")
    assert await session_dates(bot, chat) == [TODAY]


async def test_a_late_answer_is_told_the_prompt_expired_and_changes_nothing(
    bot: BotHarness,
) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/change")
    await bot.travel(timedelta(minutes=31))
    chat.send("yesterday")
    replies = await chat.wait_for(1, timeout=WAIT)
    assert "more than 30 minutes ago" in replies[0].text
    assert "/change" in replies[0].text
    assert await session_dates(bot, chat) == [TODAY]


async def test_an_old_date_button_is_refused_after_the_prompt_was_answered_by_typing(
    bot: BotHarness,
) -> None:
    chat = bot.chat()
    await register(chat)
    asked = next(m for m in reversed(chat.messages) if m.buttons)
    await say(chat, "today")
    assert await session_dates(bot, chat) == [TODAY]
    await bot.travel(timedelta(hours=3))
    answer = await answer_to(bot, chat, chat.press("Yesterday", message=asked))
    assert "out of date" in answer.text
    assert await session_dates(bot, chat) == [TODAY]


async def test_a_button_of_an_earlier_prompt_is_refused_when_a_new_one_is_open(
    bot: BotHarness,
) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    (first,) = await say(chat, "/change")
    await say(chat, "/change")
    answer = await answer_to(bot, chat, chat.press("Yesterday", message=first))
    assert "out of date" in answer.text
    assert await session_dates(bot, chat) == [TODAY]
    await press(chat, "Yesterday")  # the current one works
    assert await session_dates(bot, chat) == [TODAY - timedelta(days=1)]


async def test_old_quiet_and_timezone_buttons_after_delete_change_nothing(
    bot: BotHarness,
) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    (quiet,) = await say(chat, "/quiet")
    (zones,) = await say(chat, "/timezone")
    await say(chat, "/delete")
    await press(chat, "Yes, delete everything")
    assert await bot.patient(chat.chat_id) is None
    for message in (quiet, zones):
        answer = await answer_to(bot, chat, chat.press(0, message=message))
        assert "out of date" in answer.text
    assert await bot.patient(chat.chat_id) is None
    assert not [m for m in chat.messages if "something went wrong" in m.text]


async def test_an_old_delete_button_does_not_erase_a_new_registration(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    (confirm,) = await say(chat, "/delete")
    await say(chat, "/delete")
    await press(chat, "Yes, delete everything")
    await register(chat, "press:Today")
    answer = await answer_to(bot, chat, chat.press("Yes, delete everything", message=confirm))
    assert "out of date" in answer.text
    assert await session_dates(bot, chat) == [TODAY]


async def test_an_old_consent_button_does_not_ask_for_the_date_again(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    # A second consent message left open (e.g. /start sent twice) pressed after registering.
    answer = await answer_to(bot, chat, chat.press_data("consent:yes", message=chat.messages[0]))
    assert "out of date" in answer.text
    await say(chat, "yesterday")  # not taken as a new date
    assert await session_dates(bot, chat) == [TODAY]


async def test_forged_prompt_buttons_change_nothing(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/change")
    for data in (
        "date:yesterday",
        "date:yesterday|zzzz",
        "date:set:2026-11-01|zzzz",
        "cal:day:2026-11-01",
        "tz:set:Europe/London|zzzz",
        "quiet:set:00:00-23:59|zzzz",
        "enrol:yes:2026-11-01|zzzz",
        "delete:yes",
        "delete:yes|999",
    ):
        answer = await answer_to(bot, chat, chat.press_data(data))
        assert "out of date" in answer.text, data
    assert await session_dates(bot, chat) == [TODAY]
    assert not [m for m in chat.messages if "something went wrong" in m.text]


async def test_typing_while_consent_is_pending_points_at_the_question(bot: BotHarness) -> None:
    chat = bot.chat()
    chat.start()
    await chat.wait_for(1, timeout=WAIT)  # the language question
    (answer,) = await say(chat, "hello?")
    assert "answer my question above" in answer.text
    assert "haven't met" not in answer.text
    await choose_language(chat)  # then the consent question
    (answer,) = await say(chat, "hello?")
    assert "answer my question above" in answer.text


async def test_a_stranger_with_a_red_flag_gets_the_urgent_answer(bot: BotHarness) -> None:
    chat = bot.chat()
    urgent, how_to_start = await say(chat, RED_FLAG, replies=2)
    assert is_urgent(urgent), urgent.text
    assert "/start" in how_to_start.text


async def test_a_patients_reminder_and_prompt_buttons_forged_by_others_change_nothing(
    bot: BotHarness,
) -> None:
    """Reminder (rem:*) and onboarding buttons carrying a patient's ids, pressed by another
    patient and by a clinic's admin (not a patient): refused, and the patient's plan intact."""
    from tests.e2e.test_clinics import make_clinic

    patient = bot.chat(1001)
    await register(patient, "press:Today")
    await bot.travel(timedelta(hours=12))  # the evening reminder has arrived
    (evening,) = [r for r in await bot.reminders(1001) if r.sent_at is not None]
    before = [(r.id, r.status, r.snoozes, r.acknowledged_at) for r in await bot.reminders(1001)]
    other = bot.chat(1002)
    await register(other, "press:Today")
    clinic = await make_clinic(bot, "North Clinic", 3001)
    for presser in (other, clinic.admin):
        for action in ("done", "snooze", "book", "booked", "question"):
            answer = await answer_to(bot, presser, presser.press_data(f"rem:{action}:{evening.id}"))
            if action != "question":  # asking a question changes no reminder
                assert "out of date" in answer.text or "no longer" in answer.text, answer
        for data in ("date:today|x", "tz:set:Europe/London|x", "quiet:off|x", "delete:yes|x"):
            answer = await answer_to(bot, presser, presser.press_data(data))
            assert "out of date" in answer.text, data
    after = [(r.id, r.status, r.snoozes, r.acknowledged_at) for r in await bot.reminders(1001)]
    assert after == before
    assert await session_dates(bot, patient) == [TODAY]
    for chat in (patient, other, clinic.admin):
        assert not [m for m in chat.messages if "something went wrong" in m.text]
