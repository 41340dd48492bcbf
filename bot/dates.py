"""Session dates typed by patients: "today", "3 days ago", "last Friday", "20/11", "20 Nov".

Our own small parser rather than dateparser: chat input is untrusted (no regular expression
here can backtrack badly, and the input is cut to a few dozen characters), the answer must
not depend on a locale's defaults, and "last Friday" must work. Day-first by default.

Rules:
- Without a year, a date is read in the year that puts it on or before today; if that is
  more than ~10 months back and the same day next year is within the 90 days a session can
  be ahead, the next one is meant ("2/1" typed on 28 December).
- "Friday" / "last Friday" is the most recent past Friday ("last Friday" typed on a Friday
  means a week ago; a bare "Friday" on a Friday means today).
- A numeric date whose two readings are both valid, different and in range ("03/04") is
  ambiguous: the configured order wins and the other is offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from scheduler.planning import MAX_DAYS_AHEAD, MAX_DAYS_BACK

MAX_INPUT = 60
FAR_BACK = timedelta(days=300)

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "febuary": 2, "mar": 3, "march": 3,
    "apr": 4, "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8,
    "august": 8, "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5,
    "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple": 2,
    "a couple of": 2, "few": 3, "a few": 3,
}  # fmt: skip
TODAY_WORDS = {"today", "tody", "todya", "toady", "now", "this morning", "this afternoon",
               "this evening", "tonight", "just now", "earlier today"}  # fmt: skip
YESTERDAY_WORDS = {"yesterday", "yesteday", "yesterdy", "yestarday", "yday", "ytd",
                   "last night", "yesterday evening", "yesterday morning"}  # fmt: skip
DAY_BEFORE_WORDS = {"day before yesterday", "the day before yesterday", "2 days ago"}

NUMERIC = re.compile(r"^(\d{1,4})[/.\-](\d{1,2})(?:[/.\-](\d{2,4}))?$")
RELATIVE = re.compile(r"^(\d{1,3}|[a-z]+(?: [a-z]+)?(?: of)?) (day|days|week|weeks)(?: ago| back)$")
WORDY = re.compile(r"^(?:(\d{1,2}) ([a-z]+)|([a-z]+) (\d{1,2}))(?: (\d{4}))?$")
ORDINAL = re.compile(r"(\d{1,2})(?:st|nd|rd|th)\b")


@dataclass(frozen=True)
class Parsed:
    """A date read from the text; ``alternative`` is the other reading when ambiguous."""

    value: date
    ambiguous: bool = False
    alternative: date | None = None


@dataclass(frozen=True)
class OutOfRange:
    """A real date, but too far ahead or back for a session."""

    value: date


@dataclass(frozen=True)
class Unparseable:
    """Not a date we can read."""


Answer = Parsed | OutOfRange | Unparseable


def _in_range(value: date, today: date) -> bool:
    return today - timedelta(days=MAX_DAYS_BACK) <= value <= today + timedelta(days=MAX_DAYS_AHEAD)


def _checked(value: date, today: date) -> Answer:
    return Parsed(value) if _in_range(value, today) else OutOfRange(value)


def _normalise(text: str) -> str:
    lowered = text.strip().lower()[:MAX_INPUT]
    lowered = ORDINAL.sub(r"\1", lowered)
    lowered = re.sub(r"[,!?]+", " ", lowered)
    lowered = re.sub(r"\s+", " ", lowered).strip(" .")
    for prefix in ("it was ", "was ", "on the ", "on ", "the ", "session was ", "i had it "):
        if lowered.startswith(prefix):
            lowered = lowered[len(prefix) :]
    return lowered.replace(" of ", " ").strip()


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _full_year(year: int) -> int:
    return 2000 + year if year < 100 else year


def _infer_year(month: int, day: int, today: date) -> date | None:
    """The date in the year that makes sense for a session (see the module docstring)."""
    this_year = _make(today.year, month, day)
    if this_year is None:
        # 29 February in a year without one: the nearest past leap year's.
        return (
            _make(today.year - 1, month, day)
            or _make(today.year - 2, month, day)
            or (_make(today.year - 3, month, day))
        )
    past = this_year if this_year <= today else _make(today.year - 1, month, day)
    future = this_year if this_year > today else _make(today.year + 1, month, day)
    if past is None:
        return future
    if future is not None and today - past > FAR_BACK and (future - today).days <= MAX_DAYS_AHEAD:
        return future
    return past


def _weekday(text: str, today: date) -> date | None:
    words = text.split(" ")
    last = words[0] in {"last", "past", "previous"}
    this = words[0] == "this"
    name = words[-1]
    if len(words) > 2 or (len(words) == 2 and not (last or this)) or name not in WEEKDAYS:
        return None
    back = (today.weekday() - WEEKDAYS[name]) % 7
    if back == 0 and last:
        back = 7
    return today - timedelta(days=back)


def _relative(text: str, today: date) -> date | None:
    match = RELATIVE.match(text)
    if match is None:
        return None
    amount_text, unit = match.group(1), match.group(2)
    amount = int(amount_text) if amount_text.isdigit() else NUMBERS.get(amount_text)
    if amount is None:
        return None
    days = amount * (7 if unit.startswith("week") else 1)
    return today - timedelta(days=days)


def _month(word: str) -> int | None:
    return MONTHS.get(word) or MONTHS.get(word[:3]) if len(word) >= 3 else None


def _wordy(text: str, today: date) -> Answer | None:
    match = WORDY.match(text)
    if match is None:
        return None
    if match.group(1):
        day_text, month_text = match.group(1), match.group(2)
    else:
        month_text, day_text = match.group(3), match.group(4)
    month = _month(month_text)
    if month is None:
        return None
    day = int(day_text)
    if match.group(5):
        value = _make(int(match.group(5)), month, day)
    else:
        value = _infer_year(month, day, today)
    return Unparseable() if value is None else _checked(value, today)


def _numeric(text: str, today: date, day_first: bool) -> Answer | None:
    match = NUMERIC.match(text)
    if match is None:
        return None
    first, second, third = match.group(1), match.group(2), match.group(3)
    if len(first) == 4:  # ISO: year-month-day, never ambiguous
        if third is None:
            return Unparseable()
        value = _make(int(first), int(second), int(third))
        return Unparseable() if value is None else _checked(value, today)
    a, b = int(first), int(second)
    year = _full_year(int(third)) if third else None

    def reading(day: int, month: int) -> date | None:
        if not (1 <= month <= 12):
            return None
        if year is not None:
            return _make(year, month, day)
        return _infer_year(month, day, today)

    preferred = reading(a, b) if day_first else reading(b, a)
    other = reading(b, a) if day_first else reading(a, b)
    if preferred is None and other is None:
        return Unparseable()
    if preferred is None:
        assert other is not None
        return _checked(other, today)
    if other is not None and other != preferred and a != b:
        if _in_range(preferred, today) and _in_range(other, today):
            return Parsed(preferred, ambiguous=True, alternative=other)
        if not _in_range(preferred, today) and _in_range(other, today):
            return Parsed(other)
    return _checked(preferred, today)


def parse_session_date(text: str, *, today: date, day_first: bool = True) -> Answer:
    """Read a session date typed in chat, relative to the patient's ``today``."""
    normal = _normalise(text)
    if not normal:
        return Unparseable()
    if normal in TODAY_WORDS:
        return Parsed(today)
    if normal in YESTERDAY_WORDS:
        return Parsed(today - timedelta(days=1))
    if normal in DAY_BEFORE_WORDS:
        return Parsed(today - timedelta(days=2))
    for reader in (_weekday, _relative):
        value = reader(normal, today)
        if value is not None:
            return _checked(value, today)
    compact = normal.replace(" ", "")
    numeric = _numeric(compact, today, day_first)
    if numeric is not None:
        return numeric
    wordy = _wordy(normal, today)
    if wordy is not None:
        return wordy
    return Unparseable()


def describe_date(value: date, *, today: date) -> str:
    """A date in words for a confirmation: "today, Fri 20 Nov", "Tue 17 Nov (3 days ago)"."""
    label = f"{value:%a} {value.day} {value:%b}"
    if value.year != today.year:
        label += f" {value.year}"
    days = (value - today).days
    if days == 0:
        return f"today, {label}"
    if days == -1:
        return f"yesterday, {label}"
    if days == 1:
        return f"tomorrow, {label}"
    if days < 0:
        return f"{label} ({-days} days ago)"
    return f"{label} (in {days} days)"
