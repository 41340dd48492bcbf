"""Every dashboard page with a big clinic: 10,000 patients and 200,000 reminders.

    .venv/bin/python -m bench.dashboard [--backends sqlite,postgresql] [--pg-url URL]
        [--patients 10000] [--reminders-each 20] [--requests 40] [--no-check]

One clinic gets ``--patients`` patients, each with a session (spread over the last year and
the coming month, so every phase is populated), ``--reminders-each`` reminders (sent, pending
and expired), a question or two, and one patient in twenty an open alert. Each page of the
navigation, and the patients table searched, filtered and paged far, and a patient's page, is
requested ``--requests`` times over HTTP (in process, httpx's ASGI transport: the whole
Starlette stack, the template and the queries, no network) by a signed-in member of staff.
Reported per page: p50, p95 and max in milliseconds. Target: every page p95 ≤ 100 ms, on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import httpx
from sqlalchemy import insert, select, text
from starlette.applications import Starlette

from bench.databases import BACKEND_NAMES, chosen_backends, migrated_database, server_facts
from bench.report import (
    Target,
    add_check_option,
    finish,
    machine_facts,
    percentile,
    print_facts,
    print_table,
)
from bot.web.app import Dashboard, DashboardDeps
from content.loader import load_plan
from scheduler.broadcasts.service import BroadcastService
from scheduler.care.planning import QuietHours
from scheduler.care.sessions import CareService
from scheduler.clinics.dashboard import DashboardService
from scheduler.clinics.service import ClinicService
from scheduler.clinics.web_access import WebAccess
from scheduler.clock import FakeClock
from storage.database import Database
from storage.models import (
    Escalation,
    Patient,
    PatientStatus,
    Question,
    Reminder,
    ReminderStatus,
    TreatmentSession,
)
from storage.reminders import PRIORITY

TARGET_P95_MS = 100.0
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
SECRET = b"bench-dashboard"
TOPICS = ("redness", "peeling", "swelling", "makeup", "gym", "sun")
LEVELS = ("self_care", "self_care", "self_care", "clinic", "urgent")


async def seed(database: Database, clinic_id: int, patients: int, each: int) -> int:
    """The clinic's patients and their rows, in bulk; returns one patient's id."""
    plan = load_plan("microneedling")
    milestones = [m.id for m in plan.milestones]
    rng = random.Random(7)
    async with database.session() as session:
        first = (await session.execute(select(Patient.id).order_by(Patient.id.desc()))).first()
        start = (first[0] if first else 0) + 1
        patient_rows = [
            {
                "id": start + i,
                "chat_id": 10_000_000 + start + i,
                "language": rng.choice(("en", "en", "ur", "ur-Latn")),
                "timezone": "Asia/Karachi",
                "quiet_start": clock_time(21),
                "quiet_end": clock_time(8),
                "status": rng.choice(
                    (PatientStatus.ACTIVE,) * 8 + (PatientStatus.PAUSED, PatientStatus.STOPPED)
                ),
                "consented_at": NOW,
                "clinic_id": clinic_id,
                "clinic_label": f"File {i:05d}" if i % 3 == 0 else None,
                "last_seen_at": NOW - timedelta(hours=rng.randint(0, 2000)),
                "created_at": NOW - timedelta(days=rng.randint(0, 365)),
                "updated_at": NOW,
            }
            for i in range(patients)
        ]
        await session.execute(insert(Patient), patient_rows)
        session_rows = [
            {
                "id": start + i,
                "patient_id": start + i,
                "session_date": date(2026, 11, 20) - timedelta(days=rng.randint(-30, 365)),
                "number": 1,
                "plan_id": "microneedling",
                "created_at": NOW,
            }
            for i in range(patients)
        ]
        await session.execute(insert(TreatmentSession), session_rows)
        reminders = []
        for i in range(patients):
            for k in range(each):
                due = NOW + timedelta(hours=rng.randint(-24 * 200, 24 * 200))
                status = (
                    ReminderStatus.PENDING
                    if due > NOW
                    else rng.choice((ReminderStatus.SENT,) * 4 + (ReminderStatus.EXPIRED,))
                )
                reminders.append(
                    {
                        "priority": PRIORITY,
                        "chat_id": patient_rows[i]["chat_id"],
                        "patient_id": start + i,
                        "created_at": NOW,
                        "session_id": start + i,
                        "milestone_id": f"{milestones[k % len(milestones)]}"
                        if k < len(milestones)
                        else f"catch_up_first_week_{k}",
                        "due_at": due,
                        "expires_at": due + timedelta(hours=6),
                        "status": status,
                        "attempts": 0,
                        "finished_at": due if status is ReminderStatus.SENT else None,  # sent_at
                        "snoozes": 0,
                    }
                )
            if len(reminders) >= 20_000:
                await session.execute(insert(Reminder), reminders)
                reminders = []
        if reminders:
            await session.execute(insert(Reminder), reminders)
        questions = [
            {
                "patient_id": start + rng.randrange(patients),
                "day": rng.randint(0, 30),
                "topic": rng.choice(TOPICS),
                "level": rng.choice(LEVELS),
                "asked_at": NOW - timedelta(hours=rng.randint(0, 2000)),
            }
            for _ in range(patients * 2)
        ]
        await session.execute(insert(Question), questions)
        alerts = [
            {
                "patient_id": start + i,
                "day": 3,
                "topic": "swelling",
                "level": "urgent" if i % 2 else "clinic",
                "status": "open",
                "created_at": NOW - timedelta(minutes=i),
                "replies": 0,
                "clinic_id": clinic_id,
            }
            for i in range(0, patients, 20)
        ]
        await session.execute(insert(Escalation), alerts)
        await session.commit()
    return start + patients // 2


async def measure(backend: str, args: argparse.Namespace, directory: Path) -> list[list[object]]:
    async with migrated_database(backend, directory=directory, pg_url=args.pg_url) as database:
        clock = FakeClock(NOW)
        clinics = ClinicService(database=database, clock=clock, plans=load_plan)
        quiet = QuietHours.parse("21:00-08:00")
        clinic, admin = await clinics.create_clinic(
            name="Big Clinic", timezone="Asia/Karachi", plan_id="microneedling", quiet_hours=quiet
        )
        await clinics.join_staff(code=admin.code, chat_id=1, name="Admin")
        other, _ = await clinics.create_clinic(
            name="Other", timezone="Asia/Karachi", plan_id="microneedling", quiet_hours=quiet
        )
        started = time.perf_counter()
        one = await seed(database, clinic.id, args.patients, args.reminders_each)
        await seed(database, other.id, max(args.patients // 10, 1), 5)  # another clinic's rows
        seeded = time.perf_counter() - started
        if backend == "postgresql":
            async with database.session() as session:
                await session.execute(text("ANALYZE"))
                await session.commit()
        access = WebAccess(database=database, clock=clock)
        dashboard = Dashboard(
            DashboardDeps(
                access=access,
                dashboard=DashboardService(database=database, clock=clock, plans=load_plan),
                secret=SECRET,
                clinics=clinics,
                care=CareService(
                    database=database,
                    clock=clock,
                    plans=load_plan,
                    default_timezone="Asia/Karachi",
                    default_quiet_hours=quiet,
                ),
                broadcasts=BroadcastService(database=database, clock=clock, plans=load_plan),
            )
        )
        app = Starlette(routes=[dashboard.mount()])
        link = await access.link_for(clinic_id=clinic.id, staff_chat_id=1)
        pages = [path for group in dashboard.groups if group.nav for path in [group.nav[0]]]
        pages += [
            "/patients?q=file+0421",
            "/patients?q=%23" + str(one),
            "/patients?phase=first_week",
            "/patients?status=paused",
            "/patients?attention=1",
            f"/patients?page={max(args.patients // 50 - 1, 1)}",
            f"/patients/{one}",
        ]
        rows: list[list[object]] = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as browser:
            signed = await browser.post("/dashboard/login", data={"t": link.token})
            assert signed.status_code == 303, signed.text
            for path in pages:
                timings = []
                for _ in range(args.requests):
                    began = time.perf_counter()
                    answer = await browser.get("/dashboard" + path)
                    timings.append((time.perf_counter() - began) * 1000)
                    if answer.status_code != 200:
                        raise SystemExit(f"{path}: HTTP {answer.status_code}")
                rows.append(
                    [
                        BACKEND_NAMES[backend],
                        path,
                        timings[0],
                        percentile(timings, 50),
                        percentile(timings, 95),
                        max(timings),
                    ]
                )
        print_facts(
            f"{BACKEND_NAMES[backend]}",
            [
                *(await server_facts(database)),
                (
                    "Seeded",
                    f"{args.patients:,} patients, "
                    f"{args.patients * args.reminders_each:,} reminders in {seeded:.1f} s",
                ),
            ],
        )
        return rows


async def main_async(args: argparse.Namespace, backends: list[str]) -> None:
    print_facts("Machine", machine_facts())
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            rows += await measure(backend, args, Path(tmp))
    print_table(
        f"Dashboard pages, {args.requests} requests each (ms)",
        ["Database", "Page", "first", "p50", "p95", "max"],
        rows,
        notes=[
            "In process over httpx's ASGI transport: Starlette, the template and the queries.",
            "first: the first request (figures are counted then, and kept for a minute).",
        ],
        decimals=1,
    )
    targets = [
        Target(
            f"p95 ≤ {TARGET_P95_MS:.0f} ms",
            f"{row[0]} {row[1]}",
            f"{row[4]:.1f} ms",
            float(str(row[4])) <= TARGET_P95_MS,
        )
        for row in rows
    ]
    finish(targets, check=not args.no_check)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--reminders-each", type=int, default=20)
    parser.add_argument("--requests", type=int, default=40)
    add_check_option(parser)
    args = parser.parse_args()
    backends, args.pg_url = chosen_backends(parser, args.backends, args.pg_url)
    asyncio.run(main_async(args, backends))


if __name__ == "__main__":
    main()
