"""Start-up with many reminders pending: time until the runner is ready, and its memory.

    .venv/bin/python -m bench.startup [--sizes 10000,1000000] [--repeat 1] [--rebuild]

Targets: with 1,000,000 pending reminders in SQLite, ``Database(...)`` + ``upgrade()`` (a
no-op at head) + ``ReminderRunner.start()`` take at most 3 s, the process peaks at 200 MB
RSS or less, and RSS does not grow with the number pending (each size beside the smallest).

Each size's SQLite file is built once under ``bench/out/`` and reused by later runs; every
measurement works on a fresh copy, because a start changes the file (stale rows expire and
overdue ones are sent). Each measurement runs in a new interpreter, so its RSS is its own.
The database's times are relative to the instant it was built, so the measured process runs
the real clock set back to that instant: the same rows are stale, overdue and due soon on
every run, however old the cached file is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from bench.databases import sqlite_url
from bench.plans import REPO_ROOT, bench_plan
from bench.report import machine_facts, print_facts, print_table, verdict
from scheduler.delivery import Dispatcher, Outcome
from scheduler.notifier import OutgoingReminder
from scheduler.runner import ReminderRunner, new_worker_id
from storage.database import Database
from storage.models import ReminderStatus
from storage.repositories import ReminderRepository

TARGET_READY_S = 3.0
TARGET_PEAK_RSS_MB = 200.0
TARGET_RSS_GROWTH_MB = 10.0
DRAIN_TIMEOUT_S = 300.0

OUT_DIR = Path(__file__).resolve().parent / "out"
CACHE_FORMAT = 1  # bump when the generated rows change, so cached files are rebuilt
SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite
SEED = 20261120
YEAR = timedelta(days=365)


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

    @property
    def far_ahead(self) -> int:
        """Reminders due between 15 minutes and a year ahead: the bulk of the table."""
        return self.pending - self.overdue - self.stale - self.due_soon

    def cache_path(self) -> Path:
        """Where the built database of this population is kept between runs."""
        name = f"startup-v{CACHE_FORMAT}-{self.pending}-{self.overdue}-{self.stale}-{self.due_soon}"
        return OUT_DIR / f"{name}.sqlite3"


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
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--sizes", default="10000,1000000", help="pending reminders per run")
    parser.add_argument("--overdue", type=int, default=300, help="overdue but still valid")
    parser.add_argument("--stale", type=int, default=3000, help="past their expiry")
    parser.add_argument("--due-soon", type=int, default=25, help="inside the 10 min look-ahead")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per size")
    parser.add_argument("--rebuild", action="store_true", help="ignore cached databases")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--built-at", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        built_at = datetime.fromisoformat(args.built_at)
        print(json.dumps(asyncio.run(measure(args.child, built_at))))
        return

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    populations = [Population(n, args.overdue, args.stale, args.due_soon) for n in sizes]
    print_facts("Machine", machine_facts())
    print_facts(
        "Workload (the same for every size except the reminders far ahead)",
        [
            ("overdue, still valid", f"{args.overdue:,} (sent right after start)"),
            ("stale (past expiry)", f"{args.stale:,} (expired by start())"),
            ("due within 10 min", f"{args.due_soon:,} (queued by start())"),
            ("rest", "due 15 min to 1 year ahead, 12 h validity"),
            ("notifier", "does nothing; logging off"),
        ],
    )
    results: list[tuple[Population, dict[str, float]]] = []
    for population in populations:
        path, built_at = cached_database(population, rebuild=args.rebuild)
        for _ in range(args.repeat):
            results.append((population, run_child(path, built_at)))
    report(results)


def cached_database(population: Population, *, rebuild: bool) -> tuple[Path, datetime]:
    """The built database of ``population`` and the instant it was built; builds if needed."""
    path = population.cache_path()
    meta = path.with_suffix(".json")
    if not rebuild and path.exists() and meta.exists():
        built_at = datetime.fromisoformat(json.loads(meta.read_text())["built_at"])
        print(f"\nreusing {path.relative_to(REPO_ROOT)} (built {built_at:%Y-%m-%d %H:%M} UTC)")
        return path, built_at
    print(f"\nbuilding {path.relative_to(REPO_ROOT)} ({population.pending:,} pending) ...")
    started = time.perf_counter()
    built_at = build_database(population, path)
    meta.write_text(json.dumps({"built_at": built_at.isoformat(), **asdict(population)}))
    size_mb = path.stat().st_size / 2**20
    print(f"  built in {time.perf_counter() - started:.1f} s, {size_mb:,.0f} MB")
    return path, built_at


def build_database(population: Population, path: Path) -> datetime:
    """Create the schema with the migrations, then bulk-insert rows with sqlite3 directly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(path.name + ".building")
    for leftover in (building, *_sidecars(building), path, *_sidecars(path)):
        leftover.unlink(missing_ok=True)
    asyncio.run(_migrate(building))

    built_at = datetime.now(UTC).replace(microsecond=0)
    plan = bench_plan()
    milestones = [m.id for m in plan.milestones]
    sessions = math.ceil(population.pending / len(milestones))
    stamp = built_at.strftime(SQLITE_TIMESTAMP)
    connection = sqlite3.connect(building, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        connection.execute("BEGIN")
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
            "INSERT INTO reminders (id, session_id, milestone_id, due_at, expires_at, status,"
            " attempts) VALUES (?, ?, ?, ?, ?, 'pending', 0)",
            _reminder_rows(population, milestones, built_at),
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    building.rename(path)
    return built_at


def _reminder_rows(
    population: Population, milestones: list[str], built_at: datetime
) -> Iterator[tuple[int, int, str, str, str]]:
    rng = random.Random(SEED)
    kinds = (
        ["stale"] * population.stale
        + ["overdue"] * population.overdue
        + ["soon"] * population.due_soon
        + ["ahead"] * population.far_ahead
    )
    rng.shuffle(kinds)
    for index, kind in enumerate(kinds):
        if kind == "stale":
            due = built_at - timedelta(hours=rng.uniform(2, 30 * 24))
            expires = built_at - timedelta(minutes=rng.uniform(1, 60))
        elif kind == "overdue":
            due = built_at - timedelta(minutes=rng.uniform(0.1, 60))
            expires = built_at + timedelta(hours=rng.uniform(2, 12))
        elif kind == "soon":
            due = built_at + timedelta(minutes=rng.uniform(1, 9))
            expires = due + timedelta(hours=12)
        else:
            due = built_at + timedelta(minutes=15) + YEAR * rng.random()
            expires = due + timedelta(hours=12)
        yield (
            index + 1,
            index // len(milestones) + 1,
            milestones[index % len(milestones)],
            due.strftime(SQLITE_TIMESTAMP),
            expires.strftime(SQLITE_TIMESTAMP),
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
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.startup",
                "--child",
                str(copy),
                "--built-at",
                built_at.isoformat(),
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


async def measure(path: Path, built_at: datetime) -> dict[str, float]:
    """The measured process: start the runner on ``path`` and time it (printed as JSON)."""
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
        plans=lambda _plan_id: plan,
        worker_id=new_worker_id(),
    )
    runner = ReminderRunner(database=database, dispatcher=dispatcher, clock=clock)
    await runner.start()
    ready = time.perf_counter()
    ready_wall = time.time()
    peak_at_ready = _peak_rss_mb()
    queued = runner.queued

    drained_in = math.nan
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            await runner.wait_idle()
        drained_in = time.perf_counter() - ready
    except TimeoutError:
        pass
    peak_after_drain = _peak_rss_mb()
    sent = runner.delivered[Outcome.SENT]
    await runner.shutdown()
    async with database.session() as session:
        counts = await ReminderRepository(session).count_by_status()
    await database.dispose()
    return {
        "process_to_ready_s": ready_wall - psutil.Process().create_time(),
        "upgrade_s": migrated - started,
        "start_s": ready - migrated,
        "ready_s": ready - started,
        "rss_before_mb": rss_before,
        "peak_at_ready_mb": peak_at_ready,
        "peak_after_drain_mb": peak_after_drain,
        "queued_at_ready": queued,
        "drained_in_s": drained_in,
        "sent": sent,
        "expired": counts.get(ReminderStatus.EXPIRED, 0),
        "pending_after": counts.get(ReminderStatus.PENDING, 0),
    }


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


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


def report(results: list[tuple[Population, dict[str, float]]]) -> None:
    """Print the measurements, then each target with its verdict."""
    print_table(
        "Measured (one row per fresh process)",
        [
            "pending",
            "upgrade s",
            "start() s",
            "ready s",
            "proc→ready s",
            "RSS before MB",
            "peak@ready MB",
            "peak+drain MB",
            "queued",
            "expired",
            "sent",
            "drain s",
        ],
        [
            [
                p.pending,
                r["upgrade_s"],
                r["start_s"],
                r["ready_s"],
                r["process_to_ready_s"],
                r["rss_before_mb"],
                r["peak_at_ready_mb"],
                r["peak_after_drain_mb"],
                int(r["queued_at_ready"]),
                int(r["expired"]),
                int(r["sent"]),
                r["drained_in_s"],
            ]
            for p, r in results
        ],
    )
    print(
        "\n  ready s = Database() + upgrade() + ReminderRunner.start(), the target;"
        "\n  proc→ready s also counts interpreter start and imports;"
        "\n  peak+drain MB = peak RSS after the overdue backlog was delivered too;"
        "\n  drain s = from ready until the overdue backlog was sent (NaN: not within"
        f" {DRAIN_TIMEOUT_S:.0f} s)."
    )
    rows: list[list[object]] = []
    for population, result in results:
        rows.append(
            [
                f"ready ≤ {TARGET_READY_S:.0f} s",
                f"{population.pending:,}",
                f"{result['ready_s']:.3f} s",
                verdict(result["ready_s"] <= TARGET_READY_S),
            ]
        )
        rows.append(
            [
                f"peak RSS ≤ {TARGET_PEAK_RSS_MB:.0f} MB",
                f"{population.pending:,}",
                f"{result['peak_after_drain_mb']:.1f} MB",
                verdict(result["peak_after_drain_mb"] <= TARGET_PEAK_RSS_MB),
            ]
        )
    smallest = min(results, key=lambda pr: pr[0].pending)
    for population, result in results:
        if population.pending == smallest[0].pending:
            continue
        growth = result["peak_after_drain_mb"] - smallest[1]["peak_after_drain_mb"]
        rows.append(
            [
                f"RSS growth ≤ {TARGET_RSS_GROWTH_MB:.0f} MB",
                f"{smallest[0].pending:,} → {population.pending:,}",
                f"{growth:+.1f} MB",
                verdict(growth <= TARGET_RSS_GROWTH_MB),
            ]
        )
    print_table("Targets", ["target", "pending", "measured", "verdict"], rows)


if __name__ == "__main__":
    main()
