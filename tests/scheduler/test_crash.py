"""A real worker process killed with SIGKILL mid-send, then restarted: nothing lost or doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.database import Database
from storage.models import Reminder, ReminderStatus
from tests.scheduler.seeding import seed_due

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0

pytestmark = pytest.mark.slow


def start_worker(database: Database, out: Path, hang_on: int) -> subprocess.Popen[bytes]:
    """Start tests.scheduler.crash_worker on the test database."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    settings = database.options.get("connect_args", {}).get("server_settings", {})
    if "search_path" in settings:
        env["CRASH_SCHEMA"] = settings["search_path"]
    url = database.url.render_as_string(hide_password=False)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.scheduler.crash_worker", url, str(out), str(hang_on)],
        cwd=ROOT,
        env=env,
    )


async def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition of the outside world (a file, a process, rows) until it holds."""
    deadline = time.monotonic() + WAIT
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def count_status(database: Database) -> Counter[ReminderStatus]:
    async with database.session() as session:
        return Counter((await session.execute(select(Reminder.status))).scalars().all())


async def test_sigkill_mid_send_then_restart_sends_each_once_or_expires_it(
    database: Database, tmp_path: Path
) -> None:
    """The hung send is retaken after its lease; reminders that went stale meanwhile expire."""
    now = datetime.now(UTC)
    await seed_due(database, patients=40, per_patient=5, due_at=now, valid_for=timedelta(hours=1))
    # Twenty more, due a moment later and valid for eight seconds only: stale after the crash
    # (long enough for a worker to start and hang on a loaded machine before they go stale).
    stale = await seed_due(
        database,
        patients=4,
        per_patient=5,
        due_at=now + timedelta(milliseconds=200),
        valid_for=timedelta(seconds=8),
        first_chat_id=9000,
    )
    stale_ids = set(stale[-20:])
    out = tmp_path / "sent.log"
    hung = out.with_suffix(".hung")

    first = start_worker(database, out, hang_on=60)
    try:
        await wait_for(lambda: _exists(hung), "the worker to hang mid-send")
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=WAIT) == -signal.SIGKILL
    finally:
        first.kill()
    hung_id = int(hung.read_text())
    before = _lines(out)
    assert len(before) == 59 and hung_id not in before
    assert (await count_status(database))[ReminderStatus.PENDING] == 220 - 59

    # The short-lived ones go stale while the worker is down.
    await asyncio.sleep(
        max(0.0, (now + timedelta(seconds=8.5) - datetime.now(UTC)).total_seconds())
    )
    second = start_worker(database, out, hang_on=0)
    try:

        async def settled() -> bool:
            return (await count_status(database))[ReminderStatus.PENDING] == 0

        await wait_for(settled, "every reminder to be settled after the restart")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=WAIT) == 0
    finally:
        second.kill()

    sends = Counter(_lines(out))
    assert max(sends.values()) == 1, "a reminder was sent twice"
    statuses = await count_status(database)
    assert statuses[ReminderStatus.SENT] == len(sends)
    assert statuses[ReminderStatus.SENT] + statuses[ReminderStatus.EXPIRED] == 220
    assert hung_id in sends
    assert set(sends).isdisjoint(stale_ids - set(before))


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


def _lines(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []
