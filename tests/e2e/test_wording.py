"""Wording a patient reads, through the real Application and the stand-in: counts of days,
impossible dates, pictures, /help and /plan."""

from __future__ import annotations

import pytest

from tests.e2e.harness import BotHarness, register, say
from tests.e2e.test_clinics import join, make_clinic, patient_link

# The clock of the tests is Friday 20 November 2026, 09:00 in Karachi.


async def test_a_session_ahead_is_counted_in_days_with_the_plural_right(
    bot: BotHarness,
) -> None:
    chat = bot.chat()
    done = await register(chat, "27/11")
    assert "in 7 days" in done.text and "day(s)" not in done.text, done.text
    (status,) = await say(chat, "/status")
    assert "Your session is in 7 days, on Fri 27 Nov" in status.text, status.text
    await say(chat, "/change")
    await say(chat, "21/11")
    (status,) = await say(chat, "/status")
    assert "Your session is tomorrow, on Sat 21 Nov" in status.text, status.text


async def test_plan_shows_the_zone_without_doubled_brackets(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    (plan,) = await say(chat, "/plan")
    title = plan.text.splitlines()[0]
    assert "Asia/Karachi (UTC+05:00, 09:00 now)" in title, title
    assert "))" not in title


async def test_an_impossible_date_says_what_is_wrong_with_it(bot: BotHarness) -> None:
    chat = bot.chat()
    answer = await register(chat, "31/02")
    assert "There's no 31 February" in answer.text, answer.text
    assert "couldn't read" not in answer.text
    (junk,) = await say(chat, "the blue one")
    assert "couldn't read that as a date" in junk.text
    (done,) = await say(chat, "28/02")  # and the patient carries on
    assert "All set" in done.text


async def test_a_picture_gets_a_pointer_to_words_and_to_the_clinic(bot: BotHarness) -> None:
    alone = bot.chat(1001)
    await register(alone, "press:Today")
    alone.send_photo()
    (answer,) = await alone.wait_for(1)
    assert "describe what you see in words" in answer.text, answer.text
    assert "send it to them directly" not in answer.text  # no clinic to point to

    clinic = await make_clinic(
        bot, "North Clinic", 2001, phone="+92 51 2345678", whatsapp="+92 300 1234567"
    )
    patient = await join(bot, 3001, await patient_link(clinic))
    patient.send_photo()
    (answer,) = await patient.wait_for(1)
    assert "describe what you see in words" in answer.text
    lines = answer.text.splitlines()
    assert "To show it to your clinic, send it to them directly:" in lines, answer.text
    assert "Phone: +92 51 2345678" in lines and "WhatsApp: +92 300 1234567" in lines
    patient.send_sticker()
    (sticker,) = await patient.wait_for(1)
    assert "text messages" in sticker.text  # a sticker needs no pointer


@pytest.mark.fast_chat
async def test_help_mentions_news_to_a_clinics_patients(bot: BotHarness) -> None:
    alone = bot.chat(1001)
    await register(alone, "press:Today")
    (help_text,) = await say(alone, "/help")
    assert "/news:" not in help_text.text  # no clinic, no clinic news

    clinic = await make_clinic(bot, "North Clinic", 2001)
    patient = await join(bot, 3001, await patient_link(clinic))
    (help_text,) = await say(patient, "/help")
    assert "/news: news from North Clinic on or off" in help_text.text, help_text.text
    assert "/stop" in help_text.text
