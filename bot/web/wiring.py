"""The dashboard wired to the product's services: its secret, its use cases, its pages."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from bot.config import Settings
from bot.web.app import Dashboard, DashboardDeps
from content.loader import load_plan
from scheduler.clock import Clock
from scheduler.dashboard import DashboardService
from scheduler.web_access import WebAccess
from storage.database import Database

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


def build_dashboard(
    settings: Settings, *, database: Database, clock: Clock, access: WebAccess
) -> Dashboard:
    """The dashboard's pages over ``database``."""
    return Dashboard(
        DashboardDeps(
            access=access,
            dashboard=DashboardService(database=database, clock=clock, plans=load_plan),
            secret=dashboard_secret(settings),
        )
    )
