"""The clinic's figures on the dashboard: per week, new patients, reminders sent and expired,
alerts and the time to the first staff reply; questions by level over the days of healing
and by topic. Each chart is our own SVG with its numbers in a table beside it."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.web.app import Dashboard
from bot.web.charts import Series, bar_chart
from scheduler.clinics.figures import WEEKS, FigureService
from scheduler.clinics.web_access import WebUser

PERIODS = (4, 12, 26, 52)


def duration(value: timedelta | None) -> str:
    """A wait in words: "—", "45 min", "3.5 h", "2.0 days"."""
    if value is None:
        return "—"
    minutes = value.total_seconds() / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


class FigurePages:
    """/figures: the clinic's figures over a period (``?weeks=``)."""

    nav: tuple[str, str] | None = ("/figures", "Figures")

    def __init__(self, site: Dashboard) -> None:
        """Pages of ``site``."""
        self.site = site
        self.deps = site.deps
        self.figures = FigureService(
            database=site.deps.dashboard.database, clock=site.deps.dashboard.clock
        )

    def routes(self) -> list[BaseRoute]:
        """The figures page's route."""
        return [Route("/figures", self.site.signed(self.page), methods=["GET"])]

    async def page(self, request: Request, user: WebUser) -> Response:
        """Charts and tables of the chosen period."""
        try:
            weeks = int(request.query_params.get("weeks", WEEKS))
        except ValueError:
            weeks = WEEKS
        weeks = weeks if weeks in PERIODS else WEEKS
        figures = await self.figures.figures(user.clinic, weeks)
        labels = [week.start.strftime("%d %b") for week in figures.weeks]
        days = list(figures.by_day)
        charts = {
            "patients": bar_chart(
                "New patients per week",
                labels,
                [Series("new patients", "patients", [w.new_patients for w in figures.weeks])],
            ),
            "reminders": bar_chart(
                "Reminders per week",
                labels,
                [
                    Series("sent", "sent", [w.reminders_sent for w in figures.weeks]),
                    Series("expired", "expired", [w.reminders_expired for w in figures.weeks]),
                ],
            ),
            "replies": bar_chart(
                "Median hours to the first staff reply, per week",
                labels,
                [
                    Series(
                        "hours to the first reply",
                        "reply",
                        [
                            round(w.median_reply.total_seconds() / 3600, 1) if w.median_reply else 0
                            for w in figures.weeks
                        ],
                    )
                ],
            ),
            "days": bar_chart(
                "Questions by day of healing and level",
                [str(day) for day in days],
                [
                    Series(level, f"level-{level}", [figures.by_day[d].get(level, 0) for d in days])
                    for level in figures.levels
                    if any(figures.by_day[d].get(level, 0) for d in days)
                ],
            )
            if days
            else None,
        }
        return self.site.render(
            request,
            "figures.html",
            {
                "title": "Figures",
                "user": user,
                "figures": figures,
                "charts": charts,
                "weeks": weeks,
                "periods": PERIODS,
                "duration": duration,
            },
        )
