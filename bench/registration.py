"""Registration (plan and persist): new patients per second on SQLite and PostgreSQL.

    .venv/bin/python -m bench.registration [--patients 3000] [--pg-url URL] [--no-check]

Each registration is ``CareService.register_session`` for a new patient: the patient row,
the session, every reminder of the plan planned in local time and written in one
transaction, and the refill hook (a no-op here: no runner). Sequential, then 8 at once.
PostgreSQL runs when ``--pg-url`` or ``TEST_DATABASE_URL`` is given (a fresh schema,
dropped afterwards). Target: at least 1,000 registrations a second on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bench.databases import migrated_database, pg_url_from
from content.loader import load_plan
from scheduler.clock import FakeClock
from scheduler.planning import QuietHours
from scheduler.sessions import CareService
from storage.database import Database

TARGET_PER_SECOND = 1000.0


async def measure(database: Database, patients: int, concurrency: int) -> dict[str, float]:
    clock = FakeClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    care = CareService(
        database=database,
        clock=clock,
        plans=load_plan,
        default_timezone="Asia/Karachi",
        default_quiet_hours=QuietHours.parse("21:00-08:00"),
        default_plan="microneedling",
    )
    durations: list[float] = []
    next_chat = iter(range(1, patients + 1))

    async def worker() -> None:
        for chat_id in next_chat:
            started = time.perf_counter()
            await care.register_session(chat_id=chat_id, session_date=date(2026, 11, 20))
            durations.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    durations.sort()
    return {
        "per_second": patients / elapsed,
        "p50_ms": statistics.median(durations) * 1000,
        "p99_ms": durations[int(len(durations) * 0.99) - 1] * 1000,
    }


async def run(patients: int, pg_url: str | None) -> list[tuple[str, int, dict[str, float]]]:
    results = []
    backends = [("SQLite", "sqlite")] + ([("PostgreSQL", "postgresql")] if pg_url else [])
    for concurrency in (1, 8):
        for label, backend in backends:
            with tempfile.TemporaryDirectory() as tmp:
                async with migrated_database(
                    backend, directory=Path(tmp), pg_url=pg_url
                ) as database:
                    figures = await measure(database, patients, concurrency)
            results.append((label, concurrency, figures))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=3000)
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--no-check", action="store_true", help="print figures only")
    args = parser.parse_args()
    results = asyncio.run(run(args.patients, pg_url_from(args.pg_url)))
    print(f"Registrations (plan + persist), {args.patients} new patients, "
          f"{len(load_plan().milestones)} milestones each")  # fmt: skip
    print(f"  {'database':<11} {'at once':>7} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for backend, concurrency, figures in results:
        print(
            f"  {backend:<11} {concurrency:>7} {figures['per_second']:>9.0f} "
            f"{figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f}"
        )
    best_sqlite = max(f["per_second"] for b, _, f in results if b == "SQLite")
    ok = best_sqlite >= TARGET_PER_SECOND
    print(f"  SQLite target >= {TARGET_PER_SECOND:.0f}/s: {'PASS' if ok else 'FAIL'}")
    if not ok and not args.no_check:
        sys.exit(1)


if __name__ == "__main__":
    main()
