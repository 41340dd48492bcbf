"""The ``aftercare`` command. Heavy imports happen inside commands, so ``--help`` is quick."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from bot.cli_capacity import register as register_capacity
from bot.cli_clinic import clinic_app
from bot.cli_common import OneLineErrors, fail, settings_or_exit
from bot.cli_content import content_app
from bot.cli_triage import register as register_triage
from bot.config import Settings, configure_logging, third_party_level

app = typer.Typer(
    help=(
        "Aftercare Bot: a Telegram companion for the weeks after a microneedling session.\n\n"
        "Without a command it runs the bot (polling) when TELEGRAM_BOT_TOKEN is set, and the "
        "offline demo when it is not; the database is a SQLite file in ./data by default."
    ),
    cls=OneLineErrors,
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(content_app, name="content")
register_triage(app)
register_capacity(app)
app.add_typer(db_app, name="db")
app.add_typer(clinic_app, name="clinic")


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
        if settings_or_exit().telegram_bot_token is None:
            demo()
        else:
            run()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (the product also does this at start)."""
    settings = settings_or_exit()
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


def _connection(settings: Settings) -> Any:
    from bot.application import Connection

    token = settings.telegram_bot_token
    if token is None:
        raise fail("TELEGRAM_BOT_TOKEN is not set; without it, try `aftercare demo`")
    api = settings.telegram_api_url.rstrip("/")
    return Connection(
        token=token.get_secret_value(), base_url=f"{api}/bot", base_file_url=f"{api}/file/bot"
    )


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, installed before anything starts: a stop sent
    while the process is still starting then stops it cleanly, not half-way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _until_signalled(stop: asyncio.Event | None = None) -> None:
    await (stop or _stop_on_signals()).wait()


def _serve_metrics(registry: Any, host: str, port: int | None) -> Any:
    """prometheus_client's HTTP server for ``registry`` on ``host:port`` (None: no server)."""
    if port is None:
        return None
    from prometheus_client import start_http_server

    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise fail(f"--metrics-port {port}: cannot listen on {host}: {exc.strerror}") from None
    typer.echo(f"Metrics at http://{host}:{port}/metrics", err=True)
    return server


def _stop_metrics(server: Any) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=1,
            max=65535,
            help="Serve Prometheus metrics at http://HOST:PORT/metrics.",
            show_default=False,
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", help="Address the metrics server listens on.")
    ] = "127.0.0.1",
) -> None:
    """Run only the reminder scheduler: it sends through Telegram when TELEGRAM_BOT_TOKEN is
    set, else it logs each delivery. Any number of workers can share one PostgreSQL."""
    settings = settings_or_exit()
    configure_logging(settings)
    from scheduler.clock import SystemClock

    if settings.telegram_bot_token is not None:
        from bot.application import build_runtime

        runtime = build_runtime(settings, clock=SystemClock(), connection=_connection(settings))
        server = _serve_metrics(runtime.services.metrics.registry, metrics_host, metrics_port)

        async def _run_bot() -> None:
            stop = _stop_on_signals()
            await runtime.start(polling=False)
            typer.echo("Reminder worker running (Telegram). Press Ctrl+C to stop.", err=True)
            try:
                await _until_signalled(stop)
            finally:
                await runtime.stop()

        try:
            asyncio.run(_run_bot())
        finally:
            _stop_metrics(server)
        return

    from bot.services import build_delivery
    from scheduler.outbox.notifier import LoggingNotifier

    services = build_delivery(settings, notifier=LoggingNotifier(), clock=SystemClock())
    server = _serve_metrics(services.metrics.registry, metrics_host, metrics_port)

    async def _run() -> None:
        stop = _stop_on_signals()
        await services.start()
        typer.echo("Reminder worker running (logging only). Press Ctrl+C to stop.", err=True)
        try:
            await _until_signalled(stop)
        finally:
            async with asyncio.timeout(60):
                await services.stop()

    try:
        asyncio.run(_run())
    finally:
        _stop_metrics(server)


@app.command()
def run(
    webhook: Annotated[
        bool,
        typer.Option(
            "--webhook",
            help="Serve a webhook (WEBHOOK_URL, PORT, WEBHOOK_SECRET) instead of polling.",
        ),
    ] = False,
    host: Annotated[str, typer.Option(help="Address the webhook server listens on.")] = "0.0.0.0",
) -> None:
    """Run the Telegram bot and its reminders: polling, or a webhook server."""
    settings = settings_or_exit()
    configure_logging(settings)
    connection = _connection(settings)
    from bot.application import build_runtime
    from scheduler.clock import SystemClock

    runtime = build_runtime(settings, clock=SystemClock(), connection=connection)
    if not webhook:

        async def _poll() -> None:
            stop = _stop_on_signals()
            await runtime.start(polling=True)
            typer.echo("Bot running (polling). Press Ctrl+C to stop.", err=True)
            try:
                await _until_signalled(stop)
            finally:
                await runtime.stop()

        asyncio.run(_poll())
        return

    if not settings.webhook_url:
        raise fail("WEBHOOK_URL is not set; webhook mode needs the bot's public https URL")
    import uvicorn

    from bot.webhook import create_web_app, derived_secret, webhook_endpoint

    try:
        webhook_endpoint(settings.webhook_url)
    except ValueError as exc:
        raise fail(str(exc)) from None
    secret = settings.webhook_secret
    web_app = create_web_app(
        runtime,
        public_url=settings.webhook_url,
        secret=secret.get_secret_value() if secret else derived_secret(connection.token),
    )
    uvicorn.run(
        web_app,
        host=host,
        port=settings.port,
        log_config=None,  # keep configure_logging's handler (token filter) and levels
        log_level=third_party_level(settings).lower(),
        access_log=False,  # request lines would carry nothing useful, and no update text
        timeout_graceful_shutdown=30,
    )


@app.command()
def web(
    host: Annotated[str, typer.Option(help="Address the dashboard listens on.")] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port of the dashboard; default PORT (8080)."),
    ] = None,
) -> None:
    """Serve the clinics' web dashboard at http://HOST:PORT/dashboard (staff sign in with
    /web in chat, or `aftercare clinic login-link`). Runs beside `aftercare run`."""
    settings = settings_or_exit()
    configure_logging(settings)
    connection = _connection(settings)
    import uvicorn

    from bot.application import build_runtime
    from bot.webhook import create_dashboard_app
    from scheduler.clock import SystemClock

    if port is not None:
        settings = settings.model_copy(update={"port": port})  # sign-in links point here
    runtime = build_runtime(settings, clock=SystemClock(), connection=connection)
    typer.echo(f"Dashboard at http://{host}:{settings.port}/dashboard", err=True)
    uvicorn.run(
        create_dashboard_app(runtime),
        host=host,
        port=settings.port,
        log_config=None,
        log_level=third_party_level(settings).lower(),
        access_log=False,  # the sign-in link's token is in a query string
        timeout_graceful_shutdown=30,
    )


@app.command()
def demo(
    reset: Annotated[
        bool, typer.Option("--reset", help="Start the demo with an empty demo database.")
    ] = False,
) -> None:
    """The offline demo: chat with the bot in this terminal, as a patient, and travel in time
    with /travel 6h or /travel 2d. Nothing leaves this machine."""
    settings = settings_or_exit()
    from bot.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(settings, reset=reset)))


def _parse_session_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"{text!r} is not a date that exists; write it as YYYY-MM-DD") from None


def _parse_now(text: str | None, tz: Any) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"--now {text!r} is not an ISO date-time (e.g. 2026-11-21T10:00)") from None
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
    from scheduler.care.planning import (
        SessionDateError,
        UnknownTimeZoneError,
        check_session_date,
        load_zone,
    )

    settings = settings_or_exit()
    zone_name = tz or settings.default_timezone
    try:
        zone = load_zone(zone_name)
    except UnknownTimeZoneError:
        raise fail(f"{zone_name!r} is not a time zone; use an IANA name (Asia/Karachi)") from None
    day = _parse_session_date(session_date)
    instant = _parse_now(now, zone)
    try:
        check_session_date(day, today=instant.astimezone(zone).date())
    except SessionDateError as exc:
        raise fail(f"{exc}; the session must be at most 90 days ahead, 2 years back") from None

    from content.loader import PlanError, load_plan
    from scheduler.care.planning import plan_catch_up, plan_reminders

    try:
        plan = load_plan(plan_name or settings.default_plan)
    except PlanError as exc:
        raise fail(str(exc), code=1) from None
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
