"""Lateness of many reminders due together, with the real clock and the real runner.

    .venv/bin/python -m bench.lateness [--count 10000] [--scenarios minute,burst]
        [--concurrency 8[,32,...]] [--notifier-ms 1] [--pg-url URL] [--no-check]

Target: 10,000 reminders due within one minute (``minute``: due evenly over 60 s, about 167 a
second), a notifier that takes 1 ms (``await asyncio.sleep(0.001)``): p99 lateness at most 1 s
beyond the notifier's own time, and all 10,000 sent exactly once (one notifier call per
reminder, 10,000 rows ``sent`` and 10,000 ``sent`` log rows). Exits 1 when a target is missed
(``--no-check``: only print).

``burst`` puts all 10,000 at the same instant (as 10,000 patients' 09:00 reminders would be):
it measures the engine's capacity in sends per second; only exactly-once is a target there,
since no engine that sends one at a time could send 10,000 in 1 s.

Lateness is measured when the runner calls the notifier (the instant the send starts) minus
``due_at``: the send-completion lateness with this call's own notifier time taken off. Both
are printed. Time other sends spend in the notifier before this one gets a turn is not taken
off: it is queueing in the runner, part of the lateness it causes.

The raw capacity of the sender across processes (real ``aftercare worker`` processes on one
PostgreSQL, transactions per send, 1, 2 and 4 workers) is ``python -m bench.outbox``.

SQLite always (a file in a temporary directory); PostgreSQL too when ``--pg-url`` or
``TEST_DATABASE_URL`` gives a server (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test):
each run gets a fresh schema, dropped afterwards. Every run starts on an empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.databases import (
    BACKEND_NAMES,
    PG_URL_ENV,
    chosen_backends,
    migrated_database,
    server_facts,
)
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
from content.plan import CarePlan
from scheduler.clock import SystemClock
from scheduler.outbox.notifier import OutgoingReminder
from scheduler.outbox.reminders import Dispatcher, Outcome
from scheduler.outbox.sender import ReminderRunner, RunnerSettings, new_worker_id
from storage.database import Database
from storage.models import (
    DeliveryLog,
    DeliveryOutcome,
    Patient,
    PatientStatus,
    Reminder,
    ReminderStatus,
    TreatmentSession,
)
from storage.reminders import PRIORITY, ReminderRepository

TARGET_P99_S = 1.0
VALIDITY = timedelta(hours=12)
LOOP_PROBE_S = 0.01
SCENARIOS = ("minute", "burst")


@dataclass(frozen=True)
class Send:
    """One call of the notifier: which reminder, and when it started and ended."""

    reminder_id: int
    started: datetime
    ended: datetime
    started_mono: float
    ended_mono: float

    @property
    def own_s(self) -> float:
        """The notifier's own time for this call."""
        return self.ended_mono - self.started_mono


@dataclass
class TimedNotifier:
    """Takes ``seconds`` per send (an awaited sleep) and records every call."""

    seconds: float
    expected: int
    sends: list[Send] = field(default_factory=list)
    distinct: set[int] = field(default_factory=set)
    all_sent: asyncio.Event = field(default_factory=asyncio.Event)

    async def send_reminder(self, reminder: OutgoingReminder) -> None:
        """Sleep, then record the call."""
        started, started_mono = datetime.now(UTC), time.monotonic()
        await asyncio.sleep(self.seconds)
        ended_mono, ended = time.monotonic(), datetime.now(UTC)
        self.sends.append(Send(reminder.reminder_id, started, ended, started_mono, ended_mono))
        self.distinct.add(reminder.reminder_id)
        if len(self.distinct) >= self.expected:
            self.all_sent.set()


@dataclass
class Run:
    """What one run measured."""

    backend: str
    scenario: str
    concurrency: int
    count: int
    seed_s: float
    start_s: float
    queued: int
    lead_left_s: float
    sends: list[Send]
    due: dict[int, datetime]
    outcomes: dict[Outcome, int]
    db_sent: int
    log_sent: int
    loop_lags: list[tuple[float, float]]  # (monotonic instant, lag) of each probe
    first_due_mono: float
    timed_out: bool

    @property
    def label(self) -> str:
        """Backend, scenario and concurrency, for the tables."""
        return f"{BACKEND_NAMES[self.backend]} {self.scenario} ×{self.concurrency}"

    def first_sends(self) -> dict[int, Send]:
        """The first notifier call of each reminder."""
        first: dict[int, Send] = {}
        for send in self.sends:
            first.setdefault(send.reminder_id, send)
        return first

    def lateness_at_call(self) -> list[float]:
        """Seconds from due to the first notifier call, per reminder."""
        return [(s.started - self.due[i]).total_seconds() for i, s in self.first_sends().items()]

    def lateness_at_end(self) -> list[float]:
        """Seconds from due to the first notifier call's return, per reminder."""
        return [(s.ended - self.due[i]).total_seconds() for i, s in self.first_sends().items()]

    def throughput(self) -> float:
        """Sends per second from the first call to the last return."""
        if not self.sends:
            return float("nan")
        span = max(s.ended_mono for s in self.sends) - min(s.started_mono for s in self.sends)
        return len(self.sends) / span if span > 0 else float("nan")

    def sending_lags(self) -> list[float]:
        """Event-loop lags probed once the first reminder was due (start-up excluded)."""
        return [lag for at, lag in self.loop_lags if at >= self.first_due_mono]


def main() -> None:
    """Parse options, run every backend, scenario and concurrency, print, check."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.lateness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--count", type=int, default=10_000, help="reminders due")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="minute (due evenly over --spread seconds: the target) and/or burst (all at once)",
    )
    parser.add_argument("--spread", type=float, default=60.0, help="seconds the dues span")
    parser.add_argument("--lead", type=float, default=15.0, help="seconds to the first due")
    parser.add_argument(
        "--concurrency",
        default=str(RunnerSettings().concurrency),
        help="RunnerSettings.concurrency; a comma list runs each (default: the runner's)",
    )
    parser.add_argument("--notifier-ms", type=float, default=1.0, help="time per send")
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="sqlite and/or postgresql; postgresql runs only with a URL",
    )
    parser.add_argument("--pg-url", help=f"PostgreSQL URL (default: ${PG_URL_ENV})")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds after the last due")
    add_check_option(parser)
    args = parser.parse_args()
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not scenarios or any(s not in SCENARIOS for s in scenarios):
        parser.error(f"--scenarios: choose among {', '.join(SCENARIOS)}")
    backends, pg_url = chosen_backends(parser, args.backends, args.pg_url)
    logging.disable(logging.WARNING)
    targets = asyncio.run(run_all(args, backends, scenarios, pg_url))
    finish(targets, check=not args.no_check)


async def run_all(
    args: argparse.Namespace, backends: list[str], scenarios: list[str], pg_url: str | None
) -> list[Target]:
    """Run each backend, scenario and concurrency on a fresh database; report."""
    plan = bench_plan()
    runs: list[Run] = []
    facts: list[tuple[str, str]] = []
    for backend in backends:
        for scenario in scenarios:
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                with tempfile.TemporaryDirectory(prefix="bench-lateness-") as tmp:
                    async with migrated_database(
                        backend, directory=Path(tmp), pg_url=pg_url
                    ) as database:
                        facts += await server_facts(database)
                        console().print(
                            f"\n{BACKEND_NAMES[backend]}, {scenario}, concurrency"
                            f" {concurrency}: seeding {args.count:,} reminders ..."
                        )
                        runs.append(
                            await run_once(
                                database,
                                plan,
                                backend=backend,
                                scenario=scenario,
                                count=args.count,
                                lead=args.lead,
                                spread=args.spread if scenario == "minute" else 0.0,
                                concurrency=concurrency,
                                notifier_s=args.notifier_ms / 1000,
                                grace=args.timeout,
                            )
                        )
    print_facts("Machine", machine_facts(list(dict.fromkeys(facts))))
    print_facts(
        "Workload",
        [
            ("backends", ", ".join(BACKEND_NAMES[b] for b in backends)),
            ("reminders", f"{args.count:,}, one per patient, quiet hours off, 12 h validity"),
            (
                "minute",
                f"due evenly over {args.spread:g} s ({args.count / args.spread:,.0f}/s offered)",
            ),
            ("burst", "all due at the same instant"),
            ("first due", f"{args.lead:g} s after seeding"),
            ("notifier", f"await asyncio.sleep({args.notifier_ms / 1000:g}), then record"),
            ("clock", "SystemClock; the runner's one APScheduler wake job"),
        ],
    )
    return report(runs)


async def run_once(
    database: Database,
    plan: CarePlan,
    *,
    backend: str,
    scenario: str,
    count: int,
    lead: float,
    spread: float,
    concurrency: int,
    notifier_s: float,
    grace: float,
) -> Run:
    """Seed ``count`` reminders, start the runner, wait until all are sent, collect."""
    base = datetime.now(UTC) + timedelta(seconds=lead)
    due = {i + 1: base + timedelta(seconds=spread * i / count) for i in range(count)}
    seeding = time.perf_counter()
    await seed(database, plan, due)
    seed_s = time.perf_counter() - seeding

    clock = SystemClock()
    notifier = TimedNotifier(notifier_s, expected=count)
    dispatcher = Dispatcher(
        database=database,
        notifier=notifier,
        clock=clock,
        plans=lambda _plan_id, _language="en": plan,
        worker_id=new_worker_id(),
    )
    runner = ReminderRunner(
        database=database,
        dispatcher=dispatcher,
        clock=clock,
        settings=RunnerSettings(concurrency=concurrency),
    )
    lags: list[tuple[float, float]] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(probe_loop(stop, lags))
    started = time.perf_counter()
    await runner.start()
    start_s = time.perf_counter() - started
    queued = runner.queued
    lead_left = (base - datetime.now(UTC)).total_seconds()
    first_due_mono = time.monotonic() + lead_left
    console().print(
        f"  seeded in {seed_s:.1f} s; start() took {start_s:.3f} s, held {queued:,},"
        f" first due in {lead_left:.1f} s"
    )

    timed_out = False
    try:
        async with asyncio.timeout(lead_left + spread + grace):
            await notifier.all_sent.wait()
        async with asyncio.timeout(grace):
            await runner.wait_idle()
    except TimeoutError:
        timed_out = True
    async with asyncio.timeout(grace):
        await runner.shutdown()
    stop.set()
    await probe

    async with database.session() as session:
        counts = await ReminderRepository(session).count_by_status()
        log_sent = (
            await session.execute(
                select(func.count())
                .select_from(DeliveryLog)
                .where(DeliveryLog.outcome == DeliveryOutcome.SENT)
            )
        ).scalar_one()
    return Run(
        backend=backend,
        scenario=scenario,
        concurrency=concurrency,
        count=count,
        seed_s=seed_s,
        start_s=start_s,
        queued=queued,
        lead_left_s=lead_left,
        sends=notifier.sends,
        due=due,
        outcomes=dict(runner.delivered),
        db_sent=counts.get(ReminderStatus.SENT, 0),
        log_sent=int(log_sent),
        loop_lags=lags,
        first_due_mono=first_due_mono,
        timed_out=timed_out,
    )


async def seed(database: Database, plan: CarePlan, due: dict[int, datetime]) -> None:
    """One active patient, session and pending reminder per entry of ``due`` (id -> due_at)."""
    now = datetime.now(UTC)
    midnight = time_of_day(0)
    milestones = [m.id for m in plan.milestones]
    async with database.session() as session:
        await session.execute(
            insert(Patient),
            [
                {
                    "id": i,
                    "chat_id": 20_000_000 + i,
                    "language": "en",
                    "timezone": "UTC",
                    "quiet_start": midnight,
                    "quiet_end": midnight,
                    "status": PatientStatus.ACTIVE,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in due
            ],
        )
        await session.execute(
            insert(TreatmentSession),
            [
                {
                    "id": i,
                    "patient_id": i,
                    "session_date": now.date(),
                    "number": 1,
                    "plan_id": plan.id,
                    "created_at": now,
                }
                for i in due
            ],
        )
        await session.execute(
            insert(Reminder),
            [
                {
                    "id": i,
                    "priority": PRIORITY,
                    "chat_id": 20_000_000 + i,
                    "patient_id": i,
                    "created_at": now,
                    "session_id": i,
                    "milestone_id": milestones[i % len(milestones)],
                    "due_at": due_at,
                    "expires_at": due_at + VALIDITY,
                    "status": ReminderStatus.PENDING,
                    "attempts": 0,
                }
                for i, due_at in due.items()
            ],
        )
        await session.commit()


async def probe_loop(stop: asyncio.Event, lags: list[tuple[float, float]]) -> None:
    """How late the event loop wakes a 10 ms sleep: a stalled loop makes every send late."""
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(LOOP_PROBE_S)
        woke = time.monotonic()
        lags.append((woke, woke - before - LOOP_PROBE_S))


def report(runs: list[Run]) -> list[Target]:
    """Print lateness, throughput and checks per run; return the targets."""
    lateness_rows: list[list[object]] = []
    for run in runs:
        for label, values in (
            ("at call (net)", run.lateness_at_call()),
            ("at end (raw)", run.lateness_at_end()),
        ):
            lateness_rows.append(
                [
                    run.label,
                    label,
                    percentile(values, 50),
                    percentile(values, 95),
                    percentile(values, 99),
                    max(values, default=float("nan")),
                ]
            )
    print_table(
        "Lateness in seconds (send instant − due_at), first send per reminder",
        ["run", "measured", "p50", "p95", "p99", "max"],
        lateness_rows,
        notes=[
            "at call (net): when the runner called the notifier (the target): the"
            " send-completion lateness minus that call's own notifier time (~1 ms);",
            "at end (raw): when the notifier returned.",
        ],
    )
    print_table(
        "Throughput and the event loop",
        [
            "run",
            "sent/s",
            "sends",
            "notifier p50 ms",
            "seed s",
            "start() s",
            "held at start",
            "loop lag p99 ms",
            "loop lag max ms",
        ],
        [
            [
                run.label,
                run.throughput(),
                len(run.sends),
                percentile([s.own_s for s in run.sends], 50) * 1000,
                run.seed_s,
                run.start_s,
                run.queued,
                percentile(run.sending_lags(), 99) * 1000,
                max(run.sending_lags(), default=float("nan")) * 1000,
            ]
            for run in runs
        ],
        notes=[
            "sent/s: notifier calls from the first call to the last return; in 'minute' it is"
            " capped by the offered rate, 'burst' shows the capacity;",
            "loop lag: how late a 10 ms sleep woke once the first reminder was due;"
            " a stalled event loop delays every send.",
        ],
    )
    checks: list[list[object]] = []
    targets: list[Target] = []
    for run in runs:
        per_id = Counter(s.reminder_id for s in run.sends)
        twice = sum(1 for n in per_id.values() if n > 1)
        missing = run.count - len(per_id)
        other = {o.value: n for o, n in run.outcomes.items() if n and o is not Outcome.SENT}
        checks.append(
            [
                run.label,
                len(per_id),
                twice,
                missing,
                run.db_sent,
                run.log_sent,
                ", ".join(f"{k}={v}" for k, v in other.items()) or "-",
                "yes" if run.timed_out else "no",
            ]
        )
        if run.scenario == "minute":
            p99 = percentile(run.lateness_at_call(), 99)
            targets.append(
                Target(
                    f"p99 lateness ≤ {TARGET_P99_S:g} s beyond the notifier's time",
                    run.label,
                    f"{p99:.3f} s (p50 {percentile(run.lateness_at_call(), 50):.3f} s)",
                    p99 <= TARGET_P99_S and not run.timed_out,
                )
            )
        exactly_once = (
            not twice
            and not missing
            and not run.timed_out
            and run.db_sent == run.count
            and run.log_sent == run.count
        )
        targets.append(
            Target(
                f"all {run.count:,} sent exactly once",
                run.label,
                f"{len(per_id):,} sent, {twice} twice, {missing} missing;"
                f" db {run.db_sent:,}, log {run.log_sent:,}",
                exactly_once,
            )
        )
    print_table(
        "Exactly once",
        [
            "run",
            "reminders sent",
            "sent twice",
            "missing",
            "db 'sent'",
            "log 'sent'",
            "other outcomes",
            "timed out",
        ],
        checks,
    )
    return targets


if __name__ == "__main__":
    main()
