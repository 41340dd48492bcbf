"""A clinic broadcast to 10,000 patients through the Bot API stand-in, at Telegram's cap.

    .venv/bin/python -m bench.broadcast [--recipients 10000] [--cap 30] [--no-check]

A fresh SQLite file (in a temporary directory) with one clinic and ``--recipients`` active
patients; the broadcast is confirmed (its recipient rows written) and its copies delivered in
rounds by the real ``BroadcastCopies`` (what the one sender runs) through
``BotBroadcastTransport`` and the real python-telegram-bot ``Bot``, over HTTP to the stand-in.
The stand-in enforces ``--cap`` messages a second over all chats (a sliding one-second window,
as Telegram counts) and its per-chat limits; the bot waits for the Telegram budget at the same
cap, as deployed (``PacedRateLimiter`` over an in-memory ``TelegramBudget`` with the product's
network margin, ``--margin``): the budget is the only pace. The stand-in runs on its own event
loop in a thread, as Telegram is another machine: its work does not slow the sender's loop.

Reported: achieved rate (messages accepted / wall time from the first to the last accepted
send), 429 answers, lost (active recipients without a message in the stand-in) and duplicated
(with more than one), wall time. Targets: achieved at least 95 % of the cap, 0 lost,
0 duplicated, 429 answers at most 1 % of the sends. Exits 1 when a target is missed
(``--no-check``: only print).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bench.databases import sqlite_url
from bench.report import (
    Target,
    add_check_option,
    console,
    finish,
    machine_facts,
    print_facts,
    print_table,
)
from bot.application import NETWORK_MARGIN
from bot.broadcasting import BotBroadcastTransport
from bot.ratelimit import PacedRateLimiter
from bot.standin import StandIn
from content.texts import load_texts
from scheduler.broadcasts.copies import BroadcastCopies
from scheduler.broadcasts.service import BroadcastService
from scheduler.clock import SystemClock
from scheduler.outbox.budget import MemoryBackend, TelegramBudget
from storage.broadcasts import BroadcastRepository
from storage.database import Database
from storage.models import Clinic, Patient, PatientStatus, RecipientStatus, Staff, StaffRole

FIRST_CHAT = 10_000_000
TARGET_SHARE = 0.95
MAX_429_SHARE = 0.01
TEXT = "Our clinic is open this Saturday, 10:00-16:00. Reply /book to choose a time."


class StandInThread:
    """The stand-in served on its own event loop in a thread."""

    def __init__(self, api: StandIn) -> None:
        self.api = api
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="standin", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._done is not None:
            self._loop.call_soon_threadsafe(self._done.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        try:
            await self.api.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise
        self._ready.set()
        try:
            await self._done.wait()
        finally:
            await self.api.stop()


@dataclass
class RecordingTransport:
    """The product transport, recording when each accepted send returned."""

    inner: BotBroadcastTransport
    accepted: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    async def send(
        self, *, chat_id: int, text: str, photo: str | None, clinic: str, language: str = "en"
    ) -> None:
        try:
            await self.inner.send(chat_id=chat_id, text=text, photo=photo, clinic=clinic)
        except Exception as exc:
            self.errors[type(exc).__name__] += 1
            raise
        self.accepted.append(time.monotonic())


@dataclass
class Result:
    recipients: int
    cap: float
    materialised: int
    accepted: int
    span_s: float
    wall_s: float
    throttled: int
    lost: int
    duplicated: int
    db_sent: int
    errors: dict[str, int]

    @property
    def achieved(self) -> float:
        return self.accepted / self.span_s if self.span_s > 0 else float("nan")


async def seed(database: Database, recipients: int) -> tuple[int, int]:
    """One clinic, one admin and ``recipients`` active patients (bulk inserts)."""
    clock = SystemClock()
    now = clock.now()
    async with database.session() as session:
        clinic = Clinic(name="Bench clinic", timezone="UTC", plan_id="microneedling",
                        quiet_start=time_of_day(22), quiet_end=time_of_day(8),
                        created_at=now)  # fmt: skip
        session.add(clinic)
        await session.flush()
        staff = Staff(clinic_id=clinic.id, chat_id=1, role=StaffRole.ADMIN, created_at=now)
        session.add(staff)
        await session.flush()
        rows = [
            {
                "chat_id": FIRST_CHAT + i,
                "clinic_id": clinic.id,
                "timezone": "UTC",
                # No quiet hours: the bench measures pacing at any hour (a copy in a
                # patient's quiet hours is held until they end).
                "quiet_start": time_of_day(0),
                "quiet_end": time_of_day(0),
                "language": "en",
                "status": PatientStatus.ACTIVE,
                "news_opt_out": False,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(recipients)
        ]
        for start in range(0, len(rows), 2000):
            await session.execute(insert(Patient), rows[start : start + 2000])
        await session.commit()
        return clinic.id, staff.id


async def run(recipients: int, cap: float, concurrency: int, margin: float) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(sqlite_url(Path(tmp) / "bench.sqlite3"))
        await database.upgrade()
        api = StandIn(global_rate=cap, per_chat_rate=1.0, per_chat_burst=3)
        for i in range(recipients):
            api.private_chat(FIRST_CHAT + i)
        server = StandInThread(api)
        server.start()
        try:
            clinic_id, staff_id = await seed(database, recipients)
            clock = SystemClock()
            service = BroadcastService(database=database, clock=clock)
            broadcast_id = await service.create(clinic_id, staff_id, TEXT)
            materialised = await service.confirm(broadcast_id, clinic_id, report_chat_id=1)
            limits: dict[str, Any] = {"rate": cap, "margin": margin}
            bot: ExtBot[Any] = ExtBot(
                api.token,
                base_url=api.base_url,
                base_file_url=api.base_file_url,
                request=HTTPXRequest(connection_pool_size=64, read_timeout=10.0),
                rate_limiter=PacedRateLimiter(budget=TelegramBudget(MemoryBackend(), **limits)),
            )
            async with bot:
                transport = RecordingTransport(BotBroadcastTransport(bot, load_texts))
                sender = BroadcastCopies(
                    database=database,
                    transport=transport,
                    clock=clock,
                    worker_id="bench",
                    concurrency=concurrency,
                    batch=100,
                )
                started = time.monotonic()
                await sender.run_until_idle()
                wall = time.monotonic() - started
            async with database.session() as session:
                counts = await BroadcastRepository(session).counts(broadcast_id=broadcast_id)
                active = set(
                    (
                        await session.execute(
                            select(Patient.chat_id).where(Patient.status == PatientStatus.ACTIVE)
                        )
                    ).scalars()
                )
        finally:
            server.stop()
            await database.dispose()
    per_chat = Counter(m.chat_id for m in api.messages)
    accepted = sorted(transport.accepted)
    return Result(
        recipients=recipients,
        cap=cap,
        materialised=materialised,
        accepted=len(accepted),
        span_s=accepted[-1] - accepted[0] if len(accepted) > 1 else float("nan"),
        wall_s=wall,
        throttled=api.throttled,
        lost=sum(1 for chat in active if per_chat[chat] == 0),
        duplicated=sum(1 for chat in active if per_chat[chat] > 1),
        db_sent=counts[RecipientStatus.SENT],
        errors=dict(transport.errors),
    )


def report(result: Result, *, check: bool) -> None:
    print_facts(
        "Machine",
        machine_facts([("python-telegram-bot", _version("python-telegram-bot"))]),
    )
    print_table(
        "Broadcast through the stand-in",
        [
            "recipients",
            "cap /s",
            "achieved /s",
            "of cap",
            "429 answers",
            "lost",
            "duplicated",
            "db 'sent'",
            "wall s",
        ],
        [
            [
                result.recipients,
                result.cap,
                result.achieved,
                f"{result.achieved / result.cap:.1%}",
                result.throttled,
                result.lost,
                result.duplicated,
                result.db_sent,
                result.wall_s,
            ]
        ],
        notes=[
            "achieved: sends accepted by the stand-in / time from the first to the last one;",
            "wall: run_until_idle, from the first claim to the final report;",
            "transport errors: "
            + (", ".join(f"{k}={v}" for k, v in result.errors.items()) or "none"),
        ],
    )
    sends = max(result.accepted, 1)
    scope = f"{result.recipients:,} at {result.cap:g}/s"
    finish(
        [
            Target(
                f"achieved ≥ {TARGET_SHARE:.0%} of the cap",
                scope,
                f"{result.achieved:.1f}/s ({result.achieved / result.cap:.1%})",
                result.achieved >= TARGET_SHARE * result.cap,
            ),
            Target("0 lost", scope, str(result.lost), result.lost == 0),
            Target("0 duplicated", scope, str(result.duplicated), result.duplicated == 0),
            Target(
                f"429 answers ≤ {MAX_429_SHARE:.0%} of sends",
                scope,
                f"{result.throttled} ({result.throttled / sends:.2%})",
                result.throttled <= MAX_429_SHARE * sends,
            ),
            Target(
                "every recipient row sent",
                scope,
                f"{result.db_sent:,} of {result.materialised:,}",
                result.db_sent == result.materialised == result.recipients,
            ),
        ],
        check=check,
    )


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument(
        "--cap", type=float, default=30.0, help="messages a second (Telegram: about 30)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="sends in flight")
    parser.add_argument(
        "--margin",
        type=float,
        default=NETWORK_MARGIN,
        help="the budget's share of the cap kept for the network",
    )
    add_check_option(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    console().print(
        f"Broadcasting to {args.recipients:,} recipients at {args.cap:g}/s"
        f" (about {args.recipients / args.cap:.0f} s), budget margin {args.margin:.0%}…"
    )
    result = asyncio.run(run(args.recipients, args.cap, args.concurrency, args.margin))
    report(result, check=not args.no_check)


if __name__ == "__main__":
    main()
