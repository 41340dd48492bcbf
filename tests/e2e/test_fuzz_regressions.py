"""Sequences the model-based fuzz (test_fuzz.py) found breaking an invariant on main, each
shrunk by hypothesis and kept here as a plain test.

Each names the issue 12 item it belongs to; each failed on main before that item's fix.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.standin import ChatHandle, SentMessage
from scheduler.care.planning import QuietHours
from storage.models import InviteKind, PatientStatus
from tests.e2e.harness import WAIT, BotHarness, begin, press, register, say
from tests.e2e.test_journey import reminder_messages

URGENT = ("🚨", "get medical care now")
RED_FLAG = "my throat is closing up"


def urgent(messages: list[SentMessage]) -> bool:
    return any(mark in m.text for m in messages for mark in URGENT)


async def until_status(bot: BotHarness, chat: ChatHandle, status: PatientStatus) -> None:
    """Wait for a my_chat_member update to take effect (it has no reply to wait for)."""
    for _ in range(200):
        patient = await bot.patient(chat.chat_id)
        if patient is not None and patient.status is status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the patient never became {status}")


async def test_a_red_flag_typed_at_the_registration_date_step_is_answered_as_urgent(
    bot: BotHarness,
) -> None:
    """The CI profile's first failure on main, shrunk by hypothesis: begin(consented),
    red_flag(...) -> "Sorry, I couldn't read that as a date"."""
    chat = bot.chat()
    await register(chat)
    answer = await say(chat, "my lips and tongue are swelling and I cannot breathe")
    assert urgent(answer), answer[0].text


async def test_a_red_flag_typed_at_the_quiet_hours_prompt_is_answered_as_urgent(
    bot: BotHarness,
) -> None:
    """Fuzz: begin(Today), /quiet, red flag -> "I couldn't read that. Please type two
    times like 22:00-07:00"."""
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/quiet")
    answer = await say(chat, RED_FLAG)
    assert urgent(answer), answer[0].text


async def test_a_red_flag_typed_at_the_change_date_prompt_is_answered_as_urgent(
    bot: BotHarness,
) -> None:
    """Fuzz: a registered patient, /change, red flag -> "Sorry, I couldn't read that as a
    date"."""
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/change")
    answer = await say(chat, RED_FLAG)
    assert urgent(answer), answer[0].text


async def test_roman_urdu_trouble_breathing_is_answered_as_urgent(bot: BotHarness) -> None:
    """Fuzz: "saans lene mein mushkil" (trouble breathing) got a 👀 or 📞 answer."""
    chat = bot.chat()
    await register(chat, "press:Today")
    answer = await say(chat, "saans lene mein mushkil")
    assert urgent(answer), answer[0].text


async def test_block_then_unblock_keeps_the_future_reminders(bot: BotHarness) -> None:
    """Fuzz: register, block, unblock, travel: "lost: day1_morning due ... not sent"."""
    chat = bot.chat()
    await register(chat, "press:Today")
    chat.block()
    await until_status(bot, chat, PatientStatus.STOPPED)
    chat.unblock()
    await say(chat, "/help")  # one chat's updates are handled in order: the unblock is done
    await bot.travel(timedelta(days=1, hours=6))  # Saturday 15:00 local: past 09:00
    assert any("day 1" in m.text for m in reminder_messages(chat.messages))


async def test_stop_then_resume_keeps_the_future_reminders(bot: BotHarness) -> None:
    """Fuzz: register, /stop, /resume, travel: the day-1 reminder never comes."""
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/stop")
    await say(chat, "/resume")
    await bot.travel(timedelta(days=1, hours=6))
    assert any("day 1" in m.text for m in reminder_messages(chat.messages))


async def test_a_patient_without_a_clinic_is_never_told_the_clinic_knows(bot: BotHarness) -> None:
    """Fuzz: red flag with no clinic -> "I've let your clinic know"."""
    chat = bot.chat()
    await register(chat, "press:Today")
    answer = await say(chat, RED_FLAG)
    assert urgent(answer)
    assert all("I've let your clinic know" not in m.text for m in answer), answer[0].text
    assert "nobody has been told" in answer[0].text


async def test_quiet_hours_leaving_under_8_waking_hours_are_refused(bot: BotHarness) -> None:
    """Fuzz: /quiet, "00:00-23:59" -> accepted: "waking hours: leaves fewer than 8"."""
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/quiet")
    await say(chat, "00:00-23:59")
    patient = await bot.patient(chat.chat_id)
    assert patient is not None
    assert QuietHours(patient.quiet_start, patient.quiet_end) != QuietHours.parse("00:00-23:59")


async def test_quiet_hours_changed_back_bring_the_reminders_back(bot: BotHarness) -> None:
    """Fuzz ("lost"): reminders made undeliverable by a quiet span stay expired when the
    span is changed back, though still fresh (the issue's /quiet 00:00-23:59 and back)."""
    chat = bot.chat()
    await register(chat, "press:Today")
    await say(chat, "/quiet")
    await say(chat, "00:00-23:59")  # leaves no room for any reminder...
    await say(chat, "/quiet")
    await say(chat, "21:00-08:00")  # ...and back: they are fresh again
    await bot.travel(timedelta(days=2, hours=6))
    texts = [m.text for m in reminder_messages(chat.messages)]
    assert any("day 2" in t for t in texts), texts


async def _clinic_patient(bot: BotHarness, chat: ChatHandle) -> int:
    """A patient registered through a clinic's link; returns the clinic id."""
    assert bot.runtime is not None
    clinics = bot.runtime.services.clinics
    clinic, _ = await clinics.create_clinic(
        name="North Clinic",
        timezone="Asia/Karachi",
        plan_id="microneedling",
        quiet_hours=QuietHours.parse("21:00-08:00"),
    )
    invite = await clinics.invite(clinic_id=clinic.id, kind=InviteKind.PATIENT)
    await begin(chat, invite.code)
    await press(chat, "Yes, that's fine", replies=2)
    await press(chat, "Today")
    return clinic.id


async def _broadcast(bot: BotHarness, clinic_id: int, text: str) -> None:
    assert bot.runtime is not None
    broadcasts = bot.runtime.services.broadcasts
    draft = await broadcasts.create(clinic_id, None, text)
    staff = bot.chat(9009)
    await broadcasts.confirm(draft, clinic_id, staff.chat_id)
    await bot.runtime.broadcaster.run_until_idle()


async def test_a_broadcast_is_labelled_with_its_clinic(bot: BotHarness) -> None:
    """Fuzz: join North Clinic, broadcast -> the patient reads the bare text."""
    chat = bot.chat()
    clinic_id = await _clinic_patient(bot, chat)
    await _broadcast(bot, clinic_id, "Open on Sunday")
    (news,) = await chat.wait_for(1, timeout=WAIT)
    assert "Open on Sunday" in news.text and "North Clinic" in news.text


async def test_a_broadcast_waits_for_the_patients_quiet_hours_to_end(bot: BotHarness) -> None:
    """Fuzz: a broadcast sent at 23:00 the patient's time arrives at 23:00."""
    chat = bot.chat()
    clinic_id = await _clinic_patient(bot, chat)
    await bot.travel(timedelta(hours=14))  # 23:00 in Karachi
    seen = len(chat.messages)
    await _broadcast(bot, clinic_id, "Open on Sunday")  # returns when its pass is over
    assert all("Open on Sunday" not in m.text for m in chat.messages[seen:])


async def test_an_old_quiet_hours_button_changes_nothing_after_a_command(
    bot: BotHarness,
) -> None:
    """Fuzz: /quiet, /help, press "20:00-09:00" on the old keyboard -> quiet hours change."""
    chat = bot.chat()
    await register(chat, "press:Today")
    (prompt,) = await say(chat, "/quiet")
    await say(chat, "/help")
    chat.press("20:00-09:00", message=prompt)
    await say(chat, "/help")  # one chat's updates are handled in order: the press is done
    patient = await bot.patient(chat.chat_id)
    assert patient is not None
    assert QuietHours(patient.quiet_start, patient.quiet_end) == QuietHours.parse("21:00-08:00")


async def test_an_old_date_button_does_not_move_the_session(bot: BotHarness) -> None:
    """Fuzz: the registration prompt answered by typing; "Yesterday" on it later moves the
    session a day."""
    chat = bot.chat()
    await register(chat)
    prompt = chat.last
    await say(chat, "20/11/2026")
    before = [s.session_date for s in await bot.sessions(chat.chat_id)]
    await bot.travel(timedelta(hours=3))
    chat.press("Yesterday", message=prompt)
    await say(chat, "/help")  # one chat's updates are handled in order: the press is done
    assert [s.session_date for s in await bot.sessions(chat.chat_id)] == before


async def test_snoozing_a_superseded_reminder_sends_nothing(bot: BotHarness) -> None:
    """The fuzz's "superseded" invariant: a reminder of an earlier session, snoozed after
    /newsession, comes back two hours later with stale advice (makeup fine on day 0)."""
    chat = bot.chat()
    await register(chat, "press:Yesterday")
    await bot.travel(timedelta(days=1))  # Saturday 09:00: day 2 of the old session
    old = next(m for m in reminder_messages(chat.messages) if "48 hours done" in m.text)
    await say(chat, "/newsession")
    await press(chat, "Today")
    seen = len(chat.messages)
    chat.press("⏰ Remind me in 2 hours", message=old)
    await say(chat, "/help")  # one chat's updates are handled in order: the press is done
    await bot.travel(timedelta(hours=3))
    assert all("48 hours done" not in m.text for m in chat.messages[seen:])


async def test_a_session_in_the_future_never_shows_a_negative_day(bot: BotHarness) -> None:
    """Fuzz: a date a week ahead typed at registration, then a question -> "today is day
    -7"."""
    chat = bot.chat()
    await register(chat, "27/11/2026")
    answers = await say(chat, "can I wear makeup?")
    answers += await say(chat, "/start")
    assert all("day -" not in m.text for m in answers), [m.text[:60] for m in answers]


async def test_the_reminder_before_a_planned_session_says_when_it_is_not_a_day(
    bot: BotHarness,
) -> None:
    """Long fuzz run: the pre-treatment reminder arrived as "Getting ready for tomorrow · day
    -1"."""
    chat = bot.chat()
    await register(chat, "27/11/2026")
    await bot.travel(timedelta(days=7))  # past the evening before the session
    arrived = reminder_messages(chat.messages)
    before = [m for m in arrived if "your session is tomorrow" in m.text]
    assert before, [m.text[:60] for m in arrived]
    assert all("day -" not in m.text for m in chat.messages), [m.text[:60] for m in arrived]
