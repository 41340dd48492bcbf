"""The inline month calendar: grid shape, range limits, callback data and forged presses."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.calendar import (
    BLANK,
    NOOP,
    Day,
    Navigate,
    Noop,
    calendar_keyboard,
    parse_calendar_callback,
)
from scheduler.care.planning import MAX_DAYS_AHEAD, MAX_DAYS_BACK

TODAY = date(2026, 11, 25)
MIN = TODAY - timedelta(days=MAX_DAYS_BACK)  # 2024-11-25
MAX = TODAY + timedelta(days=MAX_DAYS_AHEAD)  # 2027-02-23
RANGE = {"min_date": MIN, "max_date": MAX}


def keyboard(year: int, month: int, today: date = TODAY, **limits: date) -> InlineKeyboardMarkup:
    return calendar_keyboard(year, month, **(limits or RANGE), today=today)


def buttons(markup: InlineKeyboardMarkup) -> list[InlineKeyboardButton]:
    return [button for row in markup.inline_keyboard for button in row]


def data(button: InlineKeyboardButton) -> str:
    assert isinstance(button.callback_data, str)
    return button.callback_data


def day_buttons(markup: InlineKeyboardMarkup) -> dict[date, InlineKeyboardButton]:
    return {
        date.fromisoformat(data(b).removeprefix("cal:day:")): b
        for b in buttons(markup)
        if data(b).startswith("cal:day:")
    }


def grid(markup: InlineKeyboardMarkup) -> list[list[str]]:
    """The week rows as labels."""
    return [[b.text for b in row] for row in markup.inline_keyboard[2:]]


def test_header_and_weekday_rows() -> None:
    rows = keyboard(2026, 10).inline_keyboard
    assert [b.text for b in rows[0]] == ["‹", "October 2026", "›"]
    assert [data(b) for b in rows[0]] == ["cal:nav:2026-09", NOOP, "cal:nav:2026-11"]
    assert [b.text for b in rows[1]] == ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]
    assert all(data(b) == NOOP for b in rows[1])
    assert all(len(row) == 7 for row in rows[1:])


def test_a_month_starting_on_monday() -> None:
    """June 2026 starts on a Monday and has five weeks."""
    weeks = grid(keyboard(2026, 6))
    assert len(weeks) == 5
    assert weeks[0] == ["1", "2", "3", "4", "5", "6", "7"]
    assert weeks[-1] == ["29", "30", BLANK, BLANK, BLANK, BLANK, BLANK]


def test_a_month_starting_on_sunday() -> None:
    """November 2026 starts on a Sunday: six weeks, six blanks first; today is marked."""
    weeks = grid(keyboard(2026, 11))
    assert len(weeks) == 6
    assert weeks[0] == [BLANK] * 6 + ["1"]
    assert weeks[4] == ["23", "24", "·25·", "26", "27", "28", "29"]
    assert weeks[5] == ["30"] + [BLANK] * 6


def test_four_week_february() -> None:
    """February 2027 starts on a Monday and has exactly four weeks (up to max_date: the 23rd)."""
    markup = keyboard(2027, 2)
    weeks = grid(markup)
    assert len(weeks) == 4
    assert weeks[0] == [str(d) for d in range(1, 8)]
    assert weeks[3] == ["22", "23"] + [BLANK] * 5
    assert max(day_buttons(markup)) == MAX


@pytest.mark.parametrize(("year", "days"), [(2028, 29), (2027, 28), (2100, 28), (2000, 29)])
def test_february_in_leap_and_common_years(year: int, days: int) -> None:
    limits = {"min_date": date(year - 1, 1, 1), "max_date": date(year + 1, 1, 1)}
    markup = keyboard(year, 2, today=date(year, 6, 1), **limits)
    picked = sorted(day_buttons(markup))
    assert picked == [date(year, 2, d) for d in range(1, days + 1)]


def test_days_outside_the_range_are_blank_and_do_nothing() -> None:
    first = keyboard(2024, 11)
    assert min(day_buttons(first)) == MIN
    assert len(day_buttons(first)) == 6  # 25 to 30 November 2024
    assert [b.text for b in first.inline_keyboard[0]] == [BLANK, "November 2024", "›"]
    assert data(first.inline_keyboard[0][0]) == NOOP
    last = keyboard(2027, 2)
    assert [b.text for b in last.inline_keyboard[0]] == ["‹", "February 2027", BLANK]
    assert data(last.inline_keyboard[0][2]) == NOOP
    for markup in (first, last):
        for button in buttons(markup):
            if button.text == BLANK:
                assert data(button) == NOOP


@pytest.mark.parametrize(
    ("year", "month", "shown"),
    [
        (2020, 1, "November 2024"),
        (2024, 10, "November 2024"),
        (2027, 3, "February 2027"),
        (2099, 12, "February 2027"),
        (2026, 11, "November 2026"),
    ],
)
def test_a_month_outside_the_range_shows_the_nearest_one(year: int, month: int, shown: str) -> None:
    assert keyboard(year, month).inline_keyboard[0][1].text == shown


def test_a_range_within_one_month_has_no_navigation() -> None:
    limits = {"min_date": date(2026, 11, 10), "max_date": date(2026, 11, 20)}
    markup = keyboard(2026, 11, **limits)
    assert [data(b) for b in markup.inline_keyboard[0]] == [NOOP, NOOP, NOOP]
    assert sorted(day_buttons(markup)) == [date(2026, 11, d) for d in range(10, 21)]
    assert "·25·" not in [b.text for b in buttons(markup)]


def test_navigation_across_the_year() -> None:
    header = keyboard(2027, 1).inline_keyboard[0]
    assert [data(b) for b in header] == ["cal:nav:2026-12", NOOP, "cal:nav:2027-02"]
    header = keyboard(2025, 12).inline_keyboard[0]
    assert [data(b) for b in header] == ["cal:nav:2025-11", NOOP, "cal:nav:2026-01"]


def test_every_month_of_the_range_round_trips() -> None:
    """Walk every month from the first to the last: every button is short and parses back."""
    seen: set[date] = set()
    year, month = MIN.year, MIN.month
    while True:
        markup = keyboard(year, month)
        for button in buttons(markup):
            assert button.text, "Telegram refuses empty labels"
            assert len(data(button).encode()) <= 64
            action = parse_calendar_callback(data(button), **RANGE)
            assert action is not None
            if isinstance(action, Day):
                assert data(button) == f"cal:day:{action.value.isoformat()}"
                assert button.text in (str(action.value.day), f"·{action.value.day}·")
                seen.add(action.value)
        nav = parse_calendar_callback(data(markup.inline_keyboard[0][2]), **RANGE)
        if not isinstance(nav, Navigate):
            break
        year, month = nav.year, nav.month
    assert (year, month) == (MAX.year, MAX.month)
    assert seen == {MIN + timedelta(days=n) for n in range((MAX - MIN).days + 1)}


def test_parse_valid_callbacks() -> None:
    assert parse_calendar_callback("cal:noop", **RANGE) == Noop()
    assert parse_calendar_callback("cal:day:2026-11-20", **RANGE) == Day(date(2026, 11, 20))
    assert parse_calendar_callback("cal:day:2024-11-25", **RANGE) == Day(MIN)
    assert parse_calendar_callback("cal:day:2027-02-23", **RANGE) == Day(MAX)
    assert parse_calendar_callback("cal:nav:2026-10", **RANGE) == Navigate(2026, 10)
    assert parse_calendar_callback("cal:nav:2024-11", **RANGE) == Navigate(2024, 11)
    assert parse_calendar_callback("cal:nav:2027-02", **RANGE) == Navigate(2027, 2)


@pytest.mark.parametrize(
    "forged",
    [
        "cal:day:2099-01-01",
        "cal:day:2024-11-24",
        "cal:day:2027-02-24",
        "cal:day:x",
        "cal:day:",
        "cal:day:2026-02-30",
        "cal:day:2026-13-01",
        "cal:day:20261120",
        "cal:day:2026-W47-5",
        "cal:day:2026-11-20T00:00",
        "cal:day:2026-11-20 ",
        "cal:day:２０２６-11-20",
        "cal:day:2026-11-20:extra",
        "cal:nav:2026-13",
        "cal:nav:2026-00",
        "cal:nav:2024-10",
        "cal:nav:2027-03",
        "cal:nav:2026-1",
        "cal:nav:x",
        "cal:nav:",
        "cal:nav:2026-11-01",
        "cal:noop:1",
        "cal:",
        "cal",
        "",
        "date:today",
        "CAL:DAY:2026-11-20",
        "x" * 10_000,
    ],
)
def test_forged_or_stale_callbacks_are_refused(forged: str) -> None:
    assert parse_calendar_callback(forged, **RANGE) is None


def test_a_day_from_yesterdays_calendar_is_checked_against_todays_range() -> None:
    stale = keyboard(2024, 11)
    oldest = data(day_buttons(stale)[MIN])
    assert parse_calendar_callback(oldest, **RANGE) == Day(MIN)
    tomorrow = {"min_date": MIN + timedelta(days=1), "max_date": MAX + timedelta(days=1)}
    assert parse_calendar_callback(oldest, **tomorrow) is None


@settings(max_examples=200, deadline=None)
@given(
    st.dates(date(2001, 1, 1), date(2098, 12, 31)),
    st.integers(0, 800),
    st.integers(1990, 2110),
    st.integers(1, 12),
)
def test_any_range_gives_a_well_formed_month(
    start: date, length: int, year: int, month: int
) -> None:
    limits = {"min_date": start, "max_date": start + timedelta(days=length)}
    markup = keyboard(year, month, today=start, **limits)
    rows = markup.inline_keyboard
    assert len(rows[0]) == 3 and all(len(row) == 7 for row in rows[1:])
    assert 4 <= len(rows) - 2 <= 6
    days = day_buttons(markup)
    assert days, "the month shown always has a day that can be picked"
    assert len({(d.year, d.month) for d in days}) == 1
    for button in buttons(markup):
        assert button.text and len(data(button).encode()) <= 64
        action = parse_calendar_callback(data(button), **limits)
        assert action is not None
        if isinstance(action, Day):
            assert limits["min_date"] <= action.value <= limits["max_date"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parse_never_raises(text: str) -> None:
    action = parse_calendar_callback(text, **RANGE)
    assert action is None or isinstance(action, Day | Navigate | Noop)
