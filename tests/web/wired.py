"""The test site's dashboard again, with what the bot adds in production: a broadcast sender
to wake, invite links with the bot's username, a messenger."""

from __future__ import annotations

from dataclasses import dataclass, replace

from starlette.applications import Starlette

from bot.qr import invite_link
from bot.web.app import Dashboard, DashboardDeps, Messenger
from content.loader import load_plan
from scheduler.broadcasts.service import BroadcastService
from scheduler.clinics.dashboard import DashboardService
from tests.web.conftest import SECRET, Site

USERNAME = "aftercare_demo_bot"


@dataclass
class Wakes:
    """Counts how often the dashboard woke the broadcast sender."""

    count: int = 0

    def __call__(self) -> None:
        self.count += 1


def rewire(site: Site, *, messenger: Messenger | None = None) -> tuple[Site, Wakes]:
    """``site`` with a dashboard that wakes a counter and makes t.me links."""
    wakes = Wakes()
    deps = DashboardDeps(
        access=site.access,
        dashboard=DashboardService(database=site.database, clock=site.clock, plans=load_plan),
        secret=SECRET,
        clinics=site.clinics,
        care=site.care,
        broadcasts=BroadcastService(database=site.database, clock=site.clock, plans=load_plan),
        messenger=messenger,
        wake_broadcasts=wakes,
        invite_link=lambda code: invite_link(USERNAME, code),
    )
    return replace(site, app=Starlette(routes=[Dashboard(deps).mount()])), wakes
