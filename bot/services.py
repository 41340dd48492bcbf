"""The composition root: builds the database, the care service and the reminder loop.

A worker needs only the reminder loop (``build_delivery``); the services the bot's handlers
use are imported in ``build_services``, so that a worker starts without importing them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Settings
from content.loader import load_plan
from scheduler.clock import Clock
from scheduler.outbox.messages import MessageNotifier, Outbox
from scheduler.outbox.metrics import Metrics
from scheduler.outbox.notifier import Notifier
from scheduler.outbox.reminders import DeliveryPolicy, Dispatcher
from scheduler.outbox.sender import ReminderRunner, RunnerSettings, new_worker_id
from storage.database import Database, redact_url

if TYPE_CHECKING:
    from scheduler.broadcasts.service import BroadcastService
    from scheduler.care.questions import QuestionService
    from scheduler.care.sessions import CareService
    from scheduler.care.visits import VisitService
    from scheduler.clinics.service import ClinicService

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    """The database and the reminder loop: all a worker runs."""

    database: Database
    dispatcher: Dispatcher
    runner: ReminderRunner
    outbox: Outbox
    metrics: Metrics
    clock: Clock

    async def start(self) -> None:
        """Migrate the database, then start the reminder loop; scrapes count its queue."""
        await self.database.upgrade()
        revision = await self.database.current_revision()
        log.info("database %s at revision %s", redact_url(self.database.url), revision)
        self.metrics.watch_queue(self.database, self.clock)
        await self.runner.start()

    async def stop(self) -> None:
        """Let sends under way finish, then close the database."""
        try:
            await self.runner.shutdown()
        finally:
            await self.database.dispose()


@dataclass
class Services:
    """Everything the product runs on, wired once and passed down."""

    database: Database
    care: CareService
    questions: QuestionService
    clinics: ClinicService
    broadcasts: BroadcastService
    visits: VisitService
    dispatcher: Dispatcher
    runner: ReminderRunner
    outbox: Outbox
    metrics: Metrics
    clock: Clock

    async def start(self) -> None:
        """Migrate the database, then start the reminder loop; scrapes count its queue."""
        await self._delivery().start()

    async def stop(self) -> None:
        """Let sends under way finish, then close the database."""
        await self._delivery().stop()

    def _delivery(self) -> Delivery:
        return Delivery(
            database=self.database,
            dispatcher=self.dispatcher,
            runner=self.runner,
            outbox=self.outbox,
            metrics=self.metrics,
            clock=self.clock,
        )


def build_delivery(
    settings: Settings,
    *,
    notifier: Notifier,
    clock: Clock,
    runner_settings: RunnerSettings | None = None,
    policy: DeliveryPolicy | None = None,
    database: Database | None = None,
    metrics: Metrics | None = None,
    messages: MessageNotifier | None = None,
) -> Delivery:
    """Wire the reminder loop for ``settings`` (or on ``database``), counting in ``metrics``
    (new ones when not given); nothing connects until start. The sender takes the outbox's
    messages to staff too when ``messages`` can send them (a worker without a token cannot)."""
    database = database or Database(settings.database_url)
    metrics = metrics or Metrics()
    load_plan(settings.default_plan)  # fail at start, not at the first delivery
    worker_id = new_worker_id()
    dispatcher = Dispatcher(
        database=database,
        notifier=notifier,
        clock=clock,
        plans=load_plan,
        worker_id=worker_id,
        policy=policy,
        metrics=metrics,
    )
    outbox = Outbox(
        database=database, clock=clock, worker_id=worker_id, notifier=messages, metrics=metrics
    )
    runner = ReminderRunner(
        database=database,
        dispatcher=dispatcher,
        clock=clock,
        settings=runner_settings,
        outbox=outbox,
    )
    outbox.on_posted = runner.refill
    return Delivery(
        database=database,
        dispatcher=dispatcher,
        runner=runner,
        outbox=outbox,
        metrics=metrics,
        clock=clock,
    )


def build_services(
    settings: Settings,
    *,
    notifier: Notifier,
    clock: Clock,
    runner_settings: RunnerSettings | None = None,
    policy: DeliveryPolicy | None = None,
    database: Database | None = None,
    metrics: Metrics | None = None,
    messages: MessageNotifier | None = None,
) -> Services:
    """Wire the layers for ``settings`` (or on ``database``), counting in ``metrics`` (new
    ones when not given); nothing connects until start."""
    from scheduler.broadcasts.service import BroadcastService
    from scheduler.care.questions import QuestionService
    from scheduler.care.sessions import CareService
    from scheduler.care.visits import VisitService
    from scheduler.clinics.service import ClinicService

    delivery = build_delivery(
        settings,
        notifier=notifier,
        clock=clock,
        runner_settings=runner_settings,
        policy=policy,
        database=database,
        metrics=metrics,
        messages=messages,
    )
    database, dispatcher, runner = delivery.database, delivery.dispatcher, delivery.runner
    metrics = delivery.metrics
    care = CareService(
        database=database,
        clock=clock,
        plans=load_plan,
        default_timezone=settings.default_timezone,
        default_quiet_hours=settings.quiet_hours,
        default_plan=settings.default_plan,
        on_schedule_changed=runner.refill,
        sender_looks_at=runner.looks_at,
    )
    questions = QuestionService(database=database, clock=clock)
    clinics = ClinicService(database=database, clock=clock, plans=load_plan)
    return Services(
        database=database,
        care=care,
        questions=questions,
        clinics=clinics,
        broadcasts=BroadcastService(database=database, clock=clock, plans=load_plan),
        visits=VisitService(database=database),
        dispatcher=dispatcher,
        runner=runner,
        outbox=delivery.outbox,
        metrics=metrics,
        clock=clock,
    )
