"""A morning peak with the real processes: reminders, a broadcast and conversations at once.

    .venv/bin/python -m bench.peak --pg-url URL [--redis-url redis://127.0.0.1:6379/0]
        [--quick] [--chaos] [--no-check] [--keep-logs]

One bot process (``aftercare run``, polling) and three ``aftercare worker`` processes with one
bot token, on one PostgreSQL database of their own (``bench_peak``, created next to the one
``--pg-url`` names and dropped afterwards), sharing the Telegram budget in Redis (a fresh
token per run, so a fresh key namespace, removed afterwards). They talk HTTP to the Telegram
stand-in served by this process, which enforces Telegram's limits with 429s: 30 messages a
second over all chats, about one a second per chat after a burst of three.

The peak, all at one instant T0 (a few seconds after the processes are started):
- 20,000 reminders due (one per patient, milestones of the default plan, each to arrive
  within its milestone's delivery window: ``Milestone.window``, 90 minutes or its expiry);
- a 10,000-recipient clinic broadcast scheduled for T0;
- 300 registered patients (day 3 of healing) chatting: turns of three questions, each a few
  seconds after the bot's answer, then a pause, about 5 questions a second over them all.
Reminder patients, broadcast recipients and chatters are separate chats, so each chat's
messages in the stand-in are compared one to one with the database's rows.

Targets (exit 1 on a miss, unless ``--no-check``): 0 lost and 0 duplicated (every reminder
row and every broadcast recipient got exactly one message); 429 answers ≤ 0.1 % of the sends;
throughput ≥ 95 % of the cap over the peak (from the first send to the last reminder or
broadcast copy); every reminder inside its window (first message ≤ due + window); replies to
the chatters p99 ≤ 1.5 s (from the user's message to the bot's reply reaching the stand-in; a
question never answered counts as infinitely late).

``--quick``: 1,500 reminders, 750 recipients and 60 chatters at 3 questions a second, the same
checks, in under 3 minutes. ``--chaos``, in the same run: one worker gets SIGTERM mid-burst
(it should exit 0 within 5 s) and another SIGKILL, both restarted; the stand-in answers 502 to
everything for a while, then hangs every call past the client's timeout; PostgreSQL backends of
the product are terminated (``pg_terminate_backend``). Under chaos the targets are 0 lost,
0 duplicated, 429s, windows and the SIGTERM'd worker's stop; throughput and reply latency are
printed (outside the outage too) but cannot be met through a Bot API outage by construction.

The machine's load matters: five Python processes, PostgreSQL and Redis share its CPUs; the
CPU seconds of each process are printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import math
import os
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bench.plans import bench_plan
from bench.report import (
    Target,
    add_check_option,
    console,
    finish,
    machine_facts,
    percentile,
    print_facts,
    print_table,
)
from bot.standin import StandIn
from bot.standin.chats import ChatHandle
from content.plan import CarePlan
from scheduler.broadcasts.service import BroadcastService
from scheduler.clock import SystemClock
from scheduler.outbox.budget import RedisBackend, redact, token_namespace
from storage.database import Database, normalize_url, redact_url
from storage.models import (
    Clinic,
    OutboxMessage,
    Patient,
    PatientStatus,
    Reminder,
    ReminderStatus,
    Staff,
    StaffRole,
    TreatmentSession,
)
from storage.reminders import PRIORITY

CAP = 30.0  # Telegram's overall limit, messages a second
PER_CHAT_RATE = 1.0
PER_CHAT_BURST = 3
TARGET_SHARE = 0.95
MAX_429_SHARE = 0.001
REPLY_P99_S = 1.5
STOP_LIMIT_S = 5.0  # a SIGTERM'd worker exits within this ("a few seconds")
KILL_AFTER_S = 65.0  # the runtime's own stop limit is 60 s; then the bench SIGKILLs it
DB_NAME = "bench_peak"  # with the --pg-url database's name after it, unless "postgres"
LEAD_S = 30.0  # from seeding to T0: the four processes start meanwhile
READY_TIMEOUT_S = 90.0
REPLY_TIMEOUT_S = 30.0
CATCH_UP_S = 10.0  # questions asked this soon after an outage are counted with it
THINK_S = (2.0, 5.0)  # a chatter's pause between the bot's answer and the next question
TURN = 3  # questions in one chatter's turn
CHATTER_DAY = 3
FIRST_REMINDER_CHAT = 30_000_000
FIRST_RECIPIENT_CHAT = 40_000_000
FIRST_CHATTER_CHAT = 50_000_000
ADMIN_CHAT = 60_000_000
BROADCAST_TEXT = "Our clinic is open this Saturday, 10:00-16:00. Reply /book to choose a time."
QUESTIONS = (
    "is redness normal on day 3?",
    "is peeling normal?",
    "my skin is a bit red, is that ok?",
    "can I wash my face?",
    "can I use sunscreen?",
    "when can I wear makeup?",
)


@dataclass(frozen=True)
class Scale:
    """How big the peak is."""

    name: str
    reminders: int
    recipients: int
    chatters: int
    chat_rate: float  # questions a second over all chatters, on average
    outage_5xx_s: float
    outage_hang_s: float  # longer than the product's read timeout (10 s): calls time out

    @property
    def bulk(self) -> int:
        """Messages the bot sends on its own initiative in the peak."""
        return self.reminders + self.recipients

    def expected_s(self) -> float:
        """The peak's length at the cap, conversations taking their share."""
        return self.bulk / (CAP - self.chat_rate)

    def idle_mean_s(self) -> float:
        """A chatter's mean pause between turns, for ``chat_rate`` over all of them."""
        turn_s = TURN * (sum(THINK_S) / 2 + 0.5)
        return max(1.0, TURN * self.chatters / self.chat_rate - turn_s)


FULL = Scale("full", 20_000, 10_000, 300, 5.0, 20.0, 20.0)
QUICK = Scale("quick", 1_500, 750, 60, 3.0, 8.0, 12.0)


# -- setup ------------------------------------------------------------------------------------


@dataclass
class Setup:
    """Where the run happens: its database, Redis namespace, token and log directory."""

    admin_url: URL
    db_url: URL
    redis_url: str
    token: str
    workdir: Path

    @property
    def db_name(self) -> str:
        """The bench database's name."""
        return str(self.db_url.database)

    @property
    def namespace(self) -> str:
        """The budget's key prefix for this run's token."""
        return token_namespace(self.token)


def new_setup(pg_url: str, redis_url: str, workdir: Path) -> Setup:
    """A fresh random token (a fresh budget namespace) and the bench database's URL."""
    admin = normalize_url(pg_url)
    token = f"{random.randint(10**9, 10**10 - 1)}:{secrets.token_urlsafe(27)[:35]}"
    # Named after the database --pg-url names: runs of several people on one server do not
    # drop each other's database.
    own = admin.database if admin.database not in (None, "", "postgres") else None
    name = f"{DB_NAME}_{own}" if own else DB_NAME
    return Setup(admin, admin.set(database=name), redis_url, token, workdir)


async def admin(setup: Setup, *statements: str) -> list[Any]:
    """Run ``statements`` on the admin database (outside a transaction); their first values."""
    engine = create_async_engine(setup.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            values = []
            for statement in statements:
                result = await connection.execute(text(statement), {"db": setup.db_name})
                values.append(result.scalar() if result.returns_rows else None)
            return values
    finally:
        await engine.dispose()


async def create_database(setup: Setup) -> None:
    """Drop the bench database if a run left it, create it, migrate it."""
    await admin(
        setup,
        f'DROP DATABASE IF EXISTS "{setup.db_name}" WITH (FORCE)',
        f'CREATE DATABASE "{setup.db_name}"',
    )
    database = Database(setup.db_url.render_as_string(hide_password=False))
    try:
        await database.upgrade()
    finally:
        await database.dispose()


async def drop_database(setup: Setup) -> None:
    """Drop the bench database."""
    await admin(setup, f'DROP DATABASE IF EXISTS "{setup.db_name}" WITH (FORCE)')


async def clear_budget(setup: Setup) -> None:
    """Remove the budget's keys of this run's token."""
    backend = RedisBackend(setup.redis_url, namespace=setup.namespace)
    try:
        await backend.clear()
    finally:
        await backend.close()


# -- seed -------------------------------------------------------------------------------------


@dataclass
class Population:
    """Who is in the peak: reminders by chat (id, due, window), recipients, chatters."""

    reminders: dict[int, tuple[int, datetime, timedelta]]
    recipients: list[int]
    chatters: list[int]
    clinic_id: int
    staff_id: int

    def chats(self) -> list[int]:
        """Every chat the stand-in must know."""
        return [*self.reminders, *self.recipients, *self.chatters, ADMIN_CHAT]


def patient_row(chat_id: int, now: datetime, **extra: Any) -> dict[str, Any]:
    """An active patient with no quiet hours (the peak is measured at any hour of the day);
    every row has the same keys (one bulk insert)."""
    return {
        "chat_id": chat_id,
        "consented_at": None,
        "clinic_id": None,
        "news_opt_out": False,
        "language": "en",
        "timezone": "UTC",
        "quiet_start": time_of_day(0),
        "quiet_end": time_of_day(0),
        "status": PatientStatus.ACTIVE,
        "created_at": now,
        "updated_at": now,
        **extra,
    }


async def insert_returning(session: Any, model: Any, rows: list[dict[str, Any]], *cols: Any) -> Any:
    """Insert ``rows`` in chunks; the ``cols`` of every row inserted."""
    out: list[Any] = []
    for start in range(0, len(rows), 5000):
        result = await session.execute(insert(model).returning(*cols), rows[start : start + 5000])
        out.extend(result.all())
    return out


async def seed(database: Database, scale: Scale, plan: CarePlan, t0: datetime) -> Population:
    """The patients, sessions and reminders due at ``t0``; a clinic, its admin and its
    patients for the broadcast; the chatters (day 3, consented, no reminders)."""
    now = datetime.now(UTC)
    milestones = list(plan.milestones)
    async with database.session() as session:
        clinic = Clinic(name="Peak clinic", timezone="UTC", plan_id=plan.id,
                        quiet_start=time_of_day(0), quiet_end=time_of_day(0),
                        created_at=now)  # fmt: skip
        session.add(clinic)
        await session.flush()
        staff = Staff(clinic_id=clinic.id, chat_id=ADMIN_CHAT, role=StaffRole.ADMIN, created_at=now)
        session.add(staff)
        await session.flush()
        reminder_chats = [FIRST_REMINDER_CHAT + i for i in range(scale.reminders)]
        chatter_chats = [FIRST_CHATTER_CHAT + i for i in range(scale.chatters)]
        recipient_chats = [FIRST_RECIPIENT_CHAT + i for i in range(scale.recipients)]
        patients = await insert_returning(
            session,
            Patient,
            [patient_row(c, now) for c in reminder_chats]
            + [patient_row(c, now, consented_at=now) for c in chatter_chats]
            + [
                patient_row(c, now, clinic_id=clinic.id, news_opt_out=False)
                for c in recipient_chats
            ],
            Patient.id,
            Patient.chat_id,
        )
        patient_of = {chat: pid for pid, chat in patients}
        day0 = t0.date() - timedelta(days=CHATTER_DAY)
        sessions = await insert_returning(
            session,
            TreatmentSession,
            [
                {
                    "patient_id": patient_of[c],
                    "session_date": day0,
                    "number": 1,
                    "plan_id": plan.id,
                    "created_at": now,
                }
                for c in [*reminder_chats, *chatter_chats]
            ],  # fmt: skip
            TreatmentSession.id,
            TreatmentSession.patient_id,
        )
        session_of = {pid: sid for sid, pid in sessions}
        milestone_of = {c: milestones[i % len(milestones)] for i, c in enumerate(reminder_chats)}
        rows = []
        for chat, milestone in milestone_of.items():
            rows.append(
                {
                    "priority": PRIORITY,
                    "chat_id": chat,
                    "patient_id": patient_of[chat],
                    "created_at": now,
                    "session_id": session_of[patient_of[chat]],
                    "milestone_id": milestone.id,
                    "due_at": t0,
                    "expires_at": t0 + milestone.expires_after.as_timedelta(),
                    "status": ReminderStatus.PENDING,
                    "attempts": 0,
                }
            )
        ids = await insert_returning(session, Reminder, rows, Reminder.id, Reminder.session_id)
        chat_of_session = {session_of[patient_of[c]]: c for c in reminder_chats}
        reminders = {
            chat_of_session[sid]: (rid, t0, milestone_of[chat_of_session[sid]].window)
            for rid, sid in ids
        }
        await session.commit()
        clinic_id, staff_id = clinic.id, staff.id
    return Population(reminders, recipient_chats, chatter_chats, clinic_id, staff_id)


async def schedule_broadcast(database: Database, population: Population, at: datetime) -> int:
    """The clinic's broadcast to all its patients, confirmed for ``at`` (as staff do)."""
    service = BroadcastService(database=database, clock=SystemClock())
    broadcast_id = await service.create(population.clinic_id, population.staff_id, BROADCAST_TEXT)
    await service.confirm(broadcast_id, population.clinic_id, report_chat_id=ADMIN_CHAT, at=at)
    return broadcast_id


# -- processes --------------------------------------------------------------------------------


@dataclass
class Proc:
    """One product process, as started, signalled and ended."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started: float
    ready_at: float | None = None
    signalled: tuple[str, float] | None = None
    ended_at: float | None = None
    cpu_s: float = float("nan")

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: the signal that killed it), None while it runs."""
        return self.popen.poll()

    def log_text(self) -> str:
        """What it wrote to stderr."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


class Fleet:
    """The product's processes: started with the bench's settings, watched, stopped."""

    def __init__(self, setup: Setup, api_url: str) -> None:
        """Processes talk to the stand-in at ``api_url``."""
        self.workdir = setup.workdir
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH")
        self.env = {k: os.environ[k] for k in keep if k in os.environ}
        self.env.update(
            DATABASE_URL=setup.db_url.render_as_string(hide_password=False),
            TELEGRAM_BOT_TOKEN=setup.token,
            TELEGRAM_API_URL=api_url,
            TELEGRAM_BUDGET_URL=setup.redis_url,
            TELEGRAM_RATE=f"{CAP:g}",
            QUIET_HOURS="off",
            DEFAULT_TIMEZONE="UTC",
            LOG_LEVEL="WARNING",
            DATA_DIR=str(setup.workdir),
        )
        self.command = str(Path(sys.executable).with_name("aftercare"))
        self.all: list[Proc] = []
        self.live: dict[str, Proc] = {}
        self._starts: Counter[str] = Counter()

    def start(self, name: str) -> Proc:
        """Start ``bot`` (``aftercare run``) or a worker (``aftercare worker``) as ``name``."""
        self._starts[name] += 1
        log_path = self.workdir / f"{name}.{self._starts[name]}.log"
        argv = [self.command, "run" if name == "bot" else "worker"]
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                argv, env=self.env, cwd=self.workdir, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        proc = Proc(name, popen, log_path, time.monotonic())
        self.all.append(proc)
        self.live[name] = proc
        return proc

    async def ready(self, proc: Proc) -> None:
        """Wait until ``proc`` says it runs ("... running (Telegram|polling)")."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if "running (" in proc.log_text():
                proc.ready_at = time.monotonic()
                return
            if proc.returncode is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.returncode}:\n{tail(proc)}")
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{proc.name} not ready after {READY_TIMEOUT_S:g} s:\n{tail(proc)}")

    async def stop(self, proc: Proc, signum: signal.Signals, limit: float = 75.0) -> float:
        """Send ``signum``; wait for the exit (SIGKILL after ``limit``); seconds it took."""
        sampled_cpu(proc)
        proc.signalled = (signum.name, time.monotonic())
        proc.popen.send_signal(signum)
        try:
            # Polled, not waited for in a thread: the exit instant is what is measured.
            async with asyncio.timeout(limit):
                while proc.returncode is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        except TimeoutError:
            proc.popen.kill()
            await asyncio.to_thread(proc.popen.wait)
        proc.ended_at = time.monotonic()
        if self.live.get(proc.name) is proc:
            del self.live[proc.name]
        return proc.ended_at - proc.signalled[1]

    async def stop_all(self) -> None:
        """SIGTERM every live process at once, as a deployment stops."""
        await asyncio.gather(*(self.stop(p, signal.SIGTERM) for p in list(self.live.values())))

    def kill_all(self) -> None:
        """Last resort on the way out: nothing of ours outlives the bench."""
        for proc in self.all:
            if proc.returncode is None:
                proc.popen.kill()
                proc.popen.wait()


def sampled_cpu(proc: Proc) -> None:
    """Note the CPU seconds ``proc`` used so far (while it still runs)."""
    try:
        import psutil  # type: ignore[import-untyped]

        times = psutil.Process(proc.popen.pid).cpu_times()
        proc.cpu_s = times.user + times.system
    except Exception:  # gone already: keep the last sample
        pass


def tail(proc: Proc, lines: int = 15) -> str:
    """The end of a process's log."""
    return "\n".join(proc.log_text().splitlines()[-lines:])


def log_problems(proc: Proc) -> tuple[int, int, list[str]]:
    """ERROR lines and tracebacks in a process's log, and a few distinct error lines."""
    lines = proc.log_text().splitlines()
    errors = [line for line in lines if " ERROR " in line or " CRITICAL " in line]
    tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
    distinct = list(dict.fromkeys(line.split(": ", 1)[-1][:140] for line in errors))
    return len(errors), tracebacks, distinct[:3]


# -- load generator ----------------------------------------------------------------------------


@dataclass
class Question:
    """One question a chatter asked (monotonic instant)."""

    chat_id: int
    asked: float


async def chatter(
    standin: StandIn, chat_id: int, scale: Scale, stop: asyncio.Event, asked: list[Question]
) -> None:
    """A patient in conversation: turns of a few questions, each a few seconds after the
    bot's answer, then a pause; the first turn starts at a random moment of a pause."""
    rng = random.Random(chat_id)
    chat = standin.private_chat(chat_id)
    idle = scale.idle_mean_s()
    pause = rng.uniform(0, idle)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), pause)
            return
        except TimeoutError:
            pass
        for _ in range(TURN):
            if stop.is_set():
                return
            answered = len(chat.messages) + 1
            asked.append(Question(chat_id, time.monotonic()))
            chat.send(rng.choice(QUESTIONS))
            try:
                await standin.wait_until(
                    functools.partial(has_messages, chat, answered), timeout=REPLY_TIMEOUT_S
                )
            except TimeoutError:
                pass  # counted as unanswered from the stand-in's record
            await asyncio.sleep(rng.uniform(*THINK_S))
        pause = rng.expovariate(1 / idle)


async def probe_loop(stop: asyncio.Event, lags: list[float]) -> None:
    """How late this process's event loop wakes a 10 ms sleep: the stand-in and the chatters
    run on it, and a stalled loop would make the product look slow."""
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - before - 0.01)


def has_messages(chat: ChatHandle, count: int) -> bool:
    """Whether the bot has sent ``count`` messages to ``chat``."""
    return len(chat.messages) >= count


# -- observers ---------------------------------------------------------------------------------


@dataclass
class DbCounts:
    """Where the peak's rows are in the database."""

    reminders: Counter[str] = field(default_factory=Counter)
    recipients: Counter[str] = field(default_factory=Counter)

    @property
    def open(self) -> int:
        """Rows not settled yet (pending, claimed or held)."""
        return self.reminders["pending"] + self.recipients["pending"]


async def db_counts(engine: AsyncEngine) -> DbCounts:
    """Reminder and broadcast-recipient rows by status."""
    async with engine.connect() as connection:
        reminders = await connection.execute(
            select(Reminder.status, func.count()).group_by(Reminder.status)
        )
        recipients = await connection.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.broadcast_id.is_not(None))
            .group_by(OutboxMessage.status)
        )
        return DbCounts(
            Counter({str(s): n for s, n in reminders.all()}),
            Counter({str(s): n for s, n in recipients.all()}),
        )


async def watch(
    engine: AsyncEngine, standin: StandIn, scale: Scale, t0: float, deadline: float
) -> tuple[DbCounts, bool]:
    """Print progress every 10 s until every row is settled (and the broadcast's recipients
    chosen), or until ``deadline``; the last counts and whether it drained."""
    counts, last_print = DbCounts(), 0.0
    while time.monotonic() < deadline:
        await asyncio.sleep(2.0)
        try:
            counts = await db_counts(engine)
        except Exception as exc:  # e.g. our own backend terminated by the chaos
            console().print(f"  (observer: {type(exc).__name__})")
            continue
        chosen = sum(counts.recipients.values())
        now = time.monotonic()
        if now - last_print >= 10.0:
            last_print = now
            sent = sum(1 for c in standin.messages if c.chat_id != ADMIN_CHAT)
            console().print(
                f"  t={now - t0:6.1f} s  messages {sent:,}  429s {standin.throttled}"
                f"  reminders {dict(counts.reminders)}  recipients {dict(counts.recipients)}"
            )
        if now > t0 and counts.open == 0 and chosen >= scale.recipients:
            return counts, True
    return counts, False


# -- chaos -------------------------------------------------------------------------------------


@dataclass
class Event:
    """Something the chaos did, when (seconds after T0), and what came of it."""

    at: float
    what: str
    result: str


async def chaos(
    fleet: Fleet, standin: StandIn, setup: Setup, scale: Scale, t0: float, events: list[Event]
) -> list[tuple[float, float]]:
    """The faults, one after another through the peak; the outage's (start, end) instants."""
    expected = scale.expected_s()

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, t0 + fraction * expected - time.monotonic()))

    def note(what: str, result: str, when: float | None = None) -> None:
        events.append(Event((when or time.monotonic()) - t0, what, result))
        console().print(f"  chaos: {what}: {result}")

    async def stop_and_restart(name: str, signum: signal.Signals) -> None:
        victim = fleet.live[name]
        sent = time.monotonic()
        took = await fleet.stop(victim, signum, limit=KILL_AFTER_S)
        killed = signum is signal.SIGTERM and took >= KILL_AFTER_S
        result = f"exit {victim.returncode} after {took:.2f} s"
        note(f"{signum.name} {name}", result + (" (then SIGKILL)" if killed else ""), sent)
        restarted = fleet.start(name)
        await fleet.ready(restarted)
        ready_s = (restarted.ready_at or math.nan) - restarted.started
        note(f"{name} restarted", f"ready {ready_s:.1f} s after its start")

    # The stopping worker is waited for on the side: the other faults keep their schedule.
    await at(0.15)
    terminated = asyncio.create_task(stop_and_restart("worker-1", signal.SIGTERM))
    await at(0.30)
    await stop_and_restart("worker-2", signal.SIGKILL)

    await at(0.45)
    start = time.monotonic()
    standin.outage(seconds=scale.outage_5xx_s, status=502)
    note("Bot API outage", f"502 to every call for {scale.outage_5xx_s:g} s")
    await asyncio.sleep(scale.outage_5xx_s)
    standin.outage(seconds=scale.outage_hang_s, status=None, hang=True)
    note("Bot API outage", f"every call hangs for {scale.outage_hang_s:g} s, then drops")
    await asyncio.sleep(scale.outage_hang_s)
    standin.end_outage()
    end = time.monotonic()
    note("Bot API back", f"after {end - start:.1f} s")

    await asyncio.sleep(max(5.0, t0 + 0.75 * expected - time.monotonic()))
    backends = await admin(
        setup,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = :db AND pid <> pg_backend_pid()",
    )
    note("pg_terminate_backend", f"{backends[0]} backends of {setup.db_name} terminated")
    await terminated
    return [(start, end)]


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Run:
    """Everything observed in one run, for the checks and the report."""

    scale: Scale
    chaos: bool
    population: Population
    t0: float  # monotonic: the load began (T0, or when the processes were ready if later)
    t0_wall: datetime
    mono_to_wall: float  # add to a monotonic instant for the epoch seconds
    drained: bool
    drained_at: float
    counts: DbCounts
    calls: list[Any]
    questions: list[Question]
    fleet: Fleet
    events: list[Event]
    outages: list[tuple[float, float]]
    seed_s: float
    bench_cpu_s: float
    loop_lags: list[float]
    facts: list[tuple[str, str]]


async def run(setup: Setup, scale: Scale, *, with_chaos: bool) -> Run:
    """Set up, seed, start the processes and the load, wait for the peak to drain, stop."""
    plan = bench_plan()
    console().print(f"Database {redact_url(setup.db_url)}: creating and migrating ...")
    await create_database(setup)
    database = Database(setup.db_url.render_as_string(hide_password=False))
    engine = create_async_engine(setup.db_url, poolclass=NullPool)
    standin = StandIn(
        token=setup.token,
        global_rate=CAP,
        per_chat_rate=PER_CHAT_RATE,
        per_chat_burst=PER_CHAT_BURST,
    )
    fleet: Fleet | None = None
    try:
        async with engine.connect() as connection:
            version = (await connection.execute(text("SHOW server_version"))).scalar_one()
        facts = [("PostgreSQL server", f"{version} at {redact_url(setup.db_url)}")]
        facts.append(("Redis (Telegram budget)", redact(setup.redis_url)))
        seeding = time.monotonic()
        t0_wall = datetime.now(UTC) + timedelta(seconds=LEAD_S)
        population = await seed(database, scale, plan, t0_wall)
        await schedule_broadcast(database, population, t0_wall)
        seed_s = time.monotonic() - seeding
        console().print(
            f"Seeded {scale.reminders:,} reminders, {scale.recipients:,} recipients and"
            f" {scale.chatters} chatters in {seed_s:.1f} s; starting the processes ..."
        )
        await database.dispose()
        for chat in population.chats():
            standin.private_chat(chat)
        await standin.start()
        fleet = Fleet(setup, f"http://127.0.0.1:{standin.port}")
        for name in ("bot", "worker-1", "worker-2", "worker-3"):
            fleet.start(name)
        await asyncio.gather(*(fleet.ready(p) for p in fleet.live.values()))
        mono_to_wall = time.time() - time.monotonic()
        t0 = t0_wall.timestamp() - mono_to_wall
        console().print(
            "Processes ready in "
            + ", ".join(f"{p.name} {p.ready_at - p.started:.1f} s" for p in fleet.all if p.ready_at)
            + f"; T0 in {t0 - time.monotonic():.1f} s"
        )
        await asyncio.sleep(max(0.0, t0 - time.monotonic()))
        if time.monotonic() > t0 + 1:  # a loaded machine: the load starts when they are ready
            console().print("  T0 passed before they were ready: the load starts now")
            t0 = time.monotonic()

        stop_chat = asyncio.Event()
        lags: list[float] = []
        probe = asyncio.create_task(probe_loop(stop_chat, lags))
        questions: list[Question] = []
        chatters = [
            asyncio.create_task(chatter(standin, chat, scale, stop_chat, questions))
            for chat in population.chatters
        ]
        events: list[Event] = []
        chaos_task = (
            asyncio.create_task(chaos(fleet, standin, setup, scale, t0, events))
            if with_chaos
            else None
        )
        deadline = t0 + 2 * scale.expected_s() + (420 if with_chaos else 120)
        counts, drained = await watch(engine, standin, scale, t0, deadline)
        drained_at = time.monotonic()
        outages: list[tuple[float, float]] = []
        if chaos_task is not None:
            outages = await chaos_task
            counts, drained = await watch(engine, standin, scale, t0, deadline)
            drained_at = time.monotonic()
        stop_chat.set()
        await asyncio.gather(*chatters, probe)
        await asyncio.sleep(2.0)  # a late duplicate would arrive now
        counts = await db_counts(engine)
        console().print("Peak over; stopping the processes ...")
        for proc in fleet.live.values():
            sampled_cpu(proc)
        await fleet.stop_all()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return Run(
            scale=scale,
            chaos=with_chaos,
            population=population,
            t0=t0,
            t0_wall=t0_wall,
            mono_to_wall=mono_to_wall,
            drained=drained,
            drained_at=drained_at,
            counts=counts,
            calls=list(standin.calls),
            questions=questions,
            fleet=fleet,
            events=events,
            outages=outages,
            seed_s=seed_s,
            bench_cpu_s=usage.ru_utime + usage.ru_stime,
            loop_lags=lags,
            facts=facts,
        )
    finally:
        if fleet is not None:
            fleet.kill_all()
        await standin.stop()
        await engine.dispose()
        await database.dispose()


# -- checks and report -------------------------------------------------------------------------


@dataclass
class Figures:
    """What the checks compare with the targets."""

    sends: int
    throttled: int
    throttled_by: Counter[str]  # "method to kind of chat"
    other_errors: Counter[str]  # "method status description"
    duplicates: list[tuple[int, str, list[tuple[float, int]]]]  # chat, kind, (t, status)
    by_chat: dict[int, list[float]]
    lost_reminders: int
    dup_reminders: int
    lost_copies: int
    dup_copies: int
    late: int
    lateness_p50: float
    lateness_p99: float
    lateness_max: float
    span: tuple[float, float]
    in_span: int
    busiest: int
    latencies: list[tuple[float, float]]  # (asked, latency; inf if never answered)

    @property
    def rate(self) -> float:
        """Sends a second over the peak's span."""
        length = self.span[1] - self.span[0]
        return self.in_span / length if length > 0 else float("nan")


def chat_of(call: Any) -> int | None:
    """The chat a call was for."""
    try:
        return int(call.params.get("chat_id"))
    except (TypeError, ValueError):
        return None


def kind_of(population: Population) -> dict[int, str]:
    """What each chat is in the peak."""
    kinds = dict.fromkeys(population.reminders, "reminder")
    kinds.update(dict.fromkeys(population.recipients, "broadcast copy"))
    kinds.update(dict.fromkeys(population.chatters, "reply"))
    kinds[ADMIN_CHAT] = "admin"
    return kinds


def figures(run: Run) -> Figures:
    """Lost, duplicated, late, throttled, throughput and reply latency from the stand-in's
    record of every call, against the seeded rows."""
    population = run.population
    sends = [c for c in run.calls if c.method in ("sendMessage", "sendPhoto")]
    accepted = [c for c in sends if c.status == 200]
    by_chat: dict[int, list[float]] = defaultdict(list)
    for call in accepted:
        chat = chat_of(call)
        if chat is not None:
            by_chat[chat].append(call.at)
    lost_r = sum(1 for c in population.reminders if not by_chat.get(c))
    dup_r = sum(1 for c in population.reminders if len(by_chat.get(c, ())) > 1)
    lost_b = sum(1 for c in population.recipients if not by_chat.get(c))
    dup_b = sum(1 for c in population.recipients if len(by_chat.get(c, ())) > 1)
    lateness: list[float] = []
    late = 0
    for chat, (_rid, due, window) in population.reminders.items():
        if by_chat.get(chat):
            arrived = by_chat[chat][0] + run.mono_to_wall
            lateness.append(arrived - due.timestamp())
            late += arrived > (due + window).timestamp()
    bulk = {*population.reminders, *population.recipients}
    bulk_times = sorted(call.at for call in accepted if chat_of(call) in bulk)
    span = (bulk_times[0], bulk_times[-1]) if bulk_times else (run.t0, run.t0)
    in_span = sorted(c.at for c in accepted if span[0] <= c.at <= span[1])
    kinds = kind_of(population)
    throttled = [c for c in run.calls if c.status == 429]
    dup_chats = [c for c in bulk if len(by_chat.get(c, ())) > 1]
    history: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for call in sends:
        chat = chat_of(call)
        if chat in dup_chats[:5]:
            history[chat].append((call.at - run.t0, call.status))
    busiest, low = 0, 0
    for high, at in enumerate(in_span):
        while at - in_span[low] >= 1.0:
            low += 1
        busiest = max(busiest, high - low + 1)
    return Figures(
        sends=len(accepted),
        throttled=len(throttled),
        throttled_by=Counter(
            f"{c.method} to {kinds.get(chat_of(c) or 0, 'other')}, over the {c.scope or '?'} limit"
            for c in throttled
        ),
        other_errors=Counter(
            f"{c.method} {c.status} {(c.description or '')[:60]}"
            for c in run.calls
            if c.status not in (200, 429)
        ),
        duplicates=[(chat, kinds[chat], history[chat]) for chat in dup_chats[:5]],
        by_chat=by_chat,
        lost_reminders=lost_r,
        dup_reminders=dup_r,
        lost_copies=lost_b,
        dup_copies=dup_b,
        late=late,
        lateness_p50=percentile(lateness, 50),
        lateness_p99=percentile(lateness, 99),
        lateness_max=max(lateness, default=float("nan")),
        span=span,
        in_span=len(in_span),
        busiest=busiest,
        latencies=reply_latencies(run.questions, by_chat),
    )


def reply_latencies(
    questions: Sequence[Question], by_chat: dict[int, list[float]]
) -> list[tuple[float, float]]:
    """Each question's wait for the bot's next message to that chat (inf: none came)."""
    out: list[tuple[float, float]] = []
    used: Counter[int] = Counter()
    for question in sorted(questions, key=lambda q: q.asked):
        replies = by_chat.get(question.chat_id, [])
        i = used[question.chat_id]
        while i < len(replies) and replies[i] < question.asked:
            i += 1
        if i < len(replies):
            out.append((question.asked, replies[i] - question.asked))
            used[question.chat_id] = i + 1
        else:
            out.append((question.asked, math.inf))
            used[question.chat_id] = i
    return out


def in_outage(at: float, outages: Sequence[tuple[float, float]], after: float) -> bool:
    """Whether a question asked at ``at`` met an outage: asked in one, just before it, or
    less than ``after`` seconds after it ended (the bot still catching up)."""
    return any(start - REPLY_P99_S <= at <= end + after for start, end in outages)


def report(run: Run, *, check: bool) -> None:
    """Print the machine, the workload, the figures, the processes and the targets."""
    fig = figures(run)
    scale = run.scale
    print_facts("Machine", machine_facts(run.facts))
    print_facts(
        "Workload",
        [
            ("scale", f"{scale.name}{' with chaos' if run.chaos else ''}"),
            ("processes", "aftercare run (polling) + 3 × aftercare worker, one token, one DB"),
            (
                "stand-in",
                f"{CAP:g}/s overall, {PER_CHAT_RATE:g}/s per chat after a burst of"
                f" {PER_CHAT_BURST}, 429 with retry_after above them",
            ),  # fmt: skip
            ("reminders", f"{scale.reminders:,} due at T0, one per patient, plan windows"),
            ("broadcast", f"{scale.recipients:,} recipients, scheduled for T0"),
            (
                "chatters",
                f"{scale.chatters}, turns of {TURN} questions {THINK_S[0]:g}-"
                f"{THINK_S[1]:g} s after each answer, ~{scale.chat_rate:g} questions/s in all",
            ),  # fmt: skip
            ("seeding", f"{run.seed_s:.1f} s"),
        ],
    )
    length = fig.span[1] - fig.span[0]
    print_table(
        "The peak",
        [
            "sends",
            "span s",
            "sends/s",
            "of cap",
            "busiest 1 s",
            "429s",
            "429 share",
            "other errors",
            "drained",
        ],  # fmt: skip
        [
            [
                fig.sends,
                length,
                fig.rate,
                f"{fig.rate / CAP:.1%}",
                fig.busiest,
                fig.throttled,
                f"{fig.throttled / max(fig.sends, 1):.3%}",
                sum(fig.other_errors.values()),
                f"yes, {run.drained_at - run.t0:.0f} s after T0" if run.drained else "NO",
            ]
        ],
        notes=[
            "sends: messages the stand-in accepted (reminders, broadcast copies, replies, the"
            " admin's progress report); span: first send to the last reminder or copy;",
            "429 share: 429 answers (any method) / accepted sends; other errors: every other"
            " answer that is not 200 (5xx and dropped connections of the chaos's outage, 400s),"
            " listed below;",
        ],
        decimals=2,
    )
    details = [["429", k, v] for k, v in fig.throttled_by.most_common()]
    details += [["error", k, v] for k, v in fig.other_errors.most_common(8)]
    if details:
        print_table("Error answers of the stand-in", ["answer", "call", "count"], details)
    print_table(
        "Exactly once, against the database",
        ["kind", "rows", "db statuses", "no message (lost)", "more than one (dup)"],
        [
            [
                "reminders",
                scale.reminders,
                _statuses(run.counts.reminders),
                fig.lost_reminders,
                fig.dup_reminders,
            ],
            [
                "broadcast copies",
                scale.recipients,
                _statuses(run.counts.recipients),
                fig.lost_copies,
                fig.dup_copies,
            ],
        ],  # fmt: skip
    )
    if fig.duplicates:
        print_table(
            "Duplicated chats (first 5): every send to them",
            ["chat", "kind", "sends (s after T0: status)"],
            [
                [chat, kind, ", ".join(f"{t:.2f}: {status}" for t, status in calls)]
                for chat, kind, calls in fig.duplicates
            ],
        )
    print_table(
        "Reminder lateness (first message − due), seconds",
        ["p50", "p99", "max", "outside window"],
        [[fig.lateness_p50, fig.lateness_p99, fig.lateness_max, fig.late]],
        notes=["window: the milestone's Milestone.window (90 min here)."],
    )
    latencies = [lat for _, lat in fig.latencies]
    calm = [lat for at, lat in fig.latencies if not in_outage(at, run.outages, CATCH_UP_S)]
    unanswered = sum(1 for lat in latencies if math.isinf(lat))
    print_table(
        "Conversation replies (user's message → the bot's reply), ms",
        ["questions", "unanswered", "p50", "p95", "p99", "max", "p99 outside outage"],
        [
            [
                len(latencies),
                unanswered,
                percentile(latencies, 50) * 1000,
                percentile(latencies, 95) * 1000,
                percentile(latencies, 99) * 1000,
                max(latencies, default=float("nan")) * 1000,
                percentile(calm, 99) * 1000 if run.outages else "-",
            ]
        ],
        decimals=0,
    )
    print_slices(run, fig)
    print_processes(run)
    if run.events:
        print_table(
            "Chaos",
            ["s after T0", "what", "result"],
            [[e.at, e.what, e.result] for e in sorted(run.events, key=lambda e: e.at)],
            decimals=1,
        )
    finish(targets(run, fig), check=check)


def _statuses(counts: Counter[str]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "-"


def print_slices(run: Run, fig: Figures) -> None:
    """Sends, 429s and reply p99 in ten slices of the peak: "throughout"."""
    start, end = run.t0, max(fig.span[1], run.t0 + 1)
    step = (end - start) / 10
    accepted = sorted(t for times in fig.by_chat.values() for t in times)
    throttled = [c.at for c in run.calls if c.status == 429]
    rows = []
    for i in range(10):
        low, high = start + i * step, start + (i + 1) * step
        lat = [lat for at, lat in fig.latencies if low <= at < high]
        rows.append(
            [
                f"{low - start:.0f}-{high - start:.0f}",
                sum(1 for t in accepted if low <= t < high) / step,
                sum(1 for t in throttled if low <= t < high),
                len(lat),
                percentile(lat, 99) * 1000 if lat else float("nan"),
                "outage" if any(s < high and e > low for s, e in run.outages) else "",
            ]
        )
    print_table(
        "Through the peak (tenths of T0 … last bulk send)",
        ["s after T0", "sends/s", "429s", "questions", "reply p99 ms", ""],
        rows,
        decimals=1,
    )


def print_processes(run: Run) -> None:
    """Each process: start-up, how it ended, CPU, errors in its log."""
    rows = []
    for proc in run.fleet.all:
        errors, tracebacks, distinct = log_problems(proc)
        signalled = proc.signalled[0] if proc.signalled else "-"
        took = proc.ended_at - proc.signalled[1] if proc.signalled and proc.ended_at else None
        rows.append(
            [
                proc.name,
                proc.popen.pid,
                (proc.ready_at - proc.started) if proc.ready_at else float("nan"),
                signalled,
                took if took is not None else float("nan"),
                str(proc.returncode),
                proc.cpu_s,
                errors,
                tracebacks,
                (distinct[0][:60] if distinct else "-"),
            ]
        )
    rows.append(["bench (stand-in, chatters)", os.getpid(), float("nan"), "-", float("nan"),
                 "-", run.bench_cpu_s, 0, 0, "-"])  # fmt: skip
    print_table(
        "Processes",
        [
            "process",
            "pid",
            "ready s",
            "signal",
            "exit after s",
            "exit code",
            "CPU s",
            "ERROR lines",
            "tracebacks",
            "first error",
        ],  # fmt: skip
        rows,
        notes=[
            f"CPUs: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}: the processes,"
            " PostgreSQL, Redis and the bench share them (CPU contention).",
            "the last SIGTERMs are the bench stopping the deployment at the end;",
            f"the bench's event loop (stand-in, chatters) woke a 10 ms sleep late by p99"
            f" {percentile(run.loop_lags, 99) * 1000:.1f} ms, max"
            f" {max(run.loop_lags, default=0) * 1000:.0f} ms.",
        ],
        decimals=2,
    )


def targets(run: Run, fig: Figures) -> list[Target]:
    """The targets; under chaos, throughput and reply latency are only printed."""
    scale = run.scale
    scope = f"{scale.name}{' + chaos' if run.chaos else ''}"
    latencies = [lat for _, lat in fig.latencies]
    p99 = percentile(latencies, 99)
    out = [
        Target(
            "0 lost",
            scope,
            f"reminders {fig.lost_reminders}, copies {fig.lost_copies}"
            + ("" if run.drained else " (NOT DRAINED)"),
            fig.lost_reminders == fig.lost_copies == 0 and run.drained,
        ),
        Target(
            "0 duplicated",
            scope,
            f"reminders {fig.dup_reminders}, copies {fig.dup_copies}",
            fig.dup_reminders == fig.dup_copies == 0,
        ),
        Target(
            f"429 answers ≤ {MAX_429_SHARE:.1%} of sends",
            scope,
            f"{fig.throttled} of {fig.sends:,} ({fig.throttled / max(fig.sends, 1):.3%})",
            fig.throttled <= MAX_429_SHARE * fig.sends,
        ),
        Target(
            "every reminder inside its window",
            scope,
            f"{fig.late} outside; max lateness {fig.lateness_max:.0f} s",
            fig.late == 0 and fig.lost_reminders == 0,
        ),
    ]
    if not run.chaos:
        out.append(
            Target(
                f"throughput ≥ {TARGET_SHARE:.0%} of the cap",
                scope,
                f"{fig.rate:.2f}/s ({fig.rate / CAP:.1%})",
                fig.rate >= TARGET_SHARE * CAP,
            )
        )
        out.append(
            Target(
                f"replies p99 ≤ {REPLY_P99_S * 1000:.0f} ms",
                f"{scope}, {len(latencies)} questions",
                f"{p99 * 1000:.0f} ms",
                p99 <= REPLY_P99_S,
            )
        )
    for proc in run.fleet.all:
        if proc.signalled and proc.signalled[0] == "SIGTERM" and proc is run_first_term(run):
            took = (proc.ended_at or math.inf) - proc.signalled[1]
            out.append(
                Target(
                    f"SIGTERM mid-burst: exit 0 within {STOP_LIMIT_S:g} s",
                    f"{proc.name} (pid {proc.popen.pid})",
                    f"exit {proc.returncode} after {took:.2f} s",
                    proc.returncode == 0 and took <= STOP_LIMIT_S,
                )
            )
    return out


def run_first_term(run: Run) -> Proc | None:
    """The worker the chaos stopped with SIGTERM mid-burst (not the final stop)."""
    if not run.chaos:
        return None
    stopped = [p for p in run.fleet.all if p.signalled and p.signalled[0] == "SIGTERM"]
    return min(stopped, key=lambda p: p.signalled[1] if p.signalled else math.inf, default=None)


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    """Parse the options, run the peak, report, exit 1 on a miss."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.peak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pg-url", required=True, help="a PostgreSQL database to connect to")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--quick", action="store_true", help="a scaled-down peak (< 3 min)")
    parser.add_argument("--chaos", action="store_true", help="signals, an outage, killed backends")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    add_check_option(parser)
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    workdir = Path(tempfile.mkdtemp(prefix="bench-peak-"))
    setup = new_setup(args.pg_url, args.redis_url, workdir)
    console().print(
        f"Peak ({scale.name}{', chaos' if args.chaos else ''}): {scale.reminders:,} reminders,"
        f" {scale.recipients:,} broadcast copies, {scale.chatters} chatters at {CAP:g}/s"
        f" (about {scale.expected_s():.0f} s of sending); logs in {workdir}"
    )
    try:
        result = asyncio.run(run(setup, scale, with_chaos=args.chaos))
        asyncio.run(_cleanup(setup))
        report(result, check=not args.no_check)
    finally:
        asyncio.run(_cleanup(setup))
        if not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)


async def _cleanup(setup: Setup) -> None:
    await clear_budget(setup)
    await drop_database(setup)


if __name__ == "__main__":
    main()
