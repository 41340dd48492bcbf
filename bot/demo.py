"""The offline demo: the real bot, a local Telegram stand-in, and a chat in the terminal.

You are the patient. What you type goes to the bot as a Telegram message; buttons are
pressed by their number; ``/travel 6h`` moves the demo's clock forward and shows each
reminder as it arrives, at its local hour. Nothing leaves the machine: the bot talks HTTP to
the stand-in on 127.0.0.1, and keeps its data in ``DATA_DIR/demo.sqlite3``. The demo's clock
is saved on exit, so a second run carries on where the first stopped (``--reset`` starts
afresh).

``/clinic`` walks the clinic's side too: it creates a demo clinic with the demo's own
services (so its links expire by the demo's clock, not the wall clock), makes a second chat
the clinic's admin, and ``/join`` opens the clinic's patient link as the patient; ``/as
clinic`` and ``/as patient`` switch who is typing. Button pop-ups (``query.answer`` texts)
and edited keyboards (a calendar's month change) are printed as Telegram would show them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import uvicorn
from rich.console import Console
from rich.panel import Panel
from rich.text import Text
from starlette.applications import Starlette

from bot.application import BotRuntime, Connection, build_runtime
from bot.config import Settings
from bot.qr import invite_link
from bot.ratelimit import PacedRateLimiter
from bot.standin import ChatHandle, SentMessage, StandIn
from bot.web.app import sign_in_url
from scheduler.care.timetravel import travel
from scheduler.clock import FakeClock
from storage.models import InviteKind, StaffRole

DEMO_CHAT_ID = 424242
DEMO_STAFF_CHAT_ID = 515151
DEMO_CLINIC = "Demo Clinic"
DEMO_CLINIC_CONTACT = {
    "phone": "+92 51 2345678",
    "whatsapp": "+92 300 1234567",
    "address": "1 Demo Road, Islamabad",
}
TRAVEL = re.compile(r"^(\d{1,3})\s*(m|min|minutes?|h|hours?|d|days?|w|weeks?)$", re.IGNORECASE)
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_TRAVEL = timedelta(days=400)
SETTLE = 0.6
SETTLE_LIMIT = 15.0

DEMO_HELP = """\
[b]You are the patient.[/b] Type a message and press Enter; it goes to the bot.
  [cyan]1[/], [cyan]2[/]...      press a button of the last message that has buttons
  [cyan]/travel 6h[/]        move time forward (m, h, d or w: [i]/travel 2d[/], [i]/travel 1w[/])
  [cyan]/now[/]              the demo's date and time
  [cyan]/sticker[/], [cyan]/photo[/], [cyan]/voice[/]  send one of those
  [cyan]/block[/], [cyan]/unblock[/]  block or unblock the bot, as a user can
  [cyan]/clinic[/]           create a demo clinic, with you as its admin in a second chat
  [cyan]/join[/]             open the clinic's patient link, as the patient
  [cyan]/as clinic[/], [cyan]/as patient[/]  type as the clinic's admin, or as the patient again
  [cyan]/dashboard[/]        a sign-in link to the clinic's web dashboard, {dashboard}
  [cyan]/quit[/]             leave (data and demo clock are kept; [i]--reset[/] starts over)
Start with [b]/start[/]. The bot's commands ([i]/status[/], [i]/plan[/]...) work too."""


class _RichHTML(HTMLParser):
    """Telegram HTML to a rich Text (bold, italic, underline, code, links)."""

    STYLES = {
        "b": "bold",
        "strong": "bold",
        "i": "italic",
        "em": "italic",
        "u": "underline",
        "s": "strike",
        "code": "cyan",
        "pre": "cyan",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = Text()
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.styles.append(self.STYLES.get(tag, "underline blue" if tag == "a" else ""))

    def handle_endtag(self, tag: str) -> None:
        if self.styles:
            self.styles.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data, style=" ".join(s for s in self.styles if s) or None)


def html_to_text(markup: str, parse_mode: str | None) -> Text:
    """What Telegram would show for ``markup``."""
    if (parse_mode or "").upper() != "HTML":
        return Text(markup)
    parser = _RichHTML()
    parser.feed(markup)
    parser.close()
    return parser.text


def parse_travel(argument: str) -> timedelta | None:
    """ "6h", "2 days", "30m", "1w" as a timedelta; None when it is not one."""
    match = TRAVEL.match(argument.strip())
    if match is None:
        return None
    amount, unit = int(match.group(1)), match.group(2)[0].lower()
    delta = timedelta(**{UNITS[unit]: amount})
    return delta if timedelta(0) < delta <= MAX_TRAVEL else None


class DemoChat:
    """The terminal side: prints what the bot sends, turns what you type into updates.

    Two chats take part: the patient's, and (after ``/clinic``) the clinic admin's. What you
    type goes to the chat you are acting in (``/as clinic``, ``/as patient``); what the bot
    sends to either is printed, titled with whom it went to.
    """

    def __init__(
        self,
        *,
        console: Console,
        standin: StandIn,
        chat: ChatHandle,
        runtime: BotRuntime,
        clock: FakeClock,
        zone: Callable[[], str],
        settings: Settings | None = None,
    ) -> None:
        """Print to ``console``; talk to ``chat`` on ``standin``."""
        self.console = console
        self.standin = standin
        self.patient = chat
        self.chat = chat
        self.staff: ChatHandle | None = None
        self.runtime = runtime
        self.clock = clock
        self.zone = zone
        self.settings = settings
        self.shown: dict[tuple[int, int], tuple[str, tuple[str, ...]]] = {}
        self.answers_shown: dict[int, int] = {}

    def local_now(self) -> datetime:
        return self.clock.now().astimezone(ZoneInfo(self.zone()))

    def _chats(self) -> list[ChatHandle]:
        return [self.patient] if self.staff is None else [self.patient, self.staff]

    def _state(self) -> tuple[int, ...]:
        state: list[int] = []
        for chat in self._chats():
            messages = chat.messages
            state += [len(messages), sum(m.edits for m in messages), len(chat.callback_answers)]
        return tuple(state)

    def show_new(self) -> None:
        """Print messages that are new or were edited since last shown, and button pop-ups."""
        for chat in self._chats():
            self._show_answers(chat)
            for message in chat.messages:
                if message.deleted:
                    continue
                key = (chat.chat_id, message.message_id)
                seen = self.shown.get(key)
                buttons = tuple(button.text for button in message.flat_buttons)
                state = (message.text + (message.caption or ""), buttons)
                if seen == state:
                    continue
                self.shown[key] = state
                if seen is not None and seen[0] == state[0] and not buttons:
                    continue  # only the buttons were taken off: nothing new to read
                self._print(chat, message, edited=seen is not None)

    def _show_answers(self, chat: ChatHandle) -> None:
        """A button's pop-up (answerCallbackQuery with a text), as Telegram shows it briefly."""
        answers = chat.callback_answers
        start = self.answers_shown.get(chat.chat_id, 0)
        self.answers_shown[chat.chat_id] = len(answers)
        for answer in answers[start:]:
            if answer.text:
                style = "bold yellow" if answer.show_alert else "yellow"
                self.console.print(Text(f"  💬 pop-up{self._whose(chat)}: {answer.text}", style))

    def _whose(self, chat: ChatHandle) -> str:
        return " (clinic)" if self.staff is not None and chat is self.staff else ""

    def _print(self, chat: ChatHandle, message: SentMessage, *, edited: bool) -> None:
        body = (
            html_to_text(message.caption_html or message.caption or "", message.parse_mode)
            if message.kind != "text"
            else html_to_text(message.html or message.text, message.parse_mode)
        )
        if message.kind == "document":
            size = len(message.file_bytes or b"")
            body = Text.assemble(("📎 a file", "bold"), f" ({size} bytes)\n", body)
            if message.file_bytes and size < 4000:
                body.append("\n" + message.file_bytes.decode("utf-8", "replace"), style="dim")
        elif message.kind == "photo":
            body = Text.assemble(("🖼 a picture", "bold"), "\n", body)
        buttons = message.flat_buttons
        if buttons:
            body.append("\n")
            for index, button in enumerate(buttons, start=1):
                body.append(f"\n [{index}] ", style="bold cyan")
                body.append(button.text)
                if button.url:
                    body.append(f"  {button.url}", style="dim")
        when = self.local_now().strftime("%a %d %b %H:%M")
        to_clinic = self.staff is not None and chat is self.staff
        title = f"Aftercare Bot{' → clinic admin' if to_clinic else ''} · {when}"
        if edited:
            title += " · edited"
        border = "blue" if to_clinic else "green"
        self.console.print(Panel(body, title=title, title_align="left", border_style=border))

    async def settle(self) -> None:
        """Wait until the bot has stopped answering, printing as it goes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_LIMIT
        last = self._state()
        quiet_since = loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            state = self._state()
            if state != last:
                last, quiet_since = state, loop.time()
                self.show_new()
            elif loop.time() - quiet_since >= SETTLE:
                break
        self.show_new()

    def prompt(self) -> str:
        """The input prompt: the demo's local time and who is typing."""
        who = "clinic ›" if self.chat is not self.patient else "you ›"
        return f"[dim]{self.local_now():%a %d %b %H:%M}[/] [b cyan]{who}[/] "

    async def handle(self, line: str) -> bool:
        """Act on one line typed by the user; False when it is time to leave."""
        text = line.strip()
        if not text:
            return True
        command, _, argument = text.partition(" ")
        command = command.lower()
        if command in {"/quit", "/exit"}:
            return False
        if command == "/now":
            self.console.print(f"🕒 {self.local_now():%A %d %B %Y, %H:%M} ({self.zone()})")
            return True
        if command == "/travel":
            await self.travel(argument)
            return True
        if command == "/as":
            self.switch(argument)
            return True
        if command == "/clinic" and not argument:
            await self.create_clinic()
            return True
        if command == "/join" and not argument:
            await self.join_clinic()
            return True
        if command == "/dashboard" and not argument:
            await self.dashboard_link()
            return True
        if text.isdigit():
            self.press(int(text))
        elif command == "/sticker":
            self.chat.send_sticker()
        elif command == "/photo":
            self.chat.send_photo()
        elif command == "/voice":
            self.chat.send_voice()
        elif command == "/block":
            self.standin.block(self.chat.chat_id)
            self.console.print("[yellow]You blocked the bot.[/] /unblock to undo.")
        elif command == "/unblock":
            self.standin.unblock(self.chat.chat_id)
            self.console.print("[yellow]You unblocked the bot.[/] Send /start to talk again.")
        else:
            self.chat.send(text)
        await self.settle()
        return True

    def press(self, number: int) -> None:
        try:
            self.chat.press(number - 1)
        except (LookupError, ValueError):
            self.console.print(f"[yellow]There is no button {number} on the last message.[/]")

    def switch(self, argument: str) -> None:
        """``/as clinic`` or ``/as patient``: whose chat what you type goes to."""
        who = argument.strip().lower()
        if who == "patient":
            self.chat = self.patient
            self.console.print("[magenta]You are the patient again.[/]")
        elif who == "clinic" and self.staff is not None:
            self.chat = self.staff
            self.console.print(
                f"[magenta]You are the admin of {DEMO_CLINIC}: try [b]/alerts[/b], "
                "[b]/patients[/b], [b]/broadcast[/b]; [b]/as patient[/b] comes back.[/]"
            )
        elif who == "clinic":
            self.console.print("[yellow]There is no clinic yet: [b]/clinic[/b] creates one.[/]")
        else:
            self.console.print("[yellow]Try [b]/as clinic[/b] or [b]/as patient[/b].[/]")

    async def _demo_clinic_id(self) -> int:
        """The demo clinic's id, created on first use (with its admin in the second chat)."""
        clinics = self.runtime.services.clinics
        found = [view for view, _, _ in await clinics.clinics() if view.name == DEMO_CLINIC]
        self.staff = self.standin.private_chat(DEMO_STAFF_CHAT_ID, first_name="Sara")
        if found:
            clinic_id = found[0].id
            if await clinics.staff(chat_id=DEMO_STAFF_CHAT_ID) is not None:
                return clinic_id
            admin = await clinics.invite(
                clinic_id=clinic_id, kind=InviteKind.STAFF, role=StaffRole.ADMIN
            )
        else:
            settings = self.settings or Settings()
            view, admin = await clinics.create_clinic(
                name=DEMO_CLINIC,
                timezone=settings.default_timezone,
                plan_id=settings.default_plan,
                quiet_hours=settings.quiet_hours,
                **DEMO_CLINIC_CONTACT,
            )
            clinic_id = view.id
            self.console.print(f"[magenta]🏥 Created the clinic [b]{DEMO_CLINIC}[/b].[/]")
        # The admin's one-time invite, opened in the admin's chat as a tap on the link would.
        self.staff.start(admin.code)
        await self.settle()
        return clinic_id

    async def create_clinic(self) -> None:
        """``/clinic``: the demo clinic, its admin, and its patient link."""
        clinic_id = await self._demo_clinic_id()
        link = await self._patient_link(clinic_id)
        self.console.print(
            f"[magenta]🏥 {DEMO_CLINIC}'s patient link (what its QR code opens):[/]\n"
            f"   {link}\n"
            "[magenta]   [b]/join[/b] opens it as the patient; [b]/as clinic[/b] makes you its "
            "admin ([i]/alerts[/i], [i]/patients[/i], [i]/broadcast[/i]); "
            "[b]/as patient[/b] comes back.[/]"
        )

    async def join_clinic(self) -> None:
        """``/join``: the patient opens the demo clinic's patient link."""
        clinic_id = await self._demo_clinic_id()
        code = await self._patient_code(clinic_id)
        self.chat = self.patient
        self.console.print(f"[magenta]You open {DEMO_CLINIC}'s patient link, as the patient.[/]")
        self.patient.start(code)
        await self.settle()

    async def dashboard_link(self) -> None:
        """``/dashboard``: a one-time sign-in link to the demo clinic's web dashboard, for
        its admin (as /web in the admin's chat gives)."""
        clinic_id = await self._demo_clinic_id()
        access = self.runtime.application.bot_data.web_access
        assert access is not None
        made = await access.link_for(clinic_id=clinic_id, staff_chat_id=DEMO_STAFF_CHAT_ID)
        base = (self.settings or Settings()).dashboard_base()
        self.console.print(
            f"[magenta]🖥  Open this in a browser, as the admin of {DEMO_CLINIC} "
            "(it works once, for 10 minutes of the demo's clock):[/]\n"
            f"   {sign_in_url(base, made.token)}"
        )

    async def _patient_code(self, clinic_id: int) -> str:
        invite = await self.runtime.services.clinics.invite(
            clinic_id=clinic_id, kind=InviteKind.PATIENT
        )
        return invite.code

    async def _patient_link(self, clinic_id: int) -> str:
        username: str = self.runtime.application.bot.username
        return invite_link(username, await self._patient_code(clinic_id))

    async def travel(self, argument: str) -> None:
        delta = parse_travel(argument)
        if delta is None:
            self.console.print(
                "[yellow]Try [b]/travel 6h[/b], [b]/travel 2d[/b] or [b]/travel 1w[/b] "
                "(minutes, hours, days or weeks; at most 400 days).[/]"
            )
            return
        self.console.print(f"[magenta]⏩ travelling {argument.strip()}...[/]")

        async def arrived(_: datetime) -> None:
            await self.settle_quickly()

        stops = await travel(self.runtime.services.runner, self.clock, delta, on_stop=arrived)
        await self.settle_quickly()
        self.console.print(
            f"[magenta]🕒 It is now {self.local_now():%A %d %B, %H:%M} ({self.zone()}); "
            f"{stops} delivery time(s) passed.[/]"
        )

    async def settle_quickly(self) -> None:
        await asyncio.sleep(0.05)
        self.show_new()


def _dashboard_socket(port: int) -> socket.socket:
    """A listening socket for the demo's dashboard: on ``port`` (PORT, 8080) when it is free,
    else on any free port (a second demo, or something else on 8080)."""
    for candidate in (port, 0):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", candidate))
        except OSError:
            listener.close()
            continue
        listener.listen(64)
        return listener
    raise OSError("no free port for the dashboard")


class _InnerServer(uvicorn.Server):
    """uvicorn inside the demo's loop: Ctrl+C stays the demo's (it leaves the demo)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave the signal handlers alone."""
        yield


def _serve_dashboard(
    runtime: BotRuntime, listener: socket.socket
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """The dashboard of the demo's runtime, served on ``listener`` in this event loop."""
    app = Starlette(routes=[runtime.dashboard.mount()])
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = _InnerServer(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[listener]))
    return server, task


async def _stop_dashboard(served: tuple[uvicorn.Server, asyncio.Task[None]]) -> None:
    server, task = served
    server.should_exit = True
    try:
        async with asyncio.timeout(5):
            await task
    except TimeoutError:
        task.cancel()


def _load_clock(path: Path, reset: bool) -> FakeClock:
    if not reset and path.exists():
        try:
            instant = datetime.fromisoformat(json.loads(path.read_text())["now"])
            if instant.tzinfo is not None:
                return FakeClock(max(instant, datetime.now(UTC)))
        except (ValueError, KeyError, TypeError):
            pass
    return FakeClock(datetime.now(UTC))


async def run_demo(
    settings: Settings,
    *,
    reset: bool = False,
    console: Console | None = None,
    read_line: Callable[[str], str] | None = None,
) -> int:
    """Run the demo until /quit or end of input; returns the exit code."""
    console = console or Console()
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    database_path = data_dir / "demo.sqlite3"
    clock_path = data_dir / "demo-clock.json"
    if reset:
        for path in data_dir.glob("demo.sqlite3*"):
            path.unlink()
    demo_settings = settings.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{database_path.as_posix()}"}
    )
    logging.basicConfig(
        filename=data_dir / "demo.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    clock = _load_clock(clock_path, reset)
    listener = _dashboard_socket(settings.port)
    port = listener.getsockname()[1]
    demo_settings = demo_settings.model_copy(
        update={"dashboard_url": f"http://127.0.0.1:{port}", "port": port}
    )
    # The stand-in is ours, so the demo may go faster than Telegram allows one chat; the
    # bot's limiter is set to the stand-in's limit and never sees a 429.
    async with StandIn(per_chat_rate=10.0, per_chat_burst=10) as standin:
        connection = Connection(
            token=standin.token,
            base_url=standin.base_url,
            base_file_url=standin.base_file_url,
            poll_timeout=1,
            rate_limiter=PacedRateLimiter(per_chat_burst=10, per_chat_interval=0.11),
        )
        runtime = build_runtime(demo_settings, clock=clock, connection=connection)
        dashboard_at = f"http://127.0.0.1:{port}/dashboard"
        console.print(
            Panel(
                Text.from_markup(DEMO_HELP.format(dashboard=dashboard_at)),
                title="[b]Aftercare Bot[/b] · offline demo",
                subtitle=f"data: {database_path}",
                border_style="magenta",
            )
        )
        await runtime.start(polling=True)
        server = _serve_dashboard(runtime, listener)
        zone = settings.default_timezone
        chat = standin.private_chat(DEMO_CHAT_ID, first_name="Amina")

        def current_zone() -> str:
            return zone

        demo = DemoChat(
            console=console,
            standin=standin,
            chat=chat,
            runtime=runtime,
            clock=clock,
            zone=current_zone,
            settings=settings,
        )
        if await runtime.services.clinics.staff(chat_id=DEMO_STAFF_CHAT_ID) is not None:
            demo.staff = standin.private_chat(DEMO_STAFF_CHAT_ID, first_name="Sara")
        reader = read_line or console.input
        try:
            while True:
                view = await runtime.services.care.view(chat_id=DEMO_CHAT_ID)
                zone = view.timezone if view is not None else settings.default_timezone
                prompt = demo.prompt()
                try:
                    line = await asyncio.to_thread(reader, prompt)
                except (EOFError, KeyboardInterrupt):
                    break
                if not await demo.handle(line):
                    break
        finally:
            clock_path.write_text(json.dumps({"now": clock.now().isoformat()}))
            await _stop_dashboard(server)
            await runtime.stop()
    console.print("[magenta]Bye! Your demo data is kept; `aftercare demo --reset` starts over.[/]")
    return 0
