"""The dashboard wired to the product's services: its secret, its use cases, its pages."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from telegram.error import Forbidden
from telegram.ext import ExtBot

from bot.config import Settings
from bot.notifier import delivery_errors
from bot.qr import invite_link
from bot.sending import send_html
from bot.services import Services
from bot.web.app import Dashboard, DashboardDeps
from content.loader import load_plan
from scheduler.clinics.dashboard import DashboardService
from scheduler.clinics.web_access import WebAccess
from scheduler.outbox.budget import Priority
from scheduler.outbox.notifier import MessageRejectedError, RecipientGoneError

log = logging.getLogger(__name__)


def dashboard_secret(settings: Settings) -> bytes:
    """DASHBOARD_SECRET, else a key derived from the bot token (stable across restarts and
    processes, unknown without the token), else, with neither (the offline demo), a random
    key: sessions then end with the process."""
    if settings.dashboard_secret is not None:
        return settings.dashboard_secret.get_secret_value().encode()
    if settings.telegram_bot_token is not None:
        token = settings.telegram_bot_token.get_secret_value().encode()
        return hmac.new(token, b"aftercare-dashboard", hashlib.sha256).digest()
    return secrets.token_bytes(32)


class TelegramMessenger:
    """Writes to patients for the dashboard through the bot (as a staff relay: after
    replies in conversation, before reminders, in the shared Telegram budget)."""

    def __init__(self, bot: ExtBot[Any]) -> None:
        """Send with ``bot``."""
        self.bot = bot

    async def to_patient(self, chat_id: int, html: str) -> int:
        """Send ``html``; RecipientGoneError when the patient blocked the bot."""
        try:
            message = await send_html(self.bot, chat_id, html, priority=Priority.ALERT)
        except Forbidden as exc:
            raise RecipientGoneError(type(exc).__name__) from None
        return message.message_id

    async def photo_preview(self, chat_id: int, data: bytes, caption: str) -> str:
        """Send the photo to the member's own chat; the ``file_id`` Telegram gave it."""
        async with delivery_errors():
            message = await self.bot.send_photo(chat_id, photo=data, caption=caption)
        if not message.photo:
            raise MessageRejectedError("no photo in the answer")
        return message.photo[-1].file_id


def _invite_links(settings: Settings, bot: ExtBot[Any] | None) -> Callable[[str], str] | None:
    """The t.me link of a code: the configured username, else the bot's own (known once the
    bot is initialised, before the first request)."""
    configured = settings.telegram_bot_username.strip().removeprefix("@")
    if not configured and bot is None:
        return None

    def link(code: str) -> str:
        return invite_link(configured or (bot.username if bot is not None else ""), code)

    return link


def build_dashboard(
    settings: Settings,
    *,
    services: Services,
    access: WebAccess,
    bot: ExtBot[Any] | None,
    wake_broadcasts: Callable[[], None] | None = None,
) -> Dashboard:
    """The dashboard's pages over the product's services; ``bot`` sends what staff write,
    ``wake_broadcasts`` starts the bot's broadcast sender on a confirmed broadcast."""
    return Dashboard(
        DashboardDeps(
            access=access,
            dashboard=DashboardService(
                database=services.database, clock=services.clock, plans=load_plan
            ),
            secret=dashboard_secret(settings),
            clinics=services.clinics,
            care=services.care,
            broadcasts=services.broadcasts,
            messenger=TelegramMessenger(bot) if bot is not None else None,
            wake_broadcasts=wake_broadcasts or (lambda: None),
            invite_link=_invite_links(settings, bot),
        )
    )
