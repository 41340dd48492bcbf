"""The aftercare command: plan, db upgrade, settings errors, help on every level."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import ConfigurationError, load_settings
from storage.database import head_revision

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every command in an empty directory with no aftercare variables set."""
    for name in list(os.environ):
        if name in {"TELEGRAM_BOT_TOKEN", "DATABASE_URL", "DEFAULT_TIMEZONE", "QUIET_HOURS"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "path",
    [[], ["content"], ["db"], ["plan"], ["worker"], ["capacity"], ["web"], ["content", "check"]],
)
def test_help_on_every_level(path: list[str]) -> None:
    """--help works for the root and every group and command."""
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_plan_json_lists_the_schedule_in_local_time() -> None:
    """The plan of a session in Karachi, seen from the day before it."""
    result = runner.invoke(
        app,
        ["plan", "--session-date", "2026-11-20", "--now", "2026-11-19T08:00", "--json"],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows, "the plan has milestones"
    assert all(row["local_time"].endswith("+05:00") for row in rows)
    assert {row["status"] for row in rows} == {"ahead"}
    days = [row["day"] for row in rows]
    assert days == sorted(days) and days[0] == -1


def test_plan_after_the_fact_marks_missed_and_adds_a_catch_up() -> None:
    """Three days after the session, early milestones are missed and one catch-up appears."""
    result = runner.invoke(
        app,
        [
            "plan",
            "--session-date",
            "2026-11-20",
            "--tz",
            "Europe/London",
            "--now",
            "2026-11-23T12:00",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    statuses = [row["status"] for row in json.loads(result.output)]
    assert "missed" in statuses and "ahead" in statuses
    assert statuses.count("catch-up") == 1


def test_plan_table_renders() -> None:
    """Without --json a table with the columns is printed."""
    result = runner.invoke(app, ["plan", "--session-date", "2026-11-20", "--now", "2026-11-19"])
    assert result.exit_code == 0, result.output
    for column in ("Local time", "Phase", "Milestone", "Status"):
        assert column in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--session-date", "2026-02-30"], "not a date that exists"),
        (["--session-date", "20/11/2026"], "YYYY-MM-DD"),
        (["--session-date", "2027-03-01", "--now", "2026-11-25"], "90 days ahead"),
        (["--session-date", "2024-11-01", "--now", "2026-11-25"], "two years back"),
        (["--session-date", "2026-11-20", "--tz", "Mars/Olympus"], "not a time zone"),
        (["--session-date", "2026-11-20", "--now", "yesterday"], "ISO date-time"),
    ],
)
def test_plan_refuses_bad_input_with_exit_2(args: list[str], message: str) -> None:
    """Impossible dates, out-of-range dates, unknown zones: a clear message and exit 2."""
    result = runner.invoke(app, ["plan", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_db_upgrade_creates_the_default_sqlite_file(isolated_env: Path) -> None:
    """With no DATABASE_URL the database is a SQLite file in ./data."""
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()} (head)" in result.output
    assert (isolated_env / "data" / "aftercare.sqlite3").exists()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "DEFAULT_TIMEZONE: 'Mars/Olympus' is not an IANA"),
        ("QUIET_HOURS", "late", "QUIET_HOURS: 'late' is not a span"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL: 'loud' is not one of"),
        ("TELEGRAM_BOT_TOKEN", "changeme", "TELEGRAM_BOT_TOKEN: is a placeholder"),
        ("TELEGRAM_BOT_TOKEN", "12345:short", "TELEGRAM_BOT_TOKEN: does not look like"),
        ("DATABASE_URL", "mysql://x@y/z", "DATABASE_URL: 'mysql' is not supported"),
        ("DATABASE_URL", "not a url", "DATABASE_URL"),
    ],
)
def test_a_bad_setting_stops_the_start_with_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    """The message names the variable and what is wrong, on one line, with exit 2."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match="^" + expected.split(":")[0]):
        load_settings()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.output


def test_the_token_never_appears_in_repr_or_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot token is a secret: not in the settings' repr, not in their dump."""
    token = "123456789:AAH" + "x" * 32
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    settings = load_settings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == token
    assert token not in repr(settings) and token not in str(settings.model_dump())


def test_the_dotenv_file_is_read(isolated_env: Path) -> None:
    """Settings come from .env too."""
    (isolated_env / ".env").write_text("DEFAULT_TIMEZONE=Europe/London\nQUIET_HOURS=off\n")
    settings = load_settings()
    assert settings.default_timezone == "Europe/London"
    assert str(settings.quiet_hours) == "off"


def test_the_console_script_runs(isolated_env: Path) -> None:
    """The installed `aftercare` entry point answers --version."""
    result = subprocess.run(
        [Path(sys.executable).parent / "aftercare", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.startswith("aftercare ")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["clinic", "invite", "one"], "Invalid value for 'CLINIC_ID'"),
        (["clinic", "nope"], "No such command 'nope'"),
        (["plan"], "Missing option '--session-date'"),
        (["plan", "--session-date", "2026-11-20", "--bogus"], "No such option: --bogus"),
        (["triage", "--day", "x", "red"], "Invalid value for '--day'"),
        (["clinic", "create", "--name"], "Option '--name' requires an argument"),
        (["nonsense"], "No such command 'nonsense'"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    """Like every other error of the CLI: one ``Error:`` line naming the problem and where the
    help is, exit 2; no boxed usage text."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and says in line, line
    assert "--help`" in line and "╭" not in line


def test_a_usage_error_from_the_console_script_is_one_line(isolated_env: Path) -> None:
    aftercare = Path(sys.executable).with_name("aftercare")
    done = subprocess.run(
        [str(aftercare), "clinic", "revoke", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: "), done.stderr


def test_capacity_shows_each_window_and_its_overflow(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """120 reminders due at 09:00 Karachi where the budget carries 86 in the window: the JSON
    and the table say so; a day with nothing due says that."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from storage.database import Database
    from tests.scheduler.seeding import seed_due

    monkeypatch.setenv("TELEGRAM_RATE", "0.02")  # reminders get 0.016/s: 86 in 90 minutes
    settings = load_settings()

    async def seed() -> None:
        database = Database(settings.database_url)
        try:
            await database.upgrade()
            await seed_due(
                database,
                patients=120,
                per_patient=1,
                due_at=datetime(2026, 12, 1, 4, tzinfo=UTC),
                valid_for=timedelta(hours=5),
                milestones=("day1_morning",),
                plan_id="microneedling",
            )
        finally:
            await database.dispose()

    asyncio.run(seed())
    result = runner.invoke(app, ["capacity", "--date", "2026-12-01", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["start"] == "2026-12-01T09:00+05:00" and row["end"] == "2026-12-01T10:30+05:00"
    assert (row["reminders"], row["capacity"]) == (120, 86)
    assert row["late"] == 34 and row["late_by_minutes"] == 35  # the last at 11:05

    table = runner.invoke(app, ["capacity", "--date", "2026-11-30", "--days", "2"])
    assert table.exit_code == 0, table.output
    assert "2026-11-30: no reminders due." in table.output
    assert "09:00-10:30" in table.output and "OVERFLOW" in table.output

    bad = runner.invoke(app, ["capacity", "--tz", "Mars/Base"])
    assert bad.exit_code == 2 and "not a time zone" in bad.output
