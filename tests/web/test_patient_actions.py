"""The patient page's actions over HTTP: write to the patient (their answer reaches the
clinic), pause and resume, mark the next session booked, export; the thread; and another
clinic's patients never found or changed."""

from __future__ import annotations

import html
import json
from datetime import date

from sqlalchemy import select

from content.loader import load_plan
from content.plan import ButtonAction
from storage.models import (
    ClinicMessage,
    Escalation,
    EscalationStatus,
    PatientStatus,
    Reminder,
    ReminderStatus,
    TreatmentSession,
)
from tests.web.conftest import Site, csrf_of
from tests.web.test_alerts import raise_alert, thread_rows

SESSION_DAY = date(2026, 11, 17)
# The milestones that offer "Already booked" in the microneedling plan.
BOOKING_NUDGES = [
    m.id for m in load_plan("microneedling").milestones if ButtonAction.BOOKED in m.buttons
]


async def escalations(site: Site) -> list[Escalation]:
    async with site.database.session() as session:
        return list((await session.execute(select(Escalation).order_by(Escalation.id))).scalars())


async def status_of(site: Site, chat_id: int) -> PatientStatus:
    view = await site.care.view(chat_id=chat_id)
    assert view is not None
    return view.status


async def test_a_message_without_an_open_alert_starts_a_thread_the_answer_opens(
    site: Site,
) -> None:
    """With no open alert, the message starts a conversation of its own (a resolved
    "message" alert): the patient's answer reaches the clinic and opens it in the inbox."""
    patient_id = await site.patient(site.glow, 101, SESSION_DAY)
    browser = await site.signed_in(site.glow, 9001)
    page = f"/dashboard/patients/{patient_id}"
    assert "No messages between the clinic and this patient yet." in (await browser.get(page)).text
    csrf = await csrf_of(browser, page)
    answer = await browser.post(f"{page}/message", data={"csrf": csrf, "text": "Hello Sara"})
    assert answer.status_code == 303 and answer.headers["location"] == f"{page}?notice=sent"
    ((chat_id, sent),) = site.messenger.sent
    assert chat_id == 101 and "Message from Glow" in sent and "Hello Sara" in sent
    (started,) = await escalations(site)
    assert (started.topic, started.level, started.replies) == ("message", "message", 1)
    assert started.status is EscalationStatus.RESOLVED
    assert f'id="alert-{started.id}"' not in (await browser.get("/dashboard/alerts")).text

    found = await site.clinics.patient_reply(
        chat_id=101, reply_to_message_id=10_001, text="Thank you!", message_id=5
    )
    assert found is not None and found.reopened and found.alert.id == started.id
    assert f'id="alert-{started.id}"' in (await browser.get("/dashboard/alerts")).text
    text = html.unescape((await browser.get(page)).text)
    assert text.index("Hello Sara") < text.index("Thank you!")
    assert "Amina" in text


async def test_a_message_joins_the_open_alert(site: Site) -> None:
    patient_id = await site.patient(site.glow, 101, SESSION_DAY)
    alert_id = await raise_alert(site, 101)
    browser = await site.signed_in(site.glow, 9001)
    page = f"/dashboard/patients/{patient_id}"
    csrf = await csrf_of(browser, page)
    await browser.post(f"{page}/message", data={"csrf": csrf, "text": "Come in today"})
    (alert,) = await escalations(site)
    assert alert.id == alert_id and alert.replies == 1
    (message,) = await thread_rows(site)
    assert message.escalation_id == alert_id and message.text == "Come in today"


async def test_a_blocked_patient_is_explained_on_their_page(site: Site) -> None:
    patient_id = await site.patient(site.glow, 101, SESSION_DAY)
    site.messenger.blocked.add(101)
    browser = await site.signed_in(site.glow, 9001)
    page = f"/dashboard/patients/{patient_id}"
    csrf = await csrf_of(browser, page)
    answer = await browser.post(f"{page}/message", data={"csrf": csrf, "text": "Hello"})
    shown = await browser.get(answer.headers["location"])
    assert "the patient has blocked the bot" in shown.text
    assert "they cannot be written to" in shown.text  # the form is gone: stopped now
    assert await escalations(site) == [] and await thread_rows(site) == []
    assert await status_of(site, 101) is PatientStatus.STOPPED


async def test_pause_resume_and_booked(site: Site) -> None:
    patient_id = await site.patient(site.glow, 101, SESSION_DAY)
    browser = await site.signed_in(site.glow, 9001)
    page = f"/dashboard/patients/{patient_id}"
    csrf = await csrf_of(browser, page)
    paused = await browser.post(f"{page}/care", data={"csrf": csrf, "action": "pause"})
    assert paused.headers["location"] == f"{page}?notice=pause"
    assert await status_of(site, 101) is PatientStatus.PAUSED
    shown = await browser.get(paused.headers["location"])
    assert "Reminders paused" in shown.text and "Resume reminders" in shown.text
    await browser.post(f"{page}/care", data={"csrf": csrf, "action": "resume"})
    assert await status_of(site, 101) is PatientStatus.ACTIVE

    booked = await browser.post(f"{page}/care", data={"csrf": csrf, "action": "booked"})
    assert booked.headers["location"] == f"{page}?notice=booked"
    async with site.database.session() as session:
        treatment = (await session.execute(select(TreatmentSession))).scalar_one()
        assert treatment.booked_at == site.clock.now()
        rows = await session.execute(select(Reminder.milestone_id, Reminder.status))
        statuses = [(row[0], row[1]) for row in rows]
    nudges = {milestone: status for milestone, status in statuses if milestone in BOOKING_NUDGES}
    others = {status for milestone, status in statuses if milestone not in BOOKING_NUDGES}
    assert set(nudges) == set(BOOKING_NUDGES)
    assert set(nudges.values()) == {ReminderStatus.CANCELLED}
    assert ReminderStatus.PENDING in others, "the care advice goes on"
    unknown = await browser.post(f"{page}/care", data={"csrf": csrf, "action": "erase"})
    assert unknown.status_code == 400


async def test_export_is_the_patients_own_export_as_a_download(site: Site) -> None:
    patient_id = await site.patient(site.glow, 101, SESSION_DAY)
    browser = await site.signed_in(site.glow, 9001)
    page = f"/dashboard/patients/{patient_id}"
    csrf = await csrf_of(browser, page)
    await browser.post(f"{page}/message", data={"csrf": csrf, "text": "Hello"})
    answer = await browser.get(f"{page}/export")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert (
        answer.headers["content-disposition"] == f'attachment; filename="patient-{patient_id}.json"'
    )
    document = json.loads(answer.text)
    expected = await site.care.export(chat_id=101)
    assert document == expected
    assert document["conversation_with_clinic"][0]["text"] == "Hello"


async def test_another_clinics_patient_gets_no_action_and_no_export(site: Site) -> None:
    theirs = await site.patient(site.other, 201, SESSION_DAY)
    ours = await site.patient(site.glow, 101, SESSION_DAY)
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, f"/dashboard/patients/{ours}")
    for path, data in (
        (f"/dashboard/patients/{theirs}/message", {"text": "hello"}),
        (f"/dashboard/patients/{theirs}/care", {"action": "pause"}),
        (f"/dashboard/patients/{theirs}/care", {"action": "booked"}),
        ("/dashboard/patients/999999/message", {"text": "hello"}),
    ):
        answer = await browser.post(path, data={"csrf": csrf, **data})
        assert answer.status_code == 404, path
    assert (await browser.get(f"/dashboard/patients/{theirs}/export")).status_code == 404
    assert await status_of(site, 201) is PatientStatus.ACTIVE
    async with site.database.session() as session:
        booked = (await session.execute(select(TreatmentSession.booked_at))).scalars().all()
    assert booked == [None, None]
    assert site.messenger.sent == [] and await escalations(site) == []


async def test_patient_forms_without_the_csrf_token_change_nothing(site: Site) -> None:
    patient_id = await site.patient(site.glow, 101, SESSION_DAY)
    browser = await site.signed_in(site.glow, 9001)
    page = f"/dashboard/patients/{patient_id}"
    for path, data in (
        (f"{page}/message", {"text": "hello"}),
        (f"{page}/care", {"action": "pause"}),
        (f"{page}/care", {"action": "booked"}),
    ):
        for token in (None, "0" * 64):
            form = data if token is None else {**data, "csrf": token}
            assert (await browser.post(path, data=form)).status_code == 403, path
    assert await status_of(site, 101) is PatientStatus.ACTIVE
    async with site.database.session() as session:
        assert (await session.execute(select(TreatmentSession.booked_at))).scalar_one() is None
        assert (await session.execute(select(ClinicMessage))).first() is None
    assert site.messenger.sent == []
