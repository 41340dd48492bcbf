"""The ``capacity`` command: how full each delivery window is against the Telegram budget.

    aftercare capacity                    # today and tomorrow, in DEFAULT_TIMEZONE
    aftercare capacity --date 2026-12-01  # one day
    aftercare capacity --days 7 --json    # a week, one JSON object per window

Each row is one delivery window (reminders due at the same instant, meant to arrive before the
same instant): how many reminders it holds, how many the budget carries in it alone
(``TELEGRAM_RATE`` × the reminders' share × its length), and, with every window of the day
sent earliest deadline first, when its last reminder goes out and how many arrive late.
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli_common import fail, settings_or_exit

if TYPE_CHECKING:
    from scheduler.outbox.windows import WindowLoad


def register(app: typer.Typer) -> None:
    """Add the ``capacity`` command to ``app``."""
    app.command("capacity")(capacity_command)


def capacity_command(
    on: Annotated[
        str | None,
        typer.Option(
            "--date", help="The first day, YYYY-MM-DD; default today.", show_default=False
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=1,
            max=31,
            help="How many days; default 2 (1 with --date).",
            show_default=False,
        ),
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help="IANA zone of the days; default DEFAULT_TIMEZONE.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list of windows.")] = False,
) -> None:
    """How full each delivery window is, per day, against the Telegram budget."""
    from scheduler.care.planning import UnknownTimeZoneError, load_zone

    settings = settings_or_exit()
    zone_name = tz or settings.default_timezone
    try:
        zone = load_zone(zone_name)
    except UnknownTimeZoneError:
        raise fail(f"{zone_name!r} is not a time zone; use an IANA name (Asia/Karachi)") from None
    if on is None:
        first = datetime.now(zone).date()
    else:
        try:
            first = date.fromisoformat(on)
        except ValueError:
            raise fail(f"--date {on!r} is not a date; write it as YYYY-MM-DD") from None
    count = days if days is not None else (2 if on is None else 1)

    from content.loader import load_plan
    from scheduler.clock import SystemClock
    from scheduler.outbox.windows import CapacityService
    from storage.database import Database

    async def _loads() -> list[tuple[date, list[WindowLoad]]]:
        database = Database(settings.database_url)
        try:
            await database.upgrade()
            service = CapacityService(
                database=database,
                clock=SystemClock(),
                plans=load_plan,
                rate=settings.telegram_rate,
            )
            return [
                (day, await service.day(day, zone=zone_name))
                for day in (first + timedelta(days=n) for n in range(count))
            ]
        finally:
            await database.dispose()

    per_day = asyncio.run(_loads())
    rows = [_row(day, load, zone) for day, loads in per_day for load in loads]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    _print(rows, per_day, zone_name, settings.telegram_rate)


def _row(day: date, load: WindowLoad, zone: Any) -> dict[str, Any]:
    window = load.window
    return {
        "day": day.isoformat(),
        "start": window.start.astimezone(zone).isoformat(timespec="minutes"),
        "end": window.end.astimezone(zone).isoformat(timespec="minutes"),
        "reminders": window.count,
        "capacity": load.capacity,
        "fullness": round(load.fullness, 4),
        "last_out": load.finish.astimezone(zone).isoformat(timespec="seconds"),
        "late": load.late,
        "late_by_minutes": math.ceil(load.late_by.total_seconds() / 60),
        "clinics": {str(clinic): count for clinic, count in window.clinics},
    }


def _print(
    rows: list[dict[str, Any]],
    per_day: list[tuple[date, list[WindowLoad]]],
    zone_name: str,
    rate: float,
) -> None:
    from rich.console import Console
    from rich.table import Table

    from scheduler.outbox.windows import REMINDER_SHARE

    console = Console()
    console.print(
        f"Budget {rate:g} messages/s; reminders count on {REMINDER_SHARE:.0%} of it "
        f"({rate * REMINDER_SHARE:g}/s). Times in {zone_name}."
    )
    for day, loads in per_day:
        if not loads:
            console.print(f"{day.isoformat()}: no reminders due.")
            continue
        table = Table(title=f"{day:%a %d %b %Y}")
        for column in ("Window", "Reminders", "Fit", "Full", "Last out", "Status"):
            table.add_column(column)
        for row in (r for r in rows if r["day"] == day.isoformat()):
            start = datetime.fromisoformat(row["start"])
            end = datetime.fromisoformat(row["end"])
            status = (
                f"[red]OVERFLOW: {row['late']:,} late, up to {row['late_by_minutes']} min[/]"
                if row["late"]
                else "[green]ok[/]"
            )
            table.add_row(
                f"{start:%H:%M}-{end:%H:%M}" + ("" if end.date() == start.date() else " (+1)"),
                f"{row['reminders']:,}",
                f"{row['capacity']:,}",
                f"{row['fullness']:.0%}",
                datetime.fromisoformat(row["last_out"]).strftime("%H:%M:%S"),
                status,
            )
        console.print(table)
