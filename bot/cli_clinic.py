"""The ``clinic`` commands: create a clinic, list them, make invite links and QR codes, revoke.

    aftercare clinic create --name "North Clinic" --tz Asia/Karachi   # and the admin's link
    aftercare clinic list [--json]
    aftercare clinic invite 1 [--staff | --admin] [--json]
    aftercare clinic qr 1 [--out reception.png]
    aftercare clinic revoke 1 --patient-links | --staff-invites | --all
    aftercare clinic staff list 1 [--json]
    aftercare clinic staff remove 1 CHAT_ID        # at once; the last admin stays

An invite code exists only in the link printed here (the database keeps its SHA-256), so each
command that makes one prints it once, as a link. Links name the bot by its username:
TELEGRAM_BOT_USERNAME, else the answer of Telegram's getMe for TELEGRAM_BOT_TOKEN, else the
offline demo's bot. The token is never printed.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import typer

from bot.cli_common import fail, settings_or_exit
from bot.config import Settings

if TYPE_CHECKING:
    from scheduler.clinics.service import ClinicService
    from scheduler.clinics.views import ClinicView, NewInvite

clinic_app = typer.Typer(
    help="Clinics: create one, list them, make invite links and QR codes, revoke links.",
    no_args_is_help=True,
)

DEMO_BOT_USERNAME = "aftercare_demo_bot"  # the offline demo's stand-in answers getMe with it
USERNAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
PHONE_REGION = "PK"  # how a number without +country code is read
MAX_NAME = 120  # the widths of the clinics table's columns
MAX_PHONE = 40
MAX_URL = 300

T = TypeVar("T")

ClinicIdArgument = Annotated[
    int,
    typer.Argument(
        min=1, metavar="CLINIC_ID", help="The clinic's id (see `aftercare clinic list`)."
    ),
]


def _run(
    settings: Settings, work: Callable[[ClinicService], Awaitable[T]], *, create: bool = False
) -> T:
    """Run ``work`` with a clinic service on the migrated database, then close it.

    Only ``create`` may make a new database: every other command needs the one the bot uses,
    so a mistyped DATABASE_URL is named ("no database at ...") instead of leaving folders
    and an empty database behind.
    """
    from sqlalchemy.exc import DBAPIError

    from content.loader import load_plan
    from scheduler.clinics.service import ClinicService
    from scheduler.clock import SystemClock
    from storage.database import Database, redact_url

    where = redact_url(settings.database_url)
    if not create:
        _existing_database(settings)

    async def _go() -> T:
        database = Database(settings.database_url)
        try:
            if not create and await database.current_revision() is None:
                raise fail(f"no database at {where} (it has no tables); check DATABASE_URL")
            await database.upgrade()  # as `run` does at start
            return await work(
                ClinicService(database=database, clock=SystemClock(), plans=load_plan)
            )
        finally:
            await database.dispose()

    try:
        return asyncio.run(_go())
    except (DBAPIError, OSError) as exc:
        raise fail(f"the database {where} failed: {type(exc).__name__}", code=1) from None


def _existing_database(settings: Settings) -> None:
    """Exit 2 naming the URL when DATABASE_URL is a SQLite file that is not there."""
    from storage.database import redact_url

    if not _sqlite_file_exists(settings.database_url):
        raise fail(f"no database at {redact_url(settings.database_url)}; check DATABASE_URL")


def _sqlite_file_exists(url: str) -> bool:
    """False for a SQLite URL whose file is not there (connecting would create it)."""
    from storage.database import normalize_url

    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return True
    return Path(database).expanduser().is_file()


async def _clinic(service: ClinicService, clinic_id: int) -> ClinicView:
    clinic = await service.clinic(clinic_id=clinic_id)
    if clinic is None:
        raise fail(f"there is no clinic {clinic_id}; `aftercare clinic list` shows them")
    return clinic


# The bot's username


def bot_username(settings: Settings) -> str:
    """The bot's username for links: the setting, else Telegram's getMe, else the demo's."""
    configured = settings.telegram_bot_username.strip().removeprefix("@")
    if configured:
        if not USERNAME_PATTERN.match(configured):
            raise fail(
                f"configuration: TELEGRAM_BOT_USERNAME: {configured!r} is not a bot username "
                "(5-32 letters, digits and _, starting with a letter)"
            )
        return configured
    token = settings.telegram_bot_token
    if token is None:
        typer.echo(
            "Note: neither TELEGRAM_BOT_USERNAME nor TELEGRAM_BOT_TOKEN is set, so links name "
            f"the offline demo's bot @{DEMO_BOT_USERNAME}.",
            err=True,
        )
        return DEMO_BOT_USERNAME
    return asyncio.run(_ask_telegram(settings, token.get_secret_value()))


async def _ask_telegram(settings: Settings, token: str) -> str:
    """The username Telegram's getMe gives for the token (the error names no token)."""
    from telegram import Bot
    from telegram.error import TelegramError

    api = settings.telegram_api_url.rstrip("/")
    try:
        async with Bot(token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot") as bot:
            username = bot.username
    except TelegramError as exc:  # its message may quote the token: only the kind is shown
        raise fail(
            f"could not ask Telegram for the bot's username ({type(exc).__name__}); "
            "set TELEGRAM_BOT_USERNAME",
            code=1,
        ) from None
    if not USERNAME_PATTERN.match(username or ""):
        raise fail("Telegram gave no usable bot username; set TELEGRAM_BOT_USERNAME", code=1)
    return username


# Output


def _link(username: str, invite: NewInvite) -> str:
    from bot.qr import invite_link

    return invite_link(username, invite.code)


def _valid_for(invite: NewInvite, clinic: ClinicView) -> str:
    """How long a link works: "for 7 days (until Fri 27 Nov 2026 09:00 Asia/Karachi)"."""
    from scheduler.clinics.codes import INVITE_TTL

    days = INVITE_TTL[invite.kind] // timedelta(days=1)
    local = invite.expires_at.astimezone(ZoneInfo(clinic.timezone))
    return (
        f"for {days} day{'s' if days != 1 else ''} "
        f"(until {local:%a %d %b %Y %H:%M} {clinic.timezone})"
    )


def _describe(invite: NewInvite, clinic: ClinicView, role: str | None) -> str:
    from storage.models import InviteKind

    if invite.kind is InviteKind.PATIENT:
        return (
            f"Patient link of {clinic.name} (clinic {clinic.id}): any number of patients can "
            f"use it, {_valid_for(invite, clinic)}:"
        )
    return (
        f"{'Admin' if role == 'admin' else 'Staff'} invite to {clinic.name} "
        f"(clinic {clinic.id}): it works once, {_valid_for(invite, clinic)}:"
    )


def _invite_json(invite: NewInvite, clinic: ClinicView, link: str, role: str | None) -> str:
    from storage.models import InviteKind

    return json.dumps(
        {
            "clinic_id": clinic.id,
            "clinic": clinic.name,
            "kind": invite.kind.value,
            "role": role,
            "link": link,
            "max_uses": None if invite.kind is InviteKind.PATIENT else 1,
            "expires_at": invite.expires_at.isoformat(),
        },
        indent=2,
    )


# Commands


@clinic_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="The clinic's name, as patients see it.")],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone of the clinic (Asia/Karachi).")],
    phone: Annotated[
        str | None,
        typer.Option("--phone", help="Phone number for patients (+92..., or a Pakistani one)."),
    ] = None,
    whatsapp: Annotated[
        str | None, typer.Option("--whatsapp", help="WhatsApp number for patients, as --phone.")
    ] = None,
    address: Annotated[str | None, typer.Option("--address", help="Postal address.")] = None,
    booking_url: Annotated[
        str | None, typer.Option("--booking-url", help="Online booking page (https://...).")
    ] = None,
    language: Annotated[
        str,
        typer.Option(
            "--language",
            help="Language offered first to its patients, who choose at /start: en, ur "
            "(Urdu script) or ur-Latn (Roman Urdu); also the QR poster's caption.",
        ),
    ] = "en",
    plan_name: Annotated[
        str | None, typer.Option("--plan", help="Care plan of its patients; default DEFAULT_PLAN.")
    ] = None,
    quiet: Annotated[
        str | None,
        typer.Option(
            "--quiet", help="Quiet hours of new patients, 21:00-08:00 or off; default QUIET_HOURS."
        ),
    ] = None,
) -> None:
    """Create a clinic and print the one-time invite link of its first admin."""
    from content.loader import PlanError, load_plan
    from scheduler.care.planning import QuietHours, UnknownTimeZoneError, load_zone

    settings = settings_or_exit()
    name = " ".join(name.split())
    if not name:
        raise fail("--name is empty; give the clinic's name")
    if len(name) > MAX_NAME:
        raise fail(f"--name is longer than {MAX_NAME} characters")
    try:
        load_zone(tz)
    except UnknownTimeZoneError:
        raise fail(f"--tz {tz!r} is not a time zone; use an IANA name (Asia/Karachi)") from None
    try:
        quiet_hours = QuietHours.parse(quiet) if quiet is not None else settings.quiet_hours
    except ValueError:
        raise fail(f"--quiet {quiet!r} is not a span like 21:00-08:00 (or off)") from None
    phone, whatsapp = _phone(phone, "--phone"), _phone(whatsapp, "--whatsapp")
    address = (address or "").strip() or None
    booking_url = _https(booking_url)
    language = language.strip()
    languages = available_languages()
    if language not in languages:
        raise fail(
            f"--language {language!r} has no patient texts; choose one of {', '.join(languages)}"
        )
    plan_id = plan_name or settings.default_plan
    try:
        load_plan(plan_id)
    except PlanError as exc:
        raise fail(f"--plan: {exc}") from None
    username = bot_username(settings)

    async def _create(service: ClinicService) -> tuple[ClinicView, NewInvite]:
        return await service.create_clinic(
            name=name,
            timezone=tz,
            plan_id=plan_id,
            quiet_hours=quiet_hours,
            phone=phone,
            whatsapp=whatsapp,
            address=address,
            booking_url=booking_url,
            language=language,
        )

    clinic, invite = _run(settings, _create, create=True)
    typer.echo(
        f"Created clinic {clinic.id}: {clinic.name} ({clinic.timezone}, quiet hours "
        f"{clinic.quiet_hours}, plan {clinic.plan_id}, language {clinic.language})."
    )
    contacts = [f"{kind} {number}" for kind, number in
                (("phone", clinic.phone), ("WhatsApp", clinic.whatsapp)) if number]  # fmt: skip
    if contacts:
        typer.echo(f"Contact shown to patients: {', '.join(contacts)}.")
    typer.echo(_describe(invite, clinic, "admin"))
    typer.echo(_link(username, invite))
    typer.echo(
        "Send it to the clinic's first admin only: whoever opens it in Telegram becomes the "
        "admin. It is not shown again; `aftercare clinic invite "
        f"{clinic.id} --admin` makes another."
    )


def available_languages() -> tuple[str, ...]:
    """The languages patients can be written to in: one per content/texts/<code>.yaml."""
    from content.texts import available_languages as catalogues

    return catalogues()


def _phone(value: str | None, option: str) -> str | None:
    """A phone or WhatsApp number in E.164 (+923001234567); local numbers are read as
    Pakistani (the region of the clinics we serve). None when not given."""
    import phonenumbers

    value = (value or "").strip()
    if not value:
        return None
    if len(value) > MAX_PHONE:
        raise fail(f"{option} is longer than {MAX_PHONE} characters")
    try:
        number = phonenumbers.parse(value, PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise fail(
            f"{option} {value!r} is not a phone number; write it with its country code "
            "(+92 51 2345678) or as dialled in Pakistan (0300 1234567)"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _https(url: str | None) -> str | None:
    url = (url or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url):
        raise fail(f"--booking-url {url!r} is not an https:// address")
    if len(url) > MAX_URL:
        raise fail(f"--booking-url is longer than {MAX_URL} characters")
    return url


@clinic_app.command("list")
def list_clinics(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the clinics: id, name, time zone, staff and patients."""
    settings = settings_or_exit()

    async def _list(service: ClinicService) -> list[tuple[ClinicView, int, int]]:
        return await service.clinics()

    rows = _run(settings, _list)
    if as_json:
        typer.echo(json.dumps([_clinic_json(c, staff, patients) for c, staff, patients in rows]))
        return
    if not rows:
        typer.echo("No clinics yet; `aftercare clinic create --name ... --tz ...` makes one.")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Clinics")
    for column in ("ID", "Name", "Time zone", "Staff", "Patients"):
        table.add_column(
            column, justify="right" if column in {"ID", "Staff", "Patients"} else "left"
        )
    for clinic, staff, patients in rows:
        table.add_row(str(clinic.id), clinic.name, clinic.timezone, str(staff), str(patients))
    Console().print(table)


def _clinic_json(clinic: ClinicView, staff: int, patients: int) -> dict[str, Any]:
    return {
        "id": clinic.id,
        "name": clinic.name,
        "timezone": clinic.timezone,
        "plan": clinic.plan_id,
        "language": clinic.language,
        "quiet_hours": str(clinic.quiet_hours),
        "phone": clinic.phone,
        "whatsapp": clinic.whatsapp,
        "staff": staff,
        "patients": patients,
    }


@clinic_app.command("invite")
def invite(
    clinic_id: ClinicIdArgument,
    staff: Annotated[
        bool, typer.Option("--staff", help="A one-time invite for a member of staff.")
    ] = False,
    admin: Annotated[bool, typer.Option("--admin", help="A one-time invite for an admin.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a new link: the clinic's patient link (many uses, 365 days) or a staff invite."""
    from storage.models import InviteKind, StaffRole

    if staff and admin:
        raise fail("choose one of --staff and --admin")
    settings = settings_or_exit()
    _existing_database(settings)
    username = bot_username(settings)
    role = StaffRole.ADMIN if admin else StaffRole.STAFF if staff else None
    kind = InviteKind.PATIENT if role is None else InviteKind.STAFF

    async def _invite(service: ClinicService) -> tuple[ClinicView, NewInvite]:
        clinic = await _clinic(service, clinic_id)
        return clinic, await service.invite(clinic_id=clinic_id, kind=kind, role=role)

    clinic, made = _run(settings, _invite)
    link = _link(username, made)
    role_name = None if role is None else role.value
    if as_json:
        typer.echo(_invite_json(made, clinic, link, role_name))
        return
    typer.echo(_describe(made, clinic, role_name))
    typer.echo(link)
    if role is not None:
        typer.echo("Send it to that person only: whoever opens it in Telegram joins the staff.")


@clinic_app.command("qr")
def qr(
    clinic_id: ClinicIdArgument,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE.png",
            help="Where to write the PNG; default clinic-<id>-invite.png here.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Make a new patient link of the clinic and write its QR code, to print, as a PNG."""
    from bot.qr import qr_png
    from storage.models import InviteKind

    path = (out or Path(f"clinic-{clinic_id}-invite.png")).expanduser()
    if path.is_dir():
        raise fail(f"--out {str(path)!r} is a directory; give a file name")
    if not path.parent.is_dir():
        raise fail(f"--out: the folder {str(path.parent)!r} does not exist")
    settings = settings_or_exit()
    _existing_database(settings)
    username = bot_username(settings)

    async def _invite(service: ClinicService) -> tuple[ClinicView, NewInvite]:
        clinic = await _clinic(service, clinic_id)
        return clinic, await service.invite(clinic_id=clinic_id, kind=InviteKind.PATIENT)

    clinic, made = _run(settings, _invite)
    link = _link(username, made)
    from content.texts import load_texts

    caption = load_texts(clinic.language).plain("staff.invite_caption", clinic=clinic.name)
    try:
        path.write_bytes(qr_png(link, caption=caption))
    except OSError as exc:
        raise fail(f"could not write {str(path)!r}: {exc.strerror or exc}", code=1) from None
    typer.echo(_describe(made, clinic, None))
    typer.echo(link)
    typer.echo(f"QR code written to {path.resolve()}")


@clinic_app.command("revoke")
def revoke(
    clinic_id: ClinicIdArgument,
    patient_links: Annotated[
        bool, typer.Option("--patient-links", help="Revoke the clinic's patient links.")
    ] = False,
    staff_invites: Annotated[
        bool, typer.Option("--staff-invites", help="Revoke its staff and admin invites.")
    ] = False,
    everything: Annotated[
        bool, typer.Option("--all", help="Revoke every invite: patient, enrolment and staff.")
    ] = False,
) -> None:
    """Revoke a clinic's invites so their links stop working; prints how many."""
    from storage.models import InviteKind

    if patient_links + staff_invites + everything != 1:
        raise fail("say what to revoke: one of --patient-links, --staff-invites and --all")
    kind = InviteKind.PATIENT if patient_links else InviteKind.STAFF if staff_invites else None
    what = {
        InviteKind.PATIENT: "patient link",
        InviteKind.STAFF: "staff invite",
        None: "invite",
    }[kind]
    settings = settings_or_exit()

    async def _revoke(service: ClinicService) -> tuple[ClinicView, int]:
        clinic = await _clinic(service, clinic_id)
        return clinic, await service.revoke(clinic_id=clinic_id, kind=kind)

    clinic, count = _run(settings, _revoke)
    typer.echo(f"Revoked {count} {what}{'s' if count != 1 else ''} of {clinic.name}.")


# Staff: who is on a clinic's team, and taking someone off it

staff_app = typer.Typer(
    help="A clinic's staff: list them, remove a member (at once).", no_args_is_help=True
)
clinic_app.add_typer(staff_app, name="staff")

ChatIdArgument = Annotated[
    int,
    typer.Argument(
        metavar="CHAT_ID", help="The member's Telegram chat id (see `aftercare clinic staff list`)."
    ),
]


@staff_app.command("list")
def list_staff(
    clinic_id: ClinicIdArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List a clinic's staff: chat id, role, name, since when."""
    settings = settings_or_exit()

    async def _team(service: ClinicService) -> tuple[ClinicView, list[Any]]:
        clinic = await _clinic(service, clinic_id)
        return clinic, await service.team(clinic_id=clinic_id)

    clinic, team = _run(settings, _team)
    if as_json:
        typer.echo(
            json.dumps([{"chat_id": s.chat_id, "role": s.role.value, "name": s.name} for s in team])
        )
        return
    if not team:
        typer.echo(f"{clinic.name} has no staff; `aftercare clinic invite {clinic_id} --admin`.")
        return
    typer.echo(f"Staff of {clinic.name}:")
    for member in team:
        typer.echo(f"{member.chat_id}\t{member.role.value}\t{member.name or '-'}")


@staff_app.command("remove")
def remove_staff(clinic_id: ClinicIdArgument, chat_id: ChatIdArgument) -> None:
    """Take a member off a clinic's staff: their next command or button is refused."""
    from scheduler.clinics.errors import StaffError, StaffProblem

    settings = settings_or_exit()

    async def _remove(service: ClinicService) -> tuple[ClinicView, Any]:
        clinic = await _clinic(service, clinic_id)
        try:
            return clinic, await service.remove_staff(clinic_id=clinic_id, chat_id=chat_id)
        except StaffError as error:
            if error.problem is StaffProblem.LAST_ADMIN:
                raise fail(
                    f"chat {chat_id} is the only admin of {clinic.name}: make another admin "
                    f"first (`aftercare clinic invite {clinic_id} --admin`)"
                ) from None
            raise fail(
                f"chat {chat_id} is not on the staff of {clinic.name}; "
                f"`aftercare clinic staff list {clinic_id}` shows them"
            ) from None

    clinic, removed = _run(settings, _remove)
    typer.echo(
        f"Removed {removed.name or 'member'} (chat {removed.chat_id}, {removed.role.value}) "
        f"from {clinic.name}: their staff commands and buttons no longer work."
    )


@clinic_app.command("login-link")
def login_link(
    clinic_id: ClinicIdArgument,
    staff: Annotated[
        int | None,
        typer.Option(
            "--staff",
            metavar="CHAT_ID",
            help="For this member of staff; without it, for the first admin of a clinic "
            "that has no admin yet.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a one-time sign-in link to the clinic's web dashboard (10 minutes, one use)."""
    from bot.web.app import sign_in_url
    from scheduler.clinics.web_access import SignInLink, WebAccess, WebAccessError
    from scheduler.clock import SystemClock

    settings = settings_or_exit()

    async def _make(service: ClinicService) -> SignInLink:
        await _clinic(service, clinic_id)
        access = WebAccess(database=service.database, clock=SystemClock())
        try:
            return await access.link_for(clinic_id=clinic_id, staff_chat_id=staff)
        except WebAccessError as exc:
            if staff is not None:
                raise fail(
                    f"chat {staff} is not on the staff of clinic {clinic_id}; "
                    f"`aftercare clinic staff list {clinic_id}` shows them"
                ) from None
            raise fail(f"{exc}; add --staff CHAT_ID for a member's link") from None

    made = _run(settings, _make)
    url = sign_in_url(settings.dashboard_base(), made.token)
    who = (
        f"{made.staff.name or 'member'} (chat {made.staff.chat_id})"
        if made.staff is not None
        else "the first admin"
    )
    if as_json:
        typer.echo(
            json.dumps(
                {"clinic": made.clinic.name, "for": who, "url": url, "expires": made.expires_at_iso}
            )
        )
        return
    typer.echo(f"Sign-in link to the dashboard of {made.clinic.name}, for {who}:")
    typer.echo(url)
    typer.echo(f"It works once, until {made.expires_at_iso} (UTC). Give it to that person only.")
