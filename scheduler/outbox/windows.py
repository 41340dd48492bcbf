"""Delivery windows and whether the channel can carry them.

Each reminder is meant to arrive within its milestone's window (90 minutes after its due time
unless the plan says otherwise, never past its expiry). Telegram, not the database, is the
limit: the bot token's budget (``TELEGRAM_RATE``, 30 messages a second by default) is shared by
replies, alerts, reminders and broadcasts, and reminders may count on ``REMINDER_SHARE`` of it
(replies and alerts go first; broadcasts yield to reminders).

The sender works through due reminders in due order at whatever pace the budget allows, so a
crowded window spreads itself out; this module says ahead of time whether it will fit: a fluid
simulation sends each window's reminders at the reminders' rate, earliest deadline first, and
reports when the last of each would go out and how many would miss their window.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from content.plan import DEFAULT_WINDOW_MINUTES
from scheduler.care.planning import catch_up_phase, load_zone, to_utc
from scheduler.clock import Clock
from scheduler.outbox.reminders import PlanSource
from storage.capacity import CapacityRepository, DueGroup
from storage.database import Database

log = logging.getLogger(__name__)

# Of the token's budget, the share reminders may count on: the rest is kept for replies in
# conversation, urgent alerts and staff relays, which go first.
REMINDER_SHARE = 0.8
# Windows that open this long before the forecast's start can still crowd it.
CARRY_OVER = timedelta(hours=12)
# How far ahead the watch looks: an over-full window is announced a day before it opens.
WARN_AHEAD = timedelta(days=1)
CATCH_UP_WINDOW = timedelta(minutes=DEFAULT_WINDOW_MINUTES)


@dataclass(frozen=True)
class Window:
    """Reminders that share one delivery window, and the clinics of their patients."""

    start: datetime
    end: datetime
    count: int
    clinics: tuple[tuple[int, int], ...] = ()  # (clinic id, its patients' reminders), by id

    @property
    def length(self) -> timedelta:
        """How long the window stays open."""
        return self.end - self.start

    def of_clinic(self, clinic_id: int) -> int:
        """How many of the window's reminders go to the patients of ``clinic_id``."""
        return dict(self.clinics).get(clinic_id, 0)


@dataclass(frozen=True)
class WindowLoad:
    """A window against the budget: how many it could carry alone, and what the whole
    forecast says happens to it."""

    window: Window
    capacity: int
    finish: datetime
    late: int

    @property
    def fullness(self) -> float:
        """Its reminders over what the budget carries in it alone (1.0 is exactly full)."""
        return self.window.count / self.capacity if self.capacity else math.inf

    @property
    def overflows(self) -> bool:
        """Whether some of its reminders would arrive after the window closes."""
        return self.late > 0

    @property
    def late_by(self) -> timedelta:
        """How long after the window closes its last reminder would go out."""
        return max(self.finish - self.window.end, timedelta(0))


def window_end(
    plans: PlanSource, *, plan_id: str, milestone_id: str, due_at: datetime, expires_at: datetime
) -> datetime:
    """When the window of a reminder closes: its milestone's window after the due time, never
    after it goes stale. A catch-up, or a milestone its plan no longer has, gets the default."""
    window = CATCH_UP_WINDOW
    if catch_up_phase(milestone_id) is None:
        try:
            window = plans(plan_id).milestone(milestone_id).window
        except (KeyError, LookupError, ValueError):
            log.warning("plan %r has no milestone %r: default window", plan_id, milestone_id)
    return min(due_at + window, expires_at)


def windows_of(groups: Iterable[DueGroup], plans: PlanSource) -> list[Window]:
    """The delivery windows the counted reminders fall in, identical windows merged."""
    counts: dict[tuple[datetime, datetime], int] = {}
    clinics: dict[tuple[datetime, datetime], dict[int, int]] = {}
    for group in groups:
        end = window_end(
            plans,
            plan_id=group.plan_id,
            milestone_id=group.milestone_id,
            due_at=group.due_at,
            expires_at=group.expires_at,
        )
        key = (group.due_at, end)
        counts[key] = counts.get(key, 0) + group.count
        owners = clinics.setdefault(key, {})
        if group.clinic_id is not None:
            owners[group.clinic_id] = owners.get(group.clinic_id, 0) + group.count
    return [
        Window(start, end, counts[(start, end)], tuple(sorted(clinics[(start, end)].items())))
        for start, end in sorted(counts)
    ]


def forecast(windows: Iterable[Window], *, rate: float) -> list[WindowLoad]:
    """Send every window's reminders at ``rate`` a second, earliest deadline first, each from
    its opening, and say when each window's last one goes out and how many miss the window.

    A fluid model: it ignores per-chat limits (one patient has at most a couple of reminders
    in a window) and treats the rate as steady, which is what the budget enforces.
    """
    if rate <= 0:
        raise ValueError("the reminders' rate must be positive")
    ordered = sorted(windows, key=lambda w: (w.start, w.end))
    remaining = [float(w.count) for w in ordered]
    finish = [w.start for w in ordered]
    late = [0.0] * len(ordered)
    ready: list[tuple[datetime, int]] = []  # (window end, index): earliest deadline first
    arriving = 0
    now = ordered[0].start if ordered else datetime.min.replace(tzinfo=UTC)
    while arriving < len(ordered) or ready:
        if not ready:
            now = max(now, ordered[arriving].start)
        while arriving < len(ordered) and ordered[arriving].start <= now:
            heapq.heappush(ready, (ordered[arriving].end, arriving))
            arriving += 1
        end, index = ready[0]
        done_at = now + timedelta(seconds=remaining[index] / rate)
        until = done_at
        if arriving < len(ordered) and ordered[arriving].start < done_at:
            until = ordered[arriving].start  # a new window opens: deadlines are looked at again
        after_end = (until - max(end, now)).total_seconds()
        late[index] += max(after_end, 0.0) * rate
        if until == done_at:
            heapq.heappop(ready)
            remaining[index] = 0.0
            finish[index] = done_at
        else:
            remaining[index] -= (until - now).total_seconds() * rate
        now = until
    return [
        WindowLoad(
            window=w,
            capacity=math.floor(w.length.total_seconds() * rate),
            finish=finish[i],
            late=min(math.ceil(late[i] - 1e-6), w.count),
        )
        for i, w in enumerate(ordered)
    ]


def local_day(day: date, zone: str) -> tuple[datetime, datetime]:
    """The UTC instants a local calendar day in ``zone`` starts and ends."""
    tz = load_zone(zone)
    start = to_utc(datetime.combine(day, time(0)), tz)
    end = to_utc(datetime.combine(day + timedelta(days=1), time(0)), tz)
    return start, end


class CapacityService:
    """How full the delivery windows are, and the once-only warning when one will overflow."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        plans: PlanSource,
        rate: float,
        share: float = REMINDER_SHARE,
    ) -> None:
        """``rate`` is the token's budget in messages a second; reminders count on ``share``."""
        self.database = database
        self.clock = clock
        self.plans = plans
        self.rate = rate * share

    async def loads(self, *, start: datetime, end: datetime) -> list[WindowLoad]:
        """The windows opening in ``[start, end)``, with what the forecast says of each
        (windows opening a little earlier are simulated too: they may crowd these)."""
        async with self.database.session() as session:
            groups = await CapacityRepository(session).pending_due(
                start=start - CARRY_OVER, end=end
            )
        loads = forecast(windows_of(groups, self.plans), rate=self.rate)
        return [load for load in loads if start <= load.window.start < end]

    async def day(self, day: date, *, zone: str) -> list[WindowLoad]:
        """The windows opening on a local calendar day in ``zone``."""
        start, end = local_day(day, zone)
        return await self.loads(start=start, end=end)

    async def overflows_to_announce(self) -> list[WindowLoad]:
        """Windows opening within the next day that will overflow and have not been announced
        yet; each is recorded as announced, so however many processes look, one says it."""
        now = self.clock.now()
        loads = [
            load for load in await self.loads(start=now, end=now + WARN_AHEAD) if load.overflows
        ]
        if not loads:
            return []
        fresh: list[WindowLoad] = []
        async with self.database.session() as session:
            repo = CapacityRepository(session)
            for load in loads:
                if await repo.claim_warning(
                    start=load.window.start,
                    end=load.window.end,
                    reminders=load.window.count,
                    capacity=load.capacity,
                    now=now,
                ):
                    fresh.append(load)
            await session.commit()
        for load in fresh:
            log.warning(
                "delivery window %s-%s will overflow: %s reminders, %s fit at %.3g/s; "
                "about %s arrive up to %s min late",
                load.window.start.isoformat(),
                load.window.end.isoformat(),
                load.window.count,
                load.capacity,
                self.rate,
                load.late,
                math.ceil(load.late_by.total_seconds() / 60),
            )
        return fresh
