"""Raw capacity of the reminder sender: real `aftercare worker` processes on one PostgreSQL.

    .venv/bin/python -m bench.outbox [--pg-url URL] [--count 20000] [--workers 1,2,4]
        [--notifier-ms 1] [--database bench_outbox] [--no-check]

The raw-capacity mode of ``bench.lateness``: no Telegram limit, a notifier that takes
``--notifier-ms`` (1 ms: the worker's logging notifier, which writes one line per delivery,
plus an awaited sleep; 0: the console script as it ships), ``--count`` reminders (one per
patient) all due at the same instant, sent by 1, 2 and 4 processes of ``aftercare worker``
(no token) sharing one database. Each run starts on a freshly created database
(``--database``, dropped and created again; never the tests' own).

Measured per run: sends per second (from the first delivery the workers logged to the last),
database transactions per send (``xact_commit + xact_rollback`` of the database in
``pg_stat_database``, from when every worker was running until every one had stopped: claims,
settles, log rows, timer look-ups and the stops themselves), lost and duplicated (the ids the
workers logged against the rows), and how long each worker took to stop once the burst was
delivered. Targets: ≥ 1,000 sends/s with one worker, no lower with 2 and 4, ≤ 1 transaction
per send, 0 lost, 0 duplicated, every worker exits 0. Exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.databases import PG_URL_ENV, pg_url_from
from bench.lateness import seed
from bench.report import (
    Target,
    add_check_option,
    console,
    finish,
    machine_facts,
    print_facts,
    print_table,
)
from content.loader import load_plan
from storage.database import Database, normalize_url, redact_url
from storage.models import DeliveryLog, DeliveryOutcome, Reminder, ReminderStatus

TARGET_ONE_WORKER = 1_000.0
TARGET_XACT_PER_SEND = 1.0
LEAD_S = 8.0  # the burst falls due this long after the workers are started
READY_TIMEOUT_S = 60.0
DELIVERED = re.compile(r"^(\S+ \S+) .*reminder (\d+) \(.*delivered to chat")
ROOT = Path(__file__).resolve().parents[1]

# Runs the real `aftercare worker` command with the logging notifier slowed by an awaited sleep.
SLOW_WORKER = """
import asyncio, sys
from scheduler.outbox.notifier import LoggingNotifier
from bot.cli import main
_send = LoggingNotifier.send_reminder
async def send_reminder(self, reminder):
    await asyncio.sleep({seconds})
    await _send(self, reminder)
LoggingNotifier.send_reminder = send_reminder
sys.argv = ["aftercare", "worker"]
sys.exit(main())
"""


@dataclass
class Run:
    """What one run with ``workers`` processes measured."""

    workers: int
    count: int
    delivered: list[int]
    first_at: datetime | None
    last_at: datetime | None
    transactions: int
    exit_codes: list[int]
    stop_s: list[float]
    db_sent: int
    log_sent: int

    @property
    def sends_per_s(self) -> float:
        """Deliveries from the first logged to the last logged, per second."""
        if self.first_at is None or self.last_at is None or self.last_at <= self.first_at:
            return float("nan")
        return len(self.delivered) / (self.last_at - self.first_at).total_seconds()

    @property
    def lost(self) -> int:
        """Reminders never delivered."""
        return self.count - len(set(self.delivered))

    @property
    def duplicated(self) -> int:
        """Deliveries beyond the first of a reminder."""
        return len(self.delivered) - len(set(self.delivered))


def main() -> None:
    """Parse options, run each number of workers on a fresh database, print, check."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.outbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pg-url", help=f"PostgreSQL URL (default: ${PG_URL_ENV})")
    parser.add_argument("--count", type=int, default=20_000, help="reminders due at once")
    parser.add_argument("--workers", default="1,2,4", help="worker processes, a comma list")
    parser.add_argument("--notifier-ms", type=float, default=1.0, help="extra time per send")
    parser.add_argument("--database", default="bench_outbox", help="database to (re)create")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    add_check_option(parser)
    args = parser.parse_args()
    pg_url = pg_url_from(args.pg_url)
    if not pg_url:
        parser.error(f"needs --pg-url or ${PG_URL_ENV}")
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    runs = asyncio.run(run_all(args, pg_url, counts))
    finish(report(runs, args), check=not args.no_check)


async def run_all(args: argparse.Namespace, pg_url: str, counts: list[int]) -> list[Run]:
    """One run per number of workers, each on a database created for it."""
    url = make_url(normalize_url(pg_url)).set(database=args.database)
    runs = []
    for workers in counts:
        await recreate(pg_url, args.database)
        console().print(f"\n{workers} worker(s): seeding {args.count:,} reminders ...")
        runs.append(await run_once(url.render_as_string(hide_password=False), workers, args))
    await drop(pg_url, args.database)
    print_facts("Machine", machine_facts())
    print_facts(
        "Workload",
        [
            ("database", f"PostgreSQL, database {args.database} at {redact_url(url)}"),
            ("reminders", f"{args.count:,}, one per patient, all due at one instant"),
            (
                "workers",
                "`aftercare worker`, no token (the logging notifier: one log line a send)"
                + (
                    f", plus await asyncio.sleep({args.notifier_ms / 1000:g})"
                    if args.notifier_ms
                    else ""
                ),
            ),
            ("limit", "none (no Telegram budget)"),
        ],
    )
    return runs


async def run_once(url: str, workers: int, args: argparse.Namespace) -> Run:
    """Seed, start the workers, wait for every delivery, stop them, count."""
    database = Database(url)
    await database.upgrade()
    far = datetime.now(UTC) + timedelta(days=1)
    await seed(database, load_plan(), dict.fromkeys(range(1, args.count + 1), far))
    # Due a moment after the workers start: each finds nothing due, sets its timer for the
    # burst and wakes to it, as a worker meets its patients' 09:00.
    async with database.session() as session:
        await session.execute(
            update(Reminder).values(due_at=datetime.now(UTC) + timedelta(seconds=LEAD_S))
        )
        await session.commit()
    await database.dispose()
    with TemporaryDirectory(prefix="bench-outbox-") as tmp:
        logs = [Path(tmp) / f"worker{i}.log" for i in range(workers)]
        before = await transactions(url)
        procs = [start_worker(url, log, args.notifier_ms) for log in logs]
        stop_s: list[float] = []
        try:
            await wait_until(
                lambda: all("worker running" in read(log) for log in logs), what="ready"
            )
            await wait_until(
                lambda: sum(read(log).count("delivered to chat") for log in logs) >= args.count,
                what="every delivery",
                within=LEAD_S + args.timeout,
            )
            await asyncio.sleep(1.0)  # the last outcomes are committed just after their line
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            for proc in procs:
                await asyncio.to_thread(proc.wait, 60)
                stop_s.append(time.monotonic() - signalled)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        exit_codes = [proc.wait() for proc in procs]
        after = await transactions(url)
        delivered: list[int] = []
        stamps: list[datetime] = []
        for log in logs:
            for line in read(log).splitlines():
                match = DELIVERED.match(line)
                if match:
                    # Local time, only ever subtracted from another stamp of the same run.
                    stamp = match.group(1).replace(",", ".")
                    stamps.append(datetime.fromisoformat(stamp).replace(tzinfo=UTC))
                    delivered.append(int(match.group(2)))
    database = Database(url)
    async with database.session() as session:
        db_sent = (
            await session.execute(
                select(func.count()).where(Reminder.status == ReminderStatus.SENT)
            )
        ).scalar_one()
        log_sent = (
            await session.execute(
                select(func.count()).where(DeliveryLog.outcome == DeliveryOutcome.SENT)
            )
        ).scalar_one()
    await database.dispose()
    return Run(
        workers=workers,
        count=args.count,
        delivered=delivered,
        first_at=min(stamps, default=None),
        last_at=max(stamps, default=None),
        transactions=after - before - 1,  # less the reading of ``before`` itself
        exit_codes=exit_codes,
        stop_s=stop_s,
        db_sent=int(db_sent),
        log_sent=int(log_sent),
    )


def start_worker(url: str, log: Path, notifier_ms: float) -> subprocess.Popen[bytes]:
    """Start one `aftercare worker` writing its log to ``log``."""
    env = dict(os.environ, DATABASE_URL=url, LOG_LEVEL="INFO", PYTHONPATH=str(ROOT))
    env.pop("TELEGRAM_BOT_TOKEN", None)
    if notifier_ms:
        command = [sys.executable, "-c", SLOW_WORKER.format(seconds=notifier_ms / 1000)]
    else:
        command = [str(Path(sys.executable).parent / "aftercare"), "worker"]
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stderr=out, stdout=subprocess.DEVNULL)


def read(path: Path) -> str:
    """A worker's log so far."""
    return path.read_text(errors="replace") if path.exists() else ""


async def wait_until(
    condition: Callable[[], bool], *, what: str, within: float = READY_TIMEOUT_S
) -> None:
    """Poll ``condition`` until it holds, for at most ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def transactions(url: str) -> int:
    """Transactions committed or rolled back in the database so far (statistics)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT xact_commit + xact_rollback FROM pg_stat_database"
                        " WHERE datname = current_database()"
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    return int(row)


async def recreate(pg_url: str, name: str) -> None:
    """Drop the bench database if it is there, and create it empty."""
    await drop(pg_url, name)
    await _admin(pg_url, f'CREATE DATABASE "{name}"')


async def drop(pg_url: str, name: str) -> None:
    """Drop the bench database (closing any connection left to it)."""
    await _admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(pg_url: str, statement: str) -> None:
    engine = create_async_engine(normalize_url(pg_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def report(runs: list[Run], args: argparse.Namespace) -> list[Target]:
    """Print the figures; return the targets."""
    print_table(
        f"Raw capacity: {args.count:,} reminders due at once, real worker processes",
        [
            "workers",
            "sends/s",
            "transactions",
            "per send",
            "delivered",
            "lost",
            "duplicated",
            "db sent",
            "log sent",
            "exit codes",
            "stop s (max)",
        ],
        [
            [
                run.workers,
                run.sends_per_s,
                run.transactions,
                run.transactions / max(len(run.delivered), 1),
                len(run.delivered),
                run.lost,
                run.duplicated,
                run.db_sent,
                run.log_sent,
                ",".join(str(c) for c in run.exit_codes),
                max(run.stop_s, default=float("nan")),
            ]
            for run in runs
        ],
        notes=[
            "sends/s: deliveries logged, from the first log line to the last (all workers);",
            "transactions: xact_commit + xact_rollback of the database, from before the workers"
            " started until all had stopped (start-up, claims, settles, timers, the stops);",
            "stop s: from SIGTERM (sent once all were delivered) until the process exited.",
        ],
    )
    targets: list[Target] = []
    one = next((r for r in runs if r.workers == 1), None)
    for run in runs:
        scope = f"{run.workers} worker(s)"
        floor = (
            TARGET_ONE_WORKER
            if one is None or run is one
            else max(TARGET_ONE_WORKER, 0.9 * one.sends_per_s)
        )
        targets.append(
            Target(
                f"≥ {floor:,.0f} sends/s"
                + ("" if run is one else " (no lower than one worker, 10 % noise)"),
                scope,
                f"{run.sends_per_s:,.0f}/s",
                run.sends_per_s >= floor,
            )
        )
        per_send = run.transactions / max(len(run.delivered), 1)
        targets.append(
            Target(
                f"≤ {TARGET_XACT_PER_SEND:g} transaction per send",
                scope,
                f"{per_send:.3f} ({run.transactions:,} for {len(run.delivered):,})",
                per_send <= TARGET_XACT_PER_SEND,
            )
        )
        targets.append(
            Target(
                "0 lost, 0 duplicated, all written down, exit 0",
                scope,
                f"{run.lost} lost, {run.duplicated} duplicated; db {run.db_sent:,},"
                f" log {run.log_sent:,}; exit {','.join(str(c) for c in run.exit_codes)}",
                run.lost == 0
                and run.duplicated == 0
                and run.db_sent == run.count
                and run.log_sent == run.count
                and all(c == 0 for c in run.exit_codes),
            )
        )
    return targets


if __name__ == "__main__":
    main()
