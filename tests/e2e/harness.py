"""The real bot against the Telegram stand-in, on a real database, with a fake clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.application import BotRuntime, Connection, build_runtime
from bot.config import Settings, load_settings
from bot.ratelimit import PacedRateLimiter
from bot.standin import ChatHandle, SentMessage, StandIn
from content.loader import load_plan
from scheduler.care.planning import PlanState, QuietHours, plan_catch_up, plan_reminders
from scheduler.care.timetravel import travel
from scheduler.clock import FakeClock
from scheduler.outbox.reminders import DeliveryPolicy
from storage.database import Database
from storage.models import Patient, Reminder, TreatmentSession

KARACHI = ZoneInfo("Asia/Karachi")
WAIT = 10.0


@dataclass
class BotHarness:
    """Start, restart and drive the product as a patient would meet it."""

    standin: StandIn
    database: Database
    clock: FakeClock
    settings: Settings
    read_timeout: float = 5.0
    policy: DeliveryPolicy | None = None
    runtime: BotRuntime | None = None
    restarts: int = 0
    per_chat_burst: int = 3
    per_chat_interval: float = 1.05
    overall_max_rate: float = 30
    chats: dict[int, ChatHandle] = field(default_factory=dict)

    def connection(self) -> Connection:
        return Connection(
            token=self.standin.token,
            base_url=self.standin.base_url,
            base_file_url=self.standin.base_file_url,
            poll_timeout=1,
            read_timeout=self.read_timeout,
            rate_limiter=PacedRateLimiter(
                overall_max_rate=self.overall_max_rate,
                per_chat_burst=self.per_chat_burst,
                per_chat_interval=self.per_chat_interval,
            ),
        )

    async def start(self) -> BotRuntime:
        self.runtime = build_runtime(
            self.settings,
            clock=self.clock,
            connection=self.connection(),
            policy=self.policy,
            database=self.database,
        )
        await self.runtime.start(polling=True)
        return self.runtime

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    async def restart(self) -> None:
        await self.stop()
        self.restarts += 1
        await self.start()

    async def restart_with(self, *, read_timeout: float) -> None:
        """Restart with another HTTP read timeout (to provoke timeouts)."""
        self.read_timeout = read_timeout
        await self.restart()

    def chat(self, chat_id: int = 1001, **kwargs: object) -> ChatHandle:
        if chat_id not in self.chats:
            self.chats[chat_id] = self.standin.private_chat(chat_id, **kwargs)  # type: ignore[arg-type]
        return self.chats[chat_id]

    async def travel(self, delta: timedelta) -> None:
        assert self.runtime is not None
        await travel(self.runtime.services.runner, self.clock, delta)
        await asyncio.sleep(0.05)

    async def patient(self, chat_id: int) -> Patient | None:
        async with self.database.session() as session:
            result = await session.execute(select(Patient).where(Patient.chat_id == chat_id))
            return result.scalar_one_or_none()

    async def sessions(self, chat_id: int) -> list[TreatmentSession]:
        async with self.database.session() as session:
            result = await session.execute(
                select(TreatmentSession)
                .join(Patient, Patient.id == TreatmentSession.patient_id)
                .where(Patient.chat_id == chat_id)
                .order_by(TreatmentSession.number)
            )
            return list(result.scalars())

    async def reminders(self, chat_id: int) -> list[Reminder]:
        async with self.database.session() as session:
            result = await session.execute(
                select(Reminder)
                .join(TreatmentSession, TreatmentSession.id == Reminder.session_id)
                .join(Patient, Patient.id == TreatmentSession.patient_id)
                .where(Patient.chat_id == chat_id)
                .order_by(Reminder.due_at, Reminder.id)
            )
            return list(result.scalars())

    def expected_reminders(
        self, session_date: date, *, zone: ZoneInfo = KARACHI
    ) -> set[tuple[str, object]]:
        """What the plan says a registration on ``session_date`` now must store."""
        plan = load_plan()
        quiet = self.settings.quiet_hours
        now = self.clock.now()
        planned = plan_reminders(
            session_date=session_date, tz=zone, plan=plan, quiet_hours=quiet, now=now
        )
        rows = {(p.milestone_id, p.due_at) for p in planned if p.state is PlanState.AHEAD}
        catch_up = plan_catch_up(
            session_date=session_date,
            tz=zone,
            plan=plan,
            quiet_hours=quiet,
            now=now,
            planned=planned,
        )
        if catch_up is not None:
            rows.add((catch_up.milestone_id, catch_up.due_at))
        return rows


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "telegram_bot_token": None,
        "quiet_hours": QuietHours.parse("21:00-08:00"),
        "default_timezone": "Asia/Karachi",
        "date_order": "DMY",
    }
    values.update(overrides)
    return load_settings(**values)


async def say(chat: ChatHandle, text: str, replies: int = 1) -> list[SentMessage]:
    """Send ``text`` and wait for ``replies`` new messages."""
    chat.send(text)
    return await chat.wait_for(replies, timeout=WAIT)


async def press(chat: ChatHandle, button: str | int, replies: int = 1) -> list[SentMessage]:
    """Press a button of the latest keyboard and wait for ``replies`` new messages."""
    chat.press(button)
    return await chat.wait_for(replies, timeout=WAIT)


async def register(chat: ChatHandle, *date_steps: str) -> SentMessage:
    """/start, consent, then each step (a button label or typed text); the last reply."""
    await asyncio.wait_for(_start(chat), WAIT)
    last: list[SentMessage] = []
    for step in date_steps:
        if step.startswith("press:"):
            last = await press(chat, step.removeprefix("press:"))
        else:
            last = await say(chat, step)
    return last[-1] if last else chat.last


async def _start(chat: ChatHandle, language: str = "en") -> None:
    chat.start()
    await chat.wait_for(1, timeout=WAIT)
    await choose_language(chat, language)
    await press(chat, "Yes, that's fine" if language == "en" else 0)


async def begin(
    chat: ChatHandle, payload: str | None = None, *, language: str = "en", before: int = 0
) -> list[SentMessage]:
    """/start (with a deep-link ``payload``), answer the language question with ``language``;
    what the bot said: the ``before`` messages ahead of the language question (a refused
    invite link), then the consent question in that language."""
    chat.start(payload)
    said = await chat.wait_for(before + 1, timeout=WAIT)
    question = said[-1]
    assert any(b.callback_data.startswith("lang:") for b in question.flat_buttons), question.text
    chat.press_data(f"lang:{language}", message=question)
    return [*said[:-1], *await chat.wait_for(1, timeout=WAIT)]


async def choose_language(chat: ChatHandle, language: str = "en") -> list[SentMessage]:
    """Press the language button of the latest language question (``lang:<code>``)."""
    chat.press_data(f"lang:{language}", message=chat.last)
    return await chat.wait_for(1, timeout=WAIT)
