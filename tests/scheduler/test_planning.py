"""Planning: care-plan milestones placed in UTC across time zones, DST and quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from content.plan import CarePlan
from scheduler.care.planning import (
    CATCH_UP_VALIDITY,
    PlannedReminder,
    PlanState,
    QuietHours,
    SessionDateError,
    UnknownTimeZoneError,
    check_session_date,
    load_zone,
    plan_catch_up,
    plan_reminders,
    to_utc,
)
from tests.plans import small_plan

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
OFF = QuietHours.parse("off")
NIGHT = QuietHours.parse("21:00-08:00")

TRICKY_ZONES = (
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
    "Africa/Casablanca",
    "Asia/Tehran",
    "Pacific/Apia",
    "Europe/Dublin",
    "UTC",
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def milestone(
    milestone_id: str,
    *,
    days: int = 0,
    hours: int = 0,
    at: str = "09:00",
    expires: dict[str, int] | None = None,
    phase: str = "later",
    series_max: int | None = None,
) -> dict[str, Any]:
    """The raw data of one milestone, for CarePlan.model_validate via small_plan."""
    data: dict[str, Any] = {
        "id": milestone_id,
        "phase": phase,
        "offset": {"days": days, "hours": hours},
        "at": at,
        "expires_after": expires or {"hours": 12},
        "text": f"text of {milestone_id}",
    }
    if series_max is not None:
        data["series_max"] = series_max
    return data


def plan_of(*milestones: dict[str, Any]) -> CarePlan:
    """The small test plan with these milestones instead of its own."""
    return small_plan(milestones=list(milestones))


def plan_one(
    plan: CarePlan,
    *,
    session_date: date,
    tz: ZoneInfo,
    quiet_hours: QuietHours = OFF,
    now: datetime | None = None,
    session_number: int = 1,
) -> list[PlannedReminder]:
    """plan_reminders with a ``now`` far in the past unless given."""
    return plan_reminders(
        session_date=session_date,
        tz=tz,
        plan=plan,
        quiet_hours=quiet_hours,
        now=now or utc(2000, 1, 1),
        session_number=session_number,
    )


def only(planned: list[PlannedReminder]) -> PlannedReminder:
    """The single reminder of a one-milestone plan."""
    assert len(planned) == 1
    return planned[0]


def wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock time of an instant in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def first_occurrence(local: datetime, tz: ZoneInfo) -> datetime | None:
    """The earliest UTC instant whose wall clock in ``tz`` reads ``local``; None in a gap."""
    found = []
    for fold in (0, 1):
        instant = local.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if wall(instant, tz) == local:
            found.append(instant)
    return min(found, default=None)


def gap_at(local: datetime, tz: ZoneInfo) -> timedelta:
    """How far clocks jump forward at a wall time that falls in a DST gap."""
    after = local.replace(tzinfo=tz, fold=1).utcoffset()
    before = local.replace(tzinfo=tz, fold=0).utcoffset()
    assert after is not None and before is not None
    return after - before


def shows(shown: datetime, intended: datetime, tz: ZoneInfo) -> bool:
    """Whether wall time ``shown`` is ``intended`` itself, or it pushed forward past a gap."""
    if first_occurrence(intended, tz) is not None:
        return shown == intended
    return intended < shown <= intended + gap_at(intended, tz)


def is_utc(instant: datetime) -> bool:
    """Whether an instant is aware and in UTC."""
    return instant.tzinfo is not None and instant.utcoffset() == timedelta(0)


# --- 09:00 stays 09:00 local across DST ------------------------------------------------------

DAILY_NINE = plan_of(*(milestone(f"day{n}", days=n, at="09:00") for n in range(5)))


@pytest.mark.parametrize(
    ("zone", "session_date", "utc_hours"),
    [
        pytest.param(LONDON, date(2026, 3, 27), [9, 9, 8, 8, 8], id="london-spring-forward"),
        pytest.param(LONDON, date(2026, 10, 23), [8, 8, 9, 9, 9], id="london-fall-back"),
        pytest.param(NEW_YORK, date(2026, 3, 6), [14, 14, 13, 13, 13], id="new-york-spring"),
        pytest.param(NEW_YORK, date(2026, 10, 30), [13, 13, 14, 14, 14], id="new-york-fall"),
    ],
)
def test_nine_am_stays_nine_am_local_across_dst(
    zone: ZoneInfo, session_date: date, utc_hours: list[int]
) -> None:
    """Daily 09:00 milestones stay at 09:00 local while their UTC hour shifts with DST."""
    planned = plan_one(DAILY_NINE, session_date=session_date, tz=zone)

    assert [p.milestone_id for p in planned] == [f"day{n}" for n in range(5)]
    for n, reminder in enumerate(planned):
        local = reminder.due_at.astimezone(zone)
        assert local.date() == session_date + timedelta(days=n)
        assert local.time() == time(9, 0)
        assert reminder.due_at.tzinfo is UTC
        assert reminder.due_at.hour == utc_hours[n]
        assert reminder.due_at.date() == session_date + timedelta(days=n)
    offsets = {p.due_at.astimezone(zone).utcoffset() for p in planned}
    assert len(offsets) == 2


@pytest.mark.parametrize(
    ("zone_name", "expected"),
    [
        ("Asia/Kolkata", utc(2026, 3, 29, 3, 30)),
        ("Asia/Kathmandu", utc(2026, 3, 29, 3, 15)),
        ("America/St_Johns", utc(2026, 3, 29, 11, 30)),
        ("UTC", utc(2026, 3, 29, 9, 0)),
    ],
)
def test_nine_am_in_fractional_offset_zones(zone_name: str, expected: datetime) -> None:
    """09:00 local in a half- or quarter-hour zone is the exact UTC instant."""
    tz = ZoneInfo(zone_name)
    reminder = only(plan_one(plan_of(milestone("m")), session_date=date(2026, 3, 29), tz=tz))

    assert reminder.due_at == expected
    assert wall(reminder.due_at, tz) == datetime(2026, 3, 29, 9, 0)


def test_offset_hours_add_wall_clock_hours_across_spring_forward() -> None:
    """An offset of hours is wall-clock time: 22:00 plus 12 hours over the gap is 10:00."""
    plan = plan_of(milestone("m", days=0, hours=12, at="22:00", expires={"hours": 2}))

    reminder = only(plan_one(plan, session_date=date(2026, 3, 28), tz=LONDON))

    assert wall(reminder.due_at, LONDON) == datetime(2026, 3, 29, 10, 0)
    assert reminder.due_at == utc(2026, 3, 29, 9, 0)
    assert reminder.expires_at == utc(2026, 3, 29, 11, 0)


# --- DST gaps and overlaps --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected_utc", "expected_local", "tzname"),
    [
        pytest.param(
            LONDON,
            date(2026, 3, 29),
            "01:30",
            utc(2026, 3, 29, 1, 30),
            datetime(2026, 3, 29, 2, 30),
            "BST",
            id="london-gap",
        ),
        pytest.param(
            NEW_YORK,
            date(2026, 3, 8),
            "02:30",
            utc(2026, 3, 8, 7, 30),
            datetime(2026, 3, 8, 3, 30),
            "EDT",
            id="new-york-gap",
        ),
        pytest.param(
            ZoneInfo("Australia/Lord_Howe"),
            date(2026, 10, 4),
            "02:15",
            utc(2026, 10, 3, 15, 45),
            datetime(2026, 10, 4, 2, 45),
            "+11",
            id="lord-howe-30-minute-gap",
        ),
        pytest.param(
            NEW_YORK,
            date(2026, 11, 1),
            "01:30",
            utc(2026, 11, 1, 5, 30),
            datetime(2026, 11, 1, 1, 30),
            "EDT",
            id="new-york-overlap-first",
        ),
        pytest.param(
            LONDON,
            date(2026, 10, 25),
            "01:30",
            utc(2026, 10, 25, 0, 30),
            datetime(2026, 10, 25, 1, 30),
            "BST",
            id="london-overlap-first",
        ),
    ],
)
def test_gap_moves_forward_and_overlap_takes_first(
    zone: ZoneInfo,
    day: date,
    at: str,
    expected_utc: datetime,
    expected_local: datetime,
    tzname: str,
) -> None:
    """A time in a DST gap moves forward past it; an ambiguous time is its first occurrence."""
    reminder = only(plan_one(plan_of(milestone("m", at=at)), session_date=day, tz=zone))

    assert reminder.due_at == expected_utc
    local = reminder.due_at.astimezone(zone)
    assert local.replace(tzinfo=None) == expected_local
    assert local.tzname() == tzname
    assert reminder.state is PlanState.AHEAD


def test_to_utc_gap_and_overlap_directly() -> None:
    """to_utc resolves a gap forward and an overlap to the earlier instant."""
    assert to_utc(datetime(2026, 3, 8, 2, 30), NEW_YORK) == utc(2026, 3, 8, 7, 30)
    assert to_utc(datetime(2026, 11, 1, 1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert to_utc(datetime(2026, 11, 1, 1, 30, fold=1), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert to_utc(datetime(2026, 6, 1, 12, 0), NEW_YORK) == utc(2026, 6, 1, 16, 0)
    assert to_utc(datetime(2026, 6, 1, 12, 0), NEW_YORK).tzinfo is UTC


def test_expiry_is_wall_clock_time_after_a_gap() -> None:
    """Expiry is counted on the wall clock: 02:30 plus 2 hours on spring-forward day is 04:30."""
    plan = plan_of(milestone("m", at="02:30", expires={"hours": 2}))

    reminder = only(plan_one(plan, session_date=date(2026, 3, 8), tz=NEW_YORK))

    assert reminder.due_at == utc(2026, 3, 8, 7, 30)
    assert reminder.expires_at == utc(2026, 3, 8, 8, 30)
    assert wall(reminder.expires_at, NEW_YORK) == datetime(2026, 3, 8, 4, 30)
    assert reminder.state is PlanState.AHEAD


def test_expiry_across_fall_back_is_wall_clock_time() -> None:
    """A one-day expiry over the fall-back night lasts 25 real hours, to the same wall time."""
    plan = plan_of(milestone("m", at="09:00", expires={"days": 1}))

    reminder = only(plan_one(plan, session_date=date(2026, 10, 31), tz=NEW_YORK))

    assert reminder.due_at == utc(2026, 10, 31, 13, 0)
    assert reminder.expires_at == utc(2026, 11, 1, 14, 0)
    assert reminder.expires_at - reminder.due_at == timedelta(hours=25)


# --- quiet hours ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (time(20, 59), False),
        (time(21, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(7, 59, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_wrapping_quiet_hours_contain(moment: time, quiet: bool) -> None:
    """21:00-08:00 wraps midnight: the start is quiet, the end is not."""
    assert NIGHT.start == time(21, 0)
    assert NIGHT.end == time(8, 0)
    assert NIGHT.contains(moment) is quiet


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (time(12, 59), False),
        (time(13, 0), True),
        (time(14, 59), True),
        (time(15, 0), False),
        (time(22, 0), False),
        (time(3, 0), False),
    ],
)
def test_daytime_quiet_hours_contain(moment: time, quiet: bool) -> None:
    """13:00-15:00 does not wrap: only the afternoon is quiet."""
    assert QuietHours.parse("13:00-15:00").contains(moment) is quiet


@pytest.mark.parametrize("text", ["off", "OFF", " none ", "", "08:00-08:00"])
def test_quiet_hours_off(text: str) -> None:
    """'off', 'none', empty and equal ends mean no quiet time at all."""
    quiet = QuietHours.parse(text)

    assert str(quiet) == "off"
    assert quiet.start == quiet.end
    for hour in range(24):
        assert not quiet.contains(time(hour, 0))
        assert not quiet.contains(time(hour, 30))


@pytest.mark.parametrize(
    "text", ["21-8", "25:00-08:00", "abc", "21:00-08:60", "21:00", "21:00-08:00-09:00", "9pm-8am"]
)
def test_quiet_hours_parse_refuses_garbage(text: str) -> None:
    """A span that is not HH:MM-HH:MM raises ValueError."""
    with pytest.raises(ValueError):
        QuietHours.parse(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21:00-08:00", "21:00-08:00"),
        ("13:00-15:00", "13:00-15:00"),
        ("9:00-10:30", "09:00-10:30"),
        ("22:15 – 06:45", "22:15-06:45"),
        ("off", "off"),
    ],
)
def test_quiet_hours_str_round_trips(text: str, expected: str) -> None:
    """str() writes the canonical span, and parsing it gives the same QuietHours back."""
    quiet = QuietHours.parse(text)

    assert str(quiet) == expected
    assert QuietHours.parse(str(quiet)) == quiet


def test_evening_milestone_moves_to_quiet_end_next_morning() -> None:
    """A 22:00 milestone under 21:00-08:00 is sent at 08:00 local the next day."""
    plan = plan_of(milestone("m", at="22:00", expires={"hours": 14}))

    reminder = only(plan_one(plan, session_date=date(2026, 6, 10), tz=LONDON, quiet_hours=NIGHT))

    assert wall(reminder.due_at, LONDON) == datetime(2026, 6, 11, 8, 0)
    assert reminder.due_at == utc(2026, 6, 11, 7, 0)
    assert reminder.expires_at == utc(2026, 6, 11, 11, 0)
    assert reminder.state is PlanState.AHEAD


def test_early_morning_milestone_moves_to_quiet_end_same_day() -> None:
    """A 06:00 milestone under 21:00-08:00 is sent at 08:00 the same day."""
    plan = plan_of(milestone("m", at="06:00"))

    reminder = only(plan_one(plan, session_date=date(2026, 6, 10), tz=KOLKATA, quiet_hours=NIGHT))

    assert wall(reminder.due_at, KOLKATA) == datetime(2026, 6, 10, 8, 0)
    assert reminder.due_at == utc(2026, 6, 10, 2, 30)


def test_daytime_quiet_hours_move_to_their_end() -> None:
    """A 14:00 milestone under 13:00-15:00 is sent at 15:00 the same day."""
    plan = plan_of(milestone("m", at="14:00"))

    reminder = only(
        plan_one(
            plan,
            session_date=date(2026, 1, 15),
            tz=NEW_YORK,
            quiet_hours=QuietHours.parse("13:00-15:00"),
        )
    )

    assert reminder.due_at == utc(2026, 1, 15, 20, 0)
    assert wall(reminder.due_at, NEW_YORK) == datetime(2026, 1, 15, 15, 0)


@pytest.mark.parametrize(
    ("at", "expected_local"),
    [
        ("21:00", datetime(2026, 6, 11, 8, 0)),
        ("20:59", datetime(2026, 6, 10, 20, 59)),
        ("08:00", datetime(2026, 6, 10, 8, 0)),
        ("07:59", datetime(2026, 6, 10, 8, 0)),
    ],
)
def test_quiet_hours_edges(at: str, expected_local: datetime) -> None:
    """The quiet start moves a milestone, the quiet end does not."""
    plan = plan_of(milestone("m", at=at, expires={"hours": 20}))

    reminder = only(plan_one(plan, session_date=date(2026, 6, 10), tz=LONDON, quiet_hours=NIGHT))

    assert wall(reminder.due_at, LONDON) == expected_local


@pytest.mark.parametrize(
    ("expires_hours", "state"),
    [(6, PlanState.DROPPED), (10, PlanState.DROPPED), (11, PlanState.AHEAD)],
)
def test_milestone_expiring_before_quiet_end_is_dropped(
    expires_hours: int, state: PlanState
) -> None:
    """22:00 deferred to 08:00 is dropped if it expires by 08:00, kept if later."""
    plan = plan_of(milestone("m", at="22:00", expires={"hours": expires_hours}))

    reminder = only(plan_one(plan, session_date=date(2026, 6, 10), tz=LONDON, quiet_hours=NIGHT))

    assert reminder.state is state
    assert reminder.due_at == utc(2026, 6, 11, 7, 0)
    assert reminder.expires_at == utc(2026, 6, 10, 21, 0) + timedelta(hours=expires_hours)


def test_dropped_even_when_far_in_the_past() -> None:
    """DROPPED wins over MISSED: a reminder that could never be sent is not a missed one."""
    plan = plan_of(milestone("m", at="23:00", expires={"hours": 2}))
    now = utc(2026, 7, 1)

    reminder = only(
        plan_one(plan, session_date=date(2026, 6, 10), tz=LONDON, quiet_hours=NIGHT, now=now)
    )

    assert reminder.state is PlanState.DROPPED


def test_quiet_end_across_spring_forward_is_local_eight() -> None:
    """23:00 on the night clocks go forward is deferred to 08:00 BST, which is 07:00 UTC."""
    plan = plan_of(milestone("m", at="23:00", expires={"hours": 12}))

    reminder = only(plan_one(plan, session_date=date(2026, 3, 28), tz=LONDON, quiet_hours=NIGHT))

    assert reminder.due_at == utc(2026, 3, 29, 7, 0)
    assert wall(reminder.due_at, LONDON) == datetime(2026, 3, 29, 8, 0)
    assert reminder.expires_at == utc(2026, 3, 29, 10, 0)


def test_gap_time_that_lands_in_quiet_hours_is_deferred() -> None:
    """02:30 on spring-forward day becomes 03:30, which is quiet, so it moves to 08:00."""
    plan = plan_of(milestone("m", at="02:30"))

    reminder = only(plan_one(plan, session_date=date(2026, 3, 8), tz=NEW_YORK, quiet_hours=NIGHT))

    assert reminder.due_at == utc(2026, 3, 8, 12, 0)
    assert wall(reminder.due_at, NEW_YORK) == datetime(2026, 3, 8, 8, 0)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(utc(2026, 11, 1, 5, 15), utc(2026, 11, 1, 5, 30), id="first-pass-edt"),
        pytest.param(utc(2026, 11, 1, 6, 15), utc(2026, 11, 1, 6, 30), id="second-pass-est"),
    ],
)
def test_defer_in_the_repeated_hour_never_goes_back_in_time(
    now: datetime, expected: datetime
) -> None:
    """Quiet until 01:30 on fall-back night: 01:15 EST waits for 01:30 EST, not 01:30 EDT."""
    quiet = QuietHours.parse("00:00-01:30")

    deferred = quiet.defer(now, NEW_YORK)

    assert deferred == expected
    assert wall(deferred, NEW_YORK) == datetime(2026, 11, 1, 1, 30)
    assert deferred > now


def test_catch_up_in_the_repeated_hour_is_not_due_in_the_past() -> None:
    """A catch-up registered at 01:15 EST inside quiet hours is due at 01:30 EST."""
    now = utc(2026, 11, 1, 6, 15)

    catch_up = catch_up_for(
        date(2026, 10, 29), now, tz=NEW_YORK, quiet_hours=QuietHours.parse("22:00-01:30")
    )

    assert catch_up is not None
    assert catch_up.due_at == utc(2026, 11, 1, 6, 30)
    assert catch_up.expires_at == utc(2026, 11, 1, 18, 30)


def test_defer_leaves_an_instant_outside_quiet_hours_alone() -> None:
    """defer returns the instant unchanged outside quiet hours, the quiet end inside them."""
    noon = utc(2026, 6, 10, 11, 0)
    late = utc(2026, 6, 10, 22, 0)

    assert NIGHT.defer(noon, LONDON) == noon
    assert NIGHT.defer(late, LONDON) == utc(2026, 6, 11, 7, 0)
    assert OFF.defer(late, LONDON) == late


# --- MISSED, AHEAD, series and order ----------------------------------------------------------


def test_missed_and_ahead_relative_to_now() -> None:
    """Milestones due before now are MISSED, the rest AHEAD, each at its exact UTC instant."""
    planned = plan_reminders(
        session_date=date(2026, 5, 10),
        tz=LONDON,
        plan=small_plan(),
        quiet_hours=NIGHT,
        now=utc(2026, 5, 11, 12, 0),
    )

    assert [(p.milestone_id, p.phase_id, p.due_at, p.state) for p in planned] == [
        ("evening_before", "prep", utc(2026, 5, 9, 18, 0), PlanState.MISSED),
        ("day0_evening", "first_48h", utc(2026, 5, 10, 17, 0), PlanState.MISSED),
        ("day1_morning", "first_48h", utc(2026, 5, 11, 8, 0), PlanState.MISSED),
        ("day3_peeling", "first_week", utc(2026, 5, 13, 8, 0), PlanState.AHEAD),
        ("day28_book", "later", utc(2026, 6, 7, 9, 0), PlanState.AHEAD),
    ]
    assert [p.expires_at for p in planned] == [
        utc(2026, 5, 10, 6, 0),
        utc(2026, 5, 11, 7, 0),
        utc(2026, 5, 11, 18, 0),
        utc(2026, 5, 13, 20, 0),
        utc(2026, 6, 14, 9, 0),
    ]


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (utc(2026, 5, 11, 8, 0), PlanState.AHEAD),
        (utc(2026, 5, 11, 8, 0, 0, 1), PlanState.MISSED),
        (utc(2026, 5, 11, 7, 59, 59), PlanState.AHEAD),
    ],
)
def test_due_exactly_now_is_ahead(now: datetime, state: PlanState) -> None:
    """A reminder due exactly now is AHEAD; a microsecond later it is MISSED."""
    plan = plan_of(milestone("m", days=1, at="09:00"))

    reminder = only(plan_one(plan, session_date=date(2026, 5, 10), tz=LONDON, now=now))

    assert reminder.due_at == utc(2026, 5, 11, 8, 0)
    assert reminder.state is state


@pytest.mark.parametrize(
    ("session_number", "has_booking"), [(1, True), (5, True), (6, False), (9, False)]
)
def test_series_max_filters_by_session_number(session_number: int, has_booking: bool) -> None:
    """day28_book (series_max 5) is planned for sessions up to 5 only."""
    planned = plan_one(
        small_plan(), session_date=date(2026, 5, 10), tz=LONDON, session_number=session_number
    )

    ids = [p.milestone_id for p in planned]
    assert ("day28_book" in ids) is has_booking
    assert len(ids) == (5 if has_booking else 4)
    assert ids[:4] == ["evening_before", "day0_evening", "day1_morning", "day3_peeling"]


def test_output_sorted_by_due_then_id() -> None:
    """Reminders come out in due order, ties by id, whatever the plan's own order."""
    plan = plan_of(
        milestone("z_late", days=2, at="12:00"),
        milestone("b_tie", days=1, at="23:00"),
        milestone("a_tie", days=1, at="22:00"),
        milestone("morning", days=2, at="08:30"),
        milestone("first", days=0, at="10:00"),
    )

    planned = plan_one(plan, session_date=date(2026, 6, 10), tz=LONDON, quiet_hours=NIGHT)

    assert [p.milestone_id for p in planned] == ["first", "a_tie", "b_tie", "morning", "z_late"]
    assert [wall(p.due_at, LONDON) for p in planned] == [
        datetime(2026, 6, 10, 10, 0),
        datetime(2026, 6, 12, 8, 0),
        datetime(2026, 6, 12, 8, 0),
        datetime(2026, 6, 12, 8, 30),
        datetime(2026, 6, 12, 12, 0),
    ]


# --- catch-up ---------------------------------------------------------------------------------


def catch_up_for(
    session_date: date,
    now: datetime,
    *,
    tz: ZoneInfo = LONDON,
    quiet_hours: QuietHours = NIGHT,
    plan: CarePlan | None = None,
) -> PlannedReminder | None:
    """Plan the reminders, then the catch-up, as a registration does."""
    plan = plan or small_plan()
    planned = plan_reminders(
        session_date=session_date, tz=tz, plan=plan, quiet_hours=quiet_hours, now=now
    )
    return plan_catch_up(
        session_date=session_date,
        tz=tz,
        plan=plan,
        quiet_hours=quiet_hours,
        now=now,
        planned=planned,
    )


def test_catch_up_for_session_three_days_ago() -> None:
    """A session 3 days ago gets one first-week catch-up due now, valid 12 hours."""
    now = utc(2026, 5, 13, 12, 0)

    catch_up = catch_up_for(date(2026, 5, 10), now)

    assert catch_up == PlannedReminder(
        "catch_up_first_week",
        "first_week",
        now,
        utc(2026, 5, 14, 0, 0),
        PlanState.AHEAD,
    )
    assert CATCH_UP_VALIDITY == timedelta(hours=12)


def test_catch_up_in_quiet_hours_waits_for_quiet_end() -> None:
    """Registered at 22:30 local, the catch-up is due at 08:00 next morning."""
    now = utc(2026, 5, 13, 21, 30)

    catch_up = catch_up_for(date(2026, 5, 10), now)

    assert catch_up is not None
    assert catch_up.milestone_id == "catch_up_first_week"
    assert catch_up.due_at == utc(2026, 5, 14, 7, 0)
    assert wall(catch_up.due_at, LONDON) == datetime(2026, 5, 14, 8, 0)
    assert catch_up.expires_at == utc(2026, 5, 14, 19, 0)
    assert catch_up.state is PlanState.AHEAD


def test_catch_up_phase_uses_the_patients_date() -> None:
    """At 23:30 UTC it is day 2 in Kolkata but still day 1 in New York: phases differ."""
    now = utc(2026, 5, 11, 23, 30)

    catch_up = catch_up_for(date(2026, 5, 10), now, tz=KOLKATA, quiet_hours=OFF)
    in_new_york = catch_up_for(date(2026, 5, 10), now, tz=NEW_YORK, quiet_hours=OFF)

    assert catch_up is not None and in_new_york is not None
    assert catch_up.milestone_id == "catch_up_first_week"
    assert in_new_york.milestone_id == "catch_up_first_48h"
    assert catch_up.due_at == now


@pytest.mark.parametrize(
    ("session_date", "now", "phase"),
    [
        (date(2026, 5, 10), utc(2026, 5, 10, 19, 0), "first_48h"),
        (date(2026, 5, 10), utc(2026, 5, 11, 12, 0), "first_48h"),
        (date(2026, 5, 10), utc(2026, 5, 12, 12, 0), "first_week"),
        (date(2026, 5, 10), utc(2026, 5, 16, 12, 0), "first_week"),
        (date(2026, 5, 10), utc(2026, 5, 17, 12, 0), "later"),
        (date(2026, 1, 10), utc(2026, 5, 17, 12, 0), "later"),
    ],
)
def test_catch_up_phase_follows_day_of_healing(
    session_date: date, now: datetime, phase: str
) -> None:
    """The catch-up names the phase of today's day of healing."""
    catch_up = catch_up_for(session_date, now)

    assert catch_up is not None
    assert catch_up.milestone_id == f"catch_up_{phase}"
    assert catch_up.phase_id == phase


def test_no_catch_up_for_a_future_session_even_with_a_missed_reminder() -> None:
    """The evening-before reminder can be missed for tomorrow's session; no catch-up yet."""
    session_date = date(2026, 5, 14)
    now = utc(2026, 5, 13, 19, 0)
    planned = plan_reminders(
        session_date=session_date, tz=LONDON, plan=small_plan(), quiet_hours=NIGHT, now=now
    )

    assert planned[0].milestone_id == "evening_before"
    assert planned[0].state is PlanState.MISSED
    assert catch_up_for(session_date, now) is None


def test_no_catch_up_for_a_session_far_ahead() -> None:
    """A session next month has nothing missed and no catch-up."""
    assert catch_up_for(date(2026, 6, 20), utc(2026, 5, 13, 12, 0)) is None


def test_no_catch_up_when_only_the_preparation_tip_was_missed() -> None:
    """Registering on the session day, after the evening-before tip: the confirmation already
    says what to expect today, so there is nothing of the healing to catch up on."""
    assert catch_up_for(date(2026, 5, 10), utc(2026, 5, 10, 9, 0)) is None


def test_catch_up_the_day_after_when_the_first_evening_was_missed() -> None:
    """Registered the day after: the day-0 evening advice was missed, one catch-up comes."""
    catch_up = catch_up_for(date(2026, 5, 10), utc(2026, 5, 11, 9, 0))

    assert catch_up is not None
    assert catch_up.milestone_id == "catch_up_first_48h"


def test_no_catch_up_when_nothing_was_missed() -> None:
    """A session today with every milestone still ahead needs no catch-up."""
    plan = plan_of(
        milestone("day0_evening", days=0, at="18:00", phase="first_48h"),
        milestone("day3", days=3, at="09:00", phase="first_week"),
    )
    now = utc(2026, 5, 10, 9, 0)

    assert catch_up_for(date(2026, 5, 10), now, plan=plan) is None
    assert catch_up_for(date(2026, 5, 10), utc(2026, 5, 10, 17, 1), plan=plan) is not None


def test_dropped_reminders_do_not_trigger_a_catch_up() -> None:
    """Only MISSED counts: a list of DROPPED and AHEAD reminders gives no catch-up."""
    now = utc(2026, 5, 13, 12, 0)
    planned = [
        PlannedReminder("a", "first_48h", utc(2026, 5, 11), utc(2026, 5, 10), PlanState.DROPPED),
        PlannedReminder("b", "later", utc(2026, 6, 1), utc(2026, 6, 2), PlanState.AHEAD),
    ]

    result = plan_catch_up(
        session_date=date(2026, 5, 10),
        tz=LONDON,
        plan=small_plan(),
        quiet_hours=NIGHT,
        now=now,
        planned=planned,
    )

    assert result is None


# --- session dates and zones ------------------------------------------------------------------

TODAY = date(2026, 5, 13)


@pytest.mark.parametrize("days", [0, 1, 89, 90, -1, -365, -729, -730])
def test_session_dates_within_range_are_accepted(days: int) -> None:
    """From two years (730 days) back to 90 days ahead, a date is accepted."""
    check_session_date(TODAY + timedelta(days=days), today=TODAY)


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (91, "2026-08-12 is more than 90 days ahead"),
        (400, "2027-06-17 is more than 90 days ahead"),
        (-731, "2024-05-12 is more than two years back"),
        (-2000, "2020-11-20 is more than two years back"),
    ],
)
def test_session_dates_out_of_range_are_refused(days: int, message: str) -> None:
    """91 days ahead or 731 days back raises SessionDateError with a readable message."""
    with pytest.raises(SessionDateError) as caught:
        check_session_date(TODAY + timedelta(days=days), today=TODAY)

    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "Europe/Londn"])
def test_load_zone_refuses_unknown_names(name: str) -> None:
    """A name the IANA database does not know raises UnknownTimeZoneError."""
    with pytest.raises(UnknownTimeZoneError, match="unknown time zone"):
        load_zone(name)


def test_load_zone_returns_the_zone() -> None:
    """A known name gives the ZoneInfo of that key."""
    zone = load_zone("Asia/Kathmandu")

    assert zone.key == "Asia/Kathmandu"
    assert datetime(2026, 1, 1, tzinfo=zone).utcoffset() == timedelta(hours=5, minutes=45)


# --- properties -------------------------------------------------------------------------------


@cache
def transition_dates(zone_name: str) -> tuple[date, ...]:
    """Local dates in 2025-2028 on which the UTC offset of ``zone_name`` changes."""
    tz = ZoneInfo(zone_name)
    found = []
    day = date(2025, 1, 1)
    while day.year < 2029:
        start = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
        end = datetime.combine(day, time(23, 59), tzinfo=tz).utcoffset()
        if start != end:
            found.append(day)
        day += timedelta(days=1)
    return tuple(found)


@cache
def change_instant(zone_name: str, day: date) -> datetime:
    """The UTC instant at which the offset of ``zone_name`` changes on local date ``day``."""
    tz = ZoneInfo(zone_name)
    instant = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(hours=16)
    before = instant.astimezone(tz).utcoffset()
    while instant.astimezone(tz).utcoffset() == before:
        instant += timedelta(minutes=15)
    return instant


@cache
def tricky_times(zone_name: str, day: date) -> tuple[time, ...]:
    """Quarter hours of ``day`` in a DST gap or overlap, with one on either side."""
    tz = ZoneInfo(zone_name)
    walls = [datetime.combine(day, time(0)) + timedelta(minutes=15 * q) for q in range(96)]
    tricky = {
        q
        for q, local in enumerate(walls)
        if first_occurrence(local, tz) is None
        or local.replace(tzinfo=tz, fold=0).utcoffset()
        != local.replace(tzinfo=tz, fold=1).utcoffset()
    }
    near = {n for q in tricky for n in (q - 1, q, q + 1) if 0 <= n < 96}
    return tuple(walls[q].time() for q in sorted(near))


def test_transition_dates_find_the_known_changes() -> None:
    """The helper that steers the property tests finds London's and Lord Howe's 2026 changes."""
    assert date(2026, 3, 29) in transition_dates("Europe/London")
    assert date(2026, 10, 25) in transition_dates("Europe/London")
    assert date(2026, 10, 4) in transition_dates("Australia/Lord_Howe")
    assert len(transition_dates("Europe/London")) == 8
    assert transition_dates("Asia/Kolkata") == ()
    assert change_instant("Europe/London", date(2026, 10, 25)) == utc(2026, 10, 25, 1, 0)
    assert change_instant("Pacific/Chatham", date(2026, 4, 5)) == utc(2026, 4, 4, 14, 0)
    assert tricky_times("Europe/London", date(2026, 3, 29)) == (
        time(0, 45),
        time(1, 0),
        time(1, 15),
        time(1, 30),
        time(1, 45),
        time(2, 0),
    )


quarter_hours = st.builds(
    time, st.integers(min_value=0, max_value=23), st.sampled_from([0, 15, 30, 45])
)


@st.composite
def quiet_spans(draw: st.DrawFn, hot_times: tuple[time, ...]) -> QuietHours:
    """Off, the usual night, any quarter-hour span, or one ending in a DST gap or overlap."""
    ends = st.sampled_from(hot_times) if hot_times else quarter_hours
    return draw(
        st.one_of(
            st.just(OFF),
            st.just(NIGHT),
            st.builds(QuietHours, quarter_hours, quarter_hours),
            st.builds(QuietHours, quarter_hours, ends),
        )
    )


@st.composite
def milestone_lists(
    draw: st.DrawFn, hot_day: int | None, hot_times: tuple[time, ...]
) -> list[dict[str, Any]]:
    """One to six milestones with offsets and expiries of any size.

    With ``hot_day`` (the day of a DST change, counted from the session) many of them fall on
    that day at ``hot_times``, in and around the gap or overlap.
    """
    count = draw(st.integers(min_value=1, max_value=6))
    milestones = []
    for n in range(count):
        if hot_day is not None and hot_times and draw(st.booleans()):
            days, hours = hot_day, 0
            at = draw(st.sampled_from(hot_times))
        else:
            days = draw(st.one_of(st.integers(-1, 4), st.integers(-1, 60)))
            hours = draw(st.one_of(st.just(0), st.integers(-6, 30)))
            at = draw(quarter_hours)
        expires = draw(
            st.tuples(st.integers(0, 8), st.integers(0, 23)).filter(lambda e: e != (0, 0))
        )
        milestones.append(
            milestone(
                f"m{n}",
                days=days,
                hours=hours,
                at=f"{at:%H:%M}",
                expires={"days": expires[0], "hours": expires[1]},
                phase=draw(st.sampled_from(["prep", "first_48h", "first_week", "later"])),
                series_max=draw(st.one_of(st.none(), st.integers(1, 6))),
            )
        )
    return milestones


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A zone, a session date (often next to a DST change), a plan, quiet hours and a now."""
    zone_name = draw(st.sampled_from(TRICKY_ZONES))
    changes = transition_dates(zone_name)
    near_change = draw(st.booleans())
    hot_day: int | None = None
    hot_times: tuple[time, ...] = ()
    night_of_change: datetime | None = None
    if changes and near_change:
        change = draw(st.sampled_from(changes))
        hot_day = draw(st.integers(-1, 4))
        hot_times = tricky_times(zone_name, change)
        session_date = change - timedelta(days=hot_day)
        if draw(st.booleans()):
            night_of_change = change_instant(zone_name, change)
    else:
        session_date = draw(st.dates(date(2025, 1, 1), date(2028, 12, 31)))
    if night_of_change is not None:
        # "now" within three hours of the change, in 5-minute steps.
        now = night_of_change + timedelta(minutes=5 * draw(st.integers(-36, 36)))
    else:
        start = datetime.combine(session_date, time(0), tzinfo=UTC)
        now = start + timedelta(seconds=draw(st.integers(-3 * 86400, 70 * 86400)))
    return {
        "tz": ZoneInfo(zone_name),
        "session_date": session_date,
        "plan": plan_of(*draw(milestone_lists(hot_day, hot_times))),
        "quiet_hours": draw(quiet_spans(hot_times)),
        "now": now,
        "session_number": draw(st.integers(1, 7)),
    }


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_planned_reminders_hold_their_invariants(scenario: dict[str, Any]) -> None:
    """Every reminder is in UTC, at its local time (or moved by a gap or quiet hours), in order."""
    tz: ZoneInfo = scenario["tz"]
    plan: CarePlan = scenario["plan"]
    quiet: QuietHours = scenario["quiet_hours"]
    now: datetime = scenario["now"]
    session_date: date = scenario["session_date"]
    planned = plan_reminders(**scenario)

    expected_ids = {
        m.id
        for m in plan.milestones
        if m.series_max is None or scenario["session_number"] <= m.series_max
    }
    assert sorted(p.milestone_id for p in planned) == sorted(expected_ids)
    assert planned == sorted(planned, key=lambda p: (p.due_at, p.milestone_id))

    for reminder in planned:
        m = plan.milestone(reminder.milestone_id)
        assert reminder.phase_id == m.phase
        assert is_utc(reminder.due_at) and is_utc(reminder.expires_at)

        intended = datetime.combine(session_date + timedelta(days=m.offset.days), m.at) + timedelta(
            hours=m.offset.hours
        )
        expiry = intended + m.expires_after.as_timedelta()
        shown = wall(reminder.due_at, tz)

        assert shows(wall(reminder.expires_at, tz), expiry, tz)
        if first_occurrence(expiry, tz) is not None:
            assert reminder.expires_at == first_occurrence(expiry, tz)

        if shows(shown, intended, tz):
            # Not moved by quiet hours: at its own local time, or just past a DST gap.
            assert not quiet.contains(shown.time())
            if first_occurrence(intended, tz) is not None:
                assert reminder.due_at == first_occurrence(intended, tz)
        else:
            # Moved by quiet hours: the time it would have had was quiet; now it is their end.
            resolved = wall(intended.replace(tzinfo=tz).astimezone(UTC), tz)
            assert quiet.start != quiet.end
            assert quiet.contains(resolved.time())
            end = datetime.combine(resolved.date(), quiet.end)
            if end <= resolved:
                end += timedelta(days=1)
            assert shows(shown, end, tz)
            assert resolved < shown

        if reminder.state is PlanState.DROPPED:
            assert reminder.due_at >= reminder.expires_at
        else:
            assert reminder.due_at < reminder.expires_at
            if reminder.state is PlanState.AHEAD:
                assert reminder.due_at >= now
            else:
                assert reminder.state is PlanState.MISSED
                assert reminder.due_at < now


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_catch_up_holds_its_invariants(scenario: dict[str, Any]) -> None:
    """A catch-up exists exactly when a milestone of the healing (day 0 on) was missed and
    the session day has come."""
    tz: ZoneInfo = scenario["tz"]
    plan: CarePlan = scenario["plan"]
    quiet: QuietHours = scenario["quiet_hours"]
    now: datetime = scenario["now"]
    session_date: date = scenario["session_date"]
    planned = plan_reminders(**scenario)
    arguments = {k: v for k, v in scenario.items() if k != "session_number"}

    catch_up = plan_catch_up(**arguments, planned=planned)

    day = (wall(now, tz).date() - session_date).days
    missed = any(
        p.state is PlanState.MISSED and plan.milestone(p.milestone_id).offset.days >= 0
        for p in planned
    )
    assert (catch_up is not None) is (missed and day >= 0)
    if catch_up is None:
        return
    phase = plan.phase_for_day(day).id
    assert catch_up.phase_id == phase
    assert catch_up.milestone_id == f"catch_up_{phase}"
    assert catch_up.state is PlanState.AHEAD
    assert is_utc(catch_up.due_at) and is_utc(catch_up.expires_at)
    assert catch_up.expires_at - catch_up.due_at == timedelta(hours=12)
    if quiet.contains(wall(now, tz).time()):
        assert catch_up.due_at > now
        assert catch_up.due_at - now <= timedelta(days=1, hours=1)
    else:
        assert catch_up.due_at == now


@st.composite
def instants_near_changes(draw: st.DrawFn) -> tuple[ZoneInfo, datetime, QuietHours]:
    """A zone, an instant within three hours of one of its DST changes, and quiet hours."""
    zone_name = draw(st.sampled_from([z for z in TRICKY_ZONES if transition_dates(z)]))
    change = draw(st.sampled_from(transition_dates(zone_name)))
    instant = change_instant(zone_name, change) + timedelta(minutes=draw(st.integers(-180, 180)))
    ends = st.sampled_from(tricky_times(zone_name, change))
    quiet = draw(
        st.one_of(
            st.builds(QuietHours, quarter_hours, ends),
            st.builds(QuietHours, quarter_hours, quarter_hours),
        )
    )
    return ZoneInfo(zone_name), instant, quiet


@settings(max_examples=500, deadline=None)
@given(instants_near_changes())
def test_defer_moves_forward_to_the_quiet_end(case: tuple[ZoneInfo, datetime, QuietHours]) -> None:
    """Near DST changes, defer keeps a non-quiet instant and moves a quiet one on to the end."""
    tz, instant, quiet = case
    local = wall(instant, tz)

    deferred = quiet.defer(instant, tz)

    assert is_utc(deferred)
    if not quiet.contains(local.time()):
        assert deferred == instant
        return
    end = datetime.combine(local.date(), quiet.end)
    if end <= local:
        end += timedelta(days=1)
    assert deferred > instant
    assert shows(wall(deferred, tz), end, tz)
    assert deferred - instant <= timedelta(days=1, hours=1)


@given(quarter_hours, quarter_hours)
def test_quiet_hours_round_trip_through_str(start: time, end: time) -> None:
    """Any span written by str() parses back to an equivalent QuietHours."""
    quiet = QuietHours(start, end)

    parsed = QuietHours.parse(str(quiet))

    if start == end:
        assert str(quiet) == "off"
        assert parsed.start == parsed.end
    else:
        assert parsed == quiet
        assert str(parsed) == f"{start:%H:%M}-{end:%H:%M}"
    for hour in range(24):
        assert parsed.contains(time(hour, 7)) is quiet.contains(time(hour, 7))
