"""The ``aftercare clinic`` commands end to end on a temporary SQLite file: the links they print
are real invites (checked with ClinicService.peek), the QR code is a PNG of the link, revoking
stops a printed link, and bad input is one clear line with exit 2."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.qr import qr_matrix
from bot.standin import StandIn
from content.loader import load_plan
from scheduler.clinics.errors import InviteError, InviteProblem
from scheduler.clinics.service import ClinicService
from scheduler.clinics.views import InviteView
from scheduler.clinics.web_access import WebAccess
from scheduler.clock import SystemClock
from storage.database import Database
from storage.models import InviteKind, StaffRole
from tests.bot.test_qr import modules_of, read_png

runner = CliRunner()
LINK = re.compile(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+)")
TOKEN = "123456789:AAH" + "x" * 32
T = TypeVar("T")
VARIABLES = {
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BOT_USERNAME",
    "TELEGRAM_API_URL",
    "DATABASE_URL",
    "DATA_DIR",
    "DEFAULT_TIMEZONE",
    "DEFAULT_PLAN",
    "QUIET_HOURS",
}


@pytest.fixture(autouse=True)
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every command runs in an empty directory, on its own SQLite file, with no bot."""
    for name in list(os.environ):
        if name.upper() in VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'clinics.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def with_service(url: str, work: Callable[[ClinicService], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` on the CLI's database, as the bot would."""

    async def _go() -> T:
        database = Database(url)
        try:
            return await work(
                ClinicService(database=database, clock=SystemClock(), plans=load_plan)
            )
        finally:
            await database.dispose()

    return asyncio.run(_go())


def peek(url: str, code: str) -> InviteView:
    """What a printed code is for (InviteError if it no longer works)."""
    return with_service(url, lambda service: service.peek(code=code))


def problem(url: str, code: str) -> InviteProblem:
    """Why a printed code does not work."""
    with pytest.raises(InviteError) as raised:
        peek(url, code)
    return raised.value.problem


def ok(*args: str) -> Result:
    """Run a command that must succeed."""
    result = runner.invoke(app, ["clinic", *args])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def link_in(text: str) -> tuple[str, str]:
    """The (bot username, code) of the one link in ``text``."""
    found: list[tuple[str, str]] = LINK.findall(text)
    assert len(found) == 1, text
    return found[0]


def create(*extra: str, name: str = "North Clinic") -> tuple[int, str]:
    """`clinic create`: the new clinic's id and the admin's code."""
    result = ok("create", "--name", name, "--tz", "Asia/Karachi", *extra)
    found = re.search(r"Created clinic (\d+): ", result.stdout)
    assert found, result.stdout
    return int(found.group(1)), link_in(result.stdout)[1]


@pytest.mark.parametrize(
    "path",
    [[], ["create"], ["list"], ["invite"], ["qr"], ["revoke"], ["login-link"]],
)
def test_help_on_every_command(path: list[str]) -> None:
    """--help works for the group and each command."""
    result = runner.invoke(app, ["clinic", *path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_create_prints_the_admins_one_time_link(database_url: str) -> None:
    """The printed code is an admin invite of the new clinic; it works once, for 7 days.
    Without a username or token the links name the demo's bot, with a note saying so."""
    result = ok(
        "create",
        "--name",
        "  North   Clinic ",
        "--tz",
        "Asia/Karachi",
        "--phone",
        "0300 1234567",
        "--whatsapp",
        "+92 51 2345678",
        "--booking-url",
        "https://north.example/book",
        "--quiet",
        "22:00-07:00",
    )
    clinic_id = int(re.findall(r"Created clinic (\d+): North Clinic \(", result.stdout)[0])
    username, code = link_in(result.stdout)
    assert username == "aftercare_demo_bot"
    assert "works once" in result.stdout and "7 days" in result.stdout
    assert "aftercare_demo_bot" in result.stderr and "TELEGRAM_BOT_TOKEN" in result.stderr
    invite = peek(database_url, code)
    assert (invite.kind, invite.role) == (InviteKind.STAFF, StaffRole.ADMIN)
    clinic = invite.clinic
    assert (clinic.id, clinic.name, clinic.timezone) == (clinic_id, "North Clinic", "Asia/Karachi")
    assert (clinic.phone, clinic.whatsapp) == ("+923001234567", "+92512345678")  # E.164
    assert clinic.booking_url == "https://north.example/book"
    assert "phone +923001234567, WhatsApp +92512345678" in result.stdout
    assert (str(clinic.quiet_hours), clinic.plan_id, clinic.language) == (
        "22:00-07:00",
        "microneedling",
        "en",
    )
    # It works once.
    staff = with_service(
        database_url, lambda s: s.join_staff(code=code, chat_id=500, name="Dr North")
    )
    assert staff.is_admin and staff.clinic.id == clinic_id
    assert problem(database_url, code) is InviteProblem.USED


def test_list_shows_each_clinic_with_its_counts(database_url: str) -> None:
    """A table, and JSON with id, name, zone, staff and patients."""
    ok_db = runner.invoke(app, ["db", "upgrade"])
    assert ok_db.exit_code == 0, ok_db.output
    empty = ok("list")
    assert "No clinics yet" in empty.stdout
    assert json.loads(ok("list", "--json").stdout) == []
    north, admin_code = create()
    south, _ = create(name="South Clinic")
    with_service(database_url, lambda s: s.join_staff(code=admin_code, chat_id=500, name=None))
    table = ok("list").stdout
    for text in ("North Clinic", "South Clinic", "Asia/Karachi", "Staff", "Patients"):
        assert text in table
    rows = json.loads(ok("list", "--json").stdout)
    assert [(r["id"], r["name"], r["timezone"], r["staff"], r["patients"]) for r in rows] == [
        (north, "North Clinic", "Asia/Karachi", 1, 0),
        (south, "South Clinic", "Asia/Karachi", 0, 0),
    ]


def test_invite_makes_a_patient_link_or_a_staff_invite(database_url: str) -> None:
    """Default: the patient link (many uses, 365 days); --staff / --admin: a one-time invite."""
    clinic_id, _ = create()
    patient = ok("invite", str(clinic_id))
    assert "any number of patients" in patient.stdout and "365 days" in patient.stdout
    seen = peek(database_url, link_in(patient.stdout)[1])
    assert (seen.kind, seen.role, seen.clinic.id) == (InviteKind.PATIENT, None, clinic_id)

    staff = ok("invite", str(clinic_id), "--staff")
    assert "works once" in staff.stdout and "7 days" in staff.stdout
    seen = peek(database_url, link_in(staff.stdout)[1])
    assert (seen.kind, seen.role) == (InviteKind.STAFF, StaffRole.STAFF)

    admin = json.loads(ok("invite", str(clinic_id), "--admin", "--json").stdout)
    assert (admin["clinic_id"], admin["kind"], admin["role"], admin["max_uses"]) == (
        clinic_id,
        "staff",
        "admin",
        1,
    )
    assert "code" not in admin  # the code only ever appears inside the link
    seen = peek(database_url, link_in(admin["link"])[1])
    assert (seen.kind, seen.role) == (InviteKind.STAFF, StaffRole.ADMIN)

    link = json.loads(ok("invite", str(clinic_id), "--json").stdout)
    assert (link["kind"], link["role"], link["max_uses"]) == ("patient", None, None)


def test_qr_writes_the_png_of_a_new_patient_link(database_url: str, tmp_path: Path) -> None:
    """By default clinic-<id>-invite.png here; the image is the QR code of the printed link."""
    clinic_id, _ = create()
    result = ok("qr", str(clinic_id))
    path = tmp_path / f"clinic-{clinic_id}-invite.png"
    assert str(path) in result.stdout
    username, code = link_in(result.stdout)
    assert peek(database_url, code).kind is InviteKind.PATIENT
    width, height, rows = read_png(path.read_bytes())
    matrix = qr_matrix(f"https://t.me/{username}?start={code}")
    size = len(matrix)
    assert width == size * 10 and width < height < width * 1.5  # the code, and a caption
    assert modules_of(rows, size) == matrix

    out = tmp_path / "print" / "reception.png"
    out.parent.mkdir()
    again = ok("qr", str(clinic_id), "--out", str(out))
    assert str(out) in again.stdout and out.read_bytes().startswith(b"\x89PNG")
    assert link_in(again.stdout)[1] != code  # a new link each time


def test_revoke_stops_a_printed_link(database_url: str) -> None:
    """Patient links, staff invites or everything; it says how many, and the codes fail."""
    clinic_id, admin_code = create()
    patient_code = link_in(ok("invite", str(clinic_id)).stdout)[1]
    other_code = link_in(ok("qr", str(clinic_id)).stdout)[1]
    south, south_admin = create(name="South Clinic")
    south_link = link_in(ok("invite", str(south)).stdout)[1]

    result = ok("revoke", str(clinic_id), "--patient-links")
    assert "Revoked 2 patient links of North Clinic" in result.stdout
    assert problem(database_url, patient_code) is InviteProblem.REVOKED
    assert problem(database_url, other_code) is InviteProblem.REVOKED
    assert peek(database_url, admin_code).role is StaffRole.ADMIN  # not a patient link
    assert peek(database_url, south_link).clinic.id == south  # not this clinic's

    result = ok("revoke", str(clinic_id), "--staff-invites")
    assert "Revoked 1 staff invite of North Clinic" in result.stdout
    assert problem(database_url, admin_code) is InviteProblem.REVOKED

    assert "Revoked 0 invites" in ok("revoke", str(clinic_id), "--all").stdout
    assert "Revoked 2 invites of South Clinic" in ok("revoke", str(south), "--all").stdout
    assert problem(database_url, south_admin) is InviteProblem.REVOKED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "  ", "--tz", "Asia/Karachi"], "--name is empty"),
        (["--name", "x" * 121, "--tz", "Asia/Karachi"], "longer than 120"),
        (["--name", "A", "--tz", "Mars/Olympus"], "'Mars/Olympus' is not a time zone"),
        (["--name", "A", "--tz", "UTC", "--quiet", "late"], "'late' is not a span"),
        (["--name", "A", "--tz", "UTC", "--quiet", "25:00-08:00"], "is not a span"),
        (["--name", "A", "--tz", "UTC", "--booking-url", "http://a.example"], "https://"),
        (["--name", "A", "--tz", "UTC", "--booking-url", "north.example"], "https://"),
        (["--name", "A", "--tz", "UTC", "--booking-url", "https://"], "https://"),
        (["--name", "A", "--tz", "UTC", "--phone", "1" * 41], "--phone is longer"),
        (["--name", "A", "--tz", "UTC", "--phone", "abc"], "--phone 'abc' is not a phone"),
        (["--name", "A", "--tz", "UTC", "--phone", "12"], "--phone '12' is not a phone"),
        (["--name", "A", "--tz", "UTC", "--whatsapp", "0300 12"], "--whatsapp '0300 12' is not"),
        (["--name", "A", "--tz", "UTC", "--language", "English!"], "has no patient texts"),
        (["--name", "A", "--tz", "UTC", "--language", "fr"], "'fr' has no patient texts"),
        (["--name", "A", "--tz", "UTC", "--language", "xx"], "choose one of en"),
        (["--name", "A", "--tz", "UTC", "--plan", "no-such-plan"], "--plan"),
    ],
)
def test_create_refuses_bad_input_with_one_line_and_exit_2(
    args: list[str], message: str, database_url: str
) -> None:
    """Nothing is created, and the reason is one line on stderr."""
    result = runner.invoke(app, ["clinic", "create", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output and not LINK.search(result.output)
    assert not Path(database_url.removeprefix("sqlite+aiosqlite:///")).exists()


@pytest.mark.parametrize(
    "args",
    [
        ["invite", "7"],
        ["invite", "7", "--admin"],
        ["qr", "7"],
        ["revoke", "7", "--all"],
    ],
)
def test_an_unknown_clinic_is_exit_2(args: list[str], tmp_path: Path) -> None:
    """A clear message naming the id, and no file written."""
    create()
    result = runner.invoke(app, ["clinic", *args])
    assert result.exit_code == 2, result.output
    assert "there is no clinic 7" in result.stderr
    assert not LINK.search(result.output)
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invite", "1", "--staff", "--admin"], "one of --staff and --admin"),
        (["revoke", "1"], "say what to revoke"),
        (["revoke", "1", "--all", "--staff-invites"], "say what to revoke"),
        (["qr", "1", "--out", "missing/dir/x.png"], "does not exist"),
        (["qr", "1", "--out", "."], "is a directory"),
        (["invite", "0"], "greater than or equal to 1"),
        (["invite", "one"], "valid integer"),
    ],
)
def test_contradictory_or_impossible_options_are_exit_2(args: list[str], message: str) -> None:
    """Nothing is made or revoked."""
    clinic_id, admin_code = create()
    assert clinic_id == 1
    result = runner.invoke(app, ["clinic", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not LINK.search(result.output)
    rows = json.loads(ok("list", "--json").stdout)
    assert len(rows) == 1


@pytest.mark.parametrize(
    "args",
    [["list"], ["list", "--json"], ["invite", "1"], ["qr", "1"], ["revoke", "1", "--all"]],
)
def test_a_mistyped_database_url_is_named_and_nothing_is_created(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only `create` makes a database: the others say there is none, exit 2, and leave no
    folder, no file and no PNG behind."""
    missing = tmp_path / "dtaa" / "aftercare.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{missing}")
    result = runner.invoke(app, ["clinic", *args])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: no database at ") and str(missing) in line, line
    assert "DATABASE_URL" in line
    assert not missing.parent.exists()
    assert not list(tmp_path.glob("*.png"))


def test_an_empty_database_file_is_not_migrated_by_a_read_only_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "typo.sqlite3"
    sqlite3.connect(empty).close()
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{empty}")
    result = runner.invoke(app, ["clinic", "list"])
    assert result.exit_code == 2, result.output
    assert "no database at" in result.stderr and "no tables" in result.stderr
    with sqlite3.connect(empty) as connection:
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_the_username_setting_names_the_bot(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """TELEGRAM_BOT_USERNAME (with or without @) is used as is, without asking Telegram."""
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@North_Care_Bot")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")  # never reached
    result = ok("create", "--name", "North", "--tz", "UTC")
    username, code = link_in(result.stdout)
    assert username == "North_Care_Bot" and "Note" not in result.output
    assert TOKEN not in result.output
    assert peek(database_url, code).role is StaffRole.ADMIN

    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "no")
    bad = runner.invoke(app, ["clinic", "invite", "1"])
    assert bad.exit_code == 2 and "TELEGRAM_BOT_USERNAME" in bad.stderr


async def test_without_a_username_telegram_is_asked_and_the_token_never_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """getMe on the configured Bot API server gives the username (here: the stand-in's)."""
    async with StandIn(token=TOKEN, bot_username="north_clinic_bot") as server:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_API_URL", server.base_url.removesuffix("/bot"))
        result = await asyncio.to_thread(
            runner.invoke, app, ["clinic", "create", "--name", "North", "--tz", "UTC"]
        )
        assert result.exit_code == 0, result.output
        assert link_in(result.stdout)[0] == "north_clinic_bot"
        assert TOKEN not in result.output and "Note" not in result.output
        assert any(call.method.lower() == "getme" for call in server.calls)


def test_an_unreachable_telegram_is_one_line_without_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No username and no Bot API: exit 1, the kind of error, a hint, no token, no invite."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")
    result = runner.invoke(app, ["clinic", "create", "--name", "North", "--tz", "UTC"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_BOT_USERNAME" in lines[0], result.output
    assert TOKEN not in result.output and TOKEN.split(":")[1] not in result.output
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    assert json.loads(ok("list", "--json").stdout) == []


# Staff: list and remove (issue 12, item 14)


def join_staff(url: str, code: str, chat_id: int, name: str | None = None) -> None:
    """Someone opens a printed staff invite in Telegram."""
    with_service(url, lambda service: service.join_staff(code=code, chat_id=chat_id, name=name))


def test_staff_list_and_remove_take_effect_at_once(database_url: str) -> None:
    """`clinic staff list` shows the team; `clinic staff remove` takes a member off at once
    (the bot finds no member of staff for their chat); the last admin stays."""
    clinic_id, admin_code = create()
    join_staff(database_url, admin_code, 500, "Founder")
    staff_code = link_in(ok("invite", str(clinic_id), "--staff").stdout)[1]
    join_staff(database_url, staff_code, 501, "Nurse")
    listed = ok("staff", "list", str(clinic_id)).stdout
    assert "500\tadmin\tFounder" in listed and "501\tstaff\tNurse" in listed
    as_json = json.loads(ok("staff", "list", str(clinic_id), "--json").stdout)
    assert [m["chat_id"] for m in as_json] == [500, 501]

    removed = ok("staff", "remove", str(clinic_id), "501").stdout
    assert "Removed Nurse (chat 501, staff) from North Clinic" in removed
    assert with_service(database_url, lambda service: service.staff(chat_id=501)) is None

    gone = runner.invoke(app, ["clinic", "staff", "remove", str(clinic_id), "501"])
    assert gone.exit_code == 2 and "not on the staff of North Clinic" in gone.stderr
    last = runner.invoke(app, ["clinic", "staff", "remove", str(clinic_id), "500"])
    assert last.exit_code == 2 and "the only admin of North Clinic" in last.stderr
    assert with_service(database_url, lambda service: service.staff(chat_id=500)) is not None
    unknown = runner.invoke(app, ["clinic", "staff", "list", "7"])
    assert unknown.exit_code == 2 and "there is no clinic 7" in unknown.stderr


@pytest.mark.parametrize("path", [["staff"], ["staff", "list"], ["staff", "remove"]])
def test_help_on_the_staff_commands(path: list[str]) -> None:
    """--help works for the staff group and each of its commands."""
    result = runner.invoke(app, ["clinic", *path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_login_link_is_for_the_first_admin_or_a_named_member(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new clinic's link is for its first admin; once it has an admin, links name a member
    of its staff; the link points at DASHBOARD_URL and works once."""
    monkeypatch.setenv("DASHBOARD_URL", "https://clinic.example.org/")
    clinic_id, admin_code = create()
    first = ok("login-link", str(clinic_id)).stdout
    assert "for the first admin" in first
    url = re.search(r"https://clinic\.example\.org/dashboard/login\?t=([A-Za-z0-9_-]{40,})", first)
    assert url, first

    join_staff(database_url, admin_code, 500, "Founder")
    refused = runner.invoke(app, ["clinic", "login-link", str(clinic_id)])
    assert refused.exit_code == 2 and "sign in from chat with /web" in refused.stderr
    member = json.loads(ok("login-link", str(clinic_id), "--staff", "500", "--json").stdout)
    assert member["for"] == "Founder (chat 500)" and member["url"].startswith(
        "https://clinic.example.org/dashboard/login?t="
    )
    stranger = runner.invoke(app, ["clinic", "login-link", str(clinic_id), "--staff", "501"])
    assert stranger.exit_code == 2 and "not on the staff of clinic" in stranger.stderr

    async def spend(service: ClinicService) -> tuple[str | None, str | None]:
        access = WebAccess(database=service.database, clock=SystemClock())
        token = member["url"].rsplit("=", 1)[1]
        return await access.sign_in(token), await access.sign_in(token)

    once, twice = with_service(database_url, spend)
    assert once is not None and twice is None
