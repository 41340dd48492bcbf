"""`aftercare worker` as an operator runs it: migrates, delivers due reminders, stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from content.loader import load_plan
from storage.database import Database
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

    env = dict(os.environ, DATABASE_URL=url, LOG_LEVEL="INFO")
    env.pop("TELEGRAM_BOT_TOKEN", None)
    worker = subprocess.Popen(
        [Path(sys.executable).parent / "aftercare", "worker"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert worker.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(worker.stderr.readline, "")))
    reader.start()
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


def test_a_stop_sent_while_the_worker_starts_stops_it_cleanly(tmp_path: Path) -> None:
    """SIGTERM at the first log line (the database is being opened, nothing announced yet):
    the worker stops as it would once running, exit 0, not killed half-way."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.sqlite3'}"
    env = dict(os.environ, DATABASE_URL=url, LOG_LEVEL="INFO")
    env.pop("TELEGRAM_BOT_TOKEN", None)
    worker = subprocess.Popen(
        [Path(sys.executable).parent / "aftercare", "worker"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
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
