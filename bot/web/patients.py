"""The patients table and one patient's page."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.web.app import PREFIX, Dashboard
from scheduler.dashboard import MAX_LABEL, LabelTooLong, PatientQuery
from scheduler.web_access import WebUser
from storage.models import PatientStatus


class PatientPages:
    """/patients, /patients/{id} and the label form."""

    nav: tuple[str, str] | None = ("/patients", "Patients")

    def __init__(self, site: Dashboard) -> None:
        """Pages of ``site``."""
        self.site = site
        self.deps = site.deps

    def routes(self) -> list[BaseRoute]:
        """The routes of the patients' pages."""
        signed = self.site.signed
        return [
            Route("/patients", signed(self.patients), methods=["GET"]),
            Route("/patients/{patient_id:int}", signed(self.patient), methods=["GET"]),
            Route("/patients/{patient_id:int}/label", signed(self.label), methods=["POST"]),
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
            return self.render(request, "error.html", {"title": "Not found", "user": user}, 404)
        saved = request.query_params.get("saved") == "1"
        return self.render(
            request,
            "patient.html",
            {
                "title": record.line.display,
                "user": user,
                "record": record,
                "saved": saved,
                "max_label": MAX_LABEL,
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
            return self.render(request, "error.html", {"title": "Not found", "user": user}, 404)
        return RedirectResponse(f"{PREFIX}/patients/{patient_id}?saved=1", status_code=303)
