"""A clinic's figures per week: new patients, reminders sent and expired, alerts and the time
to the first staff reply; and the questions its patients asked by topic, level and day of
healing. Weeks start on Monday in the clinic's time zone."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from content.triage.verdict import Level
from scheduler.care.planning import load_zone, to_utc
from scheduler.clinics.views import ClinicView
from scheduler.clock import Clock
from storage.database import Database
from storage.figures import FigureRepository

WEEKS = 12
MAX_WEEKS = 104
# Most serious first, as the alerts inbox sorts them.
LEVELS = tuple(
    level.value
    for level in (
        Level.URGENT,
        Level.CLINIC,
        Level.WATCH,
        Level.NORMAL,
        Level.ADVICE,
        Level.UNKNOWN,
    )
)


@dataclass(frozen=True)
class Week:
    """One week's figures (``start``: its Monday, in the clinic's time zone)."""

    start: date
    new_patients: int
    reminders_sent: int
    reminders_expired: int
    alerts: int
    answered: int
    median_reply: timedelta | None  # to the first staff reply, of the alerts answered


@dataclass(frozen=True)
class Figures:
    """The clinic's figures over ``weeks``; questions counted over the same period."""

    weeks: list[Week]
    levels: list[str]
    by_day: dict[int, dict[str, int]]  # day of healing -> level -> questions
    by_topic: dict[str, dict[str, int]]  # topic -> level -> questions
    questions: int
    computed_at: datetime | None = None


def week_bounds(today: date, zone_name: str, weeks: int) -> list[datetime]:
    """The UTC instants at which the last ``weeks`` weeks (this one included) begin, and the
    end of this one: ``weeks + 1`` bounds."""
    zone = load_zone(zone_name)
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=weeks - 1)
    return [
        to_utc(datetime.combine(first + timedelta(weeks=n), time()), zone) for n in range(weeks + 1)
    ]


def median(values: list[timedelta]) -> timedelta | None:
    """The middle wait (the mean of the two middle ones for an even count); None for none."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


FRESH_FOR = timedelta(minutes=1)
MAX_CACHED = 1_000


class FigureService:
    """Figures of one clinic at a time."""

    def __init__(
        self, *, database: Database, clock: Clock, fresh_for: timedelta = FRESH_FOR
    ) -> None:
        """Read ``database``; weeks end with the clock's current week. Figures are weekly
        counts: each clinic's are computed at most once per ``fresh_for`` (a big clinic's
        year of reminders is a scan of its own), and say when they were computed."""
        self.database = database
        self.clock = clock
        self.fresh_for = fresh_for
        self._cache: dict[tuple[int, int], tuple[datetime, Figures]] = {}

    async def figures(self, clinic: ClinicView, weeks: int = WEEKS) -> Figures:
        """The clinic's figures over the last ``weeks`` weeks (this one included), as
        computed within the last ``fresh_for``."""
        weeks = max(1, min(weeks, MAX_WEEKS))
        now = self.clock.now()
        cached = self._cache.get((clinic.id, weeks))
        if cached is not None and now - cached[0] < self.fresh_for:
            return cached[1]
        figures = await self._compute(clinic, weeks)
        if len(self._cache) > MAX_CACHED:
            self._cache.clear()
        self._cache[(clinic.id, weeks)] = (now, figures)
        return figures

    async def _compute(self, clinic: ClinicView, weeks: int) -> Figures:
        today = self.clock.now().astimezone(load_zone(clinic.timezone)).date()
        bounds = week_bounds(today, clinic.timezone, weeks)
        since, until = bounds[0], bounds[-1]
        async with self.database.session() as session:
            repo = FigureRepository(session)
            new = await repo.new_patients(clinic_id=clinic.id, bounds=bounds)
            sent, expired = await repo.reminders(clinic_id=clinic.id, bounds=bounds)
            asked = await repo.questions(clinic_id=clinic.id, since=since, until=until)
            replies = await repo.first_replies(clinic_id=clinic.id, since=since, until=until)
        waits: list[list[timedelta]] = [[] for _ in range(weeks)]
        alerts = [0] * weeks
        for created, first_reply in replies:
            index = sum(1 for bound in bounds[1:-1] if created >= bound)
            alerts[index] += 1
            if first_reply is not None:
                waits[index].append(max(first_reply - created, timedelta(0)))
        by_day: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(LEVELS, 0))
        by_topic: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(LEVELS, 0))
        levels = list(LEVELS)
        for topic, level, day, count in asked:
            if level not in levels:
                levels.append(level)
            by_day[day][level] = by_day[day].get(level, 0) + count
            by_topic[topic][level] = by_topic[topic].get(level, 0) + count
        return Figures(
            weeks=[
                Week(
                    start=(today - timedelta(days=today.weekday()))
                    - timedelta(weeks=weeks - 1 - n),
                    new_patients=new[n],
                    reminders_sent=sent[n],
                    reminders_expired=expired[n],
                    alerts=alerts[n],
                    answered=len(waits[n]),
                    median_reply=median(waits[n]),
                )
                for n in range(weeks)
            ],
            levels=levels,
            by_day=dict(sorted(by_day.items())),
            by_topic=dict(
                sorted(by_topic.items(), key=lambda item: (-sum(item[1].values()), item[0]))
            ),
            questions=sum(count for *_, count in asked),
            computed_at=self.clock.now(),
        )
