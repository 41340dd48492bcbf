"""Clinic broadcasts: audiences, exactly-once delivery by the one sender, errors, cancel,
restart, races."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day

import pytest
from sqlalchemy import select, update

from scheduler.broadcasts.audience import Audience
from scheduler.broadcasts.copies import BroadcastCopies
from scheduler.broadcasts.errors import (
    AudienceError,
    BroadcastTimeError,
    BroadcastTooLong,
    TimeProblem,
    UnknownPhase,
)
from scheduler.broadcasts.report import BroadcastReport
from scheduler.broadcasts.rules import LABEL_ROOM, MAX_TEXT, text_limit
from scheduler.broadcasts.service import BroadcastService
from scheduler.clock import FakeClock, MonotonicClock, SystemMonotonic
from scheduler.outbox.metrics import Metrics, SendOutcome
from scheduler.outbox.notifier import (
    MessageRejectedError,
    RecipientGoneError,
    TransientDeliveryError,
)
from scheduler.outbox.sender import RunnerSettings
from storage.database import Database
from storage.models import (
    Broadcast,
    BroadcastStatus,
    Clinic,
    OutboxMessage,
    Patient,
    PatientStatus,
    RecipientStatus,
    Reminder,
    ReminderStatus,
    Staff,
    StaffRole,
    TreatmentSession,
)
from storage.reminders import NewReminder, Recipient, ReminderRepository
from tests.scheduler.harness import start_engine

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
TODAY = NOW.date()
# Quiet hours of the clinics and patients here unless a test says otherwise: NOW (04:00 UTC)
# and the hours after it are outside them, so copies go at once.
QUIET = (time_of_day(22), time_of_day(2))
FAST = {"backoff": 0.01}


@dataclass
class FakeTransport:
    """Records every send (with the time on ``clock``); raises the queued errors of a chat
    first (``always``: forever)."""

    delay: float = 0.0
    clock: MonotonicClock = field(default_factory=SystemMonotonic)
    sends: list[int] = field(default_factory=list)
    calls: list[tuple[int, float]] = field(default_factory=list)
    errors: dict[int, list[Exception]] = field(default_factory=dict)
    always: dict[int, Exception] = field(default_factory=dict)
    texts: list[tuple[str, str | None]] = field(default_factory=list)
    on_send: list[object] = field(default_factory=list)

    clinics: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)

    async def send(
        self, *, chat_id: int, text: str, photo: str | None, clinic: str, language: str = "en"
    ) -> None:
        self.calls.append((chat_id, self.clock.monotonic()))
        if chat_id in self.always:
            raise self.always[chat_id]
        queued = self.errors.get(chat_id)
        if queued:
            raise queued.pop(0)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.sends.append(chat_id)
        self.texts.append((text, photo))
        self.clinics.append(clinic)
        self.languages.append(language)
        for hook in self.on_send:
            await hook(chat_id)  # type: ignore[operator]


@dataclass
class Reports:
    """A reporter that records what it was told."""

    progress_reports: list[BroadcastReport] = field(default_factory=list)
    progress_times: list[float] = field(default_factory=list)
    finished_reports: list[BroadcastReport] = field(default_factory=list)
    fail: bool = False

    async def progress(self, report: BroadcastReport) -> None:
        self.progress_reports.append(report)
        self.progress_times.append(time.monotonic())
        if self.fail:
            raise RuntimeError("the report message could not be edited")

    async def finished(self, report: BroadcastReport) -> None:
        self.finished_reports.append(report)
        if self.fail:
            raise RuntimeError("the report message could not be edited")


async def add_clinic(
    database: Database,
    name: str = "Glow",
    *,
    quiet: tuple[time_of_day, time_of_day] = QUIET,
    timezone: str = "UTC",
) -> tuple[int, int]:
    """A clinic and one admin; returns (clinic id, staff id)."""
    async with database.session() as session:
        clinic = Clinic(name=name, timezone=timezone, plan_id="microneedling",
                        quiet_start=quiet[0], quiet_end=quiet[1],
                        created_at=NOW)  # fmt: skip
        session.add(clinic)
        await session.flush()
        staff = Staff(clinic_id=clinic.id, chat_id=-clinic.id * 1000, role=StaffRole.ADMIN,
                      created_at=NOW)  # fmt: skip
        session.add(staff)
        await session.commit()
        return clinic.id, staff.id


async def add_patient(
    database: Database,
    clinic_id: int | None,
    chat_id: int,
    *,
    status: PatientStatus = PatientStatus.ACTIVE,
    opt_out: bool = False,
    language: str = "en",
    timezone: str = "UTC",
    last_seen_at: datetime | None = None,
    created_at: datetime = NOW - timedelta(days=1),
    sessions: tuple[tuple[date, datetime | None], ...] = (),
    reminders: int = 0,
    quiet: tuple[time_of_day, time_of_day] = QUIET,
) -> int:
    """A patient with sessions (date, booked_at), numbered in order; returns the id."""
    async with database.session() as session:
        patient = Patient(chat_id=chat_id, clinic_id=clinic_id, status=status,
                          news_opt_out=opt_out, language=language, timezone=timezone,
                          quiet_start=quiet[0], quiet_end=quiet[1],
                          last_seen_at=last_seen_at, created_at=created_at,
                          updated_at=created_at)  # fmt: skip
        session.add(patient)
        await session.flush()
        for number, (session_date, booked_at) in enumerate(sessions, start=1):
            treatment = TreatmentSession(patient_id=patient.id, session_date=session_date,
                                         number=number, plan_id="microneedling",
                                         created_at=NOW, booked_at=booked_at)  # fmt: skip
            session.add(treatment)
            await session.flush()
            if reminders:
                await ReminderRepository(session).add_many(
                    recipient=Recipient(treatment.id, patient.id, patient.chat_id),
                    now=NOW,
                    reminders=[
                        NewReminder(f"m{i}", NOW + timedelta(days=i + 1), NOW + timedelta(days=9))
                        for i in range(reminders)
                    ],
                )
        await session.commit()
        return patient.id


async def add_patients(database: Database, clinic_id: int, chat_ids: range) -> None:
    for chat_id in chat_ids:
        await add_patient(database, clinic_id, chat_id)


async def recipients(database: Database, broadcast_id: int) -> dict[int, OutboxMessage]:
    """The broadcast's copies (rows of the outbox), by chat."""
    async with database.session() as session:
        rows = await session.execute(
            select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id)
        )
        return {row.chat_id: row for row in rows.scalars()}


async def broadcast_status(database: Database, broadcast_id: int) -> BroadcastStatus:
    async with database.session() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        return broadcast.status


async def send_now(
    service: BroadcastService,
    clinic_id: int,
    staff_id: int,
    audience: str = "all",
    text: str = "We are open on Saturday",
) -> tuple[int, int]:
    """Create, target and confirm a broadcast for now; (broadcast id, recipient count)."""
    broadcast_id = await service.create(clinic_id, staff_id, text)
    await service.set_audience(broadcast_id, clinic_id, audience)
    count = await service.confirm(broadcast_id, clinic_id, report_chat_id=-1)
    return broadcast_id, count


def sender(
    database: Database, transport: FakeTransport, clock: FakeClock, **options: object
) -> BroadcastCopies:
    settings: dict[str, object] = {**FAST, "worker_id": "w1", **options}
    return BroadcastCopies(database=database, transport=transport, clock=clock, **settings)  # type: ignore[arg-type]


# -- audiences ------------------------------------------------------------------------------


def test_audience_strings_round_trip_and_invalid_ones_are_refused() -> None:
    for text in ("all", "phase:first_week", "due:14", "silent:30", "lang:ur"):
        assert str(Audience.parse(text)) == text
    assert Audience.parse(" Due:7 ") == Audience("due", days=7)
    for bad in ("", "everyone", "due:x", "due:0", "due:-3", "silent:", "phase:", "lang:Urdu!",
                "phase:first week", "due:9999"):  # fmt: skip
        with pytest.raises(AudienceError, match=r"\w"):
            Audience.parse(bad)


async def chats_of(service: BroadcastService, database: Database, clinic_id: int,
                   staff_id: int, audience: str) -> set[int]:  # fmt: skip
    """The chats a broadcast to ``audience`` is materialised for (and the preview agrees)."""
    preview = await service.count(clinic_id, audience)
    broadcast_id, count = await send_now(service, clinic_id, staff_id, audience)
    chats = set(await recipients(database, broadcast_id))
    assert preview == count == len(chats)
    return chats


async def test_audiences_select_exactly_the_right_patients(
    database: Database, clock: FakeClock
) -> None:
    clinic, staff = await add_clinic(database)
    other, _ = await add_clinic(database, "Other")
    d = timedelta
    # everyone who may receive news
    await add_patient(
        database,
        clinic,
        1,
        last_seen_at=NOW - d(days=40),
        sessions=((TODAY - d(days=40), None), (TODAY - d(days=3), None)),
    )
    await add_patient(
        database,
        clinic,
        2,
        language="ur",
        created_at=NOW - d(days=10),
        sessions=((TODAY - d(days=10), None),),
    )
    await add_patient(
        database, clinic, 3, created_at=NOW - d(days=60), sessions=((TODAY - d(days=25), None),)
    )
    await add_patient(
        database,
        clinic,
        4,
        last_seen_at=NOW - d(days=5),
        created_at=NOW - d(days=90),
        sessions=((TODAY - d(days=25), NOW),),
    )
    await add_patient(database, clinic, 5, sessions=((TODAY - d(days=21), None),))
    await add_patient(database, clinic, 6, sessions=((TODAY - d(days=20), None),))
    await add_patient(database, clinic, 7, sessions=((TODAY - d(days=30), None),))
    # 04:00 UTC is still 19 November in Los Angeles: day 1 there (first_48h), not day 2
    await add_patient(
        database, clinic, 8, timezone="America/Los_Angeles", sessions=((date(2026, 11, 18), None),)
    )
    await add_patient(database, clinic, 9)  # no session yet
    # never included
    for chat, kwargs in (
        (20, {"status": PatientStatus.PAUSED}),
        (21, {"status": PatientStatus.STOPPED}),
        (22, {"opt_out": True}),
    ):
        await add_patient(
            database,
            clinic,
            chat,
            created_at=NOW - d(days=90),
            sessions=((TODAY - d(days=3), None),),
            **kwargs,
        )
    await add_patient(
        database, other, 30, created_at=NOW - d(days=90), sessions=((TODAY - d(days=3), None),)
    )
    await add_patient(database, None, 31, sessions=((TODAY - d(days=3), None),))  # fmt: skip

    service = BroadcastService(database=database, clock=clock)
    assert await chats_of(service, database, clinic, staff, "all") == set(range(1, 10))
    assert await chats_of(service, database, clinic, staff, "lang:ur") == {2}
    # last seen 40 days ago; never seen and enrolled 60 days ago
    assert await chats_of(service, database, clinic, staff, "silent:30") == {1, 3}
    assert await chats_of(service, database, clinic, staff, "phase:first_week") == {1}
    assert await chats_of(service, database, clinic, staff, "phase:first_48h") == {8}
    assert await chats_of(service, database, clinic, staff, "phase:results") == {2, 3, 4, 5, 6}
    assert await chats_of(service, database, clinic, staff, "phase:next_session") == {7}
    # due = latest + 28 days within [today, today + 7], and not booked
    assert await chats_of(service, database, clinic, staff, "due:7") == {3, 5}
    assert await chats_of(service, database, clinic, staff, "due:8") == {3, 5, 6}
    assert await service.count(other, "all") == 1

    draft = await service.create(clinic, staff, "x")
    with pytest.raises(UnknownPhase, match="no phase 'healing'"):
        await service.set_audience(draft, clinic, "phase:healing")


# -- delivery -------------------------------------------------------------------------------


async def test_sends_each_recipient_once_with_text_photo_and_report(
    database: Database, clock: FakeClock
) -> None:
    clinic, staff = await add_clinic(database)
    await add_patients(database, clinic, range(100, 110))
    service = BroadcastService(database=database, clock=clock)
    broadcast_id = await service.create(clinic, staff, "Open late", photo="AgACAgIAAx")
    assert await service.confirm(broadcast_id, clinic, report_chat_id=-7) == 10
    transport, reports = FakeTransport(), Reports()
    await sender(database, transport, clock, reporter=reports).run_until_idle()

    assert sorted(transport.sends) == list(range(100, 110))
    assert set(transport.texts) == {("Open late", "AgACAgIAAx")}
    assert await broadcast_status(database, broadcast_id) is BroadcastStatus.DONE
    (final,) = reports.finished_reports
    assert (final.status, final.total, final.sent, final.remaining) == (
        BroadcastStatus.DONE, 10, 10, 0)  # fmt: skip
    assert (final.report_chat_id, final.text, final.photo) == (-7, "Open late", "AgACAgIAAx")
    rows = await recipients(database, broadcast_id)
    assert all(r.status is RecipientStatus.SENT and r.finished_at == NOW for r in rows.values())


async def test_report_counts_are_exact(database: Database, clock: FakeClock) -> None:
    clinic, staff = await add_clinic(database)
    await add_patients(database, clinic, range(200, 205))
    await add_patient(database, clinic, 205)  # paused after the audience was chosen
    await add_patient(database, clinic, 206)  # opts out after the audience was chosen
    await add_patient(database, clinic, 207)  # 400
    await add_patient(database, clinic, 208)  # 403
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, count = await send_now(service, clinic, staff)
    assert count == 9
    async with database.session() as session:
        await session.execute(
            update(Patient).where(Patient.chat_id == 205).values(status=PatientStatus.PAUSED)
        )
        await session.execute(
            update(Patient).where(Patient.chat_id == 206).values(news_opt_out=True)
        )
        await session.commit()
    transport = FakeTransport(always={207: MessageRejectedError("400 bad caption"),
                                      208: RecipientGoneError("403 blocked")})  # fmt: skip
    await sender(database, transport, clock).run_until_idle()

    report = await service.report(broadcast_id, clinic)
    assert (report.total, report.sent, report.failed, report.skipped, report.cancelled,
            report.remaining) == (9, 5, 2, 2, 0, 0)  # fmt: skip
    assert report.status is BroadcastStatus.DONE
    assert sorted(transport.sends) == list(range(200, 205))
    # a 400 is failed at once: one call only
    assert [c for c, _ in transport.calls].count(207) == 1
    rows = await recipients(database, broadcast_id)
    assert {rows[205].status, rows[206].status} == {RecipientStatus.SKIPPED}


async def test_403_stops_the_patient_and_cancels_their_reminders(
    database: Database, clock: FakeClock
) -> None:
    clinic, staff = await add_clinic(database)
    gone = await add_patient(database, clinic, 300, sessions=((TODAY, None),), reminders=3)
    kept = await add_patient(database, clinic, 301, sessions=((TODAY, None),), reminders=3)
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, _ = await send_now(service, clinic, staff)
    transport = FakeTransport(always={300: RecipientGoneError("403 Forbidden: bot was blocked")})
    await sender(database, transport, clock).run_until_idle()

    rows = await recipients(database, broadcast_id)
    assert rows[300].status is RecipientStatus.FAILED and rows[300].attempts == 1
    assert rows[301].status is RecipientStatus.SENT
    async with database.session() as session:
        status = dict((await session.execute(select(Patient.id, Patient.status))).all())
        reminders = ReminderRepository(session)
        gone_reminders = {r.status for r in await reminders.for_patient(patient_id=gone)}
        kept_reminders = {r.status for r in await reminders.for_patient(patient_id=kept)}
    assert status == {gone: PatientStatus.STOPPED, kept: PatientStatus.ACTIVE}
    assert gone_reminders == {ReminderStatus.CANCELLED}
    assert kept_reminders == {ReminderStatus.PENDING}
    assert [c for c, _ in transport.calls].count(300) == 1


async def test_a_429_past_the_budget_waits_its_retry_after_and_is_not_an_attempt(
    database: Database, clock: FakeClock
) -> None:
    """The budget paces every send and absorbs Telegram's 429s; one that still reaches the
    copy makes it wait the ``retry_after`` asked for and try again, without counting an
    attempt, and everyone gets exactly one copy."""
    clinic, staff = await add_clinic(database)
    await add_patients(database, clinic, range(400, 420))
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, _ = await send_now(service, clinic, staff)
    transport = FakeTransport(errors={405: [TransientDeliveryError("429", retry_after=0.1)] * 2})
    await sender(database, transport, clock, concurrency=1).run_until_idle()

    assert Counter(transport.sends) == Counter(range(400, 420))
    rows = await recipients(database, broadcast_id)
    assert rows[405].status is RecipientStatus.SENT and rows[405].attempts == 0
    tries = [t for c, t in transport.calls if c == 405]
    assert len(tries) == 3 and all(b - a >= 0.09 for a, b in itertools.pairwise(tries))


async def test_transient_errors_are_retried_then_failed_after_three(
    database: Database, clock: FakeClock
) -> None:
    clinic, staff = await add_clinic(database)
    await add_patients(database, clinic, range(500, 504))
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, _ = await send_now(service, clinic, staff)
    transport = FakeTransport(
        always={500: TransientDeliveryError("timeout")},
        errors={501: [TransientDeliveryError("network: reset")]},
    )
    await sender(database, transport, clock).run_until_idle()

    calls = Counter(c for c, _ in transport.calls)
    assert calls == {500: 3, 501: 2, 502: 1, 503: 1}
    rows = await recipients(database, broadcast_id)
    assert (rows[500].status, rows[500].attempts, rows[500].error) == (
        RecipientStatus.FAILED, 3, "timeout")  # fmt: skip
    assert (rows[501].status, rows[501].attempts) == (RecipientStatus.SENT, 1)
    assert sorted(transport.sends) == [501, 502, 503]


async def test_cancel_during_delivery_stops_it(database: Database, clock: FakeClock) -> None:
    clinic, staff = await add_clinic(database)
    await add_patients(database, clinic, range(600, 630))
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, _ = await send_now(service, clinic, staff)
    transport, reports = FakeTransport(), Reports()

    async def cancel_at_third(chat_id: int) -> None:
        if len(transport.sends) == 3:
            assert await service.cancel(broadcast_id, clinic)

    transport.on_send.append(cancel_at_third)
    await sender(database, transport, clock, concurrency=1, reporter=reports).run_until_idle()

    assert transport.sends == [600, 601, 602]
    report = await service.report(broadcast_id, clinic)
    assert report.status is BroadcastStatus.CANCELLED
    assert (report.sent, report.cancelled, report.remaining) == (3, 27, 0)
    assert [r.status for r in reports.finished_reports] == [BroadcastStatus.CANCELLED]
    assert not await service.cancel(broadcast_id, clinic)  # already cancelled


async def test_restart_in_the_middle_resumes_without_duplicates_or_loss(
    database: Database, clock: FakeClock
) -> None:
    clinic, staff = await add_clinic(database)
    await add_patients(database, clinic, range(700, 720))
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, _ = await send_now(service, clinic, staff)
    transport = FakeTransport()
    first = sender(database, transport, clock, worker_id="first", concurrency=1)
    stop_requested = asyncio.Event()

    async def stop_after_five(chat_id: int) -> None:
        if len(transport.sends) == 5:
            stop_requested.set()

    transport.on_send.append(stop_after_five)
    async with asyncio.timeout(10):  # the sender's stop: asked before each send
        done = await first.deliver(limit=50, stopping=stop_requested.is_set)
    assert done.claimed == 20
    sent_first = list(transport.sends)
    assert 5 <= len(sent_first) <= 6
    rows = await recipients(database, broadcast_id)
    unsent = sorted(c for c, r in rows.items() if r.status is RecipientStatus.PENDING)
    # A graceful stop gives back what it had claimed but not started: nothing waits a lease.
    assert len(unsent) == 20 - len(sent_first)
    assert all(rows[c].claimed_by is None for c in unsent)
    # Another process died holding claims: three with a live lease, one run out.
    crashed, expired = unsent[:3], unsent[3]
    async with database.session() as session:
        for chat_id, lease in [(c, NOW + timedelta(minutes=2)) for c in crashed] + [
            (expired, NOW - timedelta(seconds=1))
        ]:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == rows[chat_id].id)
                .values(claimed_by="dead", lease_until=lease)
            )
        await session.commit()

    second = sender(database, transport, clock, worker_id="second")
    await second.run_until_idle()
    assert sorted(transport.sends[len(sent_first) :]) == sorted(set(unsent) - set(crashed))
    assert await broadcast_status(database, broadcast_id) is BroadcastStatus.SENDING

    clock.advance(timedelta(minutes=2, seconds=1))  # the dead process's leases run out
    await second.run_until_idle()
    assert Counter(transport.sends) == Counter(range(700, 720))
    assert await broadcast_status(database, broadcast_id) is BroadcastStatus.DONE
    rows = await recipients(database, broadcast_id)
    assert {r.status for r in rows.values()} == {RecipientStatus.SENT}
    assert Counter(r.claimed_by for r in rows.values()) == {
        "first": len(sent_first), "second": 20 - len(sent_first)}  # fmt: skip


async def test_two_senders_at_once_send_each_recipient_exactly_once(
    database: Database, clock: FakeClock
) -> None:
    clinic, staff = await add_clinic(database)
    await add_patients(database, clinic, range(800, 860))
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, _ = await send_now(service, clinic, staff)
    transport = FakeTransport(delay=0.002)
    one = sender(database, transport, clock, worker_id="one", batch=5, concurrency=4)
    two = sender(database, transport, clock, worker_id="two", batch=5, concurrency=4)
    await asyncio.gather(one.run_until_idle(), two.run_until_idle())

    assert Counter(transport.sends) == Counter(range(800, 860))
    assert one.sent > 0 and two.sent > 0 and one.sent + two.sent == 60
    assert await broadcast_status(database, broadcast_id) is BroadcastStatus.DONE
    report = await service.report(broadcast_id, clinic)
    assert (report.total, report.sent, report.remaining) == (60, 60, 0)


async def test_a_copy_waiting_for_the_budget_keeps_its_claim_and_goes_once(
    database: Database, clock: FakeClock
) -> None:
    """At a peak a copy waits its turn in the Telegram budget far longer than a lease: its
    claim is renewed meanwhile, so a second worker never takes and sends it too, and the wait
    is not a failed attempt."""
    clinic, staff = await add_clinic(database)
    await add_patient(database, clinic, 700)
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, _ = await send_now(service, clinic, staff)
    budget_turn = asyncio.Event()
    waiting = asyncio.Event()

    transport = FakeTransport()

    async def slow_send(**kwargs: object) -> None:
        waiting.set()
        await budget_turn.wait()  # the budget lets it through only now
        await FakeTransport.send(transport, **kwargs)  # type: ignore[arg-type]

    first = sender(database, transport, clock, worker_id="first", lease=timedelta(minutes=2))
    first.transport = type("Slow", (), {"send": staticmethod(slow_send)})()  # type: ignore[assignment]
    running = asyncio.create_task(first.run_until_idle())
    await asyncio.wait_for(waiting.wait(), timeout=10)
    second_transport = FakeTransport()
    second = sender(database, second_transport, clock, worker_id="second")
    for _ in range(5):  # ten minutes of waiting, in steps shorter than the lease
        clock.advance(timedelta(minutes=2) - timedelta(seconds=1))
        assert await first.renew_leases() == 1
        await second.run_until_idle()
    assert second_transport.sends == []
    budget_turn.set()
    await asyncio.wait_for(running, timeout=10)
    assert transport.sends == [700]
    report = await service.report(broadcast_id, clinic)
    assert (report.sent, report.failed, report.remaining) == (1, 0, 0)
    assert await first.renew_leases() == 0, "nothing in flight any more"


async def test_a_stop_does_not_wait_for_a_copy_stuck_behind_the_budget(
    database: Database, clock: FakeClock
) -> None:
    """A copy that never gets its turn does not hold the sender's stop past its grace; it
    was not sent, so once its lease runs out another worker sends it, once."""
    clinic, staff = await add_clinic(database)
    await add_patient(database, clinic, 700)
    service = BroadcastService(database=database, clock=clock)
    await send_now(service, clinic, staff)
    waiting = asyncio.Event()

    async def never(**kwargs: object) -> None:
        waiting.set()
        await asyncio.Event().wait()  # the budget never lets it through

    first = sender(database, FakeTransport(), clock, worker_id="first")
    first.transport = type("Stuck", (), {"send": staticmethod(never)})()  # type: ignore[assignment]
    engine = await start_engine(
        database, clock, settings=RunnerSettings(stop_grace=timedelta(seconds=0.1))
    )
    engine.runner.take_copies(first)
    first.wake()
    await asyncio.wait_for(waiting.wait(), timeout=10)
    await asyncio.wait_for(engine.runner.shutdown(), timeout=10)

    second_transport = FakeTransport()
    second = sender(database, second_transport, clock, worker_id="second")
    await second.run_until_idle()
    assert second_transport.sends == [], "the claim holds until its lease runs out"
    clock.advance(timedelta(minutes=2, seconds=1))
    await second.run_until_idle()
    assert second_transport.sends == [700]


# -- progress, and the one sender ---------------------------------------------------------


async def test_progress_is_reported_and_reporter_errors_do_not_stop_delivery(
    database: Database, clock: FakeClock
) -> None:
    clinic, staff = await add_clinic(database)
    await add_patients(database, clinic, range(1300, 1320))
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, _ = await send_now(service, clinic, staff)
    transport, reports = FakeTransport(delay=0.01), Reports(fail=True)
    worker = sender(database, transport, clock, reporter=reports, concurrency=1,
                    progress_interval=0.05)  # fmt: skip
    await worker.run_until_idle()

    assert sorted(transport.sends) == list(range(1300, 1320))
    assert len(reports.progress_reports) >= 1
    gaps = [b - a for a, b in zip(reports.progress_times, reports.progress_times[1:], strict=False)]
    assert all(gap >= 0.045 for gap in gaps)
    assert all(r.status is BroadcastStatus.SENDING for r in reports.progress_reports)
    assert all(r.broadcast_id == broadcast_id and r.total == 20 for r in reports.progress_reports)
    (final,) = reports.finished_reports
    assert (final.status, final.sent) == (BroadcastStatus.DONE, 20)


async def test_the_one_sender_delivers_copies_on_wake_after_the_due_reminders(
    database: Database, clock: FakeClock
) -> None:
    """Copies go through the reminder sender: a confirmed broadcast wakes it, and in its
    pass the reminder that is due goes before any copy."""
    clinic, staff = await add_clinic(database)
    await add_patients(database, clinic, range(1400, 1405))
    engine = await start_engine(database, clock)
    order: list[tuple[str, int]] = []
    engine.notifier.on_send = lambda reminder: order.append(("reminder", reminder.chat_id))
    transport = FakeTransport()

    async def note_copy(chat_id: int) -> None:
        order.append(("copy", chat_id))

    transport.on_send.append(note_copy)
    copies = sender(database, transport, clock)
    engine.runner.take_copies(copies)
    try:
        await engine.care.register_session(chat_id=1499, session_date=TODAY)
        await engine.tick()
        order.clear()
        clock.advance(timedelta(hours=10))  # 18:00 in Karachi: day0_evening is due
        service = BroadcastService(database=database, clock=clock)
        broadcast_id, _ = await send_now(service, clinic, staff)
        copies.wake()
        async with asyncio.timeout(10):
            while await broadcast_status(database, broadcast_id) is not BroadcastStatus.DONE:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        await engine.stop()
    assert sorted(transport.sends) == list(range(1400, 1405))
    assert order[0] == ("reminder", 1499)
    assert sorted(order[1:]) == [("copy", c) for c in range(1400, 1405)]
    assert engine.notifier.milestones(1499)[-1] == "day0_evening"


async def test_reminders_of_other_patients_untouched_by_a_broadcast(
    database: Database, clock: FakeClock
) -> None:
    """A broadcast is not a reminder: sending one leaves the reminder rows as they were."""
    clinic, staff = await add_clinic(database)
    await add_patient(database, clinic, 1500, sessions=((TODAY, None),), reminders=2)
    service = BroadcastService(database=database, clock=clock)
    await send_now(service, clinic, staff)
    await sender(database, FakeTransport(), clock).run_until_idle()
    async with database.session() as session:
        statuses = set((await session.execute(select(Reminder.status))).scalars())
    assert statuses == {ReminderStatus.PENDING}


# -- quiet hours, expiry, the clinic's own patients -----------------------------------------

ASLEEP = (time_of_day(22), time_of_day(8))  # 04:00 UTC (NOW) is inside, in UTC


async def test_a_copy_waits_for_the_patients_quiet_hours_to_end_in_their_own_zone(
    database: Database, clock: FakeClock
) -> None:
    """04:00 UTC: asleep in London (until 08:00), awake in Karachi (09:00) and in Los Angeles
    (20:00 the evening before, quiet from 22:00). Each copy goes when its patient is awake,
    labelled with the clinic's name."""
    clinic, staff = await add_clinic(database, "North Clinic")
    await add_patient(database, clinic, 1601, timezone="Europe/London", quiet=ASLEEP)
    await add_patient(database, clinic, 1602, timezone="Asia/Karachi", quiet=ASLEEP)
    await add_patient(database, clinic, 1603, timezone="America/Los_Angeles", quiet=ASLEEP)
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, _ = await send_now(service, clinic, staff)
    transport, reports = FakeTransport(), Reports()
    worker = sender(database, transport, clock, reporter=reports)

    await worker.run_until_idle()
    assert sorted(transport.sends) == [1602, 1603]
    assert transport.clinics == ["North Clinic", "North Clinic"]
    report = await service.report(broadcast_id, clinic)
    assert (report.status, report.sent, report.held, report.remaining) == (
        BroadcastStatus.SENDING, 2, 1, 1)  # fmt: skip
    assert reports.finished_reports == []  # not finished while a copy waits

    clock.advance(timedelta(hours=3, minutes=59))  # 07:59 in London
    await worker.run_until_idle()
    assert sorted(transport.sends) == [1602, 1603]
    clock.advance(timedelta(minutes=1))  # 08:00: the quiet hours are over
    await worker.run_until_idle()
    assert sorted(transport.sends) == [1601, 1602, 1603]
    (final,) = reports.finished_reports
    assert (final.status, final.sent, final.skipped, final.held) == (
        BroadcastStatus.DONE, 3, 0, 0)  # fmt: skip


async def test_a_copy_quiet_until_after_the_expiry_is_skipped_and_counted(
    database: Database, clock: FakeClock
) -> None:
    """Confirmed at 04:00, but the sender only gets to it 20 hours later (00:00): a patient
    quiet until 06:00 would get it 26 hours late, past the 24-hour lifetime: skipped as
    expired. One with no quiet hours gets it; after the lifetime nobody does."""
    clinic, staff = await add_clinic(database)
    await add_patient(database, clinic, 1701, quiet=(time_of_day(23), time_of_day(6)))
    await add_patient(database, clinic, 1702, quiet=(time_of_day(0), time_of_day(0)))
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, _ = await send_now(service, clinic, staff)
    clock.advance(timedelta(hours=20))
    transport = FakeTransport()
    await sender(database, transport, clock).run_until_idle()
    assert transport.sends == [1702]
    report = await service.report(broadcast_id, clinic)
    assert (report.status, report.sent, report.skipped, report.expired) == (
        BroadcastStatus.DONE, 1, 1, 1)  # fmt: skip
    assert (await recipients(database, broadcast_id))[1701].error == "expired"

    late, _ = await send_now(service, clinic, staff, text="Too late")
    clock.advance(timedelta(hours=24))
    await sender(database, transport, clock).run_until_idle()
    assert transport.sends == [1702]
    report = await service.report(late, clinic)
    assert (report.status, report.sent, report.expired) == (BroadcastStatus.DONE, 0, 2)


async def test_a_patient_who_left_the_clinic_gets_nothing(
    database: Database, clock: FakeClock
) -> None:
    """Chosen when the broadcast was confirmed; by their turn one patient moved to another
    clinic and one was removed from the clinic: only the clinic's own patient gets it."""
    clinic, staff = await add_clinic(database)
    other, _ = await add_clinic(database, "Other")
    await add_patient(database, clinic, 1801)
    moved = await add_patient(database, clinic, 1802)
    removed = await add_patient(database, clinic, 1803)
    service = BroadcastService(database=database, clock=clock)
    broadcast_id, count = await send_now(service, clinic, staff)
    assert count == 3
    async with database.session() as session:
        await session.execute(update(Patient).where(Patient.id == moved).values(clinic_id=other))
        await session.execute(update(Patient).where(Patient.id == removed).values(clinic_id=None))
        await session.commit()
    transport = FakeTransport()
    await sender(database, transport, clock).run_until_idle()
    assert transport.sends == [1801]
    rows = await recipients(database, broadcast_id)
    assert rows[1801].status is RecipientStatus.SENT
    assert {(rows[c].status, rows[c].error) for c in (1802, 1803)} == {
        (RecipientStatus.SKIPPED, "not the clinic's patient")
    }


async def test_a_time_in_the_clinics_quiet_hours_far_ahead_or_past_is_refused(
    database: Database, clock: FakeClock
) -> None:
    """The clinic is quiet 22:00-08:00 (UTC); it is 04:00. 05:00 is refused with 08:00
    offered instead; the year 2100 and a minute ago are refused; the draft stays a draft."""
    clinic, staff = await add_clinic(database, quiet=ASLEEP)
    service = BroadcastService(database=database, clock=clock)
    broadcast_id = await service.create(clinic, staff, "Open day")
    for at, problem, offered in (
        (NOW + timedelta(hours=1), TimeProblem.QUIET, NOW.replace(hour=8)),
        (NOW.replace(day=22, hour=23, minute=30), TimeProblem.QUIET, NOW.replace(day=23, hour=8)),
        (datetime(2100, 1, 1, 12, tzinfo=UTC), TimeProblem.TOO_FAR, None),
        (NOW - timedelta(minutes=1), TimeProblem.PAST, None),
        (NOW + timedelta(days=31), TimeProblem.TOO_FAR, None),
    ):
        with pytest.raises(BroadcastTimeError) as refused:
            await service.confirm(broadcast_id, clinic, report_chat_id=-1, at=at)
        assert (refused.value.problem, refused.value.next_allowed) == (problem, offered)
    assert await broadcast_status(database, broadcast_id) is BroadcastStatus.DRAFT
    at = NOW.replace(hour=8)
    assert await service.confirm(broadcast_id, clinic, report_chat_id=-1, at=at) == 0
    assert (await service.report(broadcast_id, clinic)).scheduled_at == at


async def test_a_text_too_long_with_the_label_is_refused_with_the_limit(
    database: Database, clock: FakeClock
) -> None:
    clinic, staff = await add_clinic(database, "North Clinic")
    service = BroadcastService(database=database, clock=clock)
    limit = text_limit("North Clinic", photo=False)
    assert limit == MAX_TEXT - LABEL_ROOM - len("North Clinic")
    assert await service.create(clinic, staff, "x" * limit)
    with pytest.raises(BroadcastTooLong) as refused:
        await service.create(clinic, staff, "x" * (limit + 1))
    assert (refused.value.length, refused.value.limit) == (limit + 1, limit)


async def test_every_copy_attempt_is_counted_by_outcome(
    database: Database, clock: FakeClock
) -> None:
    clinic, staff = await add_clinic(database)
    await add_patients(database, clinic, range(600, 606))
    service = BroadcastService(database=database, clock=clock)
    await send_now(service, clinic, staff)
    transport = FakeTransport(
        always={600: TransientDeliveryError("timeout")},
        errors={
            601: [RecipientGoneError("403 Forbidden: bot was blocked")],
            602: [MessageRejectedError("400 Bad Request: can't parse entities")],
            603: [TransientDeliveryError("429", retry_after=0.01)],
        },
    )
    metrics = Metrics()
    await sender(database, transport, clock, metrics=metrics).run_until_idle()

    counted = {
        outcome.value: metrics.sends.labels("broadcast", "broadcast", outcome.value)._value.get()
        for outcome in SendOutcome
    }
    assert counted == {
        "sent": 3, "retry": 3, "failed": 1, "gone": 1, "rejected": 1,
        "expired": 0, "deferred": 0, "skipped": 0,
    }  # fmt: skip
    lateness = metrics.lateness.labels("broadcast", "broadcast")
    assert lateness._sum.get() == 0.0  # the fake clock stood still: sent at its time
    assert sum(b.get() for b in lateness._buckets) == 3
