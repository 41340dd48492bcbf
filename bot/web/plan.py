"""The clinic's care plan on the dashboard: its phases by day, each with the reminders due in
it (day, local time, title, the words patients get), in each language the clinic uses."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.web.app import Dashboard
from bot.web.broadcasts import LANGUAGE_NAMES
from content.loader import load_plan
from content.plan import CarePlan, Milestone, Phase
from scheduler.clinics.web_access import WebUser

RIGHT_TO_LEFT = frozenset({"ur", "ar", "fa", "ps", "sd"})


@dataclass(frozen=True)
class PhaseRow:
    """A phase of the plan and its milestones, in the order they are due."""

    phase: Phase
    days: str
    milestones: list[Milestone]


def days_of(phase: Phase) -> str:
    """The days a phase spans, in words ("day 2-6", "from day 42")."""
    if phase.end_day is None:
        return f"from day {phase.start_day}"
    if phase.end_day == phase.start_day:
        return f"day {phase.start_day}"
    return f"days {phase.start_day}-{phase.end_day}"


def timeline(plan: CarePlan) -> list[PhaseRow]:
    """The phases by their first day, each with its milestones by due day and time."""
    return [
        PhaseRow(
            phase=phase,
            days=days_of(phase),
            milestones=sorted(
                (m for m in plan.milestones if m.phase == phase.id),
                key=lambda m: (m.offset.as_timedelta(), m.at),
            ),
        )
        for phase in sorted(plan.phases, key=lambda p: p.start_day)
    ]


class PlanPages:
    """/plan: the care plan as a timeline, with a language switcher (``?lang=``)."""

    nav: tuple[str, str] | None = ("/plan", "Plan")

    def __init__(self, site: Dashboard) -> None:
        """Pages of ``site``."""
        self.site = site
        self.deps = site.deps

    def routes(self) -> list[BaseRoute]:
        """The plan page's route."""
        return [Route("/plan", self.site.signed(self.plan), methods=["GET"])]

    async def plan(self, request: Request, user: WebUser) -> Response:
        """The plan in the chosen language of the clinic (its own by default)."""
        languages = await self.deps.clinics.languages(clinic_id=user.clinic.id)
        wanted = request.query_params.get("lang", "")
        language = wanted if wanted in languages else user.clinic.language
        try:
            plan = load_plan(user.clinic.plan_id, language)
        except Exception:
            return self.site.render(
                request, "error.html", {"title": "Plan unavailable", "user": user}, 503
            )
        return self.site.render(
            request,
            "plan.html",
            {
                "title": "Care plan",
                "user": user,
                "plan": plan,
                "rows": timeline(plan),
                "language": language,
                "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in languages],
                "rtl": language in RIGHT_TO_LEFT,
            },
        )
