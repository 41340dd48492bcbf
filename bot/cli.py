"""The ``aftercare`` command. Heavy imports happen inside commands, so ``--help`` is quick."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from bot.cli_content import content_app
from bot.config import ConfigurationError, Settings, configure_logging, load_settings

app = typer.Typer(
    help=(
        "Aftercare Bot: a Telegram companion for the weeks after a microneedling session.\n\n"
        "Without a command it runs the reminder worker on the configured database "
        "(by default a SQLite file in ./data)."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(content_app, name="content")
app.add_typer(db_app, name="db")

USAGE_ERROR = 2


def _fail(message: str, code: int = USAGE_ERROR) -> typer.Exit:
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        raise _fail(f"configuration: {exc}") from None


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Aftercare Bot."""
    if version:
        from importlib.metadata import version as package_version

        typer.echo(f"aftercare {package_version('aftercare-bot')}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        worker()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (the product also does this at start)."""
    settings = _settings()
    from storage.database import Database, redact_url

    async def _upgrade() -> str | None:
        database = Database(settings.database_url)
        try:
            await database.upgrade()
            return await database.current_revision()
        finally:
            await database.dispose()

    revision = asyncio.run(_upgrade())
    typer.echo(f"{redact_url(settings.database_url)} is at revision {revision} (head)")


@app.command()
def worker() -> None:
    """Run the reminder scheduler; reminders are logged (the Telegram bot comes later)."""
    settings = _settings()
    configure_logging(settings)
    from bot.services import build_services
    from scheduler.clock import SystemClock
    from scheduler.notifier import LoggingNotifier

    services = build_services(settings, notifier=LoggingNotifier(), clock=SystemClock())

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await services.start()
        typer.echo("Reminder worker running. Press Ctrl+C to stop.", err=True)
        try:
            await stop.wait()
        finally:
            async with asyncio.timeout(60):
                await services.stop()

    asyncio.run(_run())


def _parse_session_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise _fail(f"{text!r} is not a date that exists; write it as YYYY-MM-DD") from None


def _parse_now(text: str | None, tz: Any) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _fail(f"--now {text!r} is not an ISO date-time (e.g. 2026-11-21T10:00)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


@app.command("plan")
def plan_command(
    session_date: Annotated[
        str, typer.Option("--session-date", help="The session day, YYYY-MM-DD.", show_default=False)
    ],
    tz: Annotated[
        str | None, typer.Option("--tz", help="IANA time zone; default DEFAULT_TIMEZONE.")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Pretend it is this ISO date-time (local to --tz if naive)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    session_number: Annotated[
        int, typer.Option("--session-number", min=1, help="Which session of the series.")
    ] = 1,
    plan_name: Annotated[
        str | None, typer.Option("--plan", help="Care plan name or file; default DEFAULT_PLAN.")
    ] = None,
) -> None:
    """Print the reminder schedule of a session: local time, phase, milestone, status."""
    from scheduler.planning import (
        SessionDateError,
        UnknownTimeZoneError,
        check_session_date,
        load_zone,
    )

    settings = _settings()
    zone_name = tz or settings.default_timezone
    try:
        zone = load_zone(zone_name)
    except UnknownTimeZoneError:
        raise _fail(f"{zone_name!r} is not a time zone; use an IANA name (Asia/Karachi)") from None
    day = _parse_session_date(session_date)
    instant = _parse_now(now, zone)
    try:
        check_session_date(day, today=instant.astimezone(zone).date())
    except SessionDateError as exc:
        raise _fail(f"{exc}; the session must be at most 90 days ahead, 2 years back") from None

    from content.loader import PlanError, load_plan
    from scheduler.planning import plan_catch_up, plan_reminders

    try:
        plan = load_plan(plan_name or settings.default_plan)
    except PlanError as exc:
        raise _fail(str(exc), code=1) from None
    planned = plan_reminders(
        session_date=day,
        tz=zone,
        plan=plan,
        quiet_hours=settings.quiet_hours,
        now=instant,
        session_number=session_number,
    )
    catch_up = plan_catch_up(
        session_date=day,
        tz=zone,
        plan=plan,
        quiet_hours=settings.quiet_hours,
        now=instant,
        planned=planned,
    )
    rows = []
    everything = sorted([*planned, *([catch_up] if catch_up else [])], key=lambda p: p.due_at)
    for item in everything:
        local = item.due_at.astimezone(zone)
        rows.append(
            {
                "milestone": item.milestone_id,
                "phase": item.phase_id,
                "day": (local.date() - day).days,
                "local_time": local.isoformat(timespec="minutes"),
                "due_utc": item.due_at.isoformat(),
                "expires_utc": item.expires_at.isoformat(),
                "status": "catch-up" if item is catch_up else item.state.value,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    _print_plan_table(rows, title=f"{plan.title}: session {day.isoformat()} ({zone_name})")


def _print_plan_table(rows: list[dict[str, Any]], *, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    styles = {"ahead": "green", "missed": "dim", "dropped": "yellow", "catch-up": "cyan"}
    table = Table(title=title)
    for column in ("Local time", "Day", "Phase", "Milestone", "Status"):
        table.add_column(column)
    for row in rows:
        local = datetime.fromisoformat(row["local_time"])
        table.add_row(
            local.strftime("%a %d %b %Y %H:%M"),
            str(row["day"]),
            row["phase"],
            row["milestone"],
            f"[{styles[row['status']]}]{row['status']}[/]",
        )
    Console().print(table)


def main() -> None:
    """Entry point of the ``aftercare`` console script."""
    sys.exit(app())


if __name__ == "__main__":
    main()
