"""Start-up with many reminders pending in SQLite: time until the runner is ready, and memory.

    .venv/bin/python -m bench.startup [--sizes 10000,1000000] [--repeat 1] [--rebuild]
        [--no-check]

Targets: with 1,000,000 pending reminders in SQLite, the process is ready (interpreter start,
imports, ``Database(...)``, ``upgrade()`` (a no-op at head) and ``ReminderRunner.start()``,
which starts the sender; its first pass expires stale rows and sends the overdue) within
3 s; it peaks at 200 MB RSS or less, also after delivering the overdue backlog; and its peak
RSS does not grow with the number pending: at most 10 MB more than with the smallest size
(10,000). A real ``aftercare worker`` restarting with nothing overdue is ready within 0.4 s
of its process start (median of ``--worker-repeat``); beside it, the yardstick issue 14 set
that target by, APScheduler over its own job store (``bench.apscheduler_reference``), is
timed the same way on the same machine and printed. Exits 1 when a target is missed
(``--no-check``: only print).

Each size's SQLite file is built once under ``bench/out/`` (the schema by the migrations, then
the rows with ``sqlite3.executemany`` in one transaction, the two big indexes built after the
rows) and reused while the schema's head revision is the same; every measurement works on a
fresh copy, because a start changes the file (stale rows expire and overdue ones are sent).
Each measurement runs in a new interpreter, so its RSS is its own. The database's times are
relative to the instant it was built, so the measured process runs the real clock set back to
that instant: the same rows are stale, overdue and due soon on every run, however old the
cached file is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from bench import apscheduler_reference
from bench.databases import sqlite_url
from bench.plans import REPO_ROOT, bench_plan
from bench.report import (
    Target,
    add_check_option,
    console,
    finish,
    machine_facts,
    print_facts,
    print_table,
)
from scheduler.outbox.notifier import OutgoingReminder
from scheduler.outbox.reminders import Dispatcher, Outcome
from scheduler.outbox.sender import ReminderRunner, new_worker_id
from storage.database import Database, head_revision
from storage.models import ReminderStatus
from storage.reminders import PRIORITY, ReminderRepository

TARGET_READY_S = 3.0
TARGET_WORKER_READY_S = 0.4
ISSUE_REFERENCE_S = 0.26  # APScheduler's start-up on issue 14's machine, beside that target
WORKER_LEAD_DAYS = 30  # the worker runs the real clock: its reminders start a month ahead
WORKER_READY_LINE = "Reminder worker running"
WORKER_STOP_TIMEOUT_S = 60.0
WORKER_SETTLE_S = 0.5
TARGET_PEAK_RSS_MB = 200.0
TARGET_RSS_GROWTH_MB = 10.0
DRAIN_TIMEOUT_S = 300.0

OUT_DIR = Path(__file__).resolve().parent / "out"
CACHE_FORMAT = 2  # bump when the generated rows change, so cached files are rebuilt
SEED = 20261120
YEAR_S = 365 * 24 * 3600.0
# SQLAlchemy stores a DateTime in SQLite as 'YYYY-MM-DD HH:MM:SS.ffffff'
TIMESTAMP_SPEC = "microseconds"


@dataclass(frozen=True)
class Population:
    """How many reminders are pending, and how many of them are stale, overdue and due soon.

    The stale, overdue and due-soon counts are the same for every size, so that the sizes
    differ only in the reminders waiting far ahead.
    """

    pending: int
    overdue: int
    stale: int
    due_soon: int
    lead_days: int = 0

    @property
    def far_ahead(self) -> int:
        """Reminders due between 15 minutes and a year ahead (after ``lead_days``): the bulk."""
        return self.pending - self.overdue - self.stale - self.due_soon

    def cache_path(self) -> Path:
        """Where the built database of this population is kept between runs."""
        name = f"startup-{self.pending}-{self.overdue}-{self.stale}-{self.due_soon}"
        if self.lead_days:
            name += f"-lead{self.lead_days}d"
        return OUT_DIR / f"{name}.sqlite3"

    def expired_cache(self, built_at: datetime) -> bool:
        """Whether a database built at ``built_at`` no longer holds this population for a
        process on the real clock: its lead is half spent (without a lead, the measured
        process runs a clock set back to ``built_at``, so a cache never expires)."""
        if not self.lead_days:
            return False
        return datetime.now(UTC) - built_at > timedelta(days=self.lead_days / 2)


class NullNotifier:
    """Accepts every reminder at once and does nothing with it."""

    async def send_reminder(self, reminder: OutgoingReminder) -> None:
        """Do nothing."""


class ShiftedClock:
    """The real clock, running, but set back so that it starts at ``start``."""

    def __init__(self, start: datetime) -> None:
        """Start now at ``start`` and tick in real time from there."""
        self._offset = datetime.now(UTC) - start

    def now(self) -> datetime:
        """The current instant, shifted."""
        return datetime.now(UTC) - self._offset


def main() -> None:
    """Build (or reuse) a database per size, measure each in a fresh process, report."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes", default="10000,1000000", help="pending reminders, one run per size"
    )
    parser.add_argument("--overdue", type=int, default=300, help="overdue but still valid")
    parser.add_argument("--stale", type=int, default=3000, help="past their expiry")
    parser.add_argument("--due-soon", type=int, default=25, help="inside the 10 min look-ahead")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per size")
    parser.add_argument("--rebuild", action="store_true", help="ignore cached databases")
    parser.add_argument(
        "--worker-repeat",
        type=int,
        default=5,
        help="restarts of `aftercare worker` with nothing overdue per size (0: none)",
    )
    add_check_option(parser)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--built-at", help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        built_at = datetime.fromisoformat(args.built_at)
        result = asyncio.run(measure(args.child, built_at, spawned_at=args.spawned_at))
        print(json.dumps(result))
        return

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    populations = [Population(n, args.overdue, args.stale, args.due_soon) for n in sizes]
    for population in populations:
        if population.far_ahead < 0:
            parser.error(f"--sizes: {population.pending:,} is fewer than the special rows")
    print_facts("Machine", machine_facts())
    print_facts(
        "Workload (the same for every size except the reminders far ahead)",
        [
            ("database", "SQLite file, migrated to head, WAL"),
            ("overdue, still valid", f"{args.overdue:,} (sent right after start)"),
            ("stale (past expiry)", f"{args.stale:,} (expired by start())"),
            ("due within 10 min", f"{args.due_soon:,} (left pending: the timer's)"),
            ("rest", "due 15 min to 1 year ahead, 12 h validity, 15 per patient"),
            ("notifier", "does nothing; logging off"),
        ],
    )
    results: list[tuple[Population, dict[str, float]]] = []
    for population in populations:
        path, built_at = cached_database(population, rebuild=args.rebuild)
        for attempt in range(args.repeat):
            console().print(
                f"measuring {population.pending:,} pending ({attempt + 1}/{args.repeat}) ..."
            )
            results.append((population, run_child(path, built_at)))
    worker_results: list[tuple[Population, dict[str, float]]] = []
    if args.worker_repeat > 0:
        for size in sizes:
            population = Population(size, 0, 0, 0, lead_days=WORKER_LEAD_DAYS)
            path, _built_at = cached_database(population, rebuild=args.rebuild)
            for attempt in range(args.worker_repeat):
                console().print(
                    f"restarting `aftercare worker` on {size:,} pending, nothing overdue"
                    f" ({attempt + 1}/{args.worker_repeat}) ..."
                )
                worker_results.append((population, run_worker(path, population)))
    reference: list[float] = []
    if args.worker_repeat > 0:
        console().print(
            f"timing the yardstick, APScheduler over its own job store with {sizes[0]:,} jobs"
            f" ({args.worker_repeat} starts) ..."
        )
        reference = [run_reference(sizes[0]) for _ in range(args.worker_repeat)]
    targets = report(results) + report_workers(worker_results, reference)
    finish(targets, check=not args.no_check)


def cached_database(population: Population, *, rebuild: bool) -> tuple[Path, datetime]:
    """The built database of ``population`` and the instant it was built; builds if needed.

    A cached file is reused only if it was built by this format of the generator and at the
    schema's current head revision.
    """
    path = population.cache_path()
    meta = path.with_suffix(".json")
    head = head_revision()
    if not rebuild and path.exists() and meta.exists():
        facts = json.loads(meta.read_text())
        built_at = datetime.fromisoformat(facts["built_at"])
        if (
            facts.get("format") == CACHE_FORMAT
            and facts.get("head") == head
            and not population.expired_cache(built_at)
        ):
            console().print(
                f"\nreusing {path.relative_to(REPO_ROOT)} (built {built_at:%Y-%m-%d %H:%M} UTC,"
                f" schema {head}, {facts.get('build_s', math.nan):.1f} s to build)"
            )
            return path, built_at
    console().print(
        f"\nbuilding {path.relative_to(REPO_ROOT)} ({population.pending:,} pending) ..."
    )
    started = time.perf_counter()
    built_at = build_database(population, path)
    build_s = time.perf_counter() - started
    meta.write_text(
        json.dumps(
            {
                "built_at": built_at.isoformat(),
                "format": CACHE_FORMAT,
                "head": head,
                "build_s": build_s,
                **asdict(population),
            }
        )
    )
    size_mb = path.stat().st_size / 2**20
    console().print(f"  built in {build_s:.1f} s, {size_mb:,.0f} MB")
    return path, built_at


def build_database(population: Population, path: Path) -> datetime:
    """Create the schema with the migrations, then bulk-insert rows with sqlite3 directly.

    The reminders' own indexes are dropped for the insert and created again, with the very
    SQL the migrations gave them, once the rows are in: one sort instead of a million random
    B-tree inserts.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(path.name + ".building")
    for leftover in (building, *_sidecars(building), path, *_sidecars(path)):
        leftover.unlink(missing_ok=True)
    asyncio.run(_migrate(building))

    built_at = datetime.now(UTC).replace(microsecond=0)
    plan = bench_plan()
    milestones = [m.id for m in plan.milestones]
    sessions = math.ceil(population.pending / len(milestones))
    stamp = _stamp(built_at.replace(tzinfo=None))
    connection = sqlite3.connect(building, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        indexes = connection.execute(
            "SELECT name, sql FROM sqlite_master"
            " WHERE type = 'index' AND tbl_name = 'outbox' AND sql IS NOT NULL"
        ).fetchall()
        connection.execute("BEGIN")
        for name, _sql in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        connection.executemany(
            "INSERT INTO patients (id, chat_id, language, timezone, quiet_start, quiet_end,"
            " status, created_at, updated_at) VALUES (?, ?, 'en', 'UTC',"
            " '00:00:00.000000', '00:00:00.000000', 'active', ?, ?)",
            ((i, 10_000_000 + i, stamp, stamp) for i in range(1, sessions + 1)),
        )
        connection.executemany(
            "INSERT INTO treatment_sessions (id, patient_id, session_date, number, plan_id,"
            " created_at) VALUES (?, ?, ?, 1, ?, ?)",
            ((i, i, f"{built_at:%Y-%m-%d}", plan.id, stamp) for i in range(1, sessions + 1)),
        )
        connection.executemany(
            "INSERT INTO outbox (id, kind, priority, chat_id, patient_id, session_id,"
            " milestone_id, created_at, due_at, expires_at, status, attempts, snoozes)"
            f" VALUES (?, 'reminder', {PRIORITY}, ?, ?, ?, ?, '{stamp}', ?, ?, 'pending', 0, 0)",
            _reminder_rows(population, milestones, built_at),
        )
        for _name, sql in indexes:
            connection.execute(sql)
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    building.rename(path)
    return built_at


def _stamp(naive_utc: datetime) -> str:
    return naive_utc.isoformat(" ", TIMESTAMP_SPEC)


def _reminder_rows(
    population: Population, milestones: list[str], built_at: datetime
) -> Iterator[tuple[int, int, int, int, str, str, str]]:
    rng = random.Random(SEED)
    kinds = (
        ["stale"] * population.stale
        + ["overdue"] * population.overdue
        + ["soon"] * population.due_soon
        + ["ahead"] * population.far_ahead
    )
    rng.shuffle(kinds)
    base = built_at.replace(tzinfo=None)
    lead = timedelta(days=population.lead_days)
    validity = timedelta(hours=12)
    for index, kind in enumerate(kinds):
        if kind == "ahead":
            due = base + lead + timedelta(seconds=15 * 60 + YEAR_S * rng.random())
            expires = due + validity
        elif kind == "stale":
            due = base - timedelta(hours=rng.uniform(2, 30 * 24))
            expires = base - timedelta(minutes=rng.uniform(1, 60))
        elif kind == "overdue":
            due = base - timedelta(minutes=rng.uniform(0.1, 60))
            expires = base + timedelta(hours=rng.uniform(2, 12))
        else:
            due = base + timedelta(minutes=rng.uniform(1, 9))
            expires = due + validity
        session = index // len(milestones) + 1  # patient i has session i and chat 10,000,000 + i
        yield (
            index + 1,
            10_000_000 + session,
            session,
            session,
            milestones[index % len(milestones)],
            _stamp(due),
            _stamp(expires),
        )


async def _migrate(path: Path) -> None:
    database = Database(sqlite_url(path))
    try:
        await database.upgrade()
    finally:
        await database.dispose()


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def run_child(cached: Path, built_at: datetime) -> dict[str, float]:
    """Measure a start on a fresh copy of ``cached`` in a new interpreter."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        copy = Path(tmp) / cached.name
        shutil.copyfile(cached, copy)
        spawned_at = time.time()  # the last thing before the child exists: see measure()
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.startup",
                "--child",
                str(copy),
                "--built-at",
                built_at.isoformat(),
                "--spawned-at",
                repr(spawned_at),
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"the measured process failed with exit code {completed.returncode}")
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run_worker(cached: Path, population: Population) -> dict[str, float]:
    """Time a real ``aftercare worker`` (no token: it logs each delivery) restarting on a fresh
    copy of ``cached``, with nothing overdue: from the parent's stamp just before it starts the
    process until the worker writes that it is running (after its imports, the settings,
    ``upgrade()`` and ``ReminderRunner.start()``). Then stop it with SIGTERM and check that it
    exited 0 and left every reminder pending."""
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as tmp:
        copy = Path(tmp) / cached.name
        shutil.copyfile(cached, copy)
        env = {k: v for k, v in os.environ.items() if k.upper() != "TELEGRAM_BOT_TOKEN"}
        env["DATABASE_URL"] = sqlite_url(copy)
        worker, ready_s, said = _spawn_until(
            [*_worker_command(), "worker"],
            WORKER_READY_LINE,
            cwd=Path(tmp),  # no .env of the developer's
            env=env,
        )
        # The worker installs its SIGTERM handler just after that line: give it a moment.
        time.sleep(WORKER_SETTLE_S)
        worker.send_signal(signal.SIGTERM)
        _, rest = worker.communicate(timeout=WORKER_STOP_TIMEOUT_S)
        if math.isnan(ready_s) or worker.returncode != 0:
            sys.stderr.write("".join(said) + rest)
            raise SystemExit(f"the worker failed with exit code {worker.returncode}")
        connection = sqlite3.connect(copy)
        try:
            pending = connection.execute(
                "SELECT count(*) FROM outbox WHERE kind = 'reminder' AND status = 'pending'"
            ).fetchone()[0]
        finally:
            connection.close()
    return {"worker_ready_s": ready_s, "pending_after": pending}


def run_reference(jobs: int) -> float:
    """Seconds from the parent's stamp to APScheduler's ready line, over its own SQLAlchemy
    job store of ``jobs`` jobs due a month ahead (``bench.apscheduler_reference``; the store
    is built once under ``bench/out/``)."""
    store = OUT_DIR / f"apscheduler-{jobs}.sqlite3"
    if not store.exists():
        OUT_DIR.mkdir(exist_ok=True)
        building = store.with_suffix(".building")
        building.unlink(missing_ok=True)
        command = [sys.executable, "-m", "bench.apscheduler_reference"]
        subprocess.run([*command, "seed", str(building), str(jobs)], check=True, cwd=REPO_ROOT)
        building.rename(store)
    child, ready_s, said = _spawn_until(
        [sys.executable, "-m", "bench.apscheduler_reference", "ready", str(store)],
        apscheduler_reference.READY_LINE,
        cwd=REPO_ROOT,
    )
    _, rest = child.communicate(timeout=WORKER_STOP_TIMEOUT_S)
    if math.isnan(ready_s) or child.returncode != 0:
        sys.stderr.write("".join(said) + rest)
        raise SystemExit(f"the APScheduler reference failed with exit code {child.returncode}")
    return ready_s


def _spawn_until(
    command: list[str], ready_line: str, *, cwd: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], float, list[str]]:
    """Start ``command`` and read its standard error until ``ready_line``: the process
    (still running), the seconds from the stamp taken just before starting it to that line
    (NaN if it never came), and the lines it wrote until then."""
    spawned_at = time.time()
    child = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    said: list[str] = []
    for line in child.stderr:
        said.append(line)
        if ready_line in line:
            return child, time.time() - spawned_at, said
    return child, math.nan, said


def _worker_command() -> list[str]:
    """The ``aftercare`` console script of this interpreter, as an operator runs it."""
    script = Path(sys.executable).with_name("aftercare")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


async def measure(path: Path, built_at: datetime, *, spawned_at: float) -> dict[str, float]:
    """The measured process: start the runner on ``path`` and time it (printed as JSON).

    "From process start" counts from ``spawned_at``, the wall-clock stamp the parent took just
    before it started this process, not from psutil's ``create_time()``: Linux derives that
    from the boot time, which it keeps in whole seconds, so it was off by up to a second (here
    every figure read 0.345 s too long). ``time.time()`` is one clock for every process.
    """
    logging.disable(logging.CRITICAL)
    plan = bench_plan()
    clock = ShiftedClock(built_at)
    rss_before = _rss_mb()

    started = time.perf_counter()
    database = Database(sqlite_url(path))
    await database.upgrade()
    migrated = time.perf_counter()
    dispatcher = Dispatcher(
        database=database,
        notifier=NullNotifier(),
        clock=clock,
        plans=lambda _plan_id, _language="en": plan,
        worker_id=new_worker_id(),
    )
    runner = ReminderRunner(database=database, dispatcher=dispatcher, clock=clock)
    await runner.start()
    ready = time.perf_counter()
    ready_wall = time.time()
    rss_at_ready = _rss_mb()
    peak_at_ready = _peak_rss_mb()
    queued = runner.queued

    drained_in = math.nan
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            await runner.wait_idle()
        drained_in = time.perf_counter() - ready
    except TimeoutError:
        pass
    refill_started = time.perf_counter()
    await runner.tick()  # what a wake of the sender costs once start-up is behind us
    refill_s = time.perf_counter() - refill_started
    peak_after_drain = _peak_rss_mb()
    sent = runner.delivered[Outcome.SENT]
    await runner.shutdown()
    async with database.session() as session:
        counts = await ReminderRepository(session).count_by_status()
    await database.dispose()
    return {
        "process_to_ready_s": ready_wall - spawned_at,
        "upgrade_s": migrated - started,
        "start_s": ready - migrated,
        "ready_s": ready - started,
        "rss_before_mb": rss_before,
        "rss_at_ready_mb": rss_at_ready,
        "peak_at_ready_mb": peak_at_ready,
        "peak_after_drain_mb": peak_after_drain,
        "queued_at_ready": queued,
        "drained_in_s": drained_in,
        "refill_s": refill_s,
        "sent": sent,
        "expired": counts.get(ReminderStatus.EXPIRED, 0),
        "pending_after": counts.get(ReminderStatus.PENDING, 0),
    }


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def _peak_rss_mb() -> float:
    """The peak RSS of this process image.

    On Linux this is VmHWM: ``ru_maxrss`` survives ``exec`` and would report the peak of the
    parent that forked us (the parent that built a 1M-row database peaks well above us).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def report(results: list[tuple[Population, dict[str, float]]]) -> list[Target]:
    """Print the measurements; return each target with what was measured against it."""
    print_table(
        "Time in seconds (one row per fresh process)",
        [
            "pending",
            "process → ready",
            "in-process ready",
            "upgrade()",
            "start()",
            "drain",
            "refill",
        ],
        [
            [
                p.pending,
                r["process_to_ready_s"],
                r["ready_s"],
                r["upgrade_s"],
                r["start_s"],
                r["drained_in_s"],
                r["refill_s"],
            ]
            for p, r in results
        ],
        notes=[
            "process → ready: from the parent's stamp just before it started the process"
            " (interpreter start, imports) until start() returned: the target;",
            "in-process ready: Database() + upgrade() + ReminderRunner.start(); start() expires"
            " nothing itself: the sender's first pass expires the stale and sends the overdue;",
            "drain: from ready until the overdue backlog was sent ('-': not within"
            f" {DRAIN_TIMEOUT_S:.0f} s); refill: one more wake of the sender once idle"
            " (a claim that finds nothing).",
        ],
    )
    print_table(
        "Memory in MB (RSS of the measured process)",
        ["pending", "after imports", "at ready", "peak at ready", "peak after drain"],
        [
            [
                p.pending,
                r["rss_before_mb"],
                r["rss_at_ready_mb"],
                r["peak_at_ready_mb"],
                r["peak_after_drain_mb"],
            ]
            for p, r in results
        ],
        notes=["peak: VmHWM, the high-water mark of the process's resident memory."],
        decimals=1,
    )
    print_table(
        "Work done by start() and the drain",
        ["pending", "held at ready", "expired", "sent", "still pending"],
        [
            [
                p.pending,
                int(r["queued_at_ready"]),
                int(r["expired"]),
                int(r["sent"]),
                int(r["pending_after"]),
            ]
            for p, r in results
        ],
    )
    by_size: dict[int, list[dict[str, float]]] = {}
    for population, result in results:
        by_size.setdefault(population.pending, []).append(result)
    populations = {p.pending: p for p, _ in results}

    def median(size: int, key: str) -> float:
        return statistics.median(r[key] for r in by_size[size])

    targets: list[Target] = []
    for size, runs in by_size.items():
        population = populations[size]
        scope = f"{size:,} pending" + (f" (median of {len(runs)})" if len(runs) > 1 else "")
        ready = median(size, "process_to_ready_s")
        targets.append(
            Target(
                f"ready ≤ {TARGET_READY_S:g} s from process start",
                scope,
                f"{ready:.3f} s (in-process {median(size, 'ready_s'):.3f} s)",
                ready <= TARGET_READY_S,
            )
        )
        peak = median(size, "peak_after_drain_mb")
        targets.append(
            Target(
                f"peak RSS ≤ {TARGET_PEAK_RSS_MB:.0f} MB",
                scope,
                f"{peak:.1f} MB",
                peak <= TARGET_PEAK_RSS_MB,
            )
        )
        done = all(
            r["expired"] == population.stale and r["sent"] == population.overdue for r in runs
        )
        targets.append(
            Target(
                "start expires the stale and sends the overdue",
                scope,
                _work_done(runs),
                done,
            )
        )
    smallest = min(by_size)
    for size in by_size:
        if size == smallest:
            continue
        growth = median(size, "peak_after_drain_mb") - median(smallest, "peak_after_drain_mb")
        targets.append(
            Target(
                f"peak RSS growth ≤ {TARGET_RSS_GROWTH_MB:.0f} MB",
                f"{smallest:,} → {size:,} pending",
                f"{growth:+.1f} MB",
                growth <= TARGET_RSS_GROWTH_MB,
            )
        )
    return targets


def report_workers(
    results: list[tuple[Population, dict[str, float]]], reference: Sequence[float] = ()
) -> list[Target]:
    """Print the worker restarts and the yardstick's; return the ready target per size."""
    if not results:
        return []
    yardstick: list[str] = []
    if reference:
        median = statistics.median(reference)
        worker = statistics.median(r["worker_ready_s"] for _, r in results)
        yardstick = [
            f"the yardstick on this machine: APScheduler over its own SQLAlchemy job store"
            f" ({results[0][0].pending:,} jobs) is ready in {median:.3f} s (median of"
            f" {len(reference)}, min {min(reference):.3f} s); the worker takes"
            f" {worker / median:.2f}× that. Issue 14 measured 0.26 s for it and set"
            f" {TARGET_WORKER_READY_S:g} s ({TARGET_WORKER_READY_S / ISSUE_REFERENCE_S:.2f}×)"
            f" for the worker: {median * TARGET_WORKER_READY_S / ISSUE_REFERENCE_S:.3f} s"
            " here.",
        ]
    print_table(
        "`aftercare worker` restarting with nothing overdue (one row per process)",
        ["pending", "process → ready (s)", "still pending after stop"],
        [[p.pending, r["worker_ready_s"], int(r["pending_after"])] for p, r in results],
        notes=[
            "process → ready: from the parent's stamp just before it started the console"
            " script until the worker wrote that it is running: interpreter start, imports,"
            " settings, upgrade() (a no-op at head) and ReminderRunner.start();",
            f"every reminder is due {WORKER_LEAD_DAYS} days to a year ahead, so the sender's"
            " first pass claims nothing; no token: the worker would log each delivery.",
            *yardstick,
        ],
    )
    by_size: dict[int, list[dict[str, float]]] = {}
    for population, result in results:
        by_size.setdefault(population.pending, []).append(result)
    targets: list[Target] = []
    for size, runs in by_size.items():
        ready = statistics.median(r["worker_ready_s"] for r in runs)
        untouched = all(r["pending_after"] == size for r in runs)
        targets.append(
            Target(
                f"worker ready ≤ {TARGET_WORKER_READY_S:g} s from process start",
                f"{size:,} pending (median of {len(runs)})",
                f"{ready:.3f} s (min {min(r['worker_ready_s'] for r in runs):.3f} s)"
                + ("" if untouched else "; some reminders were touched"),
                ready <= TARGET_WORKER_READY_S and untouched,
            )
        )
    return targets


def _work_done(runs: Sequence[dict[str, float]]) -> str:
    seen = [
        f"expired {int(r['expired']):,}, queued {int(r['queued_at_ready']):,},"
        f" sent {int(r['sent']):,}"
        for r in runs
    ]
    distinct = list(dict.fromkeys(seen))
    if len(distinct) == 1 and len(seen) > 1:
        return f"{distinct[0]} (each run)"
    return "; ".join(seen)


if __name__ == "__main__":
    main()
