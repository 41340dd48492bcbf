"""The yardstick of the worker's start-up: APScheduler over its own SQLAlchemy job store.

    .venv/bin/python -m bench.apscheduler_reference seed <sqlite-file> <jobs>
    .venv/bin/python -m bench.apscheduler_reference ready <sqlite-file>

Issue 14 set "worker ready ≤ 0.4 s" beside this: on its machine, APScheduler with one job
per reminder in its own SQLite job store was ready 0.26 s after its process started (the
worker then: 0.69 s). Machines differ by a factor of three from day to day here, so
``bench.startup`` times this reference on the same machine, the same way, and prints it next
to the worker.

``seed`` writes ``jobs`` one-off jobs, due 30 days ahead and a second apart, as the worker's
reminders are (nothing due at start). ``ready`` imports APScheduler, starts an
``AsyncIOScheduler`` on that job store (which reads the next due time from it), writes
``READY_LINE`` to standard error, and stops without running anything.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

READY_LINE = "APScheduler running"


def deliver(number: int) -> None:
    """What each job would run (never, here: nothing is due)."""
    print("deliver", number)


def _url(path: str) -> str:
    return f"sqlite:///{path}"


def seed(path: str, jobs: int) -> None:
    """Write ``jobs`` jobs into a new job store at ``path``."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=_url(path))})
    scheduler.start(paused=True)
    first = datetime.now(UTC) + timedelta(days=30)
    for number in range(jobs):
        scheduler.add_job(
            deliver,
            "date",
            run_date=first + timedelta(seconds=number),
            args=[number],
            id=str(number),
        )
    scheduler.shutdown(wait=False)


async def ready(path: str) -> None:
    """Start the scheduler on the job store at ``path``, say so, stop."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler(jobstores={"default": SQLAlchemyJobStore(url=_url(path))})
    scheduler.start()
    print(READY_LINE, file=sys.stderr, flush=True)
    scheduler.shutdown(wait=False)


def main() -> None:
    """``seed <file> <jobs>`` or ``ready <file>``."""
    command, path, *rest = sys.argv[1:]
    if command == "seed":
        seed(path, int(rest[0]))
    elif command == "ready":
        asyncio.run(ready(path))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
