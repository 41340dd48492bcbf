"""The python-telegram-bot Application, wired to our services, and its life cycle.

``BotRuntime`` starts things in the order they depend on each other (the Bot, so the
notifier can send; the database and the reminder loop; then updates) and stops them in
reverse, letting handlers and sends under way finish. Polling, the webhook server, the
offline demo and the end-to-end tests all run the product through it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.broadcasting import BotBroadcastTransport
from bot.capacity_watch import CapacityWatch
from bot.config import Settings
from bot.context import BotContext, BotData
from bot.handlers import register
from bot.menu import patient_commands
from bot.notifier import TelegramNotifier
from bot.progress import TelegramBroadcastReporter
from bot.ratelimit import PacedRateLimiter
from bot.services import Services, build_services
from bot.transport import AiohttpRequest
from bot.updates import PerChatUpdateProcessor
from bot.web.app import Dashboard
from bot.web.wiring import build_dashboard
from content.loader import load_plan
from content.texts import DEFAULT_LANGUAGE, available_languages, load_texts
from scheduler.broadcasts.copies import BroadcastCopies
from scheduler.clinics.web_access import WebAccess
from scheduler.clock import Clock
from scheduler.outbox.budget import TelegramBudget, open_backend, redact, token_namespace
from scheduler.outbox.metrics import Metrics
from scheduler.outbox.reminders import DeliveryPolicy
from scheduler.outbox.sender import RunnerSettings, new_worker_id
from scheduler.outbox.windows import CapacityService
from storage.database import Database

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
STOP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Connection:
    """Where the Bot API is and how long to wait for it."""

    token: str
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    read_timeout: float = 10.0
    connect_timeout: float = 5.0
    poll_timeout: int = 10
    max_concurrent_updates: int = 32
    rate_limiter: PacedRateLimiter | None = None


@dataclass
class BotRuntime:
    """The Application and the services behind it, started and stopped together."""

    application: AnyApplication
    services: Services
    connection: Connection
    broadcaster: BroadcastCopies
    capacity_watch: CapacityWatch
    dashboard: Dashboard
    budget: TelegramBudget

    async def start(self, *, polling: bool = True) -> None:
        """Initialise the Bot, start the database and reminders, then take updates."""
        application = self.application
        self.budget.resume_bulk()
        await application.initialize()
        try:
            await self.services.start()
            self.capacity_watch.start()
            await self._set_commands()
            if polling:
                assert application.updater is not None
                await application.updater.start_polling(
                    poll_interval=0.0,
                    timeout=self.connection.poll_timeout,
                    allowed_updates=Update.ALL_TYPES,
                )
            await application.start()
        except BaseException:
            await self.stop()
            raise
        # What start-up loaded (modules, plans, text catalogues, the schema) lives as long as
        # the process: kept out of the collector's generations, a full collection no longer
        # walks it while updates wait (bench.bot_registration with the collector off: p99
        # at 32 at once about a fifth lower; with this, most of that).
        gc.freeze()
        log.info(
            "bot @%s started (%s)", application.bot.username, "polling" if polling else "webhook"
        )

    async def stop(self) -> None:
        """Stop taking updates, finish the ones under way, stop reminders, close everything."""
        application = self.application
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                if application.running:
                    await application.stop()
                await self.capacity_watch.stop()
                # The sender stops claiming at once; then the bulk sends still waiting for
                # the Telegram budget give up (their rows go back for another process) and
                # only the sends already on their way are waited for.
                stopping = asyncio.ensure_future(self.services.runner.shutdown())
                await asyncio.sleep(0)
                self.budget.stop_bulk()
                await stopping
                await self.services.stop()
        finally:
            await application.shutdown()

    async def _set_commands(self) -> None:
        """The menu in English for everyone, and in each language Telegram has a code for
        (Urdu script: ``ur``) for users whose app is in it. Roman Urdu has no code of its
        own: a patient who picks it gets the menu in their chat (``language.set_menu``)."""
        catalogues = self.application.bot_data.catalogues
        bot = self.application.bot
        try:
            await bot.set_my_commands(patient_commands(catalogues(DEFAULT_LANGUAGE)))
            for code in available_languages():
                if code != DEFAULT_LANGUAGE and len(code) == 2:
                    await bot.set_my_commands(
                        patient_commands(catalogues(code)), language_code=code
                    )
        except TelegramError as exc:  # a menu is a nicety; never stop the start for it
            log.warning("could not set the command menu: %s", type(exc).__name__)

    async def __aenter__(self) -> BotRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


# Of TELEGRAM_RATE, the share the budget's pace leaves unused for the network's jitter: at
# 30/s one send per 34.4 ms (2 per 69 ms in Redis), so 31 sends span 1.03 s as they leave
# and a send must reach Telegram about 30 ms later than the one 30 before it to be counted
# 31st in a second. Without a pace, sends counted as they leave bunched at the window's
# edge: 5 % of bench.peak's sends were answered 429, 2.7-3.1 % with this margin taken off
# the window instead.
NETWORK_MARGIN = 0.03


def budget_rate_limiter(settings: Settings, token: str) -> PacedRateLimiter:
    """The rate limiter over the Telegram budget the settings name (``TELEGRAM_RATE``,
    ``TELEGRAM_BUDGET_URL``), its keys named by a hash of the bot token."""
    backend = open_backend(settings.telegram_budget_url, namespace=token_namespace(token))
    log.info(
        "Telegram budget: %s/s in %s", settings.telegram_rate, redact(settings.telegram_budget_url)
    )
    return PacedRateLimiter(
        budget=TelegramBudget(backend, rate=settings.telegram_rate, margin=NETWORK_MARGIN)
    )


def build_runtime(
    settings: Settings,
    *,
    clock: Clock,
    connection: Connection | None = None,
    runner_settings: RunnerSettings | None = None,
    policy: DeliveryPolicy | None = None,
    database: Database | None = None,
) -> BotRuntime:
    """The Application with our handlers, its notifier and services; nothing starts yet."""
    if connection is None:
        token = settings.telegram_bot_token
        if token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        connection = Connection(token=token.get_secret_value())
    texts = load_texts()
    context_types = ContextTypes(context=BotContext, bot_data=BotData)
    processor = PerChatUpdateProcessor(connection.max_concurrent_updates)
    metrics = Metrics()
    rate_limiter = connection.rate_limiter or budget_rate_limiter(settings, connection.token)
    rate_limiter.budget.metrics = metrics
    application: AnyApplication = (
        ApplicationBuilder()
        .token(connection.token)
        .base_url(connection.base_url)
        .base_file_url(connection.base_file_url)
        .context_types(context_types)
        .concurrent_updates(processor)
        .update_queue(processor.queue())
        .rate_limiter(rate_limiter)
        .request(
            AiohttpRequest(
                connect_timeout=connection.connect_timeout,
                read_timeout=connection.read_timeout,
                write_timeout=connection.read_timeout,
            )
        )
        .get_updates_request(
            AiohttpRequest(
                connection_pool_size=1,
                connect_timeout=connection.connect_timeout,
                read_timeout=connection.poll_timeout + 5,
                write_timeout=connection.read_timeout,
                wait_before=processor.room,  # fetch no more while enough wait to run
            )
        )
        .job_queue(None)
        .build()
    )
    notifier = TelegramNotifier(application.bot, load_texts, chat_turn=processor.hold)
    services = build_services(
        settings,
        notifier=notifier,
        clock=clock,
        runner_settings=runner_settings,
        policy=policy,
        database=database,
        metrics=metrics,
        messages=notifier,
    )
    data: BotData = application.bot_data
    data.care = services.care
    data.questions = services.questions
    data.clinics = services.clinics
    data.broadcasts = services.broadcasts
    data.visits = services.visits
    data.outbox = services.outbox
    broadcaster = BroadcastCopies(
        database=services.database,
        transport=BotBroadcastTransport(application.bot, load_texts),
        clock=clock,
        reporter=TelegramBroadcastReporter(application.bot, texts),
        worker_id=f"broadcasts-{new_worker_id()}",
        plans=load_plan,
        metrics=metrics,
    )
    services.runner.take_copies(broadcaster)
    data.wake_broadcasts = broadcaster.wake
    data.web_access = WebAccess(database=services.database, clock=clock)
    data.settings = settings
    data.clock = clock
    data.texts = texts
    data.catalogues = load_texts
    data.plans = load_plan
    register(application)
    capacity_watch = CapacityWatch(
        capacity=CapacityService(
            database=services.database, clock=clock, plans=load_plan, rate=settings.telegram_rate
        ),
        clinics=services.clinics,
        outbox=services.outbox,
        texts=texts,
    )
    return BotRuntime(
        application=application,
        services=services,
        connection=connection,
        broadcaster=broadcaster,
        capacity_watch=capacity_watch,
        budget=rate_limiter.budget,
        dashboard=build_dashboard(
            settings,
            services=services,
            access=data.web_access,
            bot=application.bot,
            wake_broadcasts=broadcaster.wake,
        ),
    )
