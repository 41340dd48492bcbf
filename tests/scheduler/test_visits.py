"""A visit's one statement finds what the ORM reads of the patient, their latest session and
the member of staff find, for every kind of chat."""

from __future__ import annotations

from datetime import date

from scheduler.care.planning import QuietHours
from scheduler.care.prompts import PromptKind
from scheduler.care.views import load_view
from scheduler.care.visits import VisitService
from scheduler.clinics.service import ClinicService
from scheduler.clinics.views import load_staff
from scheduler.clock import FakeClock
from storage.database import Database
from tests.scheduler.harness import start_engine

SERIES = 7  # two sessions: the visit shows the second
CONSENTED = 8  # consented, asked for the date, no session yet
STAFF = 9  # a member of staff who is also a patient
STAFF_ONLY = 10
STRANGER = 11


async def test_a_visit_reads_what_the_orm_reads(database: Database, clock: FakeClock) -> None:
    engine = await start_engine(database, clock)
    care = engine.care
    await care.register_session(chat_id=SERIES, session_date=date(2026, 11, 18))
    await care.register_session(
        chat_id=SERIES, session_date=date(2026, 12, 18), next_in_series=True
    )
    await care.consent(chat_id=CONSENTED, start_payload="flyer", ask=PromptKind.DATE)
    await care.register_session(chat_id=STAFF, session_date=date(2026, 11, 20))
    clinics = ClinicService(database=database, clock=clock, plans=care.plans)
    for name, chat_id in (("Skin", STAFF), ("Glow", STAFF_ONLY)):
        _, admin = await clinics.create_clinic(
            name=name,
            timezone="Asia/Karachi",
            plan_id="microneedling",
            quiet_hours=QuietHours.parse("22:00-07:00"),
        )
        await clinics.join_staff(code=admin.code, chat_id=chat_id, name="Dr A")
    visits = VisitService(database=database)
    for chat_id in (SERIES, CONSENTED, STAFF, STAFF_ONLY, STRANGER):
        visit = await visits.open(chat_id=chat_id)
        async with database.session() as session:
            assert visit.patient == await load_view(session, chat_id=chat_id), chat_id
            assert visit.staff == await load_staff(session, chat_id=chat_id), chat_id
    await engine.stop()
    series = (await visits.open(chat_id=SERIES)).patient
    assert series is not None and (series.session_number, series.session_date) == (
        2,
        date(2026, 12, 18),
    )
    consented = (await visits.open(chat_id=CONSENTED)).patient
    assert consented is not None and consented.prompt is not None
    assert (await visits.open(chat_id=STAFF)).staff is not None
    staff_only = await visits.open(chat_id=STAFF_ONLY)
    assert staff_only.patient is None and staff_only.staff is not None
    stranger = await visits.open(chat_id=STRANGER)
    assert (stranger.patient, stranger.staff) == (None, None)
