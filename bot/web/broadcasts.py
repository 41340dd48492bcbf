"""Broadcasts on the dashboard: compose, choose the audience (with its live count), preview,
send now or at a time, cancel, watch the progress, read the report, and the list of the past.

The same use cases and rules as ``/broadcast`` in chat (``scheduler.broadcasts``): the text
fits a message with the clinic's name, a scheduled time is ahead, within 30 days and outside
the clinic's quiet hours, and sending starts by waking the bot's broadcast sender. A photo is
uploaded with the form and sent first to the composing member's own chat (their preview): a
broadcast's copies send the ``file_id`` Telegram gives it there, never the bytes again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from starlette.datastructures import FormData, QueryParams, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.web.app import PREFIX, Dashboard
from content.loader import load_plan
from content.texts import load_texts
from scheduler.broadcasts.audience import Audience
from scheduler.broadcasts.errors import (
    AudienceError,
    BroadcastNotFound,
    BroadcastStateError,
    BroadcastTimeError,
    BroadcastTooLong,
    EmptyBroadcast,
    TimeProblem,
    UnknownPhase,
)
from scheduler.broadcasts.report import BroadcastReport
from scheduler.broadcasts.rules import MAX_AHEAD, text_limit
from scheduler.care.planning import load_zone, to_utc
from scheduler.clinics.web_access import WebUser
from scheduler.outbox.notifier import DeliveryError
from storage.models import BroadcastStatus

KINDS = ("all", "phase", "due", "silent", "lang")
DEFAULT_DAYS = {"due": 7, "silent": 14}
LANGUAGE_NAMES = {"en": "English", "ur": "Urdu (اردو)", "ur-Latn": "Roman Urdu"}
HISTORY = 50
POLL_SECONDS = 2
MAX_PHOTO = 10 * 1024 * 1024  # Telegram's limit for a photo
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG, PNG
PHOTO_PREVIEW_CAPTION = "🖼 The photo of your broadcast, as your patients will see it."

log = logging.getLogger(__name__)


class PhotoRefused(ValueError):
    """An uploaded photo that cannot go with a broadcast; the message is fit for the page."""


@dataclass(frozen=True)
class Choice:
    """The audience fields of a form, as typed (kept to show the form again)."""

    kind: str = "all"
    phase: str = ""
    days: str = ""
    lang: str = ""

    @classmethod
    def of(cls, values: FormData | QueryParams) -> Choice:
        """The fields of a submitted form or a query string."""

        def text(name: str) -> str:
            value = values.get(name)
            return value.strip()[:48] if isinstance(value, str) else ""

        kind = text("audience")
        return cls(kind if kind in KINDS else "all", text("phase"), text("days"), text("lang"))

    def audience(self) -> Audience:
        """The audience named; AudienceError when the fields name none."""
        if self.kind == "all":
            return Audience()
        value = {"phase": self.phase, "lang": self.lang}.get(self.kind, self.days)
        return Audience.parse(f"{self.kind}:{value}")


@dataclass(frozen=True)
class Progress:
    """A broadcast's numbers for the page: done of total, in percent."""

    report: BroadcastReport
    done: int
    percent: int
    final: bool


def progress_of(report: BroadcastReport) -> Progress:
    """Where delivery stands; final once the broadcast is done or cancelled."""
    done = report.sent + report.failed + report.skipped
    final = report.status in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED)
    if report.total:
        percent = 100 * done // report.total
    else:
        percent = 100 if report.status is BroadcastStatus.DONE else 0
    return Progress(report, done, percent, final)


def time_refusal(problem: BroadcastTimeError, quiet: str) -> str:
    """Why a send time was refused, in words."""
    if problem.problem is TimeProblem.PAST:
        return "That time has passed: choose a time ahead."
    if problem.problem is TimeProblem.TOO_FAR:
        return f"A broadcast can be scheduled at most {MAX_AHEAD.days} days ahead."
    return f"That time is in the clinic's quiet hours ({quiet}), when patients get no news."


class BroadcastPages:
    """/broadcasts: the list and the composer; /broadcasts/{id}: preview, progress, report."""

    nav: tuple[str, str] | None = ("/broadcasts", "Broadcasts")

    def __init__(self, site: Dashboard) -> None:
        """Pages of ``site``."""
        self.site = site
        self.deps = site.deps
        self.texts = load_texts("en")

    def routes(self) -> list[BaseRoute]:
        """The routes of the broadcast pages."""
        signed = self.site.signed
        return [
            Route("/broadcasts", signed(self.list_page), methods=["GET"]),
            Route("/broadcasts", signed(self.compose, files=1), methods=["POST"]),
            Route("/broadcasts/audience", signed(self.audience_count), methods=["GET"]),
            Route("/broadcasts/{broadcast_id:int}", signed(self.broadcast), methods=["GET"]),
            Route(
                "/broadcasts/{broadcast_id:int}/progress",
                signed(self.progress),
                methods=["GET"],
            ),
            Route(
                "/broadcasts/{broadcast_id:int}/audience",
                signed(self.change_audience),
                methods=["POST"],
            ),
            Route("/broadcasts/{broadcast_id:int}/send", signed(self.send), methods=["POST"]),
            Route("/broadcasts/{broadcast_id:int}/cancel", signed(self.cancel), methods=["POST"]),
        ]

    # Reading

    async def list_page(
        self,
        request: Request,
        user: WebUser,
        *,
        error: str | None = None,
        text: str = "",
        choice: Choice | None = None,
        status: int = 200,
    ) -> Response:
        """The composer, then the clinic's broadcasts, newest first."""
        history = await self.deps.broadcasts.history(user.clinic.id, limit=HISTORY)
        return self.site.render(
            request,
            "broadcasts.html",
            {
                "title": "Broadcasts",
                "user": user,
                "history": history,
                "describe": lambda audience: self.describe(user, audience),
                "error": error,
                "text": text,
                **await self.form_values(user, choice or Choice()),
            },
            status,
        )

    async def form_values(self, user: WebUser, choice: Choice) -> dict[str, Any]:
        """What the audience fields offer: the plan's phases and the clinic's languages."""
        languages = await self.deps.clinics.languages(clinic_id=user.clinic.id)
        return {
            "choice": choice,
            "phases": self.phases(user),
            "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in languages],
            "default_days": DEFAULT_DAYS,
            "limit": text_limit(user.clinic.name, photo=False),
            "caption_limit": text_limit(user.clinic.name, photo=True),
        }

    def phases(self, user: WebUser) -> list[tuple[str, str]]:
        """The phases of the clinic's care plan: (id, name)."""
        try:
            plan = load_plan(user.clinic.plan_id)
        except Exception:
            return []
        return [(phase.id, phase.name) for phase in plan.phases]

    def describe(self, user: WebUser, audience: str) -> str:
        """An audience in words, as the chat wizard says it."""
        kind, _, value = audience.partition(":")
        if kind == "phase":
            value = dict(self.phases(user)).get(value, value)
        elif kind == "lang":
            value = LANGUAGE_NAMES.get(value, value)
        key = f"broadcast.audience_{kind}"
        return self.texts.plain(key, value=value) if key in self.texts else audience

    async def audience_count(self, request: Request, user: WebUser) -> Response:
        """How many patients the audience of the form names now (JSON, for the composer's
        script)."""
        try:
            audience = Choice.of(request.query_params).audience()
            count = await self.deps.broadcasts.count(user.clinic.id, audience)
        except (AudienceError, UnknownPhase) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            {"count": count, "audience": str(audience), "words": self.describe(user, str(audience))}
        )

    async def broadcast(
        self,
        request: Request,
        user: WebUser,
        *,
        error: str | None = None,
        offer: datetime | None = None,
        status: int = 200,
    ) -> Response:
        """A draft's preview (count, send now or schedule), or the progress and report."""
        broadcast_id = int(request.path_params["broadcast_id"])
        try:
            report = await self.deps.broadcasts.report(broadcast_id, user.clinic.id)
        except BroadcastNotFound:
            return self.not_found(request, user)
        audience = report.audience
        count = None
        if report.status in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED) and not report.total:
            try:
                count = await self.deps.broadcasts.count(user.clinic.id, audience)
            except (AudienceError, UnknownPhase):
                count = 0
        zone = load_zone(user.clinic.timezone)
        local_now = self.deps.access.clock.now().astimezone(zone)
        suggested = datetime.combine(local_now.date() + timedelta(days=1), time(10), tzinfo=zone)
        return self.site.render(
            request,
            "broadcast.html",
            {
                "title": f"Broadcast {report.broadcast_id}",
                "user": user,
                "progress": progress_of(report),
                "audience": self.describe(user, audience),
                "count": count,
                "preview": self.preview(user, report.text),
                "error": error,
                "offer": offer,
                "suggested": user.clinic.quiet_hours.defer(suggested, zone).astimezone(zone),
                "earliest": local_now,
                "poll": POLL_SECONDS,
                **await self.form_values(user, self.choice_of(audience)),
            },
            status,
        )

    async def progress(self, request: Request, user: WebUser) -> Response:
        """The progress section alone (the page's script swaps it in every few seconds)."""
        broadcast_id = int(request.path_params["broadcast_id"])
        try:
            report = await self.deps.broadcasts.report(broadcast_id, user.clinic.id)
        except BroadcastNotFound:
            return self.not_found(request, user)
        return self.site.render(
            request,
            "broadcast_progress.html",
            {"user": user, "progress": progress_of(report), "poll": POLL_SECONDS},
        )

    def preview(self, user: WebUser, text: str) -> str:
        """The message as a patient reads it (in the clinic's language): Telegram's HTML,
        which is plain HTML too; the staff's words are escaped in it."""
        return str(
            load_texts(user.clinic.language).render(
                "broadcast.from_clinic", clinic=user.clinic.name, text=text
            )
        )

    @staticmethod
    def choice_of(audience: str) -> Choice:
        """The form fields that name a stored audience."""
        kind, _, value = audience.partition(":")
        if kind == "phase":
            return Choice("phase", phase=value)
        if kind == "lang":
            return Choice("lang", lang=value)
        if kind in ("due", "silent"):
            return Choice(kind, days=value)
        return Choice()

    def not_found(self, request: Request, user: WebUser) -> Response:
        """404: no such broadcast in the member's clinic."""
        return self.site.missing(request, user)

    # Acting

    async def compose(self, request: Request, user: WebUser) -> Response:
        """A draft with its audience (and its photo), then its preview."""
        form = await request.form()
        raw = form.get("text")
        text = raw if isinstance(raw, str) else ""
        choice = Choice.of(form)
        upload = form.get("photo")
        photo: str | None = None
        try:
            audience = choice.audience()
            await self.deps.broadcasts.count(user.clinic.id, audience)  # checks the phase
            if isinstance(upload, UploadFile) and upload.filename:
                photo = await self.photo_file_id(user, upload)
            broadcast_id = await self.deps.broadcasts.create(
                user.clinic.id, user.staff.id if user.staff else None, text, photo
            )
            await self.deps.broadcasts.set_audience(broadcast_id, user.clinic.id, audience)
        except EmptyBroadcast:
            error = "Write the message first."
        except BroadcastTooLong as exc:
            error = (
                f"The message is {exc.length} characters; at most {exc.limit} fit with the"
                " clinic's name."
            )
        except (AudienceError, UnknownPhase) as exc:
            error = str(exc)
        except PhotoRefused as exc:
            error = str(exc)
        else:
            return RedirectResponse(f"{PREFIX}/broadcasts/{broadcast_id}", status_code=303)
        return await self.list_page(
            request, user, error=error, text=text[:10_000], choice=choice, status=400
        )

    async def photo_file_id(self, user: WebUser, upload: UploadFile) -> str:
        """The uploaded photo, sent to the member's own chat as the broadcast's preview, as
        the ``file_id`` Telegram gave it (the copies then send that id, not the bytes).
        PhotoRefused, with a reason fit for the page, for anything else."""
        if user.staff is None:
            raise PhotoRefused(
                "A photo goes through your own chat with the bot: sign in from Telegram "
                "with /web to add one."
            )
        if self.deps.messenger is None:
            raise PhotoRefused("Photos need the bot, and it is not running here.")
        data = await upload.read(MAX_PHOTO + 1)
        if len(data) > MAX_PHOTO:
            raise PhotoRefused("The photo is larger than 10 MB, Telegram's limit.")
        if not data.startswith(IMAGE_SIGNATURES):
            raise PhotoRefused("That file is not a JPEG or PNG photo.")
        try:
            return await self.deps.messenger.photo_preview(
                user.staff.chat_id, data, PHOTO_PREVIEW_CAPTION
            )
        except DeliveryError as exc:
            log.warning("broadcast photo not accepted by Telegram: %s", exc.reason[:60])
            raise PhotoRefused(
                "Telegram did not take the photo (it goes to your own chat first: is the "
                "bot unblocked there?). Try another photo, or send it from chat."
            ) from None

    async def change_audience(self, request: Request, user: WebUser) -> Response:
        """Choose another audience for a draft."""
        broadcast_id = int(request.path_params["broadcast_id"])
        form = await request.form()
        try:
            await self.deps.broadcasts.set_audience(
                broadcast_id, user.clinic.id, Choice.of(form).audience()
            )
        except BroadcastNotFound:
            return self.not_found(request, user)
        except BroadcastStateError:
            return await self.broadcast(
                request, user, error="This broadcast is no longer a draft.", status=409
            )
        except (AudienceError, UnknownPhase) as exc:
            return await self.broadcast(request, user, error=str(exc), status=400)
        return RedirectResponse(f"{PREFIX}/broadcasts/{broadcast_id}", status_code=303)

    async def send(self, request: Request, user: WebUser) -> Response:
        """Send a draft now, or schedule it for a local time of the clinic."""
        broadcast_id = int(request.path_params["broadcast_id"])
        form = await request.form()
        at: datetime | None = None
        if form.get("when") == "at":
            at = self.parse_time(form, user)
            if at is None:
                return await self.broadcast(
                    request, user, error="Give a date and time to send it at.", status=400
                )
        try:
            await self.deps.broadcasts.confirm(
                broadcast_id,
                user.clinic.id,
                report_chat_id=user.staff.chat_id if user.staff else None,
                at=at,
            )
        except BroadcastNotFound:
            return self.not_found(request, user)
        except BroadcastStateError:
            return await self.broadcast(
                request, user, error="This broadcast is no longer a draft.", status=409
            )
        except BroadcastTimeError as exc:
            offer = exc.next_allowed if exc.problem is TimeProblem.QUIET else None
            error = time_refusal(exc, str(user.clinic.quiet_hours))
            return await self.broadcast(request, user, error=error, offer=offer, status=400)
        self.deps.wake_broadcasts()
        return RedirectResponse(f"{PREFIX}/broadcasts/{broadcast_id}", status_code=303)

    @staticmethod
    def parse_time(form: FormData, user: WebUser) -> datetime | None:
        """The send time of the form: ``at`` (an instant, from an offered time) or
        ``local`` (a ``datetime-local`` value in the clinic's zone); None if unreadable."""
        instant = form.get("at")
        if isinstance(instant, str) and instant.isdigit() and len(instant) <= 11:
            return datetime.fromtimestamp(int(instant), tz=UTC)
        local = form.get("local")
        if not isinstance(local, str) or len(local) > 32:
            return None
        try:
            naive = datetime.fromisoformat(local.strip())
        except ValueError:
            return None
        if naive.tzinfo is not None:
            return None
        # A time in a spring-forward gap moves past it; one that exists twice is the first.
        return to_utc(naive, load_zone(user.clinic.timezone))

    async def cancel(self, request: Request, user: WebUser) -> Response:
        """Cancel a draft, a scheduled broadcast, or one being sent (what went stays sent)."""
        broadcast_id = int(request.path_params["broadcast_id"])
        try:
            await self.deps.broadcasts.report(broadcast_id, user.clinic.id)
        except BroadcastNotFound:
            return self.not_found(request, user)
        await self.deps.broadcasts.cancel(broadcast_id, user.clinic.id)
        return RedirectResponse(f"{PREFIX}/broadcasts/{broadcast_id}", status_code=303)
