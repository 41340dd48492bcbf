"""Two clinics with staff and patients, and the dashboard over HTTP (httpx in-process)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
from starlette.applications import Starlette

from bot.web.app import Dashboard, DashboardDeps
from content.loader import load_plan
from scheduler.broadcasts.service import BroadcastService
from scheduler.care.planning import QuietHours
from scheduler.care.sessions import CareService
from scheduler.clinics.dashboard import DashboardService
from scheduler.clinics.service import ClinicService
from scheduler.clinics.views import ClinicView
from scheduler.clinics.web_access import WebAccess
from scheduler.clock import FakeClock
from scheduler.outbox.notifier import RecipientGoneError
from storage.database import Database
from storage.models import InviteKind, StaffRole

SECRET = b"test-dashboard-secret"
BASE = "http://clinic.test"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@dataclass
class FakeMessenger:
    """The dashboard's way to Telegram, offline: what was sent to whom; ``blocked`` chats
    refuse as Telegram does for a user who blocked the bot."""

    sent: list[tuple[int, str]]
    blocked: set[int]

    async def to_patient(self, chat_id: int, html: str) -> int:
        """Record the message; its id."""
        if chat_id in self.blocked:
            raise RecipientGoneError("Forbidden")
        self.sent.append((chat_id, html))
        return 10_000 + len(self.sent)

    async def photo_preview(self, chat_id: int, data: bytes, caption: str) -> str:
        """Record the photo sent to a member's chat; a file id for it."""
        if chat_id in self.blocked:
            raise RecipientGoneError("Forbidden")
        self.sent.append((chat_id, f"<photo {len(data)} bytes> {caption}"))
        return f"photo-{len(self.sent)}"


@dataclass
class Site:
    """The services, two clinics and the dashboard app."""

    database: Database
    clock: FakeClock
    clinics: ClinicService
    care: CareService
    access: WebAccess
    app: Starlette
    glow: ClinicView
    other: ClinicView
    messenger: FakeMessenger

    def client(self) -> httpx.AsyncClient:
        """A browser: keeps cookies, does not follow redirects."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE)

    async def staff(self, clinic: ClinicView, chat_id: int, *, admin: bool = False) -> int:
        """A member of the clinic's staff (its first admin comes from create_clinic)."""
        invite = await self.clinics.invite(
            clinic_id=clinic.id,
            kind=InviteKind.STAFF,
            role=StaffRole.ADMIN if admin else StaffRole.STAFF,
        )
        member = await self.clinics.join_staff(code=invite.code, chat_id=chat_id, name=None)
        return member.id

    async def patient(self, clinic: ClinicView, chat_id: int, session_date: date) -> int:
        """A patient of the clinic with a registered session; returns the patient's id."""
        await self.care.consent(chat_id=chat_id)
        link = await self.clinics.invite(clinic_id=clinic.id, kind=InviteKind.PATIENT)
        await self.clinics.join_patient(code=link.code, chat_id=chat_id)
        await self.care.register_session(chat_id=chat_id, session_date=session_date)
        view = await self.care.view(chat_id=chat_id)
        assert view is not None
        return view.patient_id

    async def signed_in(self, clinic: ClinicView, chat_id: int | None) -> httpx.AsyncClient:
        """A browser signed in as the member of staff in ``chat_id``."""
        link = await self.access.link_for(clinic_id=clinic.id, staff_chat_id=chat_id)
        browser = self.client()
        answer = await browser.post("/dashboard/login", data={"t": link.token})
        assert answer.status_code == 303, answer.text
        return browser


async def csrf_of(browser: httpx.AsyncClient, path: str) -> str:
    """The CSRF token a page's forms carry."""
    page = await browser.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


@pytest.fixture
async def site(database: Database, clock: FakeClock) -> AsyncIterator[Site]:
    """Clinic Glow (admin 9001) and clinic Other (admin 9002), both in Karachi."""
    clinics = ClinicService(database=database, clock=clock, plans=load_plan)
    care = CareService(
        database=database,
        clock=clock,
        plans=load_plan,
        default_timezone="Asia/Karachi",
        default_quiet_hours=QuietHours.parse("21:00-08:00"),
    )
    access = WebAccess(database=database, clock=clock)
    messenger = FakeMessenger(sent=[], blocked=set())
    dashboard = Dashboard(
        DashboardDeps(
            access=access,
            dashboard=DashboardService(database=database, clock=clock, plans=load_plan),
            secret=SECRET,
            clinics=clinics,
            care=care,
            broadcasts=BroadcastService(database=database, clock=clock, plans=load_plan),
            messenger=messenger,
        )
    )
    quiet = QuietHours.parse("21:00-08:00")
    glow, glow_admin = await clinics.create_clinic(
        name="Glow", timezone="Asia/Karachi", plan_id="microneedling", quiet_hours=quiet
    )
    await clinics.join_staff(code=glow_admin.code, chat_id=9001, name="Amina")
    other, other_admin = await clinics.create_clinic(
        name="Other", timezone="Asia/Karachi", plan_id="microneedling", quiet_hours=quiet
    )
    await clinics.join_staff(code=other_admin.code, chat_id=9002, name="Bilal")
    yield Site(
        database=database,
        clock=clock,
        clinics=clinics,
        care=care,
        access=access,
        app=Starlette(routes=[dashboard.mount()]),
        glow=glow,
        other=other,
        messenger=messenger,
    )
