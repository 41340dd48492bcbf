"""`aftercare worker` imports only what it runs: a restart is ready sooner (bench.startup)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# A worker without a token delivers reminders: the bot's handlers and the services behind
# them (sessions, clinics, broadcasts, triage), Telegram and the poster's font and QR
# libraries are not part of that.
NOT_IN_A_WORKER = (
    "telegram",
    "telegram.ext._application",
    "bot.application",
    "bot.handlers",
    "content.triage",
    "content.triage.engine",
    "rich",
    "uharfbuzz",
    "freetype",
    "qrcode",
    "scheduler.broadcasts",
    "scheduler.clinics",
    "scheduler.care.questions",
    "scheduler.care.sessions",
    "storage.broadcasts",
    "storage.clinics",
)

# The console script's own lines, plus: on exit (SIGTERM before or after the worker installs
# its handler), write the names of the modules this process imported.
PROBE = """
import atexit, json, signal, sys
out = sys.argv.pop(1)
def _write():
    with open(out, "w") as file:
        json.dump(sorted(sys.modules), file)
atexit.register(_write)
def _stop(*_):
    raise SystemExit(0)
signal.signal(signal.SIGTERM, _stop)
from bot.cli import main
sys.argv[0] = "aftercare"
sys.exit(main())
"""


def test_worker_without_token_imports_no_bot_handlers(tmp_path: Path) -> None:
    """Started as the CLI starts it and stopped once running, the worker has imported the
    reminder loop and none of the heavy modules it does not use."""
    modules_file = tmp_path / "modules.json"
    env = dict(os.environ, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite3'}")
    env.pop("TELEGRAM_BOT_TOKEN", None)
    worker = subprocess.Popen(
        [sys.executable, "-c", PROBE, str(modules_file), "worker"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stderr is not None
    said: list[str] = []
    try:
        for line in worker.stderr:
            said.append(line)
            if "Reminder worker running" in line:
                break
        worker.send_signal(signal.SIGTERM)
        rest = worker.stderr.read()
        worker.wait(timeout=60)
    finally:
        worker.kill()
    log = "".join(said) + rest
    assert "Reminder worker running" in log, log
    assert worker.returncode == 0, log
    imported = set(json.loads(modules_file.read_text()))
    assert {"bot.cli", "scheduler.outbox.sender", "storage.database"} <= imported
    assert sorted(imported.intersection(NOT_IN_A_WORKER)) == []
