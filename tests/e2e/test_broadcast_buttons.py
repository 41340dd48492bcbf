"""Broadcasts over the stand-in: forged bc:* buttons, the clinic's quiet hours when
scheduling, each patient's quiet hours when sending, and the clinic's name on every copy."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.standin import ChatHandle
from scheduler.care.planning import QuietHours
from scheduler.clinics.views import ClinicView
from storage.models import Broadcast, BroadcastStatus, InviteKind, Patient, StaffRole
from tests.e2e.harness import WAIT, BotHarness, press, say

pytestmark = pytest.mark.fast_chat

KARACHI = ZoneInfo("Asia/Karachi")
QUIET = QuietHours.parse("21:00-08:00")  # the clinics' and the patients' quiet hours
ERROR_TEXT = "Sorry, something went wrong"


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """The ERROR records logged meanwhile: the error handler logs one for each failure."""
    caplog.set_level(logging.ERROR)
    yield caplog.records


async def clinic(bot: BotHarness, name: str, admin_chat: int) -> tuple[ClinicView, ChatHandle]:
    """A clinic in Karachi (quiet 21:00-08:00) and its admin's chat."""
    assert bot.runtime is not None
    view, invite = await bot.runtime.services.clinics.create_clinic(
        name=name, timezone="Asia/Karachi", plan_id="microneedling", quiet_hours=QUIET
    )
    admin = bot.chat(admin_chat)
    admin.start(invite.code)
    await admin.wait_for(1, timeout=WAIT)
    return view, admin


async def colleague(bot: BotHarness, view: ClinicView, chat_id: int) -> ChatHandle:
    """A member of the clinic's staff who is not an admin."""
    assert bot.runtime is not None
    invite = await bot.runtime.services.clinics.invite(
        clinic_id=view.id, kind=InviteKind.STAFF, role=StaffRole.STAFF
    )
    chat = bot.chat(chat_id)
    chat.start(invite.code)
    (welcome,) = await chat.wait_for(1, timeout=WAIT)
    assert "Welcome to the team" in welcome.text
    return chat


async def patient(bot: BotHarness, view: ClinicView, chat_id: int) -> ChatHandle:
    """A registered patient of the clinic, in Karachi, quiet 21:00-08:00."""
    now = bot.clock.now()
    async with bot.database.session() as session:
        session.add(
            Patient(
                chat_id=chat_id,
                timezone="Asia/Karachi",
                quiet_start=QUIET.start,
                quiet_end=QUIET.end,
                clinic_id=view.id,
                created_at=now,
                updated_at=now,
                consented_at=now,
            )
        )
        await session.commit()
    return bot.chat(chat_id)


async def draft(bot: BotHarness, admin: ChatHandle, text: str) -> int:
    """A draft composed in chat, waiting for its audience; its id."""
    await say(admin, "/broadcast")
    (audience,) = await say(admin, text)
    assert "Who should get it" in audience.text
    async with bot.database.session() as session:
        return (await session.execute(select(Broadcast.id).where(Broadcast.text == text))).one()[0]


async def broadcast(bot: BotHarness, broadcast_id: int) -> Broadcast:
    async with bot.database.session() as session:
        row = await session.get(Broadcast, broadcast_id)
        assert row is not None
        return row


async def answer(bot: BotHarness, chat: ChatHandle, data: str) -> str:
    """Press a button with ``data`` (forged or not); the pop-up text the bot answers with."""
    query = chat.press_data(data)
    await bot.standin.wait_until(
        lambda: any(a.query_id == query for a in chat.callback_answers), what=data
    )
    await asyncio.sleep(0.05)  # anything else the press makes the bot send arrives now
    return next(a.text for a in chat.callback_answers if a.query_id == query)


def at(local: datetime) -> int:
    return int(local.timestamp())


def every_action(broadcast_id: int, now: datetime) -> list[str]:
    """One button of each bc:* action on the broadcast, with values our keyboards use."""
    later = now.astimezone(KARACHI).replace(hour=18, minute=0, second=0, microsecond=0)
    return [
        f"bc:p:{broadcast_id}",
        f"bc:a:{broadcast_id}:all",
        f"bc:a:{broadcast_id}:phase:first_week",
        f"bc:sch:{broadcast_id}",
        f"bc:at:{broadcast_id}:{at(later)}",
        f"bc:at:{broadcast_id}:type",
        f"bc:go:{broadcast_id}",
        f"bc:x:{broadcast_id}",
    ]


def no_error_reached(bot: BotHarness, errors: list[logging.LogRecord]) -> None:
    assert not [m for m in bot.standin.messages if ERROR_TEXT in (m.text or "")]
    assert not [r for r in errors if r.levelno >= logging.ERROR], [r.getMessage() for r in errors]


@pytest.mark.parametrize("presser", ["patient", "other clinic's admin", "other clinic's staff"])
async def test_every_bc_action_pressed_by_someone_else_changes_nothing(
    bot: BotHarness, presser: str, errors: list[logging.LogRecord]
) -> None:
    """North's draft, with North's patient in the audience; a patient of North, South's admin
    and a (non-admin) member of South's staff press every bc:* action on it: each gets a
    clear answer, the draft stays a draft to nobody, nobody is sent anything, and they are
    not left in a step where their next words would schedule it."""
    north, north_admin = await clinic(bot, "North Clinic", 9001)
    south, south_admin = await clinic(bot, "South Clinic", 9101)
    reader = await patient(bot, north, 10_001)
    chat = {
        "patient": reader,
        "other clinic's admin": south_admin,
        "other clinic's staff": await colleague(bot, south, 9102),
    }[presser]
    broadcast_id = await draft(bot, north_admin, "North only: we open at noon.")
    before = await broadcast(bot, broadcast_id)
    if chat is reader:
        reader.send("hello")  # a message for forged presses to hang on
        await reader.wait_for(1, timeout=WAIT)

    for data in every_action(broadcast_id, bot.clock.now()):
        text = await answer(bot, chat, data)
        if chat is reader:
            assert "out of date" in text, data
        else:
            assert "isn't one of your clinic's broadcasts" in text, data
    if chat is not reader:
        (reply,) = await say(chat, "10:00")  # would have been a send time after "type"
        assert "Scheduled" not in reply.text

    after = await broadcast(bot, broadcast_id)
    assert (after.status, after.audience, after.scheduled_at) == (
        BroadcastStatus.DRAFT,
        before.audience,
        None,
    )
    bot.runtime.broadcaster.wake()  # type: ignore[union-attr]
    await asyncio.sleep(0.3)
    assert not [m for m in reader.messages if "noon" in (m.text or "")]
    no_error_reached(bot, errors)


async def test_a_non_admin_may_broadcast_for_their_own_clinic(
    bot: BotHarness, errors: list[logging.LogRecord]
) -> None:
    """Any member of staff may broadcast today; a non-admin's buttons work on their own
    clinic's broadcast, including one a colleague started."""
    north, north_admin = await clinic(bot, "North Clinic", 9001)
    nurse = await colleague(bot, north, 9002)
    await patient(bot, north, 10_001)
    broadcast_id = await draft(bot, north_admin, "Started by the admin.")
    nurse.send("hi")
    await nurse.wait_for(1, timeout=WAIT)
    assert await answer(bot, nurse, f"bc:a:{broadcast_id}:all") == ""
    (preview,) = await nurse.wait_for(1, timeout=WAIT)
    assert "1 recipient(s)" in preview.text
    nurse.press("🕒 Schedule…")
    await bot.standin.wait_until(
        lambda: any("Fri 20 Nov, 10:00" == b.text for r in nurse.messages[-1].buttons for b in r),
        what="the time choices",
    )
    (done,) = await press(nurse, "Fri 20 Nov, 10:00")
    assert "Scheduled for Fri 20 Nov, 10:00" in done.text
    assert (await broadcast(bot, broadcast_id)).status is BroadcastStatus.SCHEDULED
    no_error_reached(bot, errors)


async def test_forged_values_on_the_clinics_own_draft_are_refused_clearly(
    bot: BotHarness, errors: list[logging.LogRecord]
) -> None:
    """The admin's own draft, with forged values: the year 2100, a number too big for any
    date, a time in the clinic's quiet hours, a past time, digits that are not ASCII, an id
    too big for the database, an id of no broadcast, an audience no button names."""
    north, admin = await clinic(bot, "North Clinic", 9001)
    broadcast_id = await draft(bot, admin, "Open day on Sunday.")
    now = bot.clock.now()  # 09:00 in Karachi
    tonight = now.astimezone(KARACHI).replace(hour=23, minute=30)
    cases = {
        f"bc:at:{broadcast_id}:4102444800": "30 days",
        f"bc:at:{broadcast_id}:99999999999999999999": "out of date",
        f"bc:at:{broadcast_id}:{at(tonight)}": "quiet hours (21:00-08:00)",
        f"bc:at:{broadcast_id}:{at(now - timedelta(hours=1))}": "has passed",
        f"bc:at:{broadcast_id}:１７": "out of date",
        f"bc:go:{broadcast_id}0000000000000": "out of date",
        "bc:go:999999": "isn't one of your clinic's broadcasts",
        f"bc:a:{broadcast_id}:everyone": "out of date",
        f"bc:a:{broadcast_id}:due:99999": "out of date",
        f"bc:zz:{broadcast_id}": "out of date",
        "bc:x": "out of date",
    }
    for data, expected in cases.items():
        assert expected in await answer(bot, admin, data), data
    row = await broadcast(bot, broadcast_id)
    assert (row.status, row.scheduled_at, row.audience) == (BroadcastStatus.DRAFT, None, "all")
    no_error_reached(bot, errors)


async def test_schedule_picks_never_fall_in_the_clinics_quiet_hours(
    bot: BotHarness, errors: list[logging.LogRecord]
) -> None:
    """At 23:15 in Karachi "in an hour" would be 00:15: the pick is 08:00 instead. A typed
    23:30 is refused with the reason, and the next allowed time is offered."""
    north, admin = await clinic(bot, "North Clinic", 9001)
    await patient(bot, north, 10_001)
    await bot.travel(timedelta(hours=14, minutes=15))  # 23:15 on Friday in Karachi
    broadcast_id = await draft(bot, admin, "Saturday hours.")
    await press(admin, "Every active patient")
    admin.press("🕒 Schedule…")
    await bot.standin.wait_until(
        lambda: any("Type a time" in b.text for r in admin.messages[-1].buttons for b in r),
        what="the time choices",
    )
    picks = [b for row in admin.messages[-1].buttons for b in row if b.callback_data]
    times = [
        datetime.fromtimestamp(int(b.callback_data.rsplit(":", 1)[1]), UTC).astimezone(KARACHI)
        for b in picks
        if not b.callback_data.endswith(":type")
    ]
    assert times and not [t for t in times if QUIET.contains(t.time())]
    assert [b.text for b in picks][:3] == [
        "Sat 21 Nov, 08:00",
        "Sat 21 Nov, 10:00",
        "Sat 21 Nov, 18:00",
    ]

    (prompt,) = await press(admin, "⌨️ Type a time")
    assert "Type the local time" in prompt.text
    (refused,) = await say(admin, "23:30")
    assert "quiet hours (21:00-08:00)" in refused.text
    assert "Sat 21 Nov, 08:00" in refused.text
    assert (await broadcast(bot, broadcast_id)).status is BroadcastStatus.DRAFT
    (scheduled,) = await press(admin, "🕒 Sat 21 Nov, 08:00")
    assert "Scheduled for Sat 21 Nov, 08:00" in scheduled.text
    row = await broadcast(bot, broadcast_id)
    assert row.scheduled_at == datetime(2026, 11, 21, 8, tzinfo=KARACHI)
    no_error_reached(bot, errors)


async def test_a_patient_asleep_gets_the_broadcast_when_their_quiet_hours_end(
    bot: BotHarness, errors: list[logging.LogRecord]
) -> None:
    """Sent now at 23:15 in Karachi: the patient there (quiet 21:00-08:00) gets nothing in
    the night, then the message at 08:00, opening with the clinic's name; the staff's
    progress message says one copy waits for quiet hours to end."""
    north, admin = await clinic(bot, "North Clinic", 9001)
    reader = await patient(bot, north, 10_001)
    await bot.travel(timedelta(hours=14, minutes=15))  # 23:15 in Karachi
    broadcast_id = await draft(bot, admin, "We open at 11 tomorrow.")
    await press(admin, "Every active patient")
    await press(admin, "📤 Send now")
    assert bot.runtime is not None
    bot.runtime.broadcaster.wake()
    await bot.standin.wait_until(
        lambda: any("1 wait for their quiet hours" in m.text for m in admin.messages),
        timeout=10,
        what="the progress with a held copy",
    )
    assert reader.messages == []
    await bot.travel(timedelta(hours=8, minutes=44))  # 07:59
    bot.runtime.broadcaster.wake()
    await asyncio.sleep(0.5)
    assert reader.messages == []
    await bot.travel(timedelta(minutes=1))  # 08:00
    bot.runtime.broadcaster.wake()
    (copy,) = await reader.wait_for(1, timeout=10)
    assert copy.text == "📣 Message from North Clinic\n\nWe open at 11 tomorrow."
    await bot.standin.wait_until(
        lambda: any(m.text.startswith("✅ Broadcast finished") for m in admin.messages),
        timeout=10,
        what="the final report",
    )
    # Its old buttons, pressed again, say what became of it.
    assert "already finished" in await answer(bot, admin, f"bc:x:{broadcast_id}")
    assert "already sent" in await answer(bot, admin, f"bc:a:{broadcast_id}:all")
    assert "already sent" in await answer(bot, admin, f"bc:at:{broadcast_id}:type")
    no_error_reached(bot, errors)
