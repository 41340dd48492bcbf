"""An engine on a real database with a fake clock and a recording notifier, that travels."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from content.plan import CarePlan
from scheduler.care.planning import QuietHours
from scheduler.care.sessions import CareService
from scheduler.care.timetravel import travel
from scheduler.clock import FakeClock
from scheduler.outbox.reminders import DeliveryPolicy, Dispatcher
from scheduler.outbox.sender import ReminderRunner, RunnerSettings, new_worker_id
from storage.database import Database
from storage.models import Reminder, ReminderStatus
from tests.fakes import RecordingNotifier
from tests.plans import small_plan

IDLE_TIMEOUT = 10


@dataclass
class Engine:
    """The scheduler layer wired as the product wires it, minus Telegram."""

    database: Database
    clock: FakeClock
    notifier: RecordingNotifier
    plan: CarePlan
    dispatcher: Dispatcher
    runner: ReminderRunner
    care: CareService

    async def tick(self) -> None:
        """Deliver whatever is due now."""
        async with asyncio.timeout(IDLE_TIMEOUT):
            await self.runner.tick()

    async def travel(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``, stopping at every due instant on the way."""
        await travel(self.runner, self.clock, delta, step_timeout=IDLE_TIMEOUT)

    async def stop(self) -> None:
        """Shut the runner down as the product does."""
        async with asyncio.timeout(IDLE_TIMEOUT):
            await self.runner.shutdown()


async def start_engine(
    database: Database,
    clock: FakeClock,
    *,
    notifier: RecordingNotifier | None = None,
    plan: CarePlan | None = None,
    policy: DeliveryPolicy | None = None,
    settings: RunnerSettings | None = None,
    quiet_hours: str = "21:00-08:00",
    timezone: str = "Asia/Karachi",
) -> Engine:
    """Build and start an engine; a new one on the same database is a restart."""
    plan = plan or small_plan()
    notifier = notifier or RecordingNotifier(clock)
    dispatcher = Dispatcher(
        database=database,
        notifier=notifier,
        clock=clock,
        plans=lambda _plan_id, _language="en": plan,
        worker_id=new_worker_id(),
        policy=policy,
    )
    runner = ReminderRunner(
        database=database, dispatcher=dispatcher, clock=clock, settings=settings
    )
    care = CareService(
        database=database,
        clock=clock,
        plans=lambda _plan_id, _language="en": plan,
        default_timezone=timezone,
        default_quiet_hours=QuietHours.parse(quiet_hours),
        on_schedule_changed=runner.refill,
    )
    await runner.start()
    engine = Engine(database, clock, notifier, plan, dispatcher, runner, care)
    await engine.tick()
    return engine


async def statuses(database: Database) -> dict[str, ReminderStatus]:
    """Milestone id -> status of every reminder (single-patient tests)."""
    async with database.session() as session:
        rows = (await session.execute(select(Reminder.milestone_id, Reminder.status))).all()
    return {row.milestone_id: row.status for row in rows}
