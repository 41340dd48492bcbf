"""`aftercare worker` as an operator runs it: migrates, delivers due reminders, stops cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from content.loader import load_plan
from storage.database import Database
from storage.models import Reminder, ReminderStatus
from tests.scheduler.seeding import seed_due

pytestmark = pytest.mark.slow


async def _seed(url: str) -> None:
    database = Database(url)
    await database.upgrade()
    await seed_due(
        database,
        patients=2,
        per_patient=1,
        due_at=datetime.now(UTC) - timedelta(seconds=5),
        valid_for=timedelta(hours=1),
        milestones=(load_plan().milestones[0].id,),
        plan_id="microneedling",
    )
    await database.dispose()


def test_worker_delivers_due_reminders_and_stops_on_sigterm(tmp_path: Path) -> None:
    """Without a token, a due reminder is logged as delivered, without its text."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.sqlite3'}"
    asyncio.run(_seed(url))

    worker, lines, reader = _start_worker(url, tmp_path)
    assert worker.stderr is not None
    try:
        deadline = time.monotonic() + 30
        while sum("delivered to chat" in line for line in lines) < 2:
            assert time.monotonic() < deadline, "".join(lines)
            assert worker.poll() is None, "".join(lines)
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    finally:
        worker.kill()
        reader.join(timeout=5)
    log = "".join(lines)
    assert worker.returncode == 0, log
    assert "Reminder worker running" in log
    assert load_plan().milestones[0].text[:30] not in log


REMINDER = {"kind": "reminder", "priority": "reminder"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_worker_serves_its_metrics_on_the_port_it_was_given(tmp_path: Path) -> None:
    """The two deliveries are counted, the queue is empty, and the server stops with it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.sqlite3'}"
    asyncio.run(_seed(url))
    port = _free_port()
    worker, lines, reader = _start_worker(url, tmp_path, "--metrics-port", str(port))
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 30
        while sum("delivered to chat" in line for line in lines) < 2:
            assert time.monotonic() < deadline, "".join(lines)
            assert worker.poll() is None, "".join(lines)
            time.sleep(0.05)
        sent = ("aftercare_sends_total", frozenset({**REMINDER, "outcome": "sent"}.items()))
        samples = _scrape(metrics_url)
        while samples.get(sent) != 2:  # the log line comes at the send, the count at settling
            assert time.monotonic() < deadline, samples
            time.sleep(0.05)
            samples = _scrape(metrics_url)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    finally:
        worker.kill()
        reader.join(timeout=5)
    log = "".join(lines)
    assert worker.returncode == 0, log
    assert f"Metrics at {metrics_url}" in log
    reminder = REMINDER
    assert (
        samples[("aftercare_sends_total", frozenset({**reminder, "outcome": "sent"}.items()))] == 2
    )
    assert samples[("aftercare_send_lateness_seconds_count", frozenset(reminder.items()))] == 2
    # Seeded 5 s before the worker started: each went out at least that late.
    assert samples[("aftercare_send_lateness_seconds_bucket",
                    frozenset({**reminder, "le": "1.0"}.items()))] == 0  # fmt: skip
    assert samples[("aftercare_queue_depth", frozenset(reminder.items()))] == 0
    assert samples[("aftercare_queue_scheduled", frozenset({"priority": "reminder"}.items()))] == 0
    with pytest.raises(OSError):  # the server went with the process
        _scrape(metrics_url)


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_metrics_port_out_of_range_is_one_usage_line(tmp_path: Path, port: str) -> None:
    env = dict(os.environ, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite3'}")
    env.pop("TELEGRAM_BOT_TOKEN", None)
    done = subprocess.run(
        [Path(sys.executable).parent / "aftercare", "worker", "--metrics-port", port],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "--metrics-port" in done.stderr
    assert not (tmp_path / "w.sqlite3").exists()


def test_a_metrics_port_in_use_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite3'}")
    env.pop("TELEGRAM_BOT_TOKEN", None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [Path(sys.executable).parent / "aftercare", "worker", "--metrics-port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"--metrics-port {port}" in done.stderr


def test_a_stop_sent_while_the_worker_starts_stops_it_cleanly(tmp_path: Path) -> None:
    """SIGTERM at the first log line (the database is being opened, nothing announced yet):
    the worker stops as it would once running, exit 0, not killed half-way."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.sqlite3'}"
    worker = _spawn_worker(url, tmp_path)
    assert worker.stderr is not None
    try:
        first = worker.stderr.readline()  # logged from inside the start, before "running"
        assert "Reminder worker running" not in first, first
        worker.send_signal(signal.SIGTERM)
        rest = worker.stderr.read()
        worker.wait(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, first + rest
    assert "Traceback" not in rest, rest


def _spawn_worker(url: str, cwd: Path, *args: str) -> subprocess.Popen[str]:
    """A real `aftercare worker` without a token (each delivery a log line) on ``url``."""
    env = dict(os.environ, DATABASE_URL=url, LOG_LEVEL="INFO")
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.Popen(
        [Path(sys.executable).parent / "aftercare", "worker", *args],
        cwd=cwd,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start_worker(
    url: str, cwd: Path, *args: str
) -> tuple[subprocess.Popen[str], list[str], threading.Thread]:
    """``_spawn_worker``, its log lines gathered by a thread as they come."""
    worker = _spawn_worker(url, cwd, *args)
    lines: list[str] = []
    assert worker.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(worker.stderr.readline, "")))
    reader.start()
    return worker, lines, reader


def _delivered(lines: list[str]) -> list[int]:
    """The reminder ids the logging notifier reported, one per send."""
    found = (re.search(r"reminder (\d+) \(.*delivered to chat", line) for line in lines)
    return [int(match.group(1)) for match in found if match]


async def _seed_burst(url: str, patients: int) -> None:
    database = Database(url)
    await database.upgrade()
    await seed_due(
        database,
        patients=patients,
        per_patient=2,
        due_at=datetime.now(UTC) - timedelta(seconds=1),
        valid_for=timedelta(hours=1),
        milestones=tuple(m.id for m in load_plan().milestones[:2]),
        plan_id="microneedling",
    )
    await database.dispose()


async def _reminder_states(url: str) -> tuple[Counter[ReminderStatus], int]:
    """How many reminders are in each status, and how many pending ones are still claimed."""
    database = Database(url)
    async with database.session() as session:
        statuses = Counter((await session.execute(select(Reminder.status))).scalars().all())
        claimed = (
            await session.execute(
                select(func.count()).where(
                    Reminder.status == ReminderStatus.PENDING, Reminder.claimed_by.is_not(None)
                )
            )
        ).scalar_one()
    await database.dispose()
    return statuses, int(claimed)


def test_a_sigterm_mid_burst_stops_claiming_and_hands_back_what_it_holds(tmp_path: Path) -> None:
    """Stopped while thousands are due: exit 0, nothing left claimed, every send written
    down; a second worker sends the rest, and no reminder goes out twice or is lost."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.sqlite3'}"
    total = 2 * 4000
    asyncio.run(_seed_burst(url, patients=total // 2))

    first, lines, reader = _start_worker(url, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while len(_delivered(lines)) < 300:
            assert time.monotonic() < deadline, "".join(lines[-20:])
            assert first.poll() is None, "".join(lines[-20:])
            time.sleep(0.01)
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    finally:
        first.kill()
        reader.join(timeout=5)
    log = "".join(lines)
    assert first.returncode == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    before = _delivered(lines)
    statuses, claimed = asyncio.run(_reminder_states(url))
    assert claimed == 0, "a stopped worker left reminders claimed"
    assert statuses[ReminderStatus.SENT] == len(before) == len(set(before))
    assert statuses[ReminderStatus.PENDING] > 0, "the stop came after the burst was over"
    assert "handed back unsent at the stop" in log

    second, more, reader = _start_worker(url, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while asyncio.run(_reminder_states(url))[0][ReminderStatus.PENDING]:
            assert time.monotonic() < deadline, "".join(more[-20:])
            assert second.poll() is None, "".join(more[-20:])
            time.sleep(0.2)
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    finally:
        second.kill()
        reader.join(timeout=5)
    assert second.returncode == 0, "".join(more[-20:])
    sends = Counter(before + _delivered(more))
    assert len(sends) == total, "a reminder was lost"
    assert max(sends.values()) == 1, "a reminder was sent twice"
    assert asyncio.run(_reminder_states(url)) == (Counter({ReminderStatus.SENT: total}), 0)
