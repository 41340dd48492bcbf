"""Clinics over the stand-in: staff invites, patient links, alerts, and one clinic never
reaching another's patients, forged buttons included."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.standin import ChatHandle, SentMessage
from scheduler.care.planning import QuietHours
from scheduler.clinics.errors import InviteError, InviteProblem, StaffError, StaffProblem
from scheduler.clinics.views import ClinicView
from storage.models import Escalation, EscalationStatus, Invite, InviteKind, ReminderStatus
from storage.models import Patient as PatientRow
from storage.models import Staff as StaffRow
from tests.e2e.harness import WAIT, BotHarness, begin, press, say

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
    (greeting,) = await begin(chat, code)
    assert "microneedling at " in greeting.text
    await press(chat, "Yes, that's fine", replies=2)
    await press(chat, when)
    return chat


async def join_in(bot: BotHarness, chat_id: int, code: str, language: str) -> ChatHandle:
    """``join`` in another language: the buttons are pressed by place (Yes, then Today)."""
    chat = bot.chat(chat_id)
    await begin(chat, code, language=language)
    await press(chat, 0, replies=2)
    await press(chat, 0)
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
    (greeting,) = await begin(chat, code)
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
    await begin(chat, code)
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


@pytest.mark.parametrize(
    ("command", "day", "label"),
    [
        ("/enrol 18/11 Sana K. 0412", date(2026, 11, 18), "Sana K. 0412"),
        ("/enrol 3 days ago  file   77", date(2026, 11, 17), "file 77"),
        ("/enrol yesterday", date(2026, 11, 19), None),
    ],
)
async def test_an_enrolment_link_may_carry_the_clinics_label_for_its_patient(
    bot: BotHarness, command: str, day: date, label: str | None
) -> None:
    """Words after the date are the clinic's label: the link says it, and the patient who
    joins with it carries it (the dashboard shows it); without words, no label."""
    north = await make_clinic(bot, "North Clinic", 9001)
    (message,) = await say(north.admin, command)
    if label:
        assert f"Link for one patient ({label})" in message.text
    chat = bot.chat(201)
    await begin(chat, code_in(message.text))
    await press(chat, "Yes, that's fine", replies=2)
    await press(chat, "Yes, that's right")
    (treatment,) = await bot.sessions(201)
    assert treatment.session_date == day
    patient = await bot.patient(201)
    assert patient is not None and patient.clinic_label == label


async def test_an_enrolment_date_too_far_ahead_is_refused_whatever_follows(
    bot: BotHarness,
) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    refusal, usage = await say(north.admin, "/enrol 20/11/2031 Sana", replies=2)
    assert "?start=" not in refusal.text + usage.text
    assert "/enrol 20/11 Sana K. 0412" in usage.text


async def test_a_staff_invite_works_once_and_an_old_code_is_explained(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    (message,) = await say(north.admin, "/staff invite")
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
    assert "/staff your team: invite or remove a colleague" in admin_help.text
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
    withdrawn, greeting = await begin(chat, code, before=1)
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


# Switching clinic (issue 12, items 10 and 12)


async def urgent_alert(bot: BotHarness, chat: ChatHandle, clinic: Clinic, share: bool) -> None:
    """The patient reports a red flag (and shares their words); the clinic is told."""
    await bot.travel(timedelta(0))
    chat.send("I can't breathe properly and my lips are swelling up")
    answer, *_ = await chat.wait_for(1, timeout=WAIT)
    assert answer.text.startswith("🚨")
    await clinic.admin.wait_for(1, timeout=WAIT)
    if share:
        await bot.standin.wait_until(lambda: "Share" in str(chat.messages[-1].buttons))
        (shared,) = await press(chat, "📤 Share my message with the clinic")
        assert "can now read your message" in shared.text


async def test_another_clinics_link_asks_first_and_alerts_stay_with_their_clinic(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    north = await make_clinic(bot, "North Clinic", 9001)
    south = await make_clinic(bot, "South Clinic", 9101)
    chat = await join(bot, 801, await patient_link(north), when="Yesterday")
    await urgent_alert(bot, chat, north, share=True)
    south_code = await patient_link(south)
    # Opening South's link asks; nothing moves until the patient answers.
    chat.start(south_code)
    (question,) = await chat.wait_for(1, timeout=WAIT)
    assert "connected with North Clinic" in question.text and "South Clinic" in question.text
    labels = [b.text for row in question.buttons for b in row]
    assert labels == ["Switch to South Clinic", "Stay with North Clinic"]
    data = [b.callback_data or "" for row in question.buttons for b in row]
    assert all(south_code not in d for d in data)  # the code is never in a button
    patient = await bot.patient(801)
    assert patient is not None and patient.clinic_id == north.view.id
    (stayed,) = await press(chat, "Stay with North Clinic")
    assert "stay with North Clinic" in stayed.text
    patient = await bot.patient(801)
    assert patient is not None and patient.clinic_id == north.view.id
    # A second time the patient switches.
    chat.start(south_code)
    (again,) = await chat.wait_for(1, timeout=WAIT)
    joined, welcome = await press(chat, "Switch to South Clinic", replies=2)
    assert "connected with South Clinic" in joined.text
    patient = await bot.patient(801)
    assert patient is not None and patient.clinic_id == south.view.id
    # South never sees North's alert nor the words shared with North.
    (none,) = await say(south.admin, "/alerts")
    assert "No open alerts" in none.text
    # North keeps it, marked as moved, with Resolve only.
    _, alert = await say(north.admin, "/alerts", replies=2)
    assert "URGENT" in alert.text and "lips are swelling" in alert.text
    assert "moved to another clinic" in alert.text
    assert [b.text for row in alert.buttons for b in row] == ["✅ Resolve"]
    (escalation,) = await escalations(bot)
    assert escalation.clinic_id == north.view.id and escalation.moved_at is not None
    # North cannot reply any more, even with a forged Reply button.
    query = north.admin.press_data(f"cl:rp:{escalation.id}")
    await bot.standin.wait_until(
        lambda: any(a.query_id == query for a in north.admin.callback_answers)
    )
    refused = next(a for a in north.admin.callback_answers if a.query_id == query)
    assert "moved to another clinic" in refused.text
    # The old question's buttons are out of date: nothing changes.
    query = chat.press_data(data[0], message=question)
    await bot.standin.wait_until(lambda: any(a.query_id == query for a in chat.callback_answers))
    old = next(a for a in chat.callback_answers if a.query_id == query)
    assert "out of date" in old.text
    patient = await bot.patient(801)
    assert patient is not None and patient.clinic_id == south.view.id
    # Our code never logs the invite code, at any level (python-telegram-bot's own update
    # logging is kept at WARNING by the application's logging set-up, not tested here).
    ours = [r for r in caplog.records if r.name.split(".")[0] in {"bot", "scheduler", "storage"}]
    assert not [r for r in ours if south_code in r.getMessage()]
    assert not [r for r in caplog.records if r.getMessage().startswith("handler failed")]


async def test_a_patient_of_no_clinic_or_the_same_clinic_is_not_asked(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    code = await patient_link(north)
    chat = await join(bot, 811, code)
    chat.start(code)  # the same clinic's link again: no question
    (welcome,) = (await chat.wait_for(2, timeout=WAIT))[1:]
    assert "Switch" not in str(welcome.buttons)
    loner = bot.chat(812)
    await press_start_and_register(loner)
    loner.start(code)
    (joined, *_rest) = await loner.wait_for(1, timeout=WAIT)
    assert "connected with North Clinic" in joined.text


async def press_start_and_register(chat: ChatHandle) -> None:
    await begin(chat)
    await press(chat, "Yes, that's fine")
    await press(chat, "Today")


# Patients answer their clinic (issue 12, item 11)


def reply_to(chat: ChatHandle, message: SentMessage, text: str) -> int:
    """The user answers ``message`` with Telegram's Reply (the stand-in has no helper)."""
    standin = chat._standin
    return chat._message({"text": text, "reply_to_message": standin._message_json(message)})


async def staff_replies(
    bot: BotHarness, clinic: Clinic, chat: ChatHandle, text: str
) -> SentMessage:
    """A member of staff replies to the latest alert; the patient's copy is returned."""
    pushed = next(m for m in reversed(clinic.admin.messages) if "Reply" in str(m.buttons))
    clinic.admin.press("💬 Reply", message=pushed)
    await clinic.admin.wait_for(1, timeout=WAIT)
    await say(clinic.admin, text)
    (relayed,) = await chat.wait_for(1, timeout=WAIT)
    assert "Message from North Clinic" in relayed.text
    return relayed


async def test_a_patients_reply_to_the_clinic_reaches_its_staff(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    chat = await join(bot, 821, await patient_link(north), when="Yesterday")
    await urgent_alert(bot, chat, north, share=False)
    relayed = await staff_replies(bot, north, chat, "Please call us now.")
    # A Telegram reply to the clinic's message goes to the clinic's staff, with Reply.
    reply_to(chat, relayed, "I called, they said come in at 4")
    (passed,) = await chat.wait_for(1, timeout=WAIT)
    assert "passed your message on to North Clinic" in passed.text
    (forwarded,) = await north.admin.wait_for(1, timeout=WAIT)
    assert "Patient #" in forwarded.text and "replied" in forwarded.text
    assert "I called, they said come in at 4" in forwarded.text
    assert [b.text for row in forwarded.buttons for b in row] == ["💬 Reply", "✅ Resolve"]
    # Within 24 hours of the clinic's last message, a plain message is the thread's too.
    await bot.travel(timedelta(hours=3))
    (passed,) = await say(chat, "thanks a lot")
    assert "passed your message on" in passed.text
    await north.admin.wait_for(1, timeout=WAIT)
    # Resolved, then the patient answers the old message: the alert opens again.
    north.admin.press("✅ Resolve", message=forwarded)
    await bot.standin.wait_until(
        lambda: any("resolved" in a.text for a in north.admin.callback_answers)
    )
    await bot.travel(timedelta(hours=30))  # the conversation window is over
    reply_to(chat, relayed, "the swelling is back")
    await chat.wait_for(1, timeout=WAIT)
    (reopened,) = await north.admin.wait_for(1, timeout=WAIT)
    assert "open again" in reopened.text
    (escalation,) = await escalations(bot)
    assert escalation.status is EscalationStatus.OPEN
    # A plain message after the window is the triage's again, not the clinic's.
    before = len(north.admin.messages)
    (answer,) = await say(chat, "can I wear makeup?")
    assert "passed your message on" not in answer.text
    assert len(north.admin.messages) == before


async def test_a_patient_without_a_clinic_conversation_gets_the_triage(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    chat = await join(bot, 831, await patient_link(north))
    (answer,) = await say(chat, "can I wear makeup?")
    assert "passed your message on" not in answer.text
    assert not [m for m in north.admin.messages if "replied" in m.text]


# Staff: removal and roles (issue 12, items 14 and 15)


async def colleague(
    bot: BotHarness, clinic: Clinic, chat_id: int, admin: bool = False
) -> ChatHandle:
    """A member of staff (or an admin) who joined with an invite from /staff."""
    (message,) = await say(clinic.admin, "/staff admin" if admin else "/staff invite")
    chat = bot.chat(chat_id, first_name=f"Colleague {chat_id}")
    chat.start(code_in(message.text))
    (welcome,) = await chat.wait_for(1, timeout=WAIT)
    assert "Welcome to the team" in welcome.text
    return chat


async def test_an_admin_removes_a_colleague_who_is_refused_at_once(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    nurse = await colleague(bot, north, 9002)
    chat = await join(bot, 841, await patient_link(north), when="Yesterday")
    await urgent_alert(bot, chat, north, share=False)
    (pushed,) = await nurse.wait_for(1, timeout=WAIT)
    (team,) = await say(north.admin, "/staff")
    assert "Admin North Clinic, an admin (you)" in team.text
    assert "Colleague 9002, a member of staff" in team.text
    labels = [b.text for row in team.buttons for b in row]
    assert labels == ["✖️ Remove Colleague 9002", "➕ Invite staff", "➕ Invite an admin"]
    north.admin.press("✖️ Remove Colleague 9002", message=team)
    removed, _team = await north.admin.wait_for(2, timeout=WAIT)
    assert "no longer on the team" in removed.text
    (told,) = await nurse.wait_for(1, timeout=WAIT)
    assert "no longer on the team of North Clinic" in told.text
    # Effective at once: the next command and the next button are refused.
    (refused,) = await say(nurse, "/alerts")
    assert "for clinic staff" in refused.text
    query = nurse.press("✅ Resolve", message=pushed)
    await bot.standin.wait_until(lambda: any(a.query_id == query for a in nurse.callback_answers))
    (escalation,) = await escalations(bot)
    assert escalation.status is EscalationStatus.OPEN
    team_now = await bot.runtime.services.clinics.team(clinic_id=north.view.id)  # type: ignore[union-attr]
    assert [m.chat_id for m in team_now] == [9001]


async def test_the_last_admin_stays_and_nobody_removes_themselves(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    deputy = await colleague(bot, north, 9003, admin=True)
    team = await bot.runtime.services.clinics.team(clinic_id=north.view.id)  # type: ignore[union-attr]
    me, other = team
    query = north.admin.press_data(f"cl:rm:{me.id}")
    await bot.standin.wait_until(
        lambda: any(a.query_id == query for a in north.admin.callback_answers)
    )
    assert "can't remove yourself" in north.admin.callback_answers[-1].text
    # The deputy removes the founder; then the deputy is the last admin and stays.
    deputy.press_data(f"cl:rm:{me.id}")
    await deputy.wait_for(2, timeout=WAIT)
    with pytest.raises(StaffError) as last:
        await bot.runtime.services.clinics.remove_staff(  # type: ignore[union-attr]
            clinic_id=north.view.id, staff_id=other.id
        )
    assert last.value.problem is StaffProblem.LAST_ADMIN


async def test_a_member_of_staff_only_withdraws_links_they_made(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    nurse = await colleague(bot, north, 9002)
    (admins_photo,) = await say(north.admin, "/invite")
    admins_code = code_in(admins_photo.caption)
    (own_photo,) = await say(nurse, "/invite")
    own_code = code_in(own_photo.caption)
    services = bot.runtime.services  # type: ignore[union-attr]
    admins_invite = await services.clinics.peek(code=admins_code)
    # The forged button of the admin's link: refused, the link still works.
    query = nurse.press_data(f"cl:rv:{admins_invite.id}")
    await bot.standin.wait_until(lambda: any(a.query_id == query for a in nurse.callback_answers))
    assert "out of date" in nurse.callback_answers[-1].text
    assert await services.clinics.peek(code=admins_code)
    # Their own link's button works.
    nurse.press("🚫 Revoke this link", message=own_photo)
    await bot.standin.wait_until(lambda: any("withdrawn" in a.text for a in nurse.callback_answers))
    with pytest.raises(InviteError):
        await services.clinics.peek(code=own_code)
    # An admin withdraws anyone's.
    query = north.admin.press_data(f"cl:rv:{admins_invite.id}")
    await bot.standin.wait_until(
        lambda: any("withdrawn" in a.text for a in north.admin.callback_answers)
    )


async def snapshot(bot: BotHarness) -> tuple[object, ...]:
    """Every row a cl:* button could change."""
    async with bot.database.session() as session:
        rows = []
        for model in (Escalation, Invite, StaffRow, PatientRow):
            found = (await session.execute(select(model).order_by(model.id))).scalars().all()
            rows.append(
                tuple(
                    tuple(getattr(r, c.key) for c in model.__table__.columns)  # type: ignore[attr-defined]
                    for r in found
                )
            )
        return tuple(rows)


FORGED = ("rp", "rs", "rv", "rm", "is", "ia")


@pytest.mark.parametrize("action", FORGED)
@pytest.mark.parametrize("presser", ["patient", "other_clinic", "non_admin"])
async def test_forged_clinic_buttons_change_nothing(
    bot: BotHarness, caplog: pytest.LogCaptureFixture, action: str, presser: str
) -> None:
    """A cl:* button pressed by a patient, another clinic's staff or a non-admin: nothing
    changes, a clear answer, no error handler reached. (A non-admin may reply to and resolve
    their own clinic's alerts: for them the admin actions and another's link are forged.)"""
    if presser == "non_admin" and action in {"rp", "rs"}:
        pytest.skip("replying and resolving are every member's work")
    north = await make_clinic(bot, "North Clinic", 9001)
    south = await make_clinic(bot, "South Clinic", 9101)
    nurse = await colleague(bot, north, 9002)
    chat = await join(bot, 851, await patient_link(north), when="Yesterday")
    await urgent_alert(bot, chat, north, share=False)
    # The alert reaches every member of staff, the nurse after the admin: wait for it, or it
    # would land after the count below and look like an answer to the forged button.
    (pushed,) = await nurse.wait_for(1, timeout=WAIT)
    assert pushed.text.startswith("🚨")
    (escalation,) = await escalations(bot)
    async with bot.database.session() as session:
        admin_id = await session.scalar(select(StaffRow.id).where(StaffRow.chat_id == 9001))
    assert admin_id is not None
    invite = await bot.runtime.services.clinics.invite(  # type: ignore[union-attr]
        clinic_id=north.view.id, kind=InviteKind.PATIENT, created_by=admin_id
    )
    target = {
        "rp": escalation.id,
        "rs": escalation.id,
        "rv": invite.id,
        "rm": admin_id,
        "is": north.view.id,
        "ia": north.view.id,
    }[action]
    pressing = {"patient": chat, "other_clinic": south.admin, "non_admin": nurse}[presser]
    before = await snapshot(bot)
    sent_before = len(pressing.messages)
    query = pressing.press_data(f"cl:{action}:{target}")
    await bot.standin.wait_until(
        lambda: any(a.query_id == query for a in pressing.callback_answers)
    )
    answer = next(a for a in pressing.callback_answers if a.query_id == query)
    assert any(
        words in answer.text
        for words in (
            "out of date",
            "Only the clinic's admins",
            "isn't one of your",
            "isn't on your team",
        )
    ), answer.text
    assert await snapshot(bot) == before
    assert len(pressing.messages) == sent_before  # no invite link, no reply prompt
    assert not [r for r in caplog.records if r.getMessage().startswith("handler failed")]
    # South's admin, asked for nothing, types: it reaches no patient.
    if presser == "other_clinic" and action == "rp":
        before_patient = len(chat.messages)
        await say(south.admin, "hello")
        assert len(chat.messages) == before_patient


# Invite codes are rate-limited (issue 12, item 17)


async def test_failed_invite_codes_are_rate_limited_quietly(bot: BotHarness) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    good = await patient_link(north)
    chat = bot.chat(861)
    for attempt in range(5):
        chat.start(f"{'A' * 31}{attempt}")
        refused, _greeting = await chat.wait_for(2, timeout=WAIT)
        assert "doesn't work" in refused.text
    # The sixth try, with a good code: the same answer, and the code is not even checked.
    refused, greeting = await begin(chat, good, before=1)
    assert "doesn't work" in refused.text and "North" not in greeting.text
    async with bot.database.session() as session:
        uses = (
            (
                await session.execute(
                    select(Invite.uses).where(
                        Invite.clinic_id == north.view.id, Invite.kind == InviteKind.PATIENT
                    )
                )
            )
            .scalars()
            .all()
        )
    assert list(uses) == [0]
    # Another user is not affected, and after a quarter of an hour the first may try again.
    other = bot.chat(862)
    (greeting,) = await begin(other, good)
    assert "microneedling at North Clinic" in greeting.text
    await bot.travel(timedelta(minutes=16))
    chat.start(good)  # the language is chosen already: the consent question at once
    (greeting,) = await chat.wait_for(1, timeout=WAIT)
    assert "microneedling at North Clinic" in greeting.text


@pytest.mark.parametrize("data", ["sw:go:1:1", "sw:stay:1:1", "sw:go:x", "sw:go:1:1:1", "sw:"])
async def test_forged_switch_buttons_are_out_of_date(
    bot: BotHarness, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    """Switch buttons nobody was shown (a stranger's, a patient's): out of date, no move."""
    north = await make_clinic(bot, "North Clinic", 9001)
    await make_clinic(bot, "South Clinic", 9101)
    chat = await join(bot, 871, await patient_link(north))
    for pressing in (chat, bot.chat(872)):
        if not pressing.messages:
            await say(pressing, "hello")
        query = pressing.press_data(data)
        await bot.standin.wait_until(
            lambda p=pressing, q=query: any(a.query_id == q for a in p.callback_answers)
        )
        answer = next(a for a in pressing.callback_answers if a.query_id == query)
        assert "out of date" in answer.text
    patient = await bot.patient(871)
    assert patient is not None and patient.clinic_id == north.view.id
    assert not [r for r in caplog.records if r.getMessage().startswith("handler failed")]
