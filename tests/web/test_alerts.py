"""The alerts inbox over HTTP: the list (urgent first, with age), replies that reach the
patient in the chat relay's words and open a thread, resolve, assign, the resolved filter,
the live fragment; and one clinic never reaching another's alerts or staff."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

from sqlalchemy import select

from content.texts import load_texts
from scheduler.clinics.inbox import MAX_MESSAGE
from storage.models import (
    ClinicMessage,
    Escalation,
    EscalationStatus,
    InviteKind,
    Patient,
    PatientStatus,
)
from storage.patients import PatientRepository
from storage.questions import QuestionRepository
from tests.web.conftest import Site, csrf_of

SESSION_DAY = date(2026, 11, 17)


async def raise_alert(
    site: Site, chat_id: int, *, level: str = "urgent", topic: str = "swelling", words: str = ""
) -> int:
    """An escalation of the patient in ``chat_id`` with their clinic; its id."""
    async with site.database.session() as session:
        patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
        assert patient is not None
        escalation = await QuestionRepository(session).escalate(
            patient_id=patient.id,
            question_id=None,
            day=3,
            topic=topic,
            level=level,
            now=site.clock.now(),
        )
        escalation.message_text = words or None
        await session.commit()
        return escalation.id


async def alert_row(site: Site, alert_id: int) -> Escalation:
    async with site.database.session() as session:
        found = await session.get(Escalation, alert_id)
        assert found is not None
        return found


async def thread_rows(site: Site) -> list[ClinicMessage]:
    async with site.database.session() as session:
        result = await session.execute(select(ClinicMessage).order_by(ClinicMessage.id))
        return list(result.scalars())


async def test_the_inbox_lists_open_alerts_urgent_first_with_their_age(site: Site) -> None:
    first = await site.patient(site.glow, 101, SESSION_DAY)
    second = await site.patient(site.glow, 102, SESSION_DAY)
    await site.patient(site.other, 201, SESSION_DAY)
    booking = await raise_alert(site, 101, level="clinic", topic="redness")
    site.clock.advance(timedelta(minutes=12))
    urgent = await raise_alert(site, 102, words="my face is burning")
    quiet = await raise_alert(site, 101, level="urgent", topic="pain")
    await raise_alert(site, 201, words="the other clinic's words")
    site.clock.advance(timedelta(minutes=3))
    async with site.database.session() as session:
        patient = await session.get(Patient, second)
        assert patient is not None
        patient.clinic_label = "Sara K."
        await session.commit()

    browser = await site.signed_in(site.glow, 9001)
    page = await browser.get("/dashboard/alerts")
    assert page.status_code == 200
    text = html.unescape(page.text)
    # Urgent ones first (the longest waiting first among them), then the rest.
    order = [text.index(f'id="alert-{i}"') for i in (urgent, quiet, booking)]
    assert order == sorted(order)
    assert "15 min ago" in text and "3 min ago" in text
    assert "“my face is burning”" in text
    assert "The patient did not share their message." in text
    assert "the other clinic's words" not in text
    assert f'href="/dashboard/patients/{second}">Sara K.</a>' in text
    assert f'href="/dashboard/patients/{first}">Patient #{first}</a>' in text
    assert "3 open alerts" in text and "not assigned" in text
    assert '<script src="/dashboard/static/alerts.js" defer></script>' in page.text
    assert 'href="/dashboard/alerts" aria-current="page"' in page.text

    fragment = await browser.get("/dashboard/alerts/fragment")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert f'id="alert-{urgent}"' in fragment.text and "3 open alerts" in fragment.text
    assert fragment.headers["cache-control"] == "no-store"
    script = await browser.get("/dashboard/static/alerts.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "/alerts/fragment" not in script.text, "the page tells the script where to look"

    # A new alert is in the next fragment, without reloading the page.
    newest = await raise_alert(site, 101, level="clinic", topic="itching")
    fragment = await browser.get("/dashboard/alerts/fragment")
    assert f'id="alert-{newest}"' in fragment.text and "4 open alerts" in fragment.text


async def test_a_reply_reaches_the_patient_and_their_answer_joins_the_thread(
    site: Site,
) -> None:
    patient_id = await site.patient(site.glow, 101, SESSION_DAY)
    await site.care.set_language(chat_id=101, language="ur-Latn")
    alert_id = await raise_alert(site, 101)
    member = await site.staff(site.glow, 9011)
    browser = await site.signed_in(site.glow, 9011)
    csrf = await csrf_of(browser, "/dashboard/alerts")

    answer = await browser.post(
        f"/dashboard/alerts/{alert_id}/reply",
        data={"csrf": csrf, "text": "  Please call us <today>  "},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/dashboard/alerts?notice=sent#alert-{alert_id}"
    page = await browser.get(answer.headers["location"])
    assert "the patient has your message in the bot" in page.text
    # The chat relay's words, in the patient's language, the staff text escaped.
    (chat_id, sent), *_ = site.messenger.sent
    texts_ur = load_texts("ur-Latn")
    assert chat_id == 101
    assert sent == texts_ur.render("relay", clinic="Glow", text="Please call us <today>")
    row = await alert_row(site, alert_id)
    assert row.replies == 1 and row.status is EscalationStatus.OPEN
    (relayed,) = await thread_rows(site)
    assert relayed.text == "Please call us <today>" and relayed.sent_by == member
    assert not relayed.from_patient and relayed.message_id == 10_001

    # The patient answers the relayed message with Telegram's Reply: it is the thread's.
    site.clock.advance(timedelta(minutes=5))
    found = await site.clinics.patient_reply(
        chat_id=101, reply_to_message_id=10_001, text="I will call at 4", message_id=77
    )
    assert found is not None and found.alert.id == alert_id
    record = await browser.get(f"/dashboard/patients/{patient_id}")
    text = html.unescape(record.text)
    assert text.index("Please call us <today>") < text.index("I will call at 4")
    assert "member #" in text and "The patient" in text
    # A plain message later in the window is the thread's too; its own id is never a thread.
    assert await site.clinics.patient_reply(chat_id=101, reply_to_message_id=77) is not None


async def test_a_blocked_patient_is_explained_and_nothing_is_recorded(site: Site) -> None:
    await site.patient(site.glow, 101, SESSION_DAY)
    alert_id = await raise_alert(site, 101)
    site.messenger.blocked.add(101)
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/alerts")
    answer = await browser.post(
        f"/dashboard/alerts/{alert_id}/reply", data={"csrf": csrf, "text": "Hello?"}
    )
    assert answer.status_code == 303
    page = await browser.get(answer.headers["location"])
    assert page.status_code == 200 and "the patient has blocked the bot" in page.text
    assert await thread_rows(site) == []
    view = await site.care.view(chat_id=101)
    assert view is not None and view.status is PatientStatus.STOPPED
    # Known blocked now: a second try is refused, saying so, before anything is sent.
    again = await browser.post(
        f"/dashboard/alerts/{alert_id}/reply", data={"csrf": csrf, "text": "Hello?"}
    )
    assert again.headers["location"].startswith("/dashboard/alerts?notice=blocked")
    assert site.messenger.sent == [] and (await alert_row(site, alert_id)).replies == 0


async def test_a_patient_who_stopped_the_bot_is_not_written_to(site: Site) -> None:
    await site.patient(site.glow, 101, SESSION_DAY)
    alert_id = await raise_alert(site, 101)
    await site.care.stop(chat_id=101)
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/alerts")
    answer = await browser.post(
        f"/dashboard/alerts/{alert_id}/reply", data={"csrf": csrf, "text": "Hello?"}
    )
    assert answer.headers["location"].startswith("/dashboard/alerts?notice=stopped")
    page = await browser.get(answer.headers["location"])
    assert "This patient has stopped the bot" in page.text
    assert site.messenger.sent == [] and (await alert_row(site, alert_id)).replies == 0


async def test_a_moved_patient_is_refused_as_in_chat(site: Site) -> None:
    await site.patient(site.glow, 101, SESSION_DAY)
    alert_id = await raise_alert(site, 101)
    link = await site.clinics.invite(clinic_id=site.other.id, kind=InviteKind.PATIENT)
    await site.clinics.join_patient(code=link.code, chat_id=101)
    browser = await site.signed_in(site.glow, 9001)
    page = await browser.get("/dashboard/alerts")
    assert "moved to another clinic" in page.text
    assert f"/dashboard/alerts/{alert_id}/reply" not in page.text
    csrf = await csrf_of(browser, "/dashboard/alerts")
    answer = await browser.post(
        f"/dashboard/alerts/{alert_id}/reply", data={"csrf": csrf, "text": "Hello?"}
    )
    assert answer.headers["location"].startswith("/dashboard/alerts?notice=moved")
    assert site.messenger.sent == [] and (await alert_row(site, alert_id)).replies == 0
    other = await site.signed_in(site.other, 9002)
    assert f'id="alert-{alert_id}"' not in (await other.get("/dashboard/alerts")).text


async def test_empty_and_long_replies_send_nothing(site: Site) -> None:
    await site.patient(site.glow, 101, SESSION_DAY)
    alert_id = await raise_alert(site, 101)
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/alerts")
    for text, notice in (("   ", "empty"), ("x" * (MAX_MESSAGE + 1), "too_long")):
        answer = await browser.post(
            f"/dashboard/alerts/{alert_id}/reply", data={"csrf": csrf, "text": text}
        )
        assert answer.headers["location"].startswith(f"/dashboard/alerts?notice={notice}")
    assert site.messenger.sent == [] and (await alert_row(site, alert_id)).replies == 0


async def test_resolve_assign_and_the_resolved_list(site: Site) -> None:
    await site.patient(site.glow, 101, SESSION_DAY)
    alert_id = await raise_alert(site, 101)
    colleague = await site.staff(site.glow, 9011)
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/alerts")

    assigned = await browser.post(
        f"/dashboard/alerts/{alert_id}/assign", data={"csrf": csrf, "staff": str(colleague)}
    )
    assert assigned.status_code == 303
    assert (await alert_row(site, alert_id)).assigned_to == colleague
    page = await browser.get("/dashboard/alerts")
    assert f"assigned to member #{colleague}" in page.text
    assert f'<option value="{colleague}" selected>' in page.text
    await browser.post(f"/dashboard/alerts/{alert_id}/assign", data={"csrf": csrf, "staff": ""})
    assert (await alert_row(site, alert_id)).assigned_to is None

    resolved = await browser.post(f"/dashboard/alerts/{alert_id}/resolve", data={"csrf": csrf})
    assert resolved.headers["location"] == "/dashboard/alerts?notice=resolved"
    row = await alert_row(site, alert_id)
    assert row.status is EscalationStatus.RESOLVED and row.resolved_by is not None
    again = await browser.post(f"/dashboard/alerts/{alert_id}/resolve", data={"csrf": csrf})
    assert again.headers["location"] == "/dashboard/alerts?notice=already_resolved"
    assert f'id="alert-{alert_id}"' not in (await browser.get("/dashboard/alerts")).text
    listed = await browser.get("/dashboard/alerts?show=resolved")
    assert f'id="alert-{alert_id}"' in listed.text and "resolved just now" in listed.text
    fragment = await browser.get("/dashboard/alerts/fragment?show=resolved")
    assert f'id="alert-{alert_id}"' in fragment.text


async def test_another_clinics_alerts_and_staff_are_not_found_and_not_changed(
    site: Site,
) -> None:
    await site.patient(site.glow, 101, SESSION_DAY)
    await site.patient(site.other, 201, SESSION_DAY)
    theirs = await raise_alert(site, 201)
    ours = await raise_alert(site, 101)
    their_member = await site.staff(site.other, 9012)
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/alerts")
    for path, data in (
        (f"/dashboard/alerts/{theirs}/reply", {"text": "hello"}),
        (f"/dashboard/alerts/{theirs}/resolve", {}),
        (f"/dashboard/alerts/{theirs}/assign", {"staff": ""}),
        (f"/dashboard/alerts/{ours}/assign", {"staff": str(their_member)}),
        (f"/dashboard/alerts/{ours}/assign", {"staff": "nobody"}),
        ("/dashboard/alerts/999999/reply", {"text": "hello"}),
    ):
        answer = await browser.post(path, data={"csrf": csrf, **data})
        assert answer.status_code == 404, path
    for alert_id in (theirs, ours):
        row = await alert_row(site, alert_id)
        assert row.status is EscalationStatus.OPEN
        assert row.replies == 0 and row.assigned_to is None
    assert site.messenger.sent == [] and await thread_rows(site) == []


async def test_inbox_forms_without_the_csrf_token_change_nothing(site: Site) -> None:
    await site.patient(site.glow, 101, SESSION_DAY)
    alert_id = await raise_alert(site, 101)
    browser = await site.signed_in(site.glow, 9001)
    for path, data in (
        (f"/dashboard/alerts/{alert_id}/reply", {"text": "hello"}),
        (f"/dashboard/alerts/{alert_id}/resolve", {}),
        (f"/dashboard/alerts/{alert_id}/assign", {"staff": "1"}),
    ):
        for token in (None, "0" * 64):
            form = data if token is None else {**data, "csrf": token}
            answer = await browser.post(path, data=form)
            assert answer.status_code == 403, path
    row = await alert_row(site, alert_id)
    assert row.status is EscalationStatus.OPEN and row.replies == 0 and row.assigned_to is None
    assert site.messenger.sent == []
    signed_out = site.client()
    assert (await signed_out.get("/dashboard/alerts/fragment")).status_code == 303


async def test_only_what_the_patient_addresses_to_the_clinic_is_kept(site: Site) -> None:
    """A patient's message is kept only when it answers the clinic (a Telegram reply to a
    clinic message, or within 24 hours of the clinic's last one); their own messages never
    open or extend a conversation."""
    await site.patient(site.glow, 101, SESSION_DAY)
    alert_id = await raise_alert(site, 101)
    # Nothing from the clinic yet: the patient's words are the triage's, and not kept.
    assert (
        await site.clinics.patient_reply(
            chat_id=101, reply_to_message_id=None, text="is this normal?", message_id=1
        )
        is None
    )
    assert await thread_rows(site) == []
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/alerts")
    await browser.post(f"/dashboard/alerts/{alert_id}/reply", data={"csrf": csrf, "text": "Hi"})
    site.clock.advance(timedelta(hours=23))
    assert await site.clinics.patient_reply(
        chat_id=101, reply_to_message_id=None, text="still sore", message_id=2
    )
    # The patient's own message a day later does not extend the clinic's window.
    site.clock.advance(timedelta(hours=2))
    assert (
        await site.clinics.patient_reply(
            chat_id=101, reply_to_message_id=None, text="new question", message_id=3
        )
        is None
    )
    assert (
        await site.clinics.patient_reply(
            chat_id=101, reply_to_message_id=2, text="replying to myself", message_id=4
        )
        is None
    )
    rows = await thread_rows(site)
    assert [(r.from_patient, r.text) for r in rows] == [(False, "Hi"), (True, "still sore")]


async def test_a_full_inbox_comes_in_pages_of_fifty_urgent_first(site: Site) -> None:
    """55 open alerts: page one holds the 5 urgent and the 45 oldest of the others, page two
    the newest 5; the live list of page two refreshes page two."""
    await site.patient(site.glow, 1, date(2026, 11, 17))
    ids = []
    for n in range(55):
        ids.append(await raise_alert(site, 1, level="urgent" if n >= 50 else "clinic"))
        site.clock.advance(timedelta(minutes=1))
    browser = await site.signed_in(site.glow, 9001)
    first = (await browser.get("/dashboard/alerts")).text
    assert "55 open alerts, page 1 of 2" in first
    shown = [int(found) for found in re.findall(r'id="alert-(\d+)"', first)]
    assert shown == ids[50:] + ids[:45]
    second = (await browser.get("/dashboard/alerts", params={"page": "2"})).text
    assert [int(found) for found in re.findall(r'id="alert-(\d+)"', second)] == ids[45:50]
    assert 'data-fragment="/dashboard/alerts/fragment?page=2"' in second
    live = (await browser.get("/dashboard/alerts/fragment", params={"page": "2"})).text
    assert [int(found) for found in re.findall(r'id="alert-(\d+)"', live)] == ids[45:50]
    past = (await browser.get("/dashboard/alerts", params={"page": "9"})).text
    assert "page 2 of 2" in past
