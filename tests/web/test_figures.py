"""The figures page: per week (Monday to Sunday in the clinic's zone) new patients, reminders
sent and expired, alerts and the median time to the first staff reply; questions by level
per day of healing and by topic; only the clinic's own rows count; charts are SVG with no
style attribute, and the numbers are in tables."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update

from scheduler.clinics.figures import median, week_bounds
from storage.models import (
    STAFF_MESSAGE_LEVEL,
    ClinicMessage,
    Escalation,
    Patient,
    Question,
    Reminder,
    ReminderStatus,
    TreatmentSession,
)
from tests.web.conftest import Site

SESSION = date(2026, 11, 17)
# The fake clock: Friday 2026-11-20 04:00 UTC, 09:00 in Karachi. This week began on Monday
# 16 November at 00:00 Karachi time (15 November 19:00 UTC); the one before on 9 November.
THIS_WEEK = datetime(2026, 11, 16, 3, 0, tzinfo=UTC)
LAST_WEEK = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)


def row_of(page: str, week: str) -> list[str]:
    found = re.search(rf"<th scope=\"row\">{week}</th>(.*?)</tr>", page, re.S)
    assert found, week
    return re.findall(r"<td>([^<]*)</td>", found.group(1))


async def seed(site: Site, clinic_id: int, chat_id: int, *, created: datetime) -> int:
    """A patient of the clinic, started at ``created``, with two reminders sent this week,
    one expired last week, two questions and an alert answered after 30 minutes."""
    clinic = site.glow if clinic_id == site.glow.id else site.other
    patient_id = await site.patient(clinic, chat_id, SESSION)
    async with site.database.session() as session:
        await session.execute(
            update(Patient).where(Patient.id == patient_id).values(created_at=created)
        )
        reminders = (
            (
                await session.execute(
                    select(Reminder.id)
                    .join(TreatmentSession, TreatmentSession.id == Reminder.session_id)
                    .where(TreatmentSession.patient_id == patient_id)
                    .order_by(Reminder.id)
                )
            )
            .scalars()
            .all()
        )
        for reminder_id in reminders[:2]:
            await session.execute(
                update(Reminder)
                .where(Reminder.id == reminder_id)
                .values(status=ReminderStatus.SENT, sent_at=THIS_WEEK)
            )
        await session.execute(
            update(Reminder)
            .where(Reminder.id == reminders[2])
            .values(status=ReminderStatus.EXPIRED, expires_at=LAST_WEEK)
        )
        session.add_all(
            [
                Question(
                    patient_id=patient_id,
                    day=2,
                    topic="redness",
                    level="normal",
                    asked_at=THIS_WEEK,
                ),
                Question(
                    patient_id=patient_id, day=3, topic="pain", level="urgent", asked_at=THIS_WEEK
                ),
            ]
        )
        alert = Escalation(
            patient_id=patient_id,
            day=3,
            topic="pain",
            level="urgent",
            created_at=THIS_WEEK,
            clinic_id=clinic_id,
        )
        session.add(alert)
        await session.flush()
        session.add_all(
            [
                ClinicMessage(
                    escalation_id=alert.id, message_id=1, sent_at=THIS_WEEK + timedelta(minutes=30)
                ),
                ClinicMessage(
                    escalation_id=alert.id, message_id=2, sent_at=THIS_WEEK + timedelta(hours=5)
                ),
            ]
        )
        await session.commit()
    return patient_id


async def test_the_figures_count_only_the_clinics_own_rows_per_week(site: Site) -> None:
    await seed(site, site.glow.id, 1001, created=THIS_WEEK)
    await seed(site, site.glow.id, 1002, created=LAST_WEEK)
    for chat in (2001, 2002, 2003):
        await seed(site, site.other.id, chat, created=THIS_WEEK)
    async with site.database.session() as session:  # an alert never answered, last week
        glow_patient = (
            await session.execute(select(Patient.id).where(Patient.chat_id == 1001))
        ).scalar_one()
        session.add(
            Escalation(
                patient_id=glow_patient,
                day=1,
                topic="swelling",
                level="clinic",
                created_at=LAST_WEEK,
                clinic_id=site.glow.id,
            )
        )
        await session.commit()

    browser = await site.signed_in(site.glow, 9001)
    page = await browser.get("/dashboard/figures")
    assert page.status_code == 200
    text = page.text
    # new patients, sent, expired, alerts, answered, median to the first reply
    assert row_of(text, "16 Nov 2026") == ["1", "4", "0", "2", "2", "30 min"]
    assert row_of(text, "09 Nov 2026") == ["1", "0", "2", "1", "0", "—"]
    assert row_of(text, "02 Nov 2026") == ["0", "0", "0", "0", "0", "—"]
    assert text.count('<th scope="row">') == 12 + 2 + 2, "12 weeks, 2 days, 2 topics"
    assert "4 in the period" in text
    by_day = text[text.index('class="numbers by-day"') :]
    assert re.search(r'<th scope="row">3</th><td>2</td>', by_day), "day 3: 2 urgent"
    assert text.count("<svg") == 4 and 'role="img"' in text
    assert " style=" not in text and "<script" not in text

    short = await browser.get("/dashboard/figures", params={"weeks": "4"})
    assert short.text.count('<th scope="row">') == 4 + 2 + 2
    junk = await browser.get("/dashboard/figures", params={"weeks": "100000"})
    assert junk.status_code == 200 and junk.text.count('<th scope="row">') == 12 + 2 + 2


async def test_a_clinic_without_activity_has_empty_figures(site: Site) -> None:
    await seed(site, site.other.id, 2001, created=THIS_WEEK)
    browser = await site.signed_in(site.glow, 9001)
    page = await browser.get("/dashboard/figures")
    assert page.status_code == 200 and "No questions in the period" in page.text
    assert row_of(page.text, "16 Nov 2026") == ["0", "0", "0", "0", "0", "—"]


def test_weeks_begin_on_local_mondays_across_a_clock_change() -> None:
    """London leaves summer time on Sunday 25 October 2026: the Monday before begins at
    23:00 UTC, the Monday after at midnight UTC."""
    bounds = week_bounds(date(2026, 10, 28), "Europe/London", 2)
    assert bounds == [
        datetime(2026, 10, 18, 23, 0, tzinfo=UTC),
        datetime(2026, 10, 26, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 0, 0, tzinfo=UTC),
    ]
    assert median([]) is None
    assert median([timedelta(minutes=m) for m in (30, 10, 20, 40)]) == timedelta(minutes=25)


async def test_figures_are_counted_at_most_once_a_minute(site: Site) -> None:
    """A new patient shows within a minute, not at once: the page says when it counted."""
    await seed(site, site.glow.id, 1001, created=THIS_WEEK)
    browser = await site.signed_in(site.glow, 9001)
    first = await browser.get("/dashboard/figures")
    assert row_of(first.text, "16 Nov 2026")[0] == "1" and "Counted at 09:00" in first.text
    await seed(site, site.glow.id, 1002, created=THIS_WEEK)
    site.clock.advance(timedelta(seconds=59))
    assert row_of((await browser.get("/dashboard/figures")).text, "16 Nov 2026")[0] == "1"
    site.clock.advance(timedelta(seconds=1))
    again = await browser.get("/dashboard/figures")
    assert row_of(again.text, "16 Nov 2026")[0] == "2" and "Counted at 09:01" in again.text


async def test_a_conversation_staff_started_is_not_an_alert_in_the_figures(site: Site) -> None:
    patient_id = await seed(site, site.glow.id, 1001, created=THIS_WEEK)
    async with site.database.session() as session:
        thread = Escalation(
            patient_id=patient_id,
            day=3,
            topic="message",
            level=STAFF_MESSAGE_LEVEL,
            created_at=THIS_WEEK,
            clinic_id=site.glow.id,
        )
        session.add(thread)
        await session.flush()
        session.add(ClinicMessage(escalation_id=thread.id, message_id=9, sent_at=THIS_WEEK))
        await session.commit()
    browser = await site.signed_in(site.glow, 9001)
    page = await browser.get("/dashboard/figures")
    # the seed's alert, answered after 30 min; the staff's own thread (0 min) is not one
    assert row_of(page.text, "16 Nov 2026")[3:] == ["1", "1", "30 min"]
