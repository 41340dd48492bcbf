"""The alerts inbox: the clinic's open alerts (urgent first, then the longest waiting), with
Reply, Resolve and Assign; the resolved ones on request. A fragment of the list is served for
``static/alerts.js`` to swap in every few seconds; without JavaScript, the page is the same
(reload to see new alerts)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.web.app import PREFIX, Dashboard
from bot.web.relay import MessengerRelay
from scheduler.clinics.inbox import ALERTS_PAGE, MAX_MESSAGE, InboxError, InboxProblem, InboxService
from scheduler.clinics.web_access import WebUser

REFRESH_SECONDS = 5

# What the page says after an action (the redirect carries only the code).
NOTICES = {
    "sent": "Sent: the patient has your message in the bot.",
    "resolved": "Resolved.",
    "already_resolved": "That alert was already resolved.",
    "assigned": "Assigned.",
    "unassigned": "No one is assigned now.",
    InboxProblem.MOVED.value: "This patient has moved to another clinic: you cannot write to "
    "them from here any more. Resolve the alert when you are done with it.",
    InboxProblem.STOPPED.value: "This patient has stopped the bot: they cannot be written to.",
    InboxProblem.BLOCKED.value: "Not delivered: the patient has blocked the bot, so nothing "
    "can reach them there (their reminders are stopped too). Call them if you need to.",
    InboxProblem.NOT_SENT.value: "Not sent: Telegram did not take the message just now. "
    "Nothing was recorded; try again in a moment.",
    InboxProblem.EMPTY.value: "Nothing was sent: the message was empty.",
    InboxProblem.TOO_LONG.value: f"Nothing was sent: a message has at most {MAX_MESSAGE} "
    "characters.",
}
PROBLEM_NOTICES = frozenset(p.value for p in InboxProblem)


def notice_of(request: Request) -> tuple[str, str] | None:
    """The notice a redirect asked the page to show: (code, text), or None."""
    code = request.query_params.get("notice", "")
    text = NOTICES.get(code)
    return None if text is None else (code, text)


class AlertPages:
    """/alerts, its fragment, and the Reply, Resolve and Assign forms."""

    nav: tuple[str, str] | None = ("/alerts", "Alerts")

    def __init__(self, site: Dashboard) -> None:
        """Pages of ``site``."""
        self.site = site
        self.deps = site.deps
        self.inbox = InboxService(clinics=site.deps.clinics, care=site.deps.care)
        self.relay = MessengerRelay(site.deps.messenger)

    def routes(self) -> list[BaseRoute]:
        """The routes of the inbox."""
        signed = self.site.signed
        return [
            Route("/alerts", signed(self.alerts), methods=["GET"]),
            Route("/alerts/fragment", signed(self.fragment), methods=["GET"]),
            Route("/alerts/{alert_id:int}/reply", signed(self.reply), methods=["POST"]),
            Route("/alerts/{alert_id:int}/resolve", signed(self.resolve), methods=["POST"]),
            Route("/alerts/{alert_id:int}/assign", signed(self.assign), methods=["POST"]),
        ]

    async def _values(self, request: Request, user: WebUser) -> dict[str, object]:
        resolved = request.query_params.get("show") == "resolved"
        try:
            page = max(1, min(int(request.query_params.get("page", "1")), 10_000))
        except ValueError:
            page = 1
        total = 0 if resolved else await self.inbox.open_count(user.clinic)
        pages = max(1, -(-total // ALERTS_PAGE))
        page = min(page, pages)
        return {
            "title": "Alerts",
            "user": user,
            "alerts": await self.inbox.alerts(user.clinic, resolved=resolved, page=page),
            "total": total,
            "page": page,
            "pages": pages,
            "team": await self.inbox.team(user.clinic),
            "show": "resolved" if resolved else "open",
            "max_message": MAX_MESSAGE,
            "refresh_seconds": REFRESH_SECONDS,
            "can_send": self.deps.messenger is not None,
        }

    async def alerts(self, request: Request, user: WebUser) -> Response:
        """The inbox."""
        values = await self._values(request, user)
        notice = notice_of(request)
        values["notice"] = notice
        values["problem"] = notice is not None and notice[0] in PROBLEM_NOTICES
        return self.site.render(request, "alerts.html", values)

    async def fragment(self, request: Request, user: WebUser) -> Response:
        """The list alone, for the page's script to swap in."""
        response = self.site.render(request, "alerts_list.html", await self._values(request, user))
        response.headers["Cache-Control"] = "no-store"
        return response

    def _back(self, notice: str, alert_id: int | None = None) -> Response:
        anchor = f"#alert-{alert_id}" if alert_id is not None else ""
        return RedirectResponse(f"{PREFIX}/alerts?notice={notice}{anchor}", status_code=303)

    def _not_found(self, request: Request, user: WebUser) -> Response:
        return self.site.missing(request, user)

    async def reply(self, request: Request, user: WebUser) -> Response:
        """Send the patient a reply, as from chat."""
        alert_id = int(request.path_params["alert_id"])
        form = await request.form(max_fields=50, max_files=0)
        text = form.get("text")
        try:
            await self.inbox.reply(
                user.clinic,
                alert_id=alert_id,
                staff_id=user.staff.id if user.staff else None,
                text=text if isinstance(text, str) else "",
                relay=self.relay,
            )
        except InboxError as error:
            if error.problem is InboxProblem.NOT_FOUND:
                return self._not_found(request, user)
            return self._back(error.problem.value, alert_id)
        return self._back("sent", alert_id)

    async def resolve(self, request: Request, user: WebUser) -> Response:
        """Resolve an alert."""
        alert_id = int(request.path_params["alert_id"])
        try:
            done = await self.inbox.resolve(
                user.clinic, alert_id=alert_id, staff_id=user.staff.id if user.staff else None
            )
        except InboxError:
            return self._not_found(request, user)
        return self._back("resolved" if done else "already_resolved")

    async def assign(self, request: Request, user: WebUser) -> Response:
        """Assign an alert to a member of the clinic's staff (or to nobody)."""
        alert_id = int(request.path_params["alert_id"])
        form = await request.form(max_fields=50, max_files=0)
        chosen = form.get("staff")
        chosen = chosen.strip() if isinstance(chosen, str) else ""
        if chosen and not (chosen.isdigit() and len(chosen) <= 18):
            return self._not_found(request, user)
        staff_id = int(chosen) if chosen else None
        try:
            await self.inbox.assign(user.clinic, alert_id=alert_id, staff_id=staff_id)
        except InboxError:
            return self._not_found(request, user)
        return self._back("assigned" if staff_id is not None else "unassigned", alert_id)
