"""ClinicService on SQLite and PostgreSQL: invite codes (shape, storage, once, expiry, revoking),
joining as staff or patient, the /patients counts, and one clinic never seeing another's."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from content.loader import load_plan
from scheduler.care.planning import QuietHours
from scheduler.care.questions import QuestionService
from scheduler.care.sessions import CareService
from scheduler.clinics.codes import code_hash, looks_like_code, new_code
from scheduler.clinics.errors import (
    ClinicDetailsError,
    InviteError,
    InviteProblem,
    StaffError,
    StaffProblem,
)
from scheduler.clinics.service import ClinicService
from scheduler.clinics.views import ClinicView, NewInvite
from scheduler.clock import FakeClock
from storage.broadcasts import BroadcastRepository, RecipientCheck
from storage.database import Database
from storage.models import (
    Base,
    Broadcast,
    Escalation,
    EscalationStatus,
    Invite,
    InviteKind,
    Patient,
    PatientStatus,
    StaffRole,
    TreatmentSession,
)
from tests.copies import copy_row

CODE_SHAPE = r"^[A-Za-z0-9_-]{32}$"
CARE_ZONE = "Europe/London"  # where patients start, unlike any clinic below
CARE_QUIET = QuietHours.parse("off")


@dataclass
class World:
    """The services the chat layer uses, on one database and one clock."""

    database: Database
    clock: FakeClock
    clinics: ClinicService
    care: CareService
    questions: QuestionService

    async def clinic(
        self, name: str, *, timezone: str = "Asia/Karachi", quiet: str = "22:00-07:00", **kw: str
    ) -> tuple[ClinicView, NewInvite]:
        """A clinic and its admin's invite."""
        return await self.clinics.create_clinic(
            name=name,
            timezone=timezone,
            plan_id="microneedling",
            quiet_hours=QuietHours.parse(quiet),
            **kw,
        )

    async def patient_link(self, clinic: ClinicView) -> str:
        """A new patient link of the clinic, as its code."""
        return (await self.clinics.invite(clinic_id=clinic.id, kind=InviteKind.PATIENT)).code

    async def patient(self, chat_id: int) -> Patient:
        """The patient row of a chat."""
        async with self.database.session() as session:
            found = await session.scalar(select(Patient).where(Patient.chat_id == chat_id))
            assert found is not None
            return found


def make_world(database: Database, clock: FakeClock) -> World:
    """Services wired as the product wires them (plans from content/plans)."""
    return World(
        database=database,
        clock=clock,
        clinics=ClinicService(database=database, clock=clock, plans=load_plan),
        care=CareService(
            database=database,
            clock=clock,
            plans=load_plan,
            default_timezone=CARE_ZONE,
            default_quiet_hours=CARE_QUIET,
        ),
        questions=QuestionService(database=database, clock=clock),
    )


@pytest.fixture
def world(database: Database, clock: FakeClock) -> World:
    """The services on the parametrised database, at 2026-11-20 04:00 UTC."""
    return make_world(database, clock)


async def problem_of(call: object) -> InviteProblem:
    """The InviteProblem an awaitable raises."""
    with pytest.raises(InviteError) as raised:
        await call  # type: ignore[misc]
    return raised.value.problem


# Codes


def test_two_codes_never_repeat_in_a_thousand_draws() -> None:
    """192 random bits: 1,000 codes, 1,000 different ones, all of the deep-link shape."""
    codes = [new_code() for _ in range(1000)]
    assert len(set(codes)) == 1000
    assert all(looks_like_code(code) for code in codes)
    assert len({code_hash(code) for code in codes}) == 1000


async def test_codes_are_32_url_safe_characters_and_only_their_hash_is_stored(
    world: World,
) -> None:
    """Every kind of code; no row of any table holds one, the invites hold their SHA-256."""
    clinic, admin = await world.clinic("North Clinic")
    made = [
        admin,
        await world.clinics.invite(clinic_id=clinic.id, kind=InviteKind.STAFF),
        await world.clinics.invite(clinic_id=clinic.id, kind=InviteKind.PATIENT),
        await world.clinics.invite(
            clinic_id=clinic.id, kind=InviteKind.ENROL, session_date=date(2026, 11, 18)
        ),
    ]
    await world.care.consent(chat_id=1)
    await world.clinics.join_patient(code=made[2].code, chat_id=1)
    codes = [invite.code for invite in made]
    for code in codes:
        assert looks_like_code(code)
        assert len(code) == 32
        assert all(c.isascii() and (c.isalnum() or c in "-_") for c in code)
    assert len(set(codes)) == len(codes)
    async with world.database.session() as session:
        hashes = {
            row.id: row.code_hash for row in (await session.execute(select(Invite))).scalars()
        }
        dump = [
            repr(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in (await session.execute(select(table))).all()
        ]
    assert hashes == {
        invite.id: hashlib.sha256(invite.code.encode()).hexdigest() for invite in made
    }
    for code in codes:
        assert not any(code in line for line in dump), "a code is stored in the clear"


async def test_a_clinic_with_no_name_or_an_overlong_detail_is_refused(world: World) -> None:
    """The refusal says which detail, as a ClinicDetailsError; nothing is written."""
    with pytest.raises(ClinicDetailsError, match="a name of 1 to"):
        await world.clinic("   ")
    with pytest.raises(ClinicDetailsError, match="the phone is longer than 40"):
        await world.clinic("Glow", phone="0" * 41)
    assert await world.clinics.clinics() == []


async def test_every_invite_gets_its_kind_and_lifetime(world: World, clock: FakeClock) -> None:
    """Staff 7 days, patient links 365, enrolment 14; peek tells what a code is for."""
    clinic, admin = await world.clinic("North Clinic")
    staff = await world.clinics.invite(clinic_id=clinic.id, kind=InviteKind.STAFF)
    patient = await world.clinics.invite(clinic_id=clinic.id, kind=InviteKind.PATIENT)
    enrol = await world.clinics.invite(
        clinic_id=clinic.id, kind=InviteKind.ENROL, session_date=date(2026, 11, 18)
    )
    now = clock.now()
    assert admin.expires_at == staff.expires_at == now + timedelta(days=7)
    assert patient.expires_at == now + timedelta(days=365)
    assert enrol.expires_at == now + timedelta(days=14)
    seen = await world.clinics.peek(code=admin.code)
    assert (seen.kind, seen.role, seen.clinic.id) == (InviteKind.STAFF, StaffRole.ADMIN, clinic.id)
    assert (await world.clinics.peek(code=staff.code)).role is StaffRole.STAFF
    assert (await world.clinics.peek(code=patient.code)).role is None
    assert (await world.clinics.peek(code=enrol.code)).session_date == date(2026, 11, 18)
    assert await problem_of(world.clinics.peek(code=new_code())) is InviteProblem.UNKNOWN
    with pytest.raises(ValueError, match="session date"):
        await world.clinics.invite(clinic_id=clinic.id, kind=InviteKind.ENROL)
    with pytest.raises(LookupError):
        await world.clinics.invite(clinic_id=clinic.id + 99, kind=InviteKind.PATIENT)


# Staff invites


async def test_a_staff_invite_works_once(world: World) -> None:
    """The first chat joins with the invite's role; the second use is USED, for anyone."""
    clinic, admin = await world.clinic("North Clinic")
    boss = await world.clinics.join_staff(code=admin.code, chat_id=500, name="Dr A")
    assert (boss.role, boss.is_admin, boss.clinic.id, boss.name) == (
        StaffRole.ADMIN,
        True,
        clinic.id,
        "Dr A",
    )
    invite = await world.clinics.invite(
        clinic_id=clinic.id, kind=InviteKind.STAFF, created_by=boss.id
    )
    member = await world.clinics.join_staff(code=invite.code, chat_id=501, name=None)
    assert (member.role, member.is_admin, member.name) == (StaffRole.STAFF, False, None)
    assert (
        await problem_of(world.clinics.join_staff(code=invite.code, chat_id=502, name="late"))
        is InviteProblem.USED
    )
    assert (
        await problem_of(world.clinics.join_staff(code=invite.code, chat_id=501, name=None))
        is InviteProblem.USED
    )
    assert await problem_of(world.clinics.peek(code=admin.code)) is InviteProblem.USED
    assert await world.clinics.staff(chat_id=502) is None
    recipients = await world.clinics.staff_recipients(clinic_id=clinic.id)
    assert sorted(r.chat_id for r in recipients) == [500, 501]
    ((view, staff_count, patient_count),) = await world.clinics.clinics()
    assert (view.id, staff_count, patient_count) == (clinic.id, 2, 0)


async def test_an_admin_invite_makes_a_member_of_staff_an_admin(world: World) -> None:
    """The same clinic's admin invite promotes; a staff invite never demotes."""
    clinic, admin = await world.clinic("North Clinic")
    staff = await world.clinics.invite(clinic_id=clinic.id, kind=InviteKind.STAFF)
    await world.clinics.join_staff(code=staff.code, chat_id=501, name="B")
    promoted = await world.clinics.join_staff(code=admin.code, chat_id=501, name="B")
    assert promoted.is_admin
    again = await world.clinics.invite(clinic_id=clinic.id, kind=InviteKind.STAFF)
    assert (await world.clinics.join_staff(code=again.code, chat_id=501, name="B")).is_admin


async def test_a_staff_invite_expires_after_seven_days(world: World, clock: FakeClock) -> None:
    """Valid a second before seven days, EXPIRED from then on."""
    clinic, _ = await world.clinic("North Clinic")
    invite = await world.clinics.invite(clinic_id=clinic.id, kind=InviteKind.STAFF)
    clock.advance(timedelta(days=7, seconds=-1))
    assert (await world.clinics.peek(code=invite.code)).kind is InviteKind.STAFF
    clock.advance(timedelta(seconds=2))
    assert await problem_of(world.clinics.peek(code=invite.code)) is InviteProblem.EXPIRED
    assert (
        await problem_of(world.clinics.join_staff(code=invite.code, chat_id=500, name=None))
        is InviteProblem.EXPIRED
    )
    assert await world.clinics.staff(chat_id=500) is None


async def test_a_revoked_invite_stops_working(world: World) -> None:
    """Revoked by id (only by its own clinic), or every invite of a kind."""
    north, north_admin = await world.clinic("North Clinic")
    south, _ = await world.clinic("South Clinic")
    staff = await world.clinics.invite(clinic_id=north.id, kind=InviteKind.STAFF)
    # Another clinic cannot revoke it.
    assert await world.clinics.revoke(clinic_id=south.id, invite_id=staff.id) == 0
    assert (await world.clinics.peek(code=staff.code)).clinic.id == north.id
    assert await world.clinics.revoke(clinic_id=north.id, invite_id=staff.id) == 1
    assert await world.clinics.revoke(clinic_id=north.id, invite_id=staff.id) == 0
    assert (
        await problem_of(world.clinics.join_staff(code=staff.code, chat_id=500, name=None))
        is InviteProblem.REVOKED
    )
    # By kind: the patient links go, the admin invite stays.
    links = [await world.patient_link(north) for _ in range(2)]
    south_link = await world.patient_link(south)
    assert await world.clinics.revoke(clinic_id=north.id, kind=InviteKind.PATIENT) == 2
    for code in links:
        assert await problem_of(world.clinics.peek(code=code)) is InviteProblem.REVOKED
    assert (await world.clinics.peek(code=south_link)).clinic.id == south.id
    assert (await world.clinics.peek(code=north_admin.code)).role is StaffRole.ADMIN


async def test_a_chat_on_one_clinics_staff_cannot_join_another(world: World) -> None:
    """OTHER_CLINIC, and the other clinic's invite is not used up by the attempt."""
    north, north_admin = await world.clinic("North Clinic")
    south, south_admin = await world.clinic("South Clinic")
    await world.clinics.join_staff(code=north_admin.code, chat_id=500, name=None)
    assert (
        await problem_of(world.clinics.join_staff(code=south_admin.code, chat_id=500, name=None))
        is InviteProblem.OTHER_CLINIC
    )
    found = await world.clinics.staff(chat_id=500)
    assert found is not None and found.clinic.id == north.id
    joined = await world.clinics.join_staff(code=south_admin.code, chat_id=600, name=None)
    assert joined.clinic.id == south.id and joined.is_admin


async def test_codes_of_the_wrong_kind_are_refused(world: World) -> None:
    """A staff code does not enrol a patient, a patient link does not make staff."""
    clinic, admin = await world.clinic("North Clinic")
    link = await world.patient_link(clinic)
    await world.care.consent(chat_id=1)
    assert (
        await problem_of(world.clinics.join_patient(code=admin.code, chat_id=1))
        is InviteProblem.WRONG_KIND
    )
    assert (
        await problem_of(world.clinics.join_staff(code=link, chat_id=500, name=None))
        is InviteProblem.WRONG_KIND
    )
    # Neither was used up.
    assert (await world.clinics.join_staff(code=admin.code, chat_id=500, name=None)).is_admin
    assert (await world.patient(1)).clinic_id is None


# Patients joining


async def test_a_patient_link_works_many_times(world: World) -> None:
    """Every patient who follows it becomes the clinic's; it stays valid."""
    clinic, _ = await world.clinic("North Clinic")
    code = await world.patient_link(clinic)
    for chat_id in range(1, 6):
        await world.care.consent(chat_id=chat_id)
        joined = await world.clinics.join_patient(code=code, chat_id=chat_id)
        assert (joined.kind, joined.clinic.id) == (InviteKind.PATIENT, clinic.id)
    assert (await world.clinics.peek(code=code)).kind is InviteKind.PATIENT
    for chat_id in range(1, 6):
        assert (await world.patient(chat_id)).clinic_id == clinic.id
        found = await world.clinics.clinic_of_patient(chat_id=chat_id)
        assert found is not None and found.name == "North Clinic"
    async with world.database.session() as session:
        uses = await session.scalar(select(Invite.uses).where(Invite.kind == InviteKind.PATIENT))
    assert uses == 5
    ((_, staff_count, patient_count),) = await world.clinics.clinics()
    assert (staff_count, patient_count) == (0, 5)


async def test_an_enrolment_invite_carries_its_date_and_works_once(world: World) -> None:
    """The date staff filled in comes back to confirm; the second patient gets USED."""
    clinic, _ = await world.clinic("North Clinic")
    enrol = await world.clinics.invite(
        clinic_id=clinic.id, kind=InviteKind.ENROL, session_date=date(2026, 11, 18)
    )
    with pytest.raises(LookupError):  # not a patient yet: the invite is not spent
        await world.clinics.join_patient(code=enrol.code, chat_id=1)
    await world.care.consent(chat_id=1)
    joined = await world.clinics.join_patient(code=enrol.code, chat_id=1)
    assert (joined.kind, joined.session_date, joined.clinic.id) == (
        InviteKind.ENROL,
        date(2026, 11, 18),
        clinic.id,
    )
    await world.care.consent(chat_id=2)
    assert (
        await problem_of(world.clinics.join_patient(code=enrol.code, chat_id=2))
        is InviteProblem.USED
    )
    assert (await world.patient(2)).clinic_id is None


async def test_joining_gives_a_patient_without_a_session_the_clinics_settings(
    world: World,
) -> None:
    """Time zone and quiet hours follow the clinic until a session is registered; a patient
    who has one keeps theirs (their reminders were planned in it). The language is always
    the patient's own: they picked it before consenting (the clinic's is offered first)."""
    clinic, _ = await world.clinic("North Clinic", quiet="22:00-07:00", language="ur")
    code = await world.patient_link(clinic)
    fresh = await world.care.consent(chat_id=1, language="ur-Latn")
    assert (fresh.timezone, str(fresh.quiet_hours), fresh.language) == (CARE_ZONE, "off", "ur-Latn")
    await world.clinics.join_patient(code=code, chat_id=1)
    moved = await world.patient(1)
    assert (moved.clinic_id, moved.timezone, moved.language) == (
        clinic.id,
        "Asia/Karachi",
        "ur-Latn",
    )
    assert (moved.quiet_start, moved.quiet_end) == (time(22), time(7))

    await world.care.consent(chat_id=2)
    await world.care.register_session(chat_id=2, session_date=date(2026, 11, 19))
    await world.clinics.join_patient(code=code, chat_id=2)
    kept = await world.patient(2)
    assert (kept.clinic_id, kept.timezone, kept.language) == (clinic.id, CARE_ZONE, "en")
    assert (kept.quiet_start, kept.quiet_end) == (time(0), time(0))


# The clinic's view of its patients


@dataclass(frozen=True)
class Someone:
    """A patient of the summary test: when they came, their session, what they did."""

    chat_id: int
    created: datetime
    session: date | None = None
    status: PatientStatus = PatientStatus.ACTIVE
    booked: bool = False
    opted_out: bool = False


OLD = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 09:00 in Karachi: today is 20 Nov there
WEEK_AGO = NOW - timedelta(days=7)
NORTH = [
    Someone(1, OLD, date(2026, 11, 19)),  # day 1: first_48h
    Someone(2, OLD, date(2026, 11, 15), opted_out=True),  # day 5: first_week
    Someone(3, OLD, date(2026, 10, 25)),  # day 26: results; next due 22 Nov
    Someone(4, WEEK_AGO, date(2026, 10, 23)),  # day 28: next_session; due today; new
    Someone(5, WEEK_AGO - timedelta(minutes=1), date(2026, 10, 30)),  # results; due 27 Nov
    Someone(6, NOW, date(2026, 10, 31)),  # results; due 28 Nov: a day too late
    Someone(7, NOW, date(2026, 10, 22)),  # day 29: next_session; was due yesterday
    Someone(8, NOW, date(2026, 10, 24), booked=True),  # results; due tomorrow, but booked
    Someone(9, NOW, date(2026, 11, 21)),  # tomorrow: preparation
    Someone(10, OLD, date(2026, 11, 1), PatientStatus.PAUSED, opted_out=True),
    Someone(11, OLD, date(2026, 11, 2), PatientStatus.STOPPED),
    Someone(12, NOW),  # no session yet
    Someone(13, OLD, None, PatientStatus.PAUSED),
]
SOUTH = [
    Someone(101, NOW, date(2026, 10, 25), opted_out=True),  # due, new, opted out
    Someone(102, NOW, date(2026, 11, 19)),
    Someone(103, NOW),
]
NOBODY = [Someone(201, NOW, date(2026, 10, 26), opted_out=True)]  # no clinic at all


async def test_the_summary_counts_exactly_and_only_the_clinics_own(database: Database) -> None:
    """Status, phase by session date, due within a week (not booked), new this week, opted
    out, no session: exact numbers; another clinic's patients and clinic-less ones never count."""
    clock = FakeClock(OLD)
    world = make_world(database, clock)
    north, _ = await world.clinic("North Clinic")
    south, _ = await world.clinic("South Clinic")
    north_link, south_link = await world.patient_link(north), await world.patient_link(south)
    everyone: list[tuple[Someone, str | None]] = [(p, north_link) for p in NORTH]
    everyone += [(p, south_link) for p in SOUTH] + [(p, None) for p in NOBODY]
    for person, code in sorted(everyone, key=lambda pair: pair[0].created):
        clock.set(person.created)
        await world.care.consent(chat_id=person.chat_id)
        if code is not None:
            await world.clinics.join_patient(code=code, chat_id=person.chat_id)
    clock.set(NOW)
    for person, _ in everyone:
        if person.session is not None:
            await world.care.register_session(chat_id=person.chat_id, session_date=person.session)
        if person.booked:
            patient = await world.patient(person.chat_id)
            async with database.session() as session:
                await session.execute(
                    update(TreatmentSession)
                    .where(TreatmentSession.patient_id == patient.id)
                    .values(booked_at=NOW)
                )
                await session.commit()
        if person.status is PatientStatus.PAUSED:
            await world.care.pause(chat_id=person.chat_id)
        if person.status is PatientStatus.STOPPED:
            await world.care.stop(chat_id=person.chat_id)
        if person.opted_out:
            assert await world.clinics.set_news(chat_id=person.chat_id, opt_out=True)

    summary = await world.clinics.summary(clinic_id=north.id)
    assert (summary.total, summary.active, summary.paused, summary.stopped) == (13, 10, 2, 1)
    assert summary.by_phase == {
        "first_48h": 1,
        "first_week": 1,
        "results": 4,
        "next_session": 2,
        "preparation": 1,
    }
    assert summary.due_next_session == 3  # chats 3, 4 and 5
    assert summary.new_this_week == 6  # chats 4, 6-9 and 12 (exactly a week ago counts)
    assert summary.news_opt_out == 2
    assert summary.no_session == 2

    south_summary = await world.clinics.summary(clinic_id=south.id)
    assert (south_summary.total, south_summary.active, south_summary.no_session) == (3, 3, 1)
    assert south_summary.by_phase == {"results": 1, "first_48h": 1}
    assert (south_summary.due_next_session, south_summary.new_this_week) == (1, 3)
    assert south_summary.news_opt_out == 1
    empty = await world.clinics.summary(clinic_id=south.id + 1)
    assert (empty.total, empty.by_phase, empty.due_next_session) == (0, {}, 0)

    counts = {view.id: (staff, patients) for view, staff, patients in await world.clinics.clinics()}
    assert counts == {north.id: (0, 13), south.id: (0, 3)}


# Alerts


async def test_alerts_are_the_clinics_own_urgent_first(world: World, clock: FakeClock) -> None:
    """Only escalations (not plain questions) of the clinic's patients, open ones, urgent
    first and then oldest first."""
    north, north_admin = await world.clinic("North Clinic")
    south, _ = await world.clinic("South Clinic")
    north_link, south_link = await world.patient_link(north), await world.patient_link(south)
    for chat_id, code in ((1, north_link), (2, north_link), (3, south_link), (4, None)):
        await world.care.consent(chat_id=chat_id)
        if code is not None:
            await world.clinics.join_patient(code=code, chat_id=chat_id)

    async def ask(chat_id: int, level: str, *, escalate: bool = True) -> int | None:
        clock.advance(timedelta(minutes=1))
        recorded = await world.questions.record(
            chat_id=chat_id, day=3, topic="redness", level=level, escalate=escalate
        )
        assert recorded is not None
        return recorded.escalation_id

    first = await ask(1, "clinic")
    await ask(1, "normal", escalate=False)
    second = await ask(2, "urgent")
    south_one = await ask(3, "urgent")
    await ask(4, "urgent")  # a patient of no clinic
    third = await ask(1, "urgent")
    fourth = await ask(2, "clinic")

    alerts = await world.clinics.alerts(clinic_id=north.id)
    assert [a.id for a in alerts] == [second, third, first, fourth]
    assert [a.level for a in alerts] == ["urgent", "urgent", "clinic", "clinic"]
    assert [a.chat_id for a in alerts] == [2, 1, 1, 2]
    assert all(a.topic == "redness" and a.day == 3 for a in alerts)
    south_alerts = await world.clinics.alerts(clinic_id=south.id)
    assert [(a.id, a.chat_id) for a in south_alerts] == [(south_one, 3)]

    admin = await world.clinics.join_staff(code=north_admin.code, chat_id=500, name=None)
    assert first is not None and south_one is not None
    assert await world.clinics.resolve(clinic_id=north.id, escalation_id=first, staff_id=admin.id)
    assert not await world.clinics.resolve(
        clinic_id=north.id, escalation_id=first, staff_id=admin.id
    )
    assert [a.id for a in await world.clinics.alerts(clinic_id=north.id)] == [
        second,
        third,
        fourth,
    ]
    target = await world.clinics.reply_target(clinic_id=north.id, escalation_id=first)
    assert target is not None and target.chat_id == 1


async def test_another_clinics_escalation_cannot_be_resolved_or_answered(world: World) -> None:
    """resolve is False, reply_target None, alert None, and the escalation is untouched."""
    north, north_admin = await world.clinic("North Clinic")
    south, _ = await world.clinic("South Clinic")
    await world.care.consent(chat_id=3)
    await world.clinics.join_patient(code=await world.patient_link(south), chat_id=3)
    recorded = await world.questions.record(
        chat_id=3, day=2, topic="bleeding", level="urgent", escalate=True
    )
    assert recorded is not None and recorded.escalation_id is not None
    theirs = recorded.escalation_id
    admin = await world.clinics.join_staff(code=north_admin.code, chat_id=500, name=None)

    assert not await world.clinics.resolve(
        clinic_id=north.id, escalation_id=theirs, staff_id=admin.id
    )
    assert await world.clinics.reply_target(clinic_id=north.id, escalation_id=theirs) is None
    assert await world.clinics.alert(clinic_id=north.id, escalation_id=theirs) is None
    assert await world.clinics.alerts(clinic_id=north.id) == []
    async with world.database.session() as session:
        row = await session.get(Escalation, theirs)
        assert row is not None
        assert (row.status, row.resolved_at, row.resolved_by, row.replies) == (
            EscalationStatus.OPEN,
            None,
            None,
            0,
        )
    # Its own clinic can.
    target = await world.clinics.reply_target(clinic_id=south.id, escalation_id=theirs)
    assert target is not None and target.chat_id == 3
    # The reply counts once it went out (a send to a blocked patient never counts).
    found = await world.clinics.alert(clinic_id=south.id, escalation_id=theirs)
    assert found is not None and found.replies == 0
    await world.clinics.record_relay(clinic_id=south.id, escalation_id=theirs, message_id=7)
    found = await world.clinics.alert(clinic_id=south.id, escalation_id=theirs)
    assert found is not None and found.replies == 1


# Switching clinic: an escalation stays with the clinic it was raised with


async def test_an_escalation_stays_with_its_clinic_when_the_patient_switches(
    world: World, clock: FakeClock
) -> None:
    """A's alert (and the words shared with A) never show in B; A keeps it, marked as moved,
    and can resolve but not reply; coming back to A makes it A's conversation again."""
    north, _ = await world.clinic("North Clinic")
    south, _ = await world.clinic("South Clinic")
    await world.care.consent(chat_id=1)
    await world.clinics.join_patient(code=await world.patient_link(north), chat_id=1)
    recorded = await world.questions.record(
        chat_id=1, day=2, topic="allergy", level="urgent", escalate=True
    )
    assert recorded is not None and recorded.escalation_id is not None
    raised = recorded.escalation_id
    assert await world.questions.share(chat_id=1, escalation_id=raised, text="lips swelling")

    clock.advance(timedelta(hours=1))
    await world.clinics.join_patient(code=await world.patient_link(south), chat_id=1)
    assert await world.clinics.alerts(clinic_id=south.id) == []
    assert await world.clinics.alert(clinic_id=south.id, escalation_id=raised) is None
    assert await world.clinics.reply_target(clinic_id=south.id, escalation_id=raised) is None
    (kept,) = await world.clinics.alerts(clinic_id=north.id)
    assert (kept.id, kept.moved, kept.shared_text) == (raised, True, "lips swelling")
    assert await world.clinics.reply_target(clinic_id=north.id, escalation_id=raised) is None
    # A new question is the new clinic's.
    later = await world.questions.record(
        chat_id=1, day=2, topic="bleeding", level="clinic", escalate=True
    )
    assert later is not None and later.escalation_id is not None
    (theirs,) = await world.clinics.alerts(clinic_id=south.id)
    assert (theirs.id, theirs.moved) == (later.escalation_id, False)
    # Words shared later with the old alert go nowhere.
    assert not await world.questions.share(chat_id=1, escalation_id=raised, text="more")
    # Back to North: its open alert is its conversation again.
    await world.clinics.join_patient(code=await world.patient_link(north), chat_id=1)
    (back,) = await world.clinics.alerts(clinic_id=north.id)
    assert back.moved is False
    assert await world.clinics.reply_target(clinic_id=north.id, escalation_id=raised) is not None


# Replies of patients to their clinic


async def test_a_patient_reply_finds_its_thread_by_message_or_within_a_day(
    world: World, clock: FakeClock
) -> None:
    north, _ = await world.clinic("North Clinic")
    await world.care.consent(chat_id=1)
    await world.clinics.join_patient(code=await world.patient_link(north), chat_id=1)
    assert await world.clinics.patient_reply(chat_id=1, reply_to_message_id=None) is None
    recorded = await world.questions.record(
        chat_id=1, day=2, topic="allergy", level="urgent", escalate=True
    )
    assert recorded is not None and recorded.escalation_id is not None
    raised = recorded.escalation_id
    # No clinic message yet: nothing is a reply.
    assert await world.clinics.patient_reply(chat_id=1, reply_to_message_id=None) is None
    await world.clinics.record_relay(clinic_id=north.id, escalation_id=raised, message_id=77)
    found = await world.clinics.patient_reply(chat_id=1, reply_to_message_id=None)
    assert found is not None and (found.alert.id, found.clinic.id) == (raised, north.id)
    clock.advance(timedelta(hours=25))
    assert await world.clinics.patient_reply(chat_id=1, reply_to_message_id=None) is None
    assert await world.clinics.patient_reply(chat_id=1, reply_to_message_id=78) is None
    admin = await world.clinics.join_staff(
        code=(await world.clinics.invite(clinic_id=north.id, kind=InviteKind.STAFF)).code,
        chat_id=500,
        name=None,
    )
    assert await world.clinics.resolve(clinic_id=north.id, escalation_id=raised, staff_id=admin.id)
    reopened = await world.clinics.patient_reply(chat_id=1, reply_to_message_id=77)
    assert reopened is not None and reopened.reopened
    assert [a.id for a in await world.clinics.alerts(clinic_id=north.id)] == [raised]
    # Another clinic's relay is never found for a patient who is not theirs.
    await world.care.consent(chat_id=2)
    assert await world.clinics.patient_reply(chat_id=2, reply_to_message_id=77) is None


# Staff: the team, and removing someone


async def test_removing_staff_keeps_the_last_admin_and_is_clinic_scoped(world: World) -> None:
    north, north_admin = await world.clinic("North Clinic")
    south, south_admin = await world.clinic("South Clinic")
    founder = await world.clinics.join_staff(code=north_admin.code, chat_id=500, name="Founder")
    await world.clinics.join_staff(code=south_admin.code, chat_id=600, name=None)
    nurse_code = (await world.clinics.invite(clinic_id=north.id, kind=InviteKind.STAFF)).code
    nurse = await world.clinics.join_staff(code=nurse_code, chat_id=501, name="Nurse")
    assert [m.chat_id for m in await world.clinics.team(clinic_id=north.id)] == [500, 501]

    async def refusal(**kw: int) -> StaffProblem:
        with pytest.raises(StaffError) as raised:
            await world.clinics.remove_staff(**kw)
        return raised.value.problem

    assert await refusal(clinic_id=south.id, chat_id=501) is StaffProblem.NOT_FOUND
    assert await refusal(clinic_id=north.id, chat_id=500) is StaffProblem.LAST_ADMIN
    assert (
        await refusal(clinic_id=north.id, staff_id=nurse.id, by_staff_id=nurse.id)
        is StaffProblem.SELF
    )
    removed = await world.clinics.remove_staff(clinic_id=north.id, chat_id=501)
    assert (removed.chat_id, removed.role) == (501, StaffRole.STAFF)
    assert await world.clinics.staff(chat_id=501) is None
    assert [m.id for m in await world.clinics.team(clinic_id=north.id)] == [founder.id]
    assert await refusal(clinic_id=north.id, chat_id=501) is StaffProblem.NOT_FOUND


async def test_a_member_revokes_only_the_invites_they_made(world: World) -> None:
    north, north_admin = await world.clinic("North Clinic")
    admin = await world.clinics.join_staff(code=north_admin.code, chat_id=500, name=None)
    nurse_code = (await world.clinics.invite(clinic_id=north.id, kind=InviteKind.STAFF)).code
    nurse = await world.clinics.join_staff(code=nurse_code, chat_id=501, name=None)
    admins = await world.clinics.invite(
        clinic_id=north.id, kind=InviteKind.PATIENT, created_by=admin.id
    )
    own = await world.clinics.invite(
        clinic_id=north.id, kind=InviteKind.PATIENT, created_by=nurse.id
    )
    assert (
        await world.clinics.revoke(clinic_id=north.id, invite_id=admins.id, created_by=nurse.id)
        == 0
    )
    assert (
        await world.clinics.revoke(clinic_id=north.id, invite_id=own.id, created_by=nurse.id) == 1
    )
    assert await world.clinics.revoke(clinic_id=north.id, invite_id=admins.id) == 1


async def test_a_patient_who_switched_clinic_gets_no_more_of_the_old_clinics_broadcasts(
    world: World,
) -> None:
    """The check just before each broadcast send: still the broadcasting clinic's patient."""
    north, _ = await world.clinic("North Clinic")
    south, _ = await world.clinic("South Clinic")
    for chat_id in (1, 2):
        await world.care.consent(chat_id=chat_id)
        await world.clinics.join_patient(code=await world.patient_link(north), chat_id=chat_id)
    async with world.database.session() as session:
        broadcast = Broadcast(clinic_id=north.id, text="News", created_at=NOW)
        session.add(broadcast)
        await session.flush()
        rows = {}
        for chat_id in (1, 2):
            patient = await session.scalar(select(Patient).where(Patient.chat_id == chat_id))
            assert patient is not None
            row = copy_row(broadcast_id=broadcast.id, patient_id=patient.id, chat_id=chat_id,
                           now=world.clock.now(), claimed_by="w")  # fmt: skip
            session.add(row)
            await session.flush()
            rows[chat_id] = row.id
        await session.commit()
    await world.clinics.join_patient(code=await world.patient_link(south), chat_id=2)
    async with world.database.session() as session:
        checks, ready = await BroadcastRepository(session).prepare_many(
            recipient_ids=list(rows.values()), owner="w", lease_until=NOW + timedelta(minutes=5)
        )
        await session.commit()
    assert checks == {rows[1]: RecipientCheck.READY, rows[2]: RecipientCheck.INACTIVE}
    assert set(ready) == {rows[1]}
