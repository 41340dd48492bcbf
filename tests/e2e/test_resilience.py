"""Bad days: users who block the bot, Telegram errors, floods, and erasing everything."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import Base, DeliveryLog, PatientStatus, ReminderStatus
from tests.e2e.harness import WAIT, BotHarness, press, register, say
from tests.e2e.test_journey import reminder_messages

GONE = {"error_code": 403, "description": "Forbidden: bot was blocked by the user"}


async def test_delete_leaves_no_row_about_the_patient_in_any_table(bot: BotHarness) -> None:
    other = bot.chat(2002)
    await register(other, "press:Yesterday")
    chat = bot.chat()
    await register(chat, "press:Today")
    await bot.travel(timedelta(days=2))
    patient = await bot.patient(chat.chat_id)
    assert patient is not None
    ids = {
        "patient_id": {patient.id},
        "session_id": {s.id for s in await bot.sessions(chat.chat_id)},
        "reminder_id": {r.id for r in await bot.reminders(chat.chat_id)},
        "chat_id": {chat.chat_id},
    }
    async with bot.database.session() as session:
        logs = (await session.execute(select(DeliveryLog))).scalars().all()
    assert any(log.reminder_id in ids["reminder_id"] for log in logs)

    await say(chat, "/delete")
    (done,) = await press(chat, "Yes, delete everything")
    assert "deleted" in done.text

    own_ids = {
        "patients": "patient_id",
        "treatment_sessions": "session_id",
        "outbox": "reminder_id",  # a reminder is a row of the outbox
    }
    async with bot.database.session() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).mappings().all()
            for row in rows:
                for column, values in ids.items():
                    assert row.get(column) not in values, (table.name, dict(row))
                if table.name in own_ids:
                    assert row["id"] not in ids[own_ids[table.name]], (table.name, dict(row))
    assert await bot.patient(other.chat_id) is not None
    assert await bot.reminders(other.chat_id)


async def test_a_block_stops_everything_and_the_unblock_brings_it_back(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    before = len(chat.messages)
    bot.standin.block(chat.chat_id)
    for _ in range(100):
        patient = await bot.patient(chat.chat_id)
        if patient is not None and patient.status is PatientStatus.STOPPED:
            break
        await asyncio.sleep(0.05)
    assert patient is not None and patient.status is PatientStatus.STOPPED
    await bot.travel(timedelta(days=3))
    assert len(chat.messages) == before
    assert all(
        r.status in {ReminderStatus.CANCELLED, ReminderStatus.EXPIRED}
        for r in await bot.reminders(chat.chat_id)
    )
    assert not [c for c in bot.standin.calls if c.status == 403]

    # The block alone had stopped them: the unblock gives their reminders back, with a word.
    bot.standin.unblock(chat.chat_id)
    (welcome,) = await chat.wait_for(1, timeout=WAIT)
    assert "back on" in welcome.text
    patient = await bot.patient(chat.chat_id)
    assert patient is not None and patient.status is PatientStatus.ACTIVE
    assert any(r.status is ReminderStatus.PENDING for r in await bot.reminders(chat.chat_id))


async def test_a_403_on_a_reminder_stops_the_patient(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    bot.standin.fail_next("sendMessage", chat_id=chat.chat_id, **GONE)  # type: ignore[arg-type]
    await bot.travel(timedelta(days=2))
    patient = await bot.patient(chat.chat_id)
    assert patient is not None and patient.status is PatientStatus.STOPPED
    rows = await bot.reminders(chat.chat_id)
    assert rows[0].status is ReminderStatus.FAILED
    assert all(r.status is ReminderStatus.CANCELLED for r in rows[1:])
    assert reminder_messages(chat.messages) == []


async def test_a_429_is_waited_out_and_the_reminder_sent_once(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    bot.standin.fail_next(
        "sendMessage", chat_id=chat.chat_id, error_code=429, retry_after=1, count=2
    )
    await bot.travel(timedelta(hours=10))
    rows = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    assert rows["day0_evening"].status is ReminderStatus.SENT
    assert len(reminder_messages(chat.messages)) == 1


async def test_a_long_run_of_429s_is_retried_later_not_lost(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    bot.standin.fail_next(
        "sendMessage", chat_id=chat.chat_id, error_code=429, retry_after=1, count=4
    )
    await bot.travel(timedelta(hours=10, minutes=30))
    rows = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    assert rows["day0_evening"].status is ReminderStatus.SENT
    assert rows["day0_evening"].attempts >= 2
    assert len(reminder_messages(chat.messages)) == 1


@pytest.mark.parametrize("read_timeout", [1.0])
async def test_a_timeout_is_retried_and_recorded(bot: BotHarness, read_timeout: float) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    await bot.restart_with(read_timeout=read_timeout)
    bot.standin.delay_next("sendMessage", read_timeout + 1.5, chat_id=chat.chat_id)
    await bot.travel(timedelta(hours=10, minutes=30))
    rows = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    evening = rows["day0_evening"]
    assert evening.status is ReminderStatus.SENT
    async with bot.database.session() as session:
        logs = (
            (
                await session.execute(
                    select(DeliveryLog).where(DeliveryLog.reminder_id == evening.id)
                )
            )
            .scalars()
            .all()
        )
    assert any("timeout" in (log.error or "") for log in logs)
    # Telegram may have accepted the timed-out send: at least once, never lost.
    assert len(reminder_messages(chat.messages)) >= 1


async def test_html_refused_by_telegram_is_sent_as_plain_text(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    bot.standin.fail_next(
        "sendMessage",
        chat_id=chat.chat_id,
        error_code=400,
        description='Bad Request: can\'t parse entities: Unsupported start tag "x"',
    )
    await bot.travel(timedelta(hours=10))
    (message,) = reminder_messages(chat.messages)
    assert message.parse_mode is None
    assert "<b>" not in message.text and "day 0" in message.text
    rows = {r.milestone_id: r for r in await bot.reminders(chat.chat_id)}
    assert rows["day0_evening"].status is ReminderStatus.SENT


async def test_a_flood_of_100_messages_is_answered_within_the_limits(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    before = len(chat.messages)
    calls_before = len(bot.standin.calls)
    for index in range(100):
        chat.send(f"hello {index}")
    replies = await chat.wait_for(9, timeout=WAIT + 5)
    await asyncio.sleep(1.5)
    assert len(chat.messages) == before + 9
    assert "a lot of messages" in replies[-1].text
    new_calls = bot.standin.calls[calls_before:]
    assert all(c.status == 200 for c in new_calls), [
        (c.method, c.status) for c in new_calls if c.status != 200
    ]
    assert bot.standin.throttled == 0


async def test_stickers_photos_voice_edits_and_groups_get_an_answer(bot: BotHarness) -> None:
    chat = bot.chat()
    await register(chat, "press:Today")
    chat.send_sticker()
    (reply,) = await chat.wait_for(1, timeout=WAIT)
    assert "text messages" in reply.text
    chat.send_photo()
    chat.send_voice()
    await chat.wait_for(2, timeout=WAIT)
    sent = chat.send("hello")
    await chat.wait_for(1, timeout=WAIT)
    chat.edit(sent, "hello again")
    (edited,) = await chat.wait_for(1, timeout=WAIT)
    assert "edited" in edited.text
    group = bot.standin.group_chat(-100123)
    group.send("/start")
    (polite,) = await group.wait_for(1, timeout=WAIT)
    assert "private chats" in polite.text
    assert await bot.patient(-100123) is None
    (unknown,) = await say(chat, "/frobnicate")
    assert "don't know that command" in unknown.text
