"""The dashboard's pages: server-rendered HTML that works without JavaScript.

Mounted under ``/dashboard`` on the webhook server and by ``aftercare web``. Every page is
scoped to the signed-in member's clinic, every id is looked up inside it (another clinic's id
answers 404), and every form carries the session's CSRF token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bot.web.security import COOKIE, SecurityHeaders, same, sign, unsign
from content.texts import load_texts
from scheduler.broadcasts.service import BroadcastService
from scheduler.care.planning import load_zone
from scheduler.care.sessions import CareService
from scheduler.clinics.dashboard import DashboardService
from scheduler.clinics.service import ClinicService
from scheduler.clinics.web_access import SESSION_TTL, WebAccess, WebUser, csrf_token

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
PREFIX = "/dashboard"
MAX_FORM = 10_000

Page = Callable[[Request, WebUser], Awaitable[Response]]


class Messenger(Protocol):
    """How the dashboard writes to a patient in Telegram (the bot layer provides it)."""

    async def to_patient(self, chat_id: int, html: str) -> int:
        """Send ``html`` to the patient's chat; the sent message's id. Raises
        ``scheduler.outbox.notifier.RecipientGoneError`` when the patient blocked the bot."""
        ...

    async def photo_preview(self, chat_id: int, data: bytes, caption: str) -> str:
        """Send a photo to a member of staff's own chat (the preview of a broadcast with a
        photo) and return Telegram's ``file_id`` for it: a photo reaches patients only as a
        file Telegram already has. Raises ``scheduler.outbox.notifier.DeliveryError``."""
        ...


@dataclass(frozen=True)
class DashboardDeps:
    """What the pages call: the use cases, the secret that signs cookies, and the way to
    Telegram (None where there is no bot, e.g. some tests: sending is then refused)."""

    access: WebAccess
    dashboard: DashboardService
    secret: bytes
    clinics: ClinicService
    care: CareService
    broadcasts: BroadcastService
    messenger: Messenger | None = None
    # Wakes the bot's broadcast sender once a broadcast is confirmed (no bot: nothing to wake;
    # a sender still finds it on its next poll).
    wake_broadcasts: Callable[[], None] = field(default=lambda: None)
    # The t.me link of an invite code (it needs the bot's username); None: no links made here.
    invite_link: Callable[[str], str] | None = None


class PageGroup(Protocol):
    """A set of pages (patients, alerts...): its routes and its entry in the navigation."""

    nav: tuple[str, str] | None  # (path under the prefix, label), or None for no entry

    def routes(self) -> list[BaseRoute]:
        """The group's routes, relative to the prefix."""
        ...


def sign_in_url(base_url: str, token: str) -> str:
    """The link a member of staff opens to sign in (``base_url``: where the dashboard is
    served, e.g. https://clinic.example.org)."""
    return f"{base_url.rstrip('/')}{PREFIX}/login?{urlencode({'t': token})}"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.autoescape = True
    env.filters["local"] = _local
    env.filters["ago"] = _ago
    env.filters["language"] = _language
    return templates


def _local(value: datetime | None, zone: str, fmt: str = "%d %b %Y %H:%M") -> str:
    if value is None:
        return "—"
    return value.astimezone(load_zone(zone)).strftime(fmt)


def _language(code: str) -> str:
    """A language by its own name (English, اردو, Roman Urdu), as staff see it in chat."""
    try:
        return load_texts(code).plain("language_name")
    except (KeyError, LookupError, OSError):
        return code


def _ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    seconds = int((now - value).total_seconds())
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


class Dashboard:
    """The pages, bound to their use cases."""

    def __init__(self, deps: DashboardDeps) -> None:
        """Bind the pages to ``deps``."""
        from bot.web.alerts import AlertPages
        from bot.web.broadcasts import BroadcastPages
        from bot.web.figures import FigurePages
        from bot.web.patients import PatientPages
        from bot.web.plan import PlanPages
        from bot.web.team import InvitePages, StaffPages

        self.deps = deps
        self.templates = _templates()
        self.groups: list[PageGroup] = [
            PatientPages(self),
            AlertPages(self),
            BroadcastPages(self),
            InvitePages(self),
            StaffPages(self),
            PlanPages(self),
            FigurePages(self),
        ]

    # Plumbing

    def routes(self) -> list[BaseRoute]:
        """The dashboard's routes, to mount under ``/dashboard``."""
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/signed-out", self.signed_out, methods=["GET"]),
            Route("/logout", self.signed(self.logout), methods=["POST"]),
            *(route for group in self.groups for route in group.routes()),
            Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
        ]

    def app(self) -> Starlette:
        """An ASGI app of the dashboard alone (paths without the prefix)."""
        return Starlette(
            routes=self.routes(),
            middleware=[Middleware(SecurityHeaders)],
            exception_handlers={404: self.not_found, 405: self.not_found},
        )

    def mount(self) -> Mount:
        """The dashboard mounted under ``/dashboard``."""
        return Mount(PREFIX, app=self.app())

    def signed(self, page: Page, *, files: int = 0) -> Callable[[Request], Awaitable[Response]]:
        """``page`` for a signed-in member only: others go to the sign-in explanation; a
        POST without the session's CSRF token is refused with 403. A form may carry
        ``files`` files (of at most ``MAX_UPLOAD`` bytes each, checked by the page)."""

        async def endpoint(request: Request) -> Response:
            token = unsign(self.deps.secret, request.cookies.get(COOKIE))
            user = await self.deps.access.user(token) if token else None
            if user is None:
                if request.method != "GET":
                    return self.render(request, "error.html", {"title": "Signed out"}, 401)
                response: Response = RedirectResponse(f"{PREFIX}/signed-out", status_code=303)
                response.delete_cookie(COOKIE, path=PREFIX)
                return response
            if request.method == "POST":
                try:
                    form = await request.form(max_fields=50, max_files=files)
                except HTTPException:  # not a form, or more fields or files than it may have
                    return self.render(
                        request, "error.html", {"title": "Form refused", "user": user}, 400
                    )
                given = form.get("csrf")
                if not same(given if isinstance(given, str) else None, self.csrf(user)):
                    log.warning("dashboard form without a valid CSRF token refused")
                    return self.render(
                        request, "error.html", {"title": "Form expired", "user": user}, 403
                    )
            return await page(request, user)

        return endpoint

    def csrf(self, user: WebUser) -> str:
        """The CSRF token of the user's session."""
        return csrf_token(self.deps.secret, user.session_hash)

    def render(
        self, request: Request, template: str, values: dict[str, Any], status: int = 200
    ) -> Response:
        """A page; it knows the user, their CSRF token and the clinic's time zone."""
        user = values.get("user")
        context = {
            "prefix": PREFIX,
            "nav": [group.nav for group in self.groups if group.nav is not None],
            "now": self.deps.access.clock.now(),
            "csrf": self.csrf(user) if isinstance(user, WebUser) else "",
            "zone": user.clinic.timezone if isinstance(user, WebUser) else "UTC",
            **values,
        }
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        """404 (and 405) as a page of ours, with the same headers."""
        return self.render(request, "error.html", {"title": "Not found"}, 404)

    def missing(self, request: Request, user: WebUser, status: int = 404) -> Response:
        """Not one of the member's clinic's (or no such thing): 404, and nothing changed."""
        return self.render(request, "error.html", {"title": "Not found", "user": user}, status)

    # Signing in and out

    async def home(self, request: Request) -> Response:
        """The dashboard's root: the patients."""
        return RedirectResponse(f"{PREFIX}/patients", status_code=303)

    async def login_form(self, request: Request) -> Response:
        """The page a sign-in link opens: one button. Opening the link spends nothing, so a
        chat's link preview cannot use it up; pressing the button does."""
        token = request.query_params.get("t", "")
        return self.render(request, "login.html", {"title": "Sign in", "token": token[:100]})

    async def login(self, request: Request) -> Response:
        """Spend the link and open a session: the cookie, then the patients."""
        form = await request.form(max_fields=5, max_files=0)
        token = form.get("t")
        session_token = (
            await self.deps.access.sign_in(token) if isinstance(token, str) and token else None
        )
        if session_token is None:
            log.info("dashboard sign-in refused: the link is unknown, used or expired")
            return self.render(request, "login_failed.html", {"title": "Link not valid"}, 400)
        response = RedirectResponse(f"{PREFIX}/patients", status_code=303)
        response.set_cookie(
            COOKIE,
            sign(self.deps.secret, session_token),
            max_age=int(SESSION_TTL.total_seconds()),
            path=PREFIX,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    async def signed_out(self, request: Request) -> Response:
        """Where a browser without a session lands: how to get a link."""
        return self.render(request, "signed_out.html", {"title": "Sign in"})

    async def logout(self, request: Request, user: WebUser) -> Response:
        """End the session and drop the cookie."""
        token = unsign(self.deps.secret, request.cookies.get(COOKIE))
        if token:
            await self.deps.access.sign_out(token)
        response = RedirectResponse(f"{PREFIX}/signed-out", status_code=303)
        response.delete_cookie(COOKIE, path=PREFIX)
        return response
