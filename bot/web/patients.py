"""The patients table and one patient's page."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.web.alerts import NOTICES, PROBLEM_NOTICES
from bot.web.app import PREFIX, Dashboard
from bot.web.relay import MessengerRelay
from scheduler.clinics.dashboard import (
    MAX_LABEL,
    LabelTooLong,
    PatientAction,
    PatientActions,
    PatientQuery,
)
from scheduler.clinics.inbox import MAX_MESSAGE, InboxError, InboxProblem, InboxService
from scheduler.clinics.web_access import WebUser
from storage.models import PatientStatus

PATIENT_NOTICES = {
    PatientAction.PAUSE.value: "Reminders paused: nothing is sent until they are resumed.",
    PatientAction.RESUME.value: "Reminders resumed: what is still fresh will be sent.",
    PatientAction.BOOKED.value: "Noted: the next session is booked, so no more booking "
    "reminders for this one.",
}


class PatientPages:
    """/patients, /patients/{id} and the label form."""

    nav: tuple[str, str] | None = ("/patients", "Patients")

    def __init__(self, site: Dashboard) -> None:
        """Pages of ``site``."""
        self.site = site
        self.deps = site.deps
        self.inbox = InboxService(clinics=site.deps.clinics, care=site.deps.care)
        self.actions = PatientActions(care=site.deps.care)
        self.relay = MessengerRelay(site.deps.messenger)

    def routes(self) -> list[BaseRoute]:
        """The routes of the patients' pages."""
        signed = self.site.signed
        return [
            Route("/patients", signed(self.patients), methods=["GET"]),
            Route("/patients/{patient_id:int}", signed(self.patient), methods=["GET"]),
            Route("/patients/{patient_id:int}/label", signed(self.label), methods=["POST"]),
            Route("/patients/{patient_id:int}/message", signed(self.message), methods=["POST"]),
            Route("/patients/{patient_id:int}/care", signed(self.care), methods=["POST"]),
            Route("/patients/{patient_id:int}/export", signed(self.export), methods=["GET"]),
        ]

    def render(
        self, request: Request, template: str, values: dict[str, object], status: int = 200
    ) -> Response:
        """A page of the site."""
        return self.site.render(request, template, values, status)

    async def patients(self, request: Request, user: WebUser) -> Response:
        """The searchable, filterable, paginated table of the clinic's patients."""
        params = request.query_params
        status_text = params.get("status", "")
        status = (
            PatientStatus(status_text) if status_text in {s.value for s in PatientStatus} else None
        )
        try:
            page_number = max(1, min(int(params.get("page", "1")), 100_000))
        except ValueError:
            page_number = 1
        query = PatientQuery(
            search=params.get("q", "")[:MAX_LABEL],
            status=status,
            phase=params.get("phase") or None,
            needs_attention=params.get("attention") == "1",
            page=page_number,
        )
        page = await self.deps.dashboard.patients(user.clinic, query)

        def page_link(number: int) -> str:
            values = {
                "q": query.search,
                "status": status_text if status else "",
                "phase": query.phase or "",
                "attention": "1" if query.needs_attention else "",
                "page": str(number),
            }
            return "?" + urlencode({k: v for k, v in values.items() if v})

        return self.render(
            request,
            "patients.html",
            {
                "title": "Patients",
                "user": user,
                "page": page,
                "phases": self.deps.dashboard.phases(user.clinic),
                "statuses": [s.value for s in PatientStatus],
                "page_link": page_link,
            },
        )

    async def patient(self, request: Request, user: WebUser) -> Response:
        """One patient: the plan as a timeline, questions, alerts, and the label form."""
        patient_id = int(request.path_params["patient_id"])
        record = await self.deps.dashboard.patient(user.clinic, patient_id)
        if record is None:
            return self.site.missing(request, user)
        saved = request.query_params.get("saved") == "1"
        code = request.query_params.get("notice", "")
        notice = PATIENT_NOTICES.get(code) or NOTICES.get(code)
        return self.render(
            request,
            "patient.html",
            {
                "title": record.line.display,
                "user": user,
                "record": record,
                "saved": saved,
                "max_label": MAX_LABEL,
                "thread": await self.inbox.thread(user.clinic, patient_id),
                "notice": notice,
                "problem": code in PROBLEM_NOTICES,
                "max_message": MAX_MESSAGE,
                "can_send": self.deps.messenger is not None,
            },
        )

    def _back(self, patient_id: int, notice: str) -> Response:
        return RedirectResponse(f"{PREFIX}/patients/{patient_id}?notice={notice}", status_code=303)

    def _not_found(self, request: Request, user: WebUser) -> Response:
        return self.site.missing(request, user)

    async def message(self, request: Request, user: WebUser) -> Response:
        """Write to the patient in the bot; their answer reaches the clinic's staff."""
        patient_id = int(request.path_params["patient_id"])
        form = await request.form(max_fields=50, max_files=0)
        text = form.get("text")
        try:
            await self.inbox.message_patient(
                user.clinic,
                patient_id=patient_id,
                staff_id=user.staff.id if user.staff else None,
                text=text if isinstance(text, str) else "",
                relay=self.relay,
            )
        except InboxError as error:
            if error.problem is InboxProblem.NOT_FOUND:
                return self._not_found(request, user)
            return self._back(patient_id, error.problem.value)
        return self._back(patient_id, "sent")

    async def care(self, request: Request, user: WebUser) -> Response:
        """Pause or resume the patient's reminders, or mark their next session booked."""
        patient_id = int(request.path_params["patient_id"])
        form = await request.form(max_fields=50, max_files=0)
        chosen = form.get("action")
        try:
            action = PatientAction(chosen if isinstance(chosen, str) else "")
        except ValueError:
            return self.site.missing(request, user, 400)
        if not await self.actions.act(user.clinic, patient_id, action):
            return self._not_found(request, user)
        return self._back(patient_id, action.value)

    async def export(self, request: Request, user: WebUser) -> Response:
        """The patient's /export document, as a file to save."""
        patient_id = int(request.path_params["patient_id"])
        document = await self.actions.export(user.clinic, patient_id)
        if document is None:
            return self._not_found(request, user)
        return Response(
            json.dumps(document, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="patient-{patient_id}.json"',
                "Cache-Control": "no-store",
            },
        )

    async def label(self, request: Request, user: WebUser) -> Response:
        """Give the patient the clinic's label."""
        patient_id = int(request.path_params["patient_id"])
        form = await request.form(max_fields=50, max_files=0)
        text = form.get("label")
        try:
            changed = await self.deps.dashboard.set_label(
                user.clinic, patient_id, text if isinstance(text, str) else ""
            )
        except LabelTooLong:
            return self.render(
                request, "error.html", {"title": "Label too long", "user": user}, 400
            )
        if not changed:
            return self.site.missing(request, user)
        return RedirectResponse(f"{PREFIX}/patients/{patient_id}?saved=1", status_code=303)
