"""The console script's entry pauses the garbage collector only while it imports."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from bot.launch import importing


def test_the_collector_is_paused_while_importing_and_runs_again_after() -> None:
    assert gc.isenabled()
    with importing():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_import_that_fails_still_lets_the_collector_run_again() -> None:
    with pytest.raises(ImportError), importing():
        import bot.no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert gc.isenabled()


def test_a_collector_paused_by_someone_else_stays_paused() -> None:
    gc.disable()
    try:
        with importing():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_command_runs_with_the_collector_running() -> None:
    """The CLI, entered as the console script enters it, runs its command with the
    collector on (the pause ends with the imports)."""
    probe = (
        "import gc, sys, bot.cli\n"
        "bot.cli.app.command('probe')(lambda: print(gc.isenabled()))\n"
        "sys.argv = ['aftercare', 'probe']\n"
        "from bot.launch import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
