"""A clinic broadcast over the stand-in: 1,000 patients, 429s, blocked users, a restart."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.standin import ChatHandle, StandIn
from scheduler.broadcasts.rules import text_limit
from scheduler.care.planning import QuietHours
from scheduler.clinics.views import ClinicView
from scheduler.clock import FakeClock
from storage.database import Database
from storage.models import (
    OutboxMessage,
    Patient,
    PatientStatus,
    RecipientStatus,
)
from tests.e2e.harness import WAIT, BotHarness, make_settings, press, say

RATE = 100.0  # the stand-in's global cap and the bot's, so 1,000 messages take seconds
TEXT = "Our clinic is closed on Friday for the holiday. Happy holidays! 🌸"


def from_north(text: str) -> str:
    """A broadcast as the patient reads it: labelled with the clinic's name."""
    return f"📣 Message from North Clinic\n\n{text}"


LABELLED = from_north(TEXT)
PATIENTS = 1000


@pytest.fixture
async def fast_standin() -> AsyncIterator[StandIn]:
    """Telegram's per-chat limit, and a global cap of RATE messages a second."""
    async with StandIn(global_rate=RATE, per_chat_rate=1.0, per_chat_burst=3) as server:
        yield server


@pytest.fixture
async def clinic_bot(
    fast_standin: StandIn, database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[BotHarness]:
    """The product, broadcasting at the cap."""
    harness = BotHarness(
        standin=fast_standin,
        database=database,
        clock=clock,
        settings=make_settings(tmp_path),
        overall_max_rate=RATE,
    )
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


async def clinic_and_admin(
    bot: BotHarness, name: str, admin_chat: int
) -> tuple[ClinicView, ChatHandle]:
    """A clinic, and its admin's chat after joining with the one-time link."""
    assert bot.runtime is not None
    clinic, invite = await bot.runtime.services.clinics.create_clinic(
        name=name,
        timezone="Asia/Karachi",
        plan_id="microneedling",
        quiet_hours=QuietHours.parse("21:00-08:00"),
    )
    admin = bot.chat(admin_chat)
    admin.start(invite.code)
    await admin.wait_for(1, timeout=WAIT)
    return clinic, admin


async def seed(
    bot: BotHarness, clinic_id: int, first_chat: int, count: int, **kw: object
) -> list[int]:
    """Patients of a clinic, written directly (registering 1,000 in chat is another test)."""
    now = bot.clock.now()
    chats = list(range(first_chat, first_chat + count))
    async with bot.database.session() as session:
        session.add_all(
            Patient(
                chat_id=chat_id,
                timezone="Asia/Karachi",
                quiet_start=time(21),
                quiet_end=time(8),
                clinic_id=clinic_id,
                created_at=now,
                updated_at=now,
                consented_at=now,
                **kw,
            )
            for chat_id in chats
        )
        await session.commit()
    for chat_id in chats:
        bot.chat(chat_id)
    return chats


async def test_a_broadcast_to_1000_patients_with_429s_blocks_and_a_restart(
    clinic_bot: BotHarness,
) -> None:
    bot = clinic_bot
    assert bot.runtime is not None
    north, admin = await clinic_and_admin(bot, "North Clinic", 9001)
    south, _ = await clinic_and_admin(bot, "South Clinic", 9101)

    active = await seed(bot, north.id, 10_000, 900)
    paused = await seed(bot, north.id, 20_000, 40, status=PatientStatus.PAUSED)
    stopped = await seed(bot, north.id, 30_000, 30, status=PatientStatus.STOPPED)
    opted_out = await seed(bot, north.id, 40_000, 30, news_opt_out=True)
    other_clinic = await seed(bot, south.id, 50_000, 100)
    # 20 active patients blocked the bot without the bot hearing of it: sending gets a 403.
    blocked = active[::45]
    for chat_id in blocked:
        bot.standin.fail_next("sendMessage", error_code=403, chat_id=chat_id)
    assert len(paused) + len(stopped) + len(opted_out) + len(active) == PATIENTS

    (prompt,) = await say(admin, "/broadcast")
    assert "Send me the text" in prompt.text
    (audience,) = await say(admin, TEXT)
    assert "Who should get it" in audience.text
    (preview,) = await press(admin, "Every active patient")
    assert "900 recipient(s)" in preview.text
    bot.standin.fail_next("sendMessage", error_code=429, retry_after=1, count=3)
    (progress,) = await press(admin, "📤 Send now")

    def delivered() -> int:
        return sum(1 for m in bot.standin.messages if m.text == LABELLED)

    await bot.standin.wait_until(lambda: delivered() >= 300, timeout=60, what="300 sent")
    await bot.restart()  # mid-broadcast: the rows say where it was
    await bot.standin.wait_until(
        lambda: any(m.text.startswith("✅ Broadcast finished") for m in admin.messages),
        timeout=120,
        what="the final report",
    )

    got = Counter(m.chat_id for m in bot.standin.messages if m.text == LABELLED)
    reachable = set(active) - set(blocked)
    assert set(got) == reachable  # nobody else: paused, stopped, opted out, South, blocked
    assert not set(got) & set(other_clinic + paused + stopped + opted_out)
    assert set(got.values()) == {1}  # exactly once each, across the restart and the 429s
    report = next(m for m in admin.messages if m.text.startswith("✅ Broadcast finished"))
    numbers = dict(re.findall(r"(Sent|failed|skipped) (\d+)", report.text))
    assert numbers == {"Sent": "880", "failed": "20", "skipped": "0"}
    assert "of 900" in report.text
    # The progress message was edited in place to the same final counts.
    progress_now = next(m for m in admin.messages if m.message_id == progress.message_id)
    assert progress_now.edits > 0 and progress_now.text.startswith("✅ Broadcast finished")
    async with bot.database.session() as session:
        statuses = Counter(
            (
                await session.execute(
                    select(OutboxMessage.status).where(OutboxMessage.broadcast_id.is_not(None))
                )
            ).scalars()
        )
        gone = (
            await session.execute(select(Patient.status).where(Patient.chat_id.in_(blocked)))
        ).scalars()
        assert set(gone) == {PatientStatus.STOPPED}
    assert statuses == {RecipientStatus.SENT: 880, RecipientStatus.FAILED: 20}
    assert bot.standin.throttled <= 3 + 9  # the injected three, and hardly any of our own


async def test_a_scheduled_broadcast_waits_for_its_time_and_can_be_cancelled(
    clinic_bot: BotHarness,
) -> None:
    """Scheduled for tomorrow 10:00 clinic time: nothing before; a cancelled one never goes."""
    bot = clinic_bot
    assert bot.runtime is not None
    north, admin = await clinic_and_admin(bot, "North Clinic", 9001)
    patients = await seed(bot, north.id, 10_000, 5)

    async def compose(text: str) -> None:
        await say(admin, "/broadcast")
        await say(admin, text)
        (preview,) = await press(admin, "Every active patient")
        assert "5 recipient(s)" in preview.text
        admin.press("🕒 Schedule…")
        await bot.standin.wait_until(
            lambda: any(
                "Sat 21 Nov, 10:00" == b.text for r in admin.messages[-1].buttons for b in r
            ),
            what="the time choices",
        )
        (scheduled,) = await press(admin, "Sat 21 Nov, 10:00")
        assert "Scheduled for Sat 21 Nov, 10:00" in scheduled.text
        assert "to about 5 patients" in scheduled.text

    await compose("Tomorrow we open at noon.")
    await compose("This one is cancelled.")
    admin.press("✖️ Cancel")
    await bot.standin.wait_until(
        lambda: any("cancelled" in a.text for a in admin.callback_answers), what="cancelled"
    )
    await bot.travel(timedelta(hours=20))  # 09:00 Karachi -> 05:00 tomorrow: not yet
    bot.runtime.broadcaster.wake()
    await asyncio.sleep(0.5)
    assert not [m for m in bot.standin.messages if m.chat_id in patients]
    await bot.travel(timedelta(hours=6))  # past 10:00 tomorrow
    bot.runtime.broadcaster.wake()
    await bot.standin.wait_until(
        lambda: sum(1 for m in bot.standin.messages if m.chat_id in patients) >= 5,
        timeout=20,
        what="the scheduled broadcast",
    )
    await asyncio.sleep(0.5)
    got = [m.text for m in bot.standin.messages if m.chat_id in patients]
    assert sorted(got) == [from_north("Tomorrow we open at noon.")] * 5


async def test_a_photo_with_a_caption_goes_out_as_a_photo(clinic_bot: BotHarness) -> None:
    """Staff send a photo with a caption; each patient gets that photo (by Telegram's file
    id, not uploaded again) with the caption."""
    bot = clinic_bot
    assert bot.runtime is not None
    north, admin = await clinic_and_admin(bot, "North Clinic", 9001)
    patients = await seed(bot, north.id, 10_000, 3)
    await say(admin, "/broadcast")
    admin.send_photo(caption="Our new treatment room 🌿")
    (audience,) = await admin.wait_for(1, timeout=WAIT)
    assert "Who should get it" in audience.text
    (preview,) = await press(admin, "Every active patient")
    assert "with a photo" in preview.text and "3 recipient(s)" in preview.text
    await press(admin, "📤 Send now")
    await bot.standin.wait_until(
        lambda: any(m.text.startswith("✅ Broadcast finished") for m in admin.messages),
        timeout=20,
        what="the final report",
    )
    photos = [m for m in bot.standin.messages if m.chat_id in patients]
    assert sorted(m.chat_id for m in photos) == patients
    assert {(m.kind, m.caption) for m in photos} == {
        ("photo", from_north("Our new treatment room 🌿"))
    }


async def test_bad_broadcast_input_gets_a_clear_answer_and_loses_nothing(
    clinic_bot: BotHarness,
) -> None:
    """Too long, a time that is not one, a date /enrol cannot read: each is explained, the
    bot keeps waiting, and nothing is sent to any patient."""
    bot = clinic_bot
    north, admin = await clinic_and_admin(bot, "North Clinic", 9001)
    patients = await seed(bot, north.id, 10_000, 2)
    await say(admin, "/broadcast")
    limit = text_limit("North Clinic", photo=False)  # a message's 4,096 less the label's room
    (too_long,) = await say(admin, "x" * (limit + 1))
    assert f"{limit + 1} characters" in too_long.text and f"hold {limit}" in too_long.text
    (audience,) = await say(admin, "Short and sweet.")  # still composing: this one is taken
    assert "Who should get it" in audience.text
    await press(admin, "Every active patient")
    admin.press("🕒 Schedule…")
    await bot.standin.wait_until(
        lambda: any("Type a time" in b.text for r in admin.messages[-1].buttons for b in r),
        what="the time choices",
    )
    (prompt,) = await press(admin, "⌨️ Type a time")
    assert "Type the local time" in prompt.text
    (bad,) = await say(admin, "25:99")
    assert "couldn't read that time" in bad.text
    (scheduled,) = await say(admin, "26/11 10:00")  # the step survived the bad answer
    assert "Scheduled for Thu 26 Nov, 10:00" in scheduled.text
    (usage,) = await say(admin, "/enrol whenever")
    assert "/enrol" in usage.text and "session date" in usage.text
    assert not [m for m in bot.standin.messages if m.chat_id in patients]
