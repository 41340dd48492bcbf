"""An inline month calendar for picking the session date (our own, about a hundred lines).

Callback data: ``cal:day:2026-11-20``, ``cal:nav:2026-10``, ``cal:noop`` (at most 18 bytes).
Whatever comes back is checked again against the allowed range: a stale or forged button
picks nothing.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

NOOP = "cal:noop"
BLANK = " "  # Telegram refuses an empty label; a space shows as an empty cell
WEEKDAY_LABELS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
# Our own names: calendar.month_name follows the process locale.
MONTH_NAMES = ("", "January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")  # fmt: skip
# The grid's header in each language, Monday first: short enough for seven narrow buttons.
# Urdu writes the weekday whole (no abbreviations are in use); Roman Urdu as typed there.
_URDU_MONTHS = ("", "جنوری", "فروری", "مارچ", "اپریل", "مئی", "جون", "جولائی", "اگست", "ستمبر",
                "اکتوبر", "نومبر", "دسمبر")  # fmt: skip
HEADERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (WEEKDAY_LABELS, MONTH_NAMES),
    "ur": (("پیر", "منگل", "بدھ", "جمعرات", "جمعہ", "ہفتہ", "اتوار"), _URDU_MONTHS),
    "ur-Latn": (("Pir", "Mangal", "Budh", "Jumerat", "Juma", "Hafta", "Itwar"), MONTH_NAMES),
}
_DAY = re.compile(r"cal:day:([0-9]{4})-([0-9]{2})-([0-9]{2})")
_NAV = re.compile(r"cal:nav:([0-9]{4})-([0-9]{2})")


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
    """A header, weekday or blank cell was pressed."""


def _index(year: int, month: int) -> int:
    """Months counted from year 0, so that neighbours differ by one."""
    return year * 12 + month - 1


def _month(index: int) -> tuple[int, int]:
    year, month = divmod(index, 12)
    return year, month + 1


def _button(text: str, data: str = NOOP) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def _nav(index: int, label: str, first: int, last: int) -> InlineKeyboardButton:
    if not first <= index <= last:
        return _button(BLANK)
    year, month = _month(index)
    return _button(label, f"cal:nav:{year:04d}-{month:02d}")


def calendar_keyboard(
    year: int,
    month: int,
    *,
    min_date: date,
    max_date: date,
    today: date,
    language: str = "en",
) -> InlineKeyboardMarkup:
    """The month grid, Monday first, its month and weekdays named in ``language``; a month
    outside the range shows the nearest one.

    Days outside [min_date, max_date] or outside the month are blank and do nothing; today
    reads "·25·"; "‹" and "›" appear only when that month has a day that can be picked.
    """
    first, last = _index(min_date.year, min_date.month), _index(max_date.year, max_date.month)
    index = min(max(_index(year, month), first), last)
    year, month = _month(index)
    weekdays, months = HEADERS.get(language, HEADERS["en"])
    rows = [
        [
            _nav(index - 1, "‹", first, last),
            _button(f"{months[month]} {year}"),
            _nav(index + 1, "›", first, last),
        ],
        [_button(label) for label in weekdays],
    ]
    for week in calendar.Calendar(firstweekday=calendar.MONDAY).monthdatescalendar(year, month):
        row = []
        for day in week:
            if day.month != month or not min_date <= day <= max_date:
                row.append(_button(BLANK))
            else:
                label = f"·{day.day}·" if day == today else str(day.day)
                row.append(_button(label, f"cal:day:{day.isoformat()}"))
        rows.append(row)
    return InlineKeyboardMarkup(rows)


def parse_calendar_callback(
    data: str, *, min_date: date, max_date: date
) -> Day | Navigate | Noop | None:
    """What a calendar button asks for; None if it is malformed or out of range.

    The range is today's, not the one the keyboard was drawn with: a calendar left open
    overnight offers nothing that is no longer allowed.
    """
    if data == NOOP:
        return Noop()
    day = _DAY.fullmatch(data)
    if day is not None:
        try:
            picked = date(int(day[1]), int(day[2]), int(day[3]))
        except ValueError:
            return None
        return Day(picked) if min_date <= picked <= max_date else None
    nav = _NAV.fullmatch(data)
    if nav is not None:
        year, month = int(nav[1]), int(nav[2])
        if not 1 <= month <= 12:
            return None
        first, last = _index(min_date.year, min_date.month), _index(max_date.year, max_date.month)
        return Navigate(year, month) if first <= _index(year, month) <= last else None
    return None
