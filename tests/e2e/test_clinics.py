"""Clinics over the stand-in: staff invites, patient links, alerts, and one clinic never
reaching another's patients, forged buttons included."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.standin import ChatHandle
from scheduler.clinics import ClinicView, InviteError, InviteProblem
from scheduler.planning import QuietHours
from storage.models import Escalation, EscalationStatus, Invite, ReminderStatus
from tests.e2e.harness import WAIT, BotHarness, press, say

pytestmark = pytest.mark.fast_chat

LINK = re.compile(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+)")


@dataclass
class Clinic:
    """A clinic made through the service, and its first admin's chat."""

    view: ClinicView
    admin: ChatHandle


async def make_clinic(bot: BotHarness, name: str, admin_chat: int, **details: str) -> Clinic:
    """Create a clinic and let its admin join with the one-time link, as `clinic create` does."""
    assert bot.runtime is not None
    view, invite = await bot.runtime.services.clinics.create_clinic(
        name=name,
        timezone="Asia/Karachi",
        plan_id="microneedling",
        quiet_hours=QuietHours.parse("21:00-08:00"),
        **details,
    )
    admin = bot.chat(admin_chat, first_name=f"Admin {name}")
    admin.start(invite.code)
    (welcome,) = await admin.wait_for(1, timeout=WAIT)
    assert f"Welcome to the team of {name}" in welcome.text
    assert "an admin" in welcome.text
    return Clinic(view, admin)


def code_in(text: str | None) -> str:
    found = LINK.search(text or "")
    assert found, f"no invite link in {text!r}"
    assert found.group(1) == "aftercare_demo_bot"
    return found.group(2)


async def patient_link(clinic: Clinic) -> str:
    """The clinic's patient link, as /invite sends it (a QR code photo with the link)."""
    (photo,) = await say(clinic.admin, "/invite")
    assert photo.kind == "photo" and photo.file_bytes and photo.file_bytes[:4] == b"\x89PNG"
    return code_in(photo.caption)


async def join(bot: BotHarness, chat_id: int, code: str, when: str = "Today") -> ChatHandle:
    """A patient follows a clinic link, consents and gives the date with a button."""
    chat = bot.chat(chat_id)
    chat.start(code)
    (greeting,) = await chat.wait_for(1, timeout=WAIT)
    assert "microneedling at " in greeting.text
    await press(chat, "Yes, that's fine", replies=2)
    await press(chat, when)
    return chat


async def escalations(bot: BotHarness) -> list[Escalation]:
    async with bot.database.session() as session:
        return list((await session.execute(select(Escalation).order_by(Escalation.id))).scalars())


async def test_a_patient_joins_with_the_clinic_link_and_gets_its_settings(
    bot: BotHarness,
) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    code = await patient_link(north)
    chat = bot.chat(101)
    chat.start(code)
    (greeting,) = await chat.wait_for(1, timeout=WAIT)
    assert "microneedling at North Clinic" in greeting.text
    joined, question = await press(chat, "Yes, that's fine", replies=2)
    assert "connected with North Clinic" in joined.text
    assert "When" in question.text or "when" in question.text
    await press(chat, "Today")
    patient = await bot.patient(101)
    assert patient is not None and patient.clinic_id == north.view.id
    assert len(await bot.sessions(101)) == 1
    # The link works for many patients.
    await join(bot, 102, code)
    summary = await bot.runtime.services.clinics.summary(clinic_id=north.view.id)  # type: ignore[union-attr]
    assert (summary.total, summary.active, summary.new_this_week) == (2, 2, 2)


async def test_an_enrolment_link_carries_the_date_the_clinic_filled_in(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    (message,) = await say(north.admin, "/enrol 18/11")
    code = code_in(message.text)
    chat = bot.chat(201)
    chat.start(code)
    await chat.wait_for(1, timeout=WAIT)
    joined, confirm = await press(chat, "Yes, that's fine", replies=2)
    assert "noted your session on" in confirm.text
    await press(chat, "Yes, that's right")
    (treatment,) = await bot.sessions(201)
    assert treatment.session_date == date(2026, 11, 18)
    # It works once.
    other = bot.chat(202)
    other.start(code)
    (refused,) = await other.wait_for(1, timeout=WAIT)
    assert "already been used" in refused.text


async def test_a_staff_invite_works_once_and_an_old_code_is_explained(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    (message,) = await say(north.admin, "/staff")
    code = code_in(message.text)
    colleague = bot.chat(9002)
    colleague.start(code)
    (welcome,) = await colleague.wait_for(1, timeout=WAIT)
    assert "a member of staff" in welcome.text and "/staff" not in welcome.text
    (refused,) = await say(colleague, "/staff")
    assert "Only the clinic's admins" in refused.text
    patient_help, staff_help = await say(colleague, "/help", replies=2)
    assert "For the team of North Clinic" in staff_help.text and "/staff" not in staff_help.text
    (admin_help,) = (await say(north.admin, "/help", replies=2))[1:]
    assert "/staff invite a colleague" in admin_help.text
    again = bot.chat(9003)
    again.start(code)
    (used,) = await again.wait_for(1, timeout=WAIT)
    assert "already been used" in used.text
    # Staff commands answer staff only.
    (nope,) = await say(bot.chat(555), "/patients")
    assert "for clinic staff" in nope.text


async def test_urgent_alerts_reach_only_their_clinic_and_staff_reply_and_resolve(
    bot: BotHarness,
) -> None:
    north = await make_clinic(bot, "North Clinic", 9001, phone="+92 51 1234567")
    south = await make_clinic(bot, "South Clinic", 9101)
    chat = await join(bot, 301, await patient_link(north), when="Yesterday")
    await bot.travel(timedelta(0))
    chat.send("I can't breathe properly and my lips are swelling up")
    answer, *_ = await chat.wait_for(1, timeout=WAIT)
    assert answer.text.startswith("🚨")
    # Pushed at once to North's staff, with Reply and Resolve; South hears nothing.
    (pushed,) = await north.admin.wait_for(1, timeout=WAIT)
    assert "URGENT" in pushed.text and "allergy" in pushed.text
    assert [b.text for row in pushed.buttons for b in row] == ["💬 Reply", "✅ Resolve"]
    (none,) = await say(south.admin, "/alerts")
    assert "No open alerts" in none.text
    # North replies through the bot; the patient reads it as a message from the clinic.
    north.admin.press("💬 Reply", message=pushed)
    (prompt,) = await north.admin.wait_for(1, timeout=WAIT)
    assert "Type your reply" in prompt.text
    (sent,) = await say(north.admin, "Please call us now on +92 51 1234567.")
    assert "Sent to patient" in sent.text
    (relayed,) = await chat.wait_for(1, timeout=WAIT)
    assert "Message from North Clinic" in relayed.text
    assert "Please call us now" in relayed.text
    north.admin.press("✅ Resolve", message=pushed)
    await bot.standin.wait_until(
        lambda: any("resolved" in a.text for a in north.admin.callback_answers)
    )
    (escalation,) = await escalations(bot)
    assert (escalation.status, escalation.replies) == (EscalationStatus.RESOLVED, 1)


async def test_forged_buttons_never_reach_another_clinics_patients(bot: BotHarness) -> None:
    """South's staff send North's alert, invite and broadcast ids by hand: nothing happens."""
    north = await make_clinic(bot, "North Clinic", 9001)
    south = await make_clinic(bot, "South Clinic", 9101)
    code = await patient_link(north)
    chat = await join(bot, 401, code, when="Yesterday")
    await bot.travel(timedelta(0))
    await say(chat, "I can't breathe properly and my lips are swelling up")
    await north.admin.wait_for(1, timeout=WAIT)
    (escalation,) = await escalations(bot)
    async with bot.database.session() as session:
        invite_ids = list(
            (
                await session.execute(select(Invite.id).where(Invite.clinic_id == north.view.id))
            ).scalars()
        )
    await say(south.admin, "/alerts")
    for data in (
        f"cl:rs:{escalation.id}",
        f"cl:rp:{escalation.id}",
        *(f"cl:rv:{invite_id}" for invite_id in invite_ids),
        f"bc:x:{escalation.id}",
        "cl:rs:abc",
        "cl:zz:1",
    ):
        query = south.admin.press_data(data)
        await bot.standin.wait_until(
            lambda q=query: any(a.query_id == q for a in south.admin.callback_answers)
        )
    # A patient (not staff) forging staff buttons is refused the same way.
    query = chat.press_data(f"cl:rs:{escalation.id}")
    await bot.standin.wait_until(lambda: any(a.query_id == query for a in chat.callback_answers))
    (escalation,) = await escalations(bot)
    assert (escalation.status, escalation.replies) == (EscalationStatus.OPEN, 0)
    assert await bot.runtime.services.clinics.peek(code=code)  # type: ignore[union-attr]
    # South was never asked to type a reply, so its next words go nowhere near the patient.
    before = len(chat.messages)
    await say(south.admin, "hello patient")
    assert len(chat.messages) == before
    summary = await bot.runtime.services.clinics.summary(clinic_id=south.view.id)  # type: ignore[union-attr]
    assert summary.total == 0
    (counts,) = await say(south.admin, "/patients")
    assert "Total: 0" in counts.text


async def test_a_revoked_link_is_refused_with_an_explanation(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    (photo,) = await say(north.admin, "/invite")
    code = code_in(photo.caption)
    north.admin.press("🚫 Revoke this link", message=photo)
    await bot.standin.wait_until(
        lambda: any("withdrawn" in a.text for a in north.admin.callback_answers)
    )
    with pytest.raises(InviteError) as refused:
        await bot.runtime.services.clinics.peek(code=code)  # type: ignore[union-attr]
    assert refused.value.problem is InviteProblem.REVOKED
    chat = bot.chat(501)
    chat.start(code)
    withdrawn, greeting = await chat.wait_for(2, timeout=WAIT)
    assert "withdrawn" in withdrawn.text
    assert "at North" not in greeting.text  # set up without a clinic


async def test_news_can_be_switched_off_without_stopping_reminders(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    chat = await join(bot, 601, await patient_link(north))
    (off,) = await say(chat, "/news")
    assert "won't get news from North Clinic" in off.text
    patient = await bot.patient(601)
    assert patient is not None and patient.news_opt_out
    assert {r.status for r in await bot.reminders(601)} == {ReminderStatus.PENDING}
    (document,) = await say(chat, "/export")
    exported = json.loads(document.file_bytes or b"{}")
    assert exported["patient"]["clinic"] == "North Clinic"
    assert exported["patient"]["clinic_news"] is False
    (on,) = await say(chat, "/news on")
    assert "news from North Clinic again" in on.text
    (no_clinic,) = await say(bot.chat(602), "/news")
    assert "haven't met" in no_clinic.text or "not connected" in no_clinic.text


async def test_booking_offers_the_clinic_link_or_tells_the_staff(bot: BotHarness) -> None:
    online = await make_clinic(
        bot, "Online Clinic", 9001, booking_url="https://book.example.com/north"
    )
    phone = await make_clinic(bot, "Phone Clinic", 9101)
    first = await join(bot, 701, await patient_link(online), when="Today")
    second = await join(bot, 702, await patient_link(phone), when="Today")
    await bot.travel(timedelta(days=28, hours=6))  # the day-28 "time to book" nudge
    for chat in (first, second):
        nudge = next(m for m in reversed(chat.messages) if "book" in m.text.lower() and m.buttons)
        chat.press("📅 Book", message=nudge)
    (link,) = await first.wait_for(1, timeout=WAIT)
    assert link.buttons[0][0].url == "https://book.example.com/north"
    (told,) = await second.wait_for(1, timeout=WAIT)
    assert "told Phone Clinic" in told.text
    (request,) = await phone.admin.wait_for(1, timeout=WAIT)
    assert "BOOKING" in request.text
    assert not [m for m in online.admin.messages if "BOOKING" in m.text]
    # "Already booked" on the nudge: the day-42 nudge is cancelled, nothing else.
    nudge = next(m for m in reversed(first.messages) if "Already booked" in str(m.buttons))
    first.press("✔️ Already booked", message=nudge)
    await first.wait_for(1, timeout=WAIT)
    statuses = {r.milestone_id: r.status for r in await bot.reminders(701)}
    assert statuses["day42_book"] is ReminderStatus.CANCELLED
    assert statuses["maintenance_6m"] is ReminderStatus.PENDING
    (treatment,) = await bot.sessions(701)
    assert treatment.booked_at is not None
