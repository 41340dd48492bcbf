"""The fuzz's world: one stand-in and one event loop for a whole run, and per sequence a
fresh bot on a fresh SQLite file with its own FakeClock.

Hypothesis drives the state machine synchronously, so every step runs its coroutine on one
long-lived loop (``World.run``); the stand-in and the bot live on that loop between steps.
Waiting is event-driven: a step returns when the bot has handled every update it was sent
(counted around the update processor) and the reminder runner is idle at the fake time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx._transports.default as httpx_transport

from bot.flood import FloodGuard
from bot.standin import ChatHandle, SentMessage, StandIn
from scheduler.care.planning import QuietHours
from scheduler.care.timetravel import travel
from scheduler.clock import FakeClock
from storage.database import Database
from storage.models import InviteKind
from tests.e2e.harness import BotHarness, make_settings

T = TypeVar("T")
WAIT = 20.0
START = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
CLINICS = (
    ("North Clinic", "Asia/Karachi", "21:00-08:00"),
    ("Gulf Clinic", "Asia/Dubai", "22:00-07:00"),
)


def _fast_directory() -> str | None:
    """A memory-backed directory when the machine has one: the SQLite files stay real files,
    but their commits do not wait for a disk (the fuzz commits tens of thousands of times)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class ErrorRecords(logging.Handler):
    """Collects ERROR records of the product's loggers (a handler or job that raised)."""

    WATCHED = ("bot", "scheduler", "storage", "telegram.ext")

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name
        # The stand-in's own records, and the Updater's complaint that its last getUpdates of
        # a shutdown timed out (a restart under load; no update is lost), are not handlers.
        if name.startswith(("bot.standin", "telegram.ext.Updater")):
            return
        if any(name == w or name.startswith(w + ".") for w in self.WATCHED):
            kind = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
            self.records.append(f"{name}: {record.getMessage()} {kind}".strip())


@dataclass
class World:
    """What one pytest run of the fuzz shares: loop, stand-in, a migrated template file."""

    loop: asyncio.AbstractEventLoop
    standin: StandIn
    root: Path
    template: Path
    errors: ErrorRecords
    stamps: dict[tuple[int, int], datetime] = field(default_factory=dict)
    clock: FakeClock | None = None
    chat_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(50_001))
    files: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _restore_tls: Any = None

    @classmethod
    def open(cls) -> World:
        """Start the loop, the stand-in (limits off: the fuzz is about logic, not pacing)
        and migrate one template database."""
        loop = asyncio.new_event_loop()
        root = Path(tempfile.mkdtemp(prefix="aftercare-fuzz-", dir=_fast_directory()))
        standin = StandIn(global_rate=None, per_chat_rate=None, group_rate_per_minute=None)
        loop.run_until_complete(standin.start())
        template = root / "template.sqlite3"

        async def migrate() -> None:
            database = Database(f"sqlite+aiosqlite:///{template}")
            await database.upgrade()
            await database.dispose()

        loop.run_until_complete(migrate())
        errors = ErrorRecords()
        logging.getLogger().addHandler(errors)
        world = cls(loop, standin, root, template, errors)
        world._stamp_messages()
        world._share_tls_context()
        return world

    def _share_tls_context(self) -> None:
        """Every start of the bot builds two httpx clients, and each loads the CA bundle
        (a quarter of a second) for TLS it never uses against the local stand-in: the fuzz
        restarts the bot thousands of times, so it builds that context once."""
        made: dict[tuple[Any, ...], Any] = {}
        original = getattr(httpx_transport, "create_ssl_context")  # noqa: B009

        def shared(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
            key = (verify if isinstance(verify, bool | str) else id(verify), cert, trust_env)
            if key not in made:
                made[key] = original(verify=verify, cert=cert, trust_env=trust_env)
            return made[key]

        setattr(httpx_transport, "create_ssl_context", shared)  # noqa: B010
        self._restore_tls = lambda: setattr(httpx_transport, "create_ssl_context", original)

    def close(self) -> None:
        """Stop everything this run started."""
        self._restore_tls()
        logging.getLogger().removeHandler(self.errors)
        self.loop.run_until_complete(self.standin.stop())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run one step's coroutine on the shared loop."""
        return self.loop.run_until_complete(coroutine)

    def _stamp_messages(self) -> None:
        """Record the fake time at which the stand-in stored each message the bot sent."""
        standin = self.standin
        store = standin._store

        def stamped(chat: Any, message: SentMessage) -> dict[str, Any]:
            if self.clock is not None:
                self.stamps[(message.chat_id, message.message_id)] = self.clock.now()
            return store(chat, message)

        standin._store = stamped  # type: ignore[method-assign]


class Episode:
    """One sequence: a fresh bot and database, one patient chat, update accounting."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.clock = FakeClock(START)
        world.clock = self.clock
        directory = world.root / f"seq{next(world.files)}"
        directory.mkdir()
        shutil.copy(world.template, directory / "test.sqlite3")
        self.database = Database(f"sqlite+aiosqlite:///{directory / 'test.sqlite3'}")
        self.harness = BotHarness(
            standin=world.standin,
            database=self.database,
            clock=self.clock,
            settings=make_settings(directory),
            per_chat_burst=1000,
            per_chat_interval=0.001,
            overall_max_rate=10_000,
        )
        self.chat: ChatHandle = world.standin.private_chat(next(world.chat_ids))
        self.clinics: dict[int, int] = {}
        self.staff_chat = world.standin.private_chat(next(world.chat_ids))
        self.pushed = 0
        self.processed = 0
        self._done = asyncio.Event()
        world.errors.records.clear()

    @property
    def chat_id(self) -> int:
        """The patient's chat."""
        return self.chat.chat_id

    async def start(self) -> None:
        """Start (or restart) the bot, counting the updates it finishes."""
        await self.harness.start()
        self._instrument()

    async def restart(self) -> None:
        """Stop the bot gracefully and start a new one on the same database and clock."""
        await self.harness.stop()
        await self.start()
        await self.settle()

    async def stop(self) -> None:
        """Stop the bot and close the database."""
        try:
            await self.harness.stop()
        finally:
            await self.database.dispose()

    def _instrument(self) -> None:
        runtime = self.harness.runtime
        assert runtime is not None
        application = runtime.application
        # The flood guard counts wall-clock seconds; the fuzz sends faster than a person.
        application.bot_data.flood = FloodGuard(burst=1_000_000)
        processor = application.update_processor
        original = processor.do_process_update

        async def counted(update: object, coroutine: Any) -> None:
            try:
                await original(update, coroutine)
            finally:
                self.processed += 1
                self._done.set()

        processor.do_process_update = counted  # type: ignore[method-assign]

    async def acted(self, *, settle: bool = True) -> None:
        """The user queued one update: wait until the bot has handled it, then (``settle``)
        let reminders due at this instant go out."""
        self.pushed += 1
        await self._handled()
        if settle:
            await self.settle()

    async def _handled(self) -> None:
        async with asyncio.timeout(WAIT):
            while self.processed < self.pushed:
                self._done.clear()
                if self.processed >= self.pushed:
                    break
                await self._done.wait()

    async def settle(self) -> None:
        """Deliver whatever is due at the current fake instant."""
        runtime = self.harness.runtime
        assert runtime is not None
        await travel(runtime.services.runner, self.clock, timedelta(0))
        await self._handled()

    async def travel(self, delta: timedelta) -> None:
        """Move the fake clock, stopping at each due instant; broadcasts held back (quiet
        hours) may go now."""
        runtime = self.harness.runtime
        assert runtime is not None
        await travel(runtime.services.runner, self.clock, delta)
        if self.clinics:
            await runtime.broadcaster.run_until_idle()
        await self._handled()

    async def clinic_link(self, which: int) -> str:
        """The patient link of clinic ``which`` (created through the service on first use)."""
        runtime = self.harness.runtime
        assert runtime is not None
        clinics = runtime.services.clinics
        if which not in self.clinics:
            name, zone, quiet = CLINICS[which]
            view, _ = await clinics.create_clinic(
                name=name,
                timezone=zone,
                plan_id="microneedling",
                quiet_hours=QuietHours.parse(quiet),
            )
            self.clinics[which] = view.id
        invite = await clinics.invite(clinic_id=self.clinics[which], kind=InviteKind.PATIENT)
        return invite.code

    async def broadcast(self, which: int, text: str) -> None:
        """Clinic ``which`` broadcasts ``text`` to every active patient now."""
        runtime = self.harness.runtime
        assert runtime is not None
        broadcasts = runtime.services.broadcasts
        clinic_id = self.clinics[which]
        draft = await broadcasts.create(clinic_id, None, text)
        await broadcasts.confirm(draft, clinic_id, self.staff_chat.chat_id)
        await runtime.broadcaster.run_until_idle()
        await self._handled()
