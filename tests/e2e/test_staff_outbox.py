"""Alerts to staff through the outbox, with the real bot over the stand-in: an alert Telegram
fails to take reaches the staff later, once, across a restart; a colleague who blocked the
bot does not hold up the others."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import REMINDER, MessageStatus, OutboxMessage
from tests.e2e.harness import WAIT, BotHarness, say
from tests.e2e.test_clinics import join, make_clinic, patient_link

pytestmark = pytest.mark.fast_chat

RED_FLAG = "saans nahi aa raha aur hont sooj rahe hain"  # Roman Urdu: can't breathe, lips swell


async def outbox(bot: BotHarness) -> list[OutboxMessage]:
    """The messages to staff in the outbox (the patient's reminders are rows of it too)."""
    async with bot.database.session() as session:
        found = await session.execute(
            select(OutboxMessage).where(OutboxMessage.kind != REMINDER).order_by(OutboxMessage.id)
        )
        return list(found.scalars())


async def settled(bot: BotHarness, count: int) -> list[OutboxMessage]:
    """The outbox once ``count`` messages are in it and the sender has had its go at each:
    none is being sent, and none is still pending without an attempt (a row is written
    before the sender claims it, so "not claimed" alone also matched a row not tried yet)."""
    async with asyncio.timeout(WAIT):
        while True:
            rows = await outbox(bot)
            if len(rows) >= count and all(_tried(r) for r in rows):
                return rows
            await asyncio.sleep(0.02)


def _tried(row: OutboxMessage) -> bool:
    return row.claimed_by is None and (row.attempts >= 1 or row.status is not MessageStatus.PENDING)


def alerts_in(chat_messages: list[object]) -> int:
    return sum("URGENT" in getattr(m, "text", "") for m in chat_messages)


async def test_an_alert_telegram_refused_reaches_the_staff_later_once(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    chat = await join(bot, 301, await patient_link(north), when="Yesterday")
    await bot.travel(timedelta(0))
    bot.standin.fail_next("sendMessage", error_code=502, chat_id=north.admin.chat_id)
    chat.send(RED_FLAG)
    answer, *_ = await chat.wait_for(1, timeout=WAIT)
    assert answer.text.startswith("🚨")  # the patient is answered whatever the staff's side
    (row,) = await settled(bot, 1)
    assert row.status is MessageStatus.PENDING and row.attempts == 1
    assert alerts_in(north.admin.messages) == 0
    # The sender tries again after its backoff, across a restart.
    await bot.restart()
    await bot.travel(timedelta(seconds=20))
    await bot.standin.wait_until(lambda: alerts_in(north.admin.messages) == 1)
    pushed = next(m for m in north.admin.messages if "URGENT" in m.text)
    assert [b.text for r in pushed.buttons for b in r] == ["💬 Reply", "✅ Resolve"]
    await bot.travel(timedelta(minutes=10))
    assert alerts_in(north.admin.messages) == 1
    (row,) = await outbox(bot)
    assert (row.status, row.body, row.buttons) == (MessageStatus.SENT, None, None)
    # Its buttons still work: Reply reaches the patient.
    north.admin.press("💬 Reply", message=pushed)
    await north.admin.wait_for(1, timeout=WAIT)
    (sent,) = await say(north.admin, "Please come to the clinic now.")
    assert "Sent to patient" in sent.text


async def test_a_colleague_who_blocked_the_bot_does_not_hold_up_the_others(
    bot: BotHarness,
) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    (invite,) = await say(north.admin, "/staff invite")
    colleague = bot.chat(9002, first_name="Colleague")
    colleague.start(invite.text.split("start=")[1].split()[0])
    await colleague.wait_for(1, timeout=WAIT)
    chat = await join(bot, 301, await patient_link(north), when="Yesterday")
    await bot.travel(timedelta(0))
    bot.standin.block(colleague.chat_id)
    chat.send(RED_FLAG)
    await chat.wait_for(1, timeout=WAIT)
    await bot.standin.wait_until(lambda: alerts_in(north.admin.messages) == 1)
    statuses = {r.chat_id: r.status for r in await settled(bot, 2)}
    assert statuses == {9001: MessageStatus.SENT, 9002: MessageStatus.FAILED}
    await bot.travel(timedelta(minutes=30))
    assert alerts_in(colleague.messages) == 0
    assert {r.chat_id: r.status for r in await outbox(bot)} == statuses
