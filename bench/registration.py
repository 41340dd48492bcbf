"""Registration (plan and persist): new patients per second on SQLite and PostgreSQL.

    .venv/bin/python -m bench.registration [--patients 3000] [--concurrency 1,8,32]
        [--pg-url URL] [--no-breakdown] [--no-check]

Each registration is ``CareService.register_session`` for a new patient (a new chat): the
patient row, the session, and every reminder of the default care plan planned in local time
(Asia/Karachi, quiet hours 21:00-08:00) and written in one transaction, for a session
tomorrow, so that every milestone is ahead (15 reminder rows). The refill hook the product
runs after a registration is not set: this measures planning and persisting only.

Each concurrency level (default: one at a time, 8 and 32 at once; the bot handles up to 32
updates of different chats in parallel, and registrations that arrive while one is being
written share the next transaction, see ``storage/batching.py``) runs on a fresh, empty
database after 100 unmeasured warm-up registrations. Reported: registrations a second (wall
clock), p50 / p99 / max of each registration's own time. Target: at least 1,000
registrations a second on SQLite (the best of the concurrency levels). Exits 1 when it is
missed (``--no-check``: only print).

SQLite always (a file in a temporary directory); PostgreSQL too when ``--pg-url`` or
``TEST_DATABASE_URL`` gives a server (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test):
each run gets a fresh schema, dropped afterwards.

The breakdown (``--no-breakdown`` skips it) shows where a registration's time goes: planning
alone (pure, no database), then the same rows written with three SQLAlchemy Core statements
in one transaction through the same ``Database`` (no ORM), next to the full use case.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import insert

from bench.databases import (
    BACKEND_NAMES,
    PG_URL_ENV,
    chosen_backends,
    migrated_database,
    server_facts,
)
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
from content.loader import load_plan
from content.plan import CarePlan
from scheduler.care.planning import PlanState, QuietHours, load_zone, plan_reminders
from scheduler.care.sessions import CareService
from scheduler.clock import FakeClock
from storage.database import Database
from storage.models import REMINDER, Base, PatientStatus, ReminderStatus
from storage.reminders import PRIORITY

TARGET_PER_SECOND = 1000.0
WARM_UP = 100
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 09:00 in Karachi
SESSION_DATE = date(2026, 11, 21)
TIMEZONE = "Asia/Karachi"
QUIET = QuietHours.parse("21:00-08:00")
PATIENTS, SESSIONS, OUTBOX = (
    Base.metadata.tables[name] for name in ("patients", "treatment_sessions", "outbox")
)


@dataclass(frozen=True)
class Result:
    """One measured series of registrations."""

    backend: str
    way: str
    concurrency: int
    patients: int
    elapsed_s: float
    durations: list[float]
    rows: float

    @property
    def per_second(self) -> float:
        """Registrations a second over the wall clock."""
        return self.patients / self.elapsed_s

    @property
    def label(self) -> str:
        """The backend's display name."""
        return BACKEND_NAMES[self.backend]


Register = Callable[[int], Awaitable[int]]


async def timed(
    register: Register, *, first_chat: int, patients: int, concurrency: int
) -> tuple[float, list[float], float]:
    """Run ``register`` for ``patients`` new chats, ``concurrency`` at once.

    Returns the wall time, each registration's own time, and the mean rows written.
    """
    durations: list[float] = []
    rows: list[int] = []
    chats = iter(range(first_chat, first_chat + patients))

    async def worker() -> None:
        for chat_id in chats:
            started = time.perf_counter()
            rows.append(await register(chat_id))
            durations.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, durations, statistics.fmean(rows)


def care_service(database: Database, plan: CarePlan) -> CareService:
    """The use case as the product wires it, minus the runner's refill hook."""
    return CareService(
        database=database,
        clock=FakeClock(NOW),
        plans=lambda _plan_id, _language="en": plan,
        default_timezone=TIMEZONE,
        default_quiet_hours=QUIET,
        default_plan=plan.id,
    )


def use_case(care: CareService) -> Register:
    """A registration through ``CareService.register_session``."""

    async def register(chat_id: int) -> int:
        registration = await care.register_session(chat_id=chat_id, session_date=SESSION_DATE)
        return registration.created

    return register


def core_writes(database: Database, plan: CarePlan) -> Register:
    """The same rows as a registration, planned the same way, written with Core statements.

    Three INSERTs on the tables in one transaction (patient, session, reminders): what the
    async driver and SQLAlchemy Core cost without the ORM's unit of work and the use case's
    reads.
    """
    tz = load_zone(TIMEZONE)

    async def register(chat_id: int) -> int:
        planned = [
            p
            for p in plan_reminders(
                session_date=SESSION_DATE, tz=tz, plan=plan, quiet_hours=QUIET, now=NOW
            )
            if p.state is PlanState.AHEAD
        ]
        async with database.session() as session:
            patient_id = (
                await session.execute(
                    insert(PATIENTS)
                    .values(
                        chat_id=chat_id,
                        language="en",
                        timezone=TIMEZONE,
                        quiet_start=QUIET.start,
                        quiet_end=QUIET.end,
                        status=PatientStatus.ACTIVE,
                        created_at=NOW,
                        updated_at=NOW,
                    )
                    .returning(PATIENTS.c.id)
                )
            ).scalar_one()
            session_id = (
                await session.execute(
                    insert(SESSIONS)
                    .values(
                        patient_id=patient_id,
                        session_date=SESSION_DATE,
                        number=1,
                        plan_id=plan.id,
                        created_at=NOW,
                    )
                    .returning(SESSIONS.c.id)
                )
            ).scalar_one()
            await session.execute(
                insert(OUTBOX),
                [
                    {
                        "kind": REMINDER,
                        "priority": PRIORITY,
                        "chat_id": chat_id,
                        "patient_id": patient_id,
                        "created_at": NOW,
                        "snoozes": 0,
                        "session_id": session_id,
                        "milestone_id": p.milestone_id,
                        "due_at": p.due_at,
                        "expires_at": p.expires_at,
                        "status": ReminderStatus.PENDING,
                        "attempts": 0,
                    }
                    for p in planned
                ],
            )
            await session.commit()
        return len(planned)

    return register


def planning_only(plan: CarePlan) -> Result:
    """Planning alone, pure: the floor of any registration."""
    tz = load_zone(TIMEZONE)
    durations: list[float] = []
    rows = 0
    started = time.perf_counter()
    for _ in range(2000):
        one = time.perf_counter()
        planned = plan_reminders(
            session_date=SESSION_DATE, tz=tz, plan=plan, quiet_hours=QUIET, now=NOW
        )
        rows = sum(1 for p in planned if p.state is PlanState.AHEAD)
        durations.append(time.perf_counter() - one)
    return Result("-", "planning only", 1, 2000, time.perf_counter() - started, durations, rows)


async def run(
    *,
    backends: list[str],
    concurrencies: list[int],
    patients: int,
    pg_url: str | None,
    breakdown: bool,
) -> tuple[list[Result], list[tuple[str, str]]]:
    """Every backend and concurrency (and the breakdown) on a fresh database each."""
    plan = load_plan()
    results: list[Result] = []
    facts: list[tuple[str, str]] = []
    ways: list[tuple[str, Callable[[Database], Register]]] = [
        ("register_session", lambda database: use_case(care_service(database, plan)))
    ]
    if breakdown:
        ways.append(("Core writes", lambda database: core_writes(database, plan)))
    for backend in backends:
        for way, make in ways:
            for concurrency in concurrencies:
                console().print(
                    f"{BACKEND_NAMES[backend]}: {way}, {concurrency} at once,"
                    f" {patients:,} patients ..."
                )
                with tempfile.TemporaryDirectory(prefix="bench-registration-") as tmp:
                    async with migrated_database(
                        backend, directory=Path(tmp), pg_url=pg_url
                    ) as database:
                        facts += await server_facts(database)
                        register = make(database)
                        await timed(
                            register, first_chat=1, patients=WARM_UP, concurrency=concurrency
                        )
                        elapsed, durations, rows = await timed(
                            register,
                            first_chat=WARM_UP + 1,
                            patients=patients,
                            concurrency=concurrency,
                        )
                results.append(
                    Result(backend, way, concurrency, patients, elapsed, durations, rows)
                )
    if breakdown:
        results.append(planning_only(plan))
    return results, list(dict.fromkeys(facts))


def main() -> None:
    """Parse options, measure, print, check."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.registration",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--patients", type=int, default=3000, help="measured registrations")
    parser.add_argument("--concurrency", default="1,8,32", help="registrations at once, a list")
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="sqlite and/or postgresql; postgresql runs only with a URL",
    )
    parser.add_argument("--pg-url", help=f"PostgreSQL URL (default: ${PG_URL_ENV})")
    parser.add_argument(
        "--no-breakdown", action="store_true", help="skip planning-only and Core-writes runs"
    )
    add_check_option(parser)
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    backends, pg_url = chosen_backends(parser, args.backends, args.pg_url)
    logging.disable(logging.WARNING)
    results, facts = asyncio.run(
        run(
            backends=backends,
            concurrencies=concurrencies,
            patients=args.patients,
            pg_url=pg_url,
            breakdown=not args.no_breakdown,
        )
    )
    print_facts("Machine", machine_facts(facts))
    print_facts(
        "Workload",
        [
            ("registration", "CareService.register_session, a new patient each time"),
            ("plan", f"{load_plan().id}, session tomorrow, {TIMEZONE}, quiet hours {QUIET}"),
            ("measured", f"{args.patients:,} per run after {WARM_UP} warm-up, fresh database"),
        ],
    )
    finish(report(results), check=not args.no_check)


def report(results: list[Result]) -> list[Target]:
    """Print the figures; return the target."""
    print_table(
        "Registrations",
        ["database", "how", "at once", "per s", "p50 ms", "p99 ms", "max ms", "rows each"],
        [
            [
                r.label if r.backend != "-" else "-",
                r.way,
                r.concurrency,
                r.per_second,
                percentile(r.durations, 50) * 1000,
                percentile(r.durations, 99) * 1000,
                max(r.durations) * 1000,
                f"{r.rows:g}",
            ]
            for r in results
        ],
        notes=[
            "per s: registrations divided by the wall time of the run; p50/p99/max: each"
            " registration's own time, queueing for the database included;",
            "rows each: reminder rows written per registration (plus one patient, one session);",
            "Core writes: the same rows with three Core INSERTs in one transaction, no ORM,"
            " no reads;",
            "planning only: plan_reminders alone, no database.",
        ],
    )
    sqlite = [r for r in results if r.backend == "sqlite" and r.way == "register_session"]
    if not sqlite:
        return []
    best = max(sqlite, key=lambda r: r.per_second)
    return [
        Target(
            f"≥ {TARGET_PER_SECOND:,.0f} registrations/s",
            "SQLite, best of the concurrency levels",
            f"{best.per_second:,.0f}/s ({best.concurrency} at once)",
            best.per_second >= TARGET_PER_SECOND,
        )
    ]


if __name__ == "__main__":
    main()
