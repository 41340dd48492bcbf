"""A real worker process for the crash test: writes each delivery to a file, may hang mid-send.

Run as ``python -m tests.scheduler.crash_worker DATABASE_URL OUT_FILE HANG_ON`` (HANG_ON: the
1-based send that hangs forever, 0 for none). ``CRASH_SCHEMA`` selects a PostgreSQL schema.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from scheduler.clock import SystemClock
from scheduler.outbox.notifier import OutgoingReminder
from scheduler.outbox.reminders import DeliveryPolicy, Dispatcher
from scheduler.outbox.sender import ReminderRunner, RunnerSettings, new_worker_id
from storage.database import Database
from tests.plans import small_plan


class FileNotifier:
    """Appends "<reminder id>" to a file, synced to disk, for each accepted send."""

    def __init__(self, path: Path, hang_on: int) -> None:
        self.path = path
        self.hang_on = hang_on
        self.calls = 0

    async def send_reminder(self, reminder: OutgoingReminder) -> None:
        self.calls += 1
        if self.calls == self.hang_on:
            self.path.with_suffix(".hung").write_text(str(reminder.reminder_id))
            await asyncio.Event().wait()
        await asyncio.sleep(0.001)
        with self.path.open("a") as out:
            out.write(f"{reminder.reminder_id}\n")
            out.flush()
            os.fsync(out.fileno())


async def main(url: str, out: Path, hang_on: int) -> None:
    schema = os.environ.get("CRASH_SCHEMA")
    options = {"connect_args": {"server_settings": {"search_path": schema}}} if schema else {}
    database = Database(url, **options)
    clock = SystemClock()
    plan = small_plan()
    dispatcher = Dispatcher(
        database=database,
        notifier=FileNotifier(out, hang_on),
        clock=clock,
        plans=lambda _plan_id, _language="en": plan,
        worker_id=new_worker_id(),
        policy=DeliveryPolicy(lease=timedelta(seconds=1), send_timeout=timedelta(hours=1)),
    )
    runner = ReminderRunner(
        database=database,
        dispatcher=dispatcher,
        clock=clock,
        settings=RunnerSettings(refill_interval=timedelta(seconds=0.3), concurrency=1),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await runner.start()
    await stop.wait()
    await runner.shutdown()
    await database.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
