"""An inline month calendar for picking the session date (our own, about a hundred lines).

Callback data: ``cal:day:2026-11-20``, ``cal:nav:2026-10``, ``cal:noop``. Whatever comes
back is checked again against the allowed range: a stale or forged button picks nothing.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

NOOP = "cal:noop"
BLANK = " "
WEEKDAY_LABELS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


@dataclass(frozen=True)
class Day:
    """A day was picked."""

    value: date


@dataclass(frozen=True)
class Navigate:
    """Show another month."""

    year: int
    month: int


@dataclass(frozen=True)
class Noop:
    """A header or blank cell was pressed."""


def _month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def _clamp(year: int, month: int, min_date: date, max_date: date) -> tuple[int, int]:
    index = _month_index(year, month)
    index = max(_month_index(min_date.year, min_date.month), index)
    index = min(_month_index(max_date.year, max_date.month), index)
    return divmod(index, 12)[0], divmod(index, 12)[1] + 1


def _button(text: str, data: str = NOOP) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def calendar_keyboard(
    year: int, month: int, *, min_date: date, max_date: date, today: date
) -> InlineKeyboardMarkup:
    """The month grid; days outside [min_date, max_date] are blank and do nothing."""
    year, month = _clamp(year, month, min_date, max_date)
    index = _month_index(year, month)
    previous = divmod(index - 1, 12)
    following = divmod(index + 1, 12)
    has_previous = index - 1 >= _month_index(min_date.year, min_date.month)
    has_next = index + 1 <= _month_index(max_date.year, max_date.month)
    header = [
        _button("‹", f"cal:nav:{previous[0]:04d}-{previous[1] + 1:02d}")
        if has_previous
        else _button(BLANK),
        _button(f"{calendar.month_name[month]} {year}"),
        _button("›", f"cal:nav:{following[0]:04d}-{following[1] + 1:02d}")
        if has_next
        else _button(BLANK),
    ]
    rows = [header, [_button(label) for label in WEEKDAY_LABELS]]
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        row = []
        for day in week:
            if day.month != month or not (min_date <= day <= max_date):
                row.append(_button(BLANK))
            else:
                label = f"·{day.day}·" if day == today else str(day.day)
                row.append(_button(label, f"cal:day:{day.isoformat()}"))
        rows.append(row)
    return InlineKeyboardMarkup(rows)


def parse_calendar_callback(
    data: str, *, min_date: date, max_date: date
) -> Day | Navigate | Noop | None:
    """What a calendar button asks for, or None if it is malformed or out of range."""
    if data == NOOP:
        return Noop()
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != "cal":
        return None
    kind, value = parts[1], parts[2]
    if kind == "day":
        try:
            picked = date.fromisoformat(value)
        except ValueError:
            return None
        return Day(picked) if min_date <= picked <= max_date else None
    if kind == "nav":
        year_text, _, month_text = value.partition("-")
        if not (year_text.isdigit() and month_text.isdigit()):
            return None
        year, month = int(year_text), int(month_text)
        if not 1 <= month <= 12:
            return None
        index = _month_index(year, month)
        if not (
            _month_index(min_date.year, min_date.month)
            <= index
            <= _month_index(max_date.year, max_date.month)
        ):
            return None
        return Navigate(year, month)
    return None
