"""Delivery windows against the Telegram budget: the forecast, and the once-only warning."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from content.plan import CarePlan
from scheduler.care.planning import catch_up_id
from scheduler.clock import FakeClock
from scheduler.outbox.windows import (
    CATCH_UP_WINDOW,
    CapacityService,
    Window,
    forecast,
    local_day,
    windows_of,
)
from storage.capacity import DueGroup
from storage.database import Database
from tests.plans import small_plan
from tests.scheduler.seeding import seed_due

T0 = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # 09:00 in Karachi


def plans(plan_id: str, language: str = "en", /) -> CarePlan:
    """The small test plan, its day-1 morning reminder with a 30-minute window."""
    plan = small_plan()
    milestones = [
        m.model_copy(update={"window_minutes": 30}) if m.id == "day1_morning" else m
        for m in plan.milestones
    ]
    return plan.model_copy(update={"milestones": tuple(milestones)})


def window(start_min: float, length_min: float, count: int) -> Window:
    start = T0 + timedelta(minutes=start_min)
    return Window(start, start + timedelta(minutes=length_min), count)


def test_a_window_the_budget_carries_finishes_early_and_on_time() -> None:
    """20,000 reminders in a 90-minute window at 24/s: out in under 14 minutes, none late."""
    (load,) = forecast([window(0, 90, 20_000)], rate=24)
    assert load.capacity == 129_600
    assert load.late == 0 and not load.overflows
    assert load.finish == T0 + timedelta(seconds=20_000 / 24)
    assert load.fullness == pytest.approx(20_000 / 129_600)


def test_an_overfull_window_says_how_many_are_late_and_by_how_long() -> None:
    """Twice what fits: the second half arrives after the window, the last 90 minutes late."""
    (load,) = forecast([window(0, 90, 2 * 129_600)], rate=24)
    assert load.overflows
    assert load.late == 129_600
    assert load.late_by == timedelta(minutes=90)
    assert load.fullness == pytest.approx(2.0)


def test_the_earlier_deadline_goes_first_when_windows_overlap() -> None:
    """A long window opened first yields to a short one that closes sooner: both fit."""
    long, short = forecast([window(0, 120, 100_000), window(30, 20, 20_000)], rate=24)
    assert short.late == 0
    assert short.finish == T0 + timedelta(minutes=30, seconds=20_000 / 24)
    assert long.late == 0
    assert long.finish == T0 + timedelta(seconds=120_000 / 24)


def _discrete(windows: list[Window], rate: float) -> list[int]:
    """One reminder every 1/rate seconds, earliest deadline first: how many of each window
    go out after it closes."""
    pending = sorted(range(len(windows)), key=lambda i: windows[i].start)
    left = [w.count for w in windows]
    late = [0] * len(windows)
    now = windows[pending[0]].start if pending else T0
    step = timedelta(seconds=1 / rate)
    while any(left):
        ready = [i for i in pending if left[i] and windows[i].start <= now]
        if not ready:
            now = min(windows[i].start for i in pending if left[i])
            continue
        index = min(ready, key=lambda i: windows[i].end)
        now += step
        left[index] -= 1
        if now > windows[index].end:
            late[index] += 1
    return late


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 120), st.integers(5, 90), st.integers(0, 300)
        ),  # start, length (minutes), reminders
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([0.05, 0.1, 0.5]),
)
def test_the_fluid_forecast_matches_sending_one_by_one(
    spec: list[tuple[int, int, int]], rate: float
) -> None:
    """Whatever the windows, the forecast's late counts are those of sending one reminder at a
    time at the rate (to within one: the fluid model rounds where the one-by-one sending steps)."""
    windows = [window(s, length, count) for s, length, count in spec]
    loads = forecast(windows, rate=rate)
    expected = _discrete([load.window for load in loads], rate)
    for load, late in zip(loads, expected, strict=True):
        assert abs(load.late - late) <= 1, (load, late)


def test_windows_come_from_the_plan_never_past_expiry_and_merge() -> None:
    """The milestone's window sets the end; a short expiry cuts it; catch-ups get the default;
    identical windows of several clinics merge into one."""
    expires = T0 + timedelta(hours=10)
    groups = [
        DueGroup("small", "day1_morning", T0, expires, 1, 5),
        DueGroup("small", "day1_morning", T0, expires, 2, 7),
        DueGroup("small", "day1_morning", T0, expires, None, 1),
        DueGroup("small", "day3_peeling", T0, T0 + timedelta(minutes=20), 1, 3),
        DueGroup("small", catch_up_id("first_48h"), T0, T0 + timedelta(hours=12), None, 2),
        DueGroup("small", "gone_milestone", T0, T0 + timedelta(hours=12), 3, 4),
    ]
    found = {(w.start, w.end): w for w in windows_of(groups, plans)}
    thirty = found[(T0, T0 + timedelta(minutes=30))]
    assert thirty.count == 13 and thirty.clinics == ((1, 5), (2, 7))
    assert thirty.of_clinic(2) == 7 and thirty.of_clinic(9) == 0
    assert found[(T0, T0 + timedelta(minutes=20))].count == 3
    default = found[(T0, T0 + CATCH_UP_WINDOW)]
    assert default.count == 6 and default.clinics == ((3, 4),)


def test_a_window_may_not_outlast_an_explicit_expiry() -> None:
    """A plan that sets a window longer than the reminder stays fresh is refused at load."""
    plan = small_plan()
    data = plan.model_dump(mode="json")
    data["milestones"][2]["window_minutes"] = 24 * 60
    with pytest.raises(ValueError, match="window_minutes"):
        CarePlan.model_validate(data)


def test_a_local_day_is_its_own_midnight_to_midnight() -> None:
    start, end = local_day(T0.date(), "Asia/Karachi")
    assert start == datetime(2026, 11, 30, 19, tzinfo=UTC)
    assert end - start == timedelta(days=1)


async def test_the_forecast_reads_pending_reminders_and_warns_once(database: Database) -> None:
    """100 reminders due together where 72 fit: one overflow, announced once however many
    services look; a window more than a day ahead is not announced yet."""
    await seed_due(
        database,
        patients=100,
        per_patient=1,
        due_at=T0,
        valid_for=timedelta(hours=10),
        milestones=("day1_morning",),
    )
    await seed_due(
        database,
        patients=100,
        per_patient=1,
        due_at=T0 + timedelta(days=2),
        valid_for=timedelta(hours=10),
        milestones=("day1_morning",),
        first_chat_id=50_000,
    )
    clock = FakeClock(T0 - timedelta(hours=20))
    rate = 0.05 / 0.8  # reminders get 0.05 a second: 90 in a 30-minute window
    service = CapacityService(database=database, clock=clock, plans=plans, rate=rate)

    (load,) = await service.loads(start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
    assert load.window.count == 100 and load.capacity == 90
    assert load.late == 10
    assert load.finish == T0 + timedelta(seconds=100 / 0.05)

    announced = await service.overflows_to_announce()
    assert [a.window.start for a in announced] == [T0]
    other = CapacityService(database=database, clock=clock, plans=plans, rate=rate)
    assert await other.overflows_to_announce() == []
    clock.advance(timedelta(days=2))  # now the second window is within a day
    (later,) = await other.overflows_to_announce()
    assert later.window.start == T0 + timedelta(days=2)
    assert await service.overflows_to_announce() == []


async def test_a_window_that_fits_is_never_announced(database: Database) -> None:
    await seed_due(
        database,
        patients=50,
        per_patient=1,
        due_at=T0,
        valid_for=timedelta(hours=10),
        milestones=("day1_morning",),
    )
    clock = FakeClock(T0 - timedelta(hours=2))
    service = CapacityService(database=database, clock=clock, plans=plans, rate=30)
    (load,) = await service.loads(start=T0, end=T0 + timedelta(minutes=1))
    assert math.isclose(load.fullness, 50 / load.capacity)
    assert await service.overflows_to_announce() == []
