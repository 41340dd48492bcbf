"""The outbox for messages to staff, on a real database: sent at once when it can be,
retried when Telegram fails, never lost, never sent twice by two processes, expired and
pruned by age."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from scheduler.clock import FakeClock
from scheduler.outbox.budget import Priority
from scheduler.outbox.messages import (
    MessageKind,
    Outbox,
    OutboxPolicy,
    OutgoingMessage,
    Post,
    Recipient,
)
from scheduler.outbox.notifier import RecipientGoneError, TransientDeliveryError
from scheduler.outbox.reminders import Dispatcher
from storage.database import Database
from storage.models import DeliveryLog, MessageStatus, OutboxMessage, Reminder, ReminderStatus
from tests.fakes import RecordingNotifier
from tests.plans import small_plan
from tests.scheduler.seeding import seed_due

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Staff:
    """A Telegram stand-in for the outbox: records what it accepted; a chat can be made to
    fail (transiently, or for good) for its next few sends."""

    def __init__(self, delay: float = 0.0) -> None:
        self.accepted: list[OutgoingMessage] = []
        self.failing: Counter[int] = Counter()
        self.gone: set[int] = set()
        self.delay = delay

    async def send_message(self, message: OutgoingMessage) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if message.chat_id in self.gone:
            raise RecipientGoneError("403 Forbidden: bot was blocked by the user")
        if self.failing[message.chat_id] > 0:
            self.failing[message.chat_id] -= 1
            raise TransientDeliveryError("502")
        self.accepted.append(message)


def outbox(database: Database, clock: FakeClock, staff: Staff | None, name: str = "w1") -> Outbox:
    return Outbox(database=database, clock=clock, worker_id=name, notifier=staff)


async def rows(database: Database) -> list[OutboxMessage]:
    async with database.session() as session:
        found = await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(found.scalars())


async def post(box: Outbox, *chats: int, body: str = "<b>URGENT</b> patient #1") -> int:
    return await box.post_and_send(
        Post(
            kind=MessageKind.ALERT,
            priority=Priority.ALERT,
            recipients=[Recipient(chat_id=c) for c in chats],
            body=body,
            buttons='{"inline_keyboard": []}',
        )
    )


async def test_a_message_goes_at_once_and_keeps_no_text_once_sent(database: Database) -> None:
    clock, staff = FakeClock(START), Staff()
    assert await post(outbox(database, clock, staff), 10, 11) == 2
    assert sorted(m.chat_id for m in staff.accepted) == [10, 11]
    assert {m.body for m in staff.accepted} == {"<b>URGENT</b> patient #1"}
    (first, second) = await rows(database)
    for row in (first, second):
        assert row.status is MessageStatus.SENT
        assert (row.body, row.buttons, row.claimed_by) == (None, None, None)
        assert row.attempts == 1 and row.finished_at == START


async def test_a_failed_send_is_retried_by_the_sender_and_never_lost(database: Database) -> None:
    clock, staff = FakeClock(START), Staff()
    staff.failing[10] = 2  # Telegram answers 502 twice
    box = outbox(database, clock, staff)
    assert await post(box, 10, 11) == 1  # the colleague got it; chat 10 did not
    (row, _) = await rows(database)
    assert row.status is MessageStatus.PENDING and row.body is not None
    assert row.due_at == START + timedelta(seconds=15) and row.error == "502"
    # Not due yet: the sender leaves it.
    assert await box.drain() == 0
    assert await box.next_wake() == START + timedelta(seconds=15)
    clock.advance(timedelta(seconds=15))
    assert await box.drain() == 0  # the second 502: backs off twice as long
    clock.advance(timedelta(seconds=30))
    assert await box.drain() == 1
    assert Counter(m.chat_id for m in staff.accepted) == {10: 1, 11: 1}
    (row, _) = await rows(database)
    assert (row.status, row.attempts, row.body) == (MessageStatus.SENT, 3, None)
    assert await box.drain() == 0  # nothing is sent twice


async def test_a_message_posted_by_a_process_that_cannot_send_is_sent_by_one_that_can(
    database: Database,
) -> None:
    """A crash between the post and the send, or a worker without a token: the row waits."""
    clock, staff = FakeClock(START), Staff()
    assert await post(outbox(database, clock, None), 10) == 0
    assert (await rows(database))[0].status is MessageStatus.PENDING
    assert await outbox(database, clock, staff, "w2").drain() == 1
    assert [m.chat_id for m in staff.accepted] == [10]


async def test_a_chat_that_blocked_the_bot_gets_nothing_more(database: Database) -> None:
    clock, staff = FakeClock(START), Staff()
    staff.failing[10] = 1
    box = outbox(database, clock, staff)
    await post(box, 10, body="first")
    staff.gone.add(10)
    clock.advance(timedelta(seconds=1))
    await post(box, 10, body="second")
    (first, second) = await rows(database)
    # The second found the chat gone; the first, waiting for its retry, is cancelled with it.
    assert second.status is MessageStatus.FAILED and second.error == "gone"
    assert first.status is MessageStatus.CANCELLED and first.body is None
    clock.advance(timedelta(minutes=5))
    assert await box.drain() == 0
    assert staff.accepted == []


async def test_stale_messages_expire_and_old_ones_are_pruned(database: Database) -> None:
    clock, staff = FakeClock(START), Staff()
    staff.failing[10] = 1000  # Telegram never takes it
    policy = OutboxPolicy(lifetime=timedelta(hours=1), keep_done=timedelta(days=2))
    box = Outbox(database=database, clock=clock, worker_id="w1", notifier=staff, policy=policy)
    await post(box, 10)
    await post(box, 11)
    for _ in range(12):
        clock.advance(timedelta(minutes=10))
        await box.expire_and_prune()
        await box.drain()
    kept = {r.chat_id: r for r in await rows(database)}
    assert kept[11].status is MessageStatus.SENT
    assert kept[10].status in (MessageStatus.EXPIRED, MessageStatus.FAILED)
    assert kept[10].body is None
    assert kept[10].attempts < 10  # backed off, not hammered
    clock.advance(timedelta(days=3))
    assert await box.expire_and_prune() == (0, 2)
    assert await rows(database) == []


async def test_the_delivery_log_is_pruned_by_age_and_reminders_keep_their_outcome(
    database: Database,
) -> None:
    clock = FakeClock(START)
    await seed_due(database, patients=2, per_patient=1, due_at=START, valid_for=timedelta(hours=1))
    dispatcher = Dispatcher(
        database=database,
        notifier=RecordingNotifier(clock),
        clock=clock,
        plans=lambda _plan_id, _language="en": small_plan(),
        worker_id="w1",
    )
    async with database.session() as session:
        ids = list((await session.execute(select(Reminder.id).order_by(Reminder.id))).scalars())
    await dispatcher.deliver(ids[0])
    clock.advance(timedelta(days=60))
    await dispatcher.deliver(ids[1])  # expired by now: logged 60 days later
    box = Outbox(
        database=database,
        clock=clock,
        worker_id="w1",
        notifier=Staff(),
        policy=OutboxPolicy(keep_done=timedelta(days=30)),
    )
    assert await box.expire_and_prune() == (0, 1)
    async with database.session() as session:
        logged = (await session.execute(select(DeliveryLog.reminder_id))).scalars().all()
        kept = (await session.execute(select(Reminder.status).order_by(Reminder.id))).scalars()
        assert list(logged) == [ids[1]]
        assert list(kept) == [ReminderStatus.SENT, ReminderStatus.EXPIRED]
    assert await box.expire_and_prune() == (0, 0)  # at most once an hour


async def test_two_processes_send_each_message_once(database: Database) -> None:
    """Two senders draining one outbox at the same time (as two workers on one PostgreSQL)."""
    clock, staff = FakeClock(START), Staff(delay=0.001)
    await outbox(database, clock, None).post(
        Post(
            kind=MessageKind.RELAY,
            priority=Priority.ALERT,
            recipients=[Recipient(chat_id=c) for c in range(300)],
            body="a patient's answer",
        )
    )
    first, second = outbox(database, clock, staff, "w1"), outbox(database, clock, staff, "w2")
    passes = await asyncio.gather(first.drain(limit=20), second.drain(limit=20))
    assert sum(passes) == 300
    assert Counter(m.chat_id for m in staff.accepted) == Counter(range(300))
    assert {r.status for r in await rows(database)} == {MessageStatus.SENT}


async def test_a_lapsed_claim_is_taken_again_and_the_late_writer_changes_nothing(
    database: Database,
) -> None:
    """A process that claimed a message and died: once the lease runs out another takes it."""
    clock, staff = FakeClock(START), Staff()
    await outbox(database, clock, None).post(
        Post(
            kind=MessageKind.ALERT,
            priority=Priority.ALERT,
            recipients=[Recipient(chat_id=10)],
            body="alert",
        )
    )
    from storage.outbox import OutboxRepository

    async with database.session() as session:  # the dead process's claim
        (claimed,) = await OutboxRepository(session).claim(
            owner="dead",
            now=START,
            lease_until=START + timedelta(minutes=2),
            limit=10,
            skip_locked=database.is_postgresql,
        )
        await session.commit()
    box = outbox(database, clock, staff)
    assert await box.drain() == 0
    assert await box.next_wake() == START + timedelta(minutes=2)
    assert staff.accepted == []
    clock.advance(timedelta(minutes=2))
    assert await box.drain() == 1
    (row,) = await rows(database)
    assert (row.status, row.attempts) == (MessageStatus.SENT, 2)


def test_a_reminder_row_has_the_budgets_priority_of_a_reminder() -> None:
    """storage writes a reminder's priority without knowing the budget: the same number."""
    from scheduler.outbox.budget import Priority
    from storage.reminders import PRIORITY

    assert Priority.REMINDER == PRIORITY


def test_every_kind_of_message_the_sender_writes_loads_from_the_outbox() -> None:
    """storage maps each kind of outbox row to a class; a kind it does not know would make
    reading the outbox fail, so every kind the scheduler writes must be mapped."""
    from scheduler.outbox.messages import MessageKind
    from storage.broadcasts import COPY
    from storage.models import REMINDER, OutboxMessage, Reminder

    mapped = OutboxMessage.__mapper__.polymorphic_map
    for kind in [*MessageKind, COPY]:
        assert mapped[kind].class_ is OutboxMessage, kind
    assert mapped[REMINDER].class_ is Reminder
