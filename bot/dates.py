"""Session dates typed by patients: "today", "3 days ago", "last Friday", "20/11", "20 Nov".

Our own small parser rather than dateparser: the answer is deterministic (no locale defaults,
nothing but ``today`` from outside), it is fast, and chat input is untrusted: text longer than
MAX_INPUT characters is refused before any work, and no regular expression here can backtrack
badly.

Rules:

- Range: a session may be up to 90 days ahead and up to 730 days back, the limits of
  ``scheduler.care.planning.check_session_date``. A real date outside them is ``OutOfRange``;
  a day its month does not have ("31/02", "30 Feb", "29/02/2026") or a month past 12
  ("2026-13-01") is ``Impossible``, so the patient hears what is wrong with it; anything
  else that is not a date is ``Unparseable``.
- Year inference, when no year is typed: the latest occurrence on or before today. If that is
  more than FAR_BACK (300 days, about ten months) back and the next occurrence is at most 90
  days ahead, the next one is meant: "2/1" typed on 28 December is 2 January next year, while
  "28/12" typed on 3 January is last December. "29/2" looks back to the last leap year.
- Weekdays: "Friday", "on Friday", "this Friday" are the latest Friday on or before today (a
  Friday's "Friday" is today); "last Friday" is the same except that on a Friday it is a week
  ago. "next Friday" is ambiguous (the coming one, or the one after).
- "the 18th" alone is the latest 18th on or before today.
- Ambiguity: a numeric date whose two readings ("03/04": 3 April or 4 March) are both valid,
  different and in range is ``Parsed(<day_first reading>, ambiguous=True, alternative=<other>)``.
  When only one reading exists ("20/11") or only one is in range, that one is taken without
  asking. ISO dates (year first) and dates with a month name are never ambiguous.
- Typos: a word of five letters or more that is one edit away (two for seven letters or more)
  from exactly one word we know, with the same first letter, is read as that word
  ("yesteday", "febuary", "wensday"), plus a few short ones listed in TYPOS ("tody").
- Urdu script and Roman Urdu (``bot.urdu_dates``) are read in every message, English or not,
  since patients mix them ("last jumma", "session kal tha", "۲۰ نومبر کو"): "aaj", "kal",
  "parson", "3 din pehle", "ek hafta pehle", "pichle jumme", "20 navambar", and the same in
  Urdu script with Urdu-Indic digits. "kal" is yesterday and "parson" the day before (the
  question is about the past; Urdu uses both words for the future too), and "hafta" is
  Saturday alone but a week after a count; ``bot.urdu_dates`` lists these choices. A Roman
  Urdu word is read before any typo repair, so it is never repaired into an English word.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.urdu_dates import HAFTA, ORDINAL_WORDS, PASSED, THIS_BEFORE_HAFTA, read_urdu_word
from content.texts import Markup, Texts
from content.triage.script import ARABIC_LETTERS, fold_urdu
from scheduler.care.planning import MAX_DAYS_AHEAD, SessionDateError, check_session_date

MAX_INPUT = 64
FAR_BACK = timedelta(days=300)
# Beyond this distance "(in 26330 days)" says nothing a date does not: the date alone is shown.
RELATIVE_DAYS = 92

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}  # fmt: skip
WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5,
    "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple": 2,
    "fifteen": 15, "twenty": 20, "thirty": 30,
}  # fmt: skip
UNITS = {
    "day": 1, "days": 1, "week": 7, "weeks": 7, "fortnight": 14, "fortnights": 14,
    "month": 0, "months": 0,
}  # fmt: skip
AGO = {"ago", "back", "before", "earlier"}
TODAY = {"today", "now", "just now", "earlier today", "this morning", "this afternoon",
         "this evening", "tonight", "today morning", "today afternoon",
         "today evening", "today night"}  # fmt: skip
YESTERDAY = {"yesterday", "last night", "yesterday morning", "yesterday afternoon",
             "yesterday evening", "yesterday night"}  # fmt: skip
DAY_BEFORE = {"day before yesterday", "before yesterday"}
AHEAD = {"later"}  # "3 din baad"
SPANS = {**UNITS, HAFTA: 7}  # "ek hafta pehle": a week ago
TOMORROW = {"tomorrow", "tomorrow morning", "tomorrow afternoon", "tomorrow evening"}
# Words that carry no date: "it was on the 20th of November", "my session was yesterday".
FILLER = {"the", "of", "on", "it", "its", "was", "is", "my", "session", "treatment", "date",
          "i", "had", "did", "got", "done", "at", "around", "about", "approx", "approximately",
          "and", "just", "exactly"}  # fmt: skip
TYPOS = {"tody": "today", "todya": "today", "toady": "today", "tdy": "today", "yday": "yesterday",
         "yest": "yesterday", "tmrw": "tomorrow", "tmr": "tomorrow",
         "wks": "weeks", "wk": "week", "dys": "days"}  # fmt: skip
ORDINAL_SUFFIXES = {"st", "nd", "rd", "th"}
KNOWN = (
    set(MONTHS) | set(WEEKDAYS) | set(NUMBERS) | set(UNITS) | AGO | FILLER
    | {"today", "yesterday", "tomorrow", "last", "past", "previous", "this", "next", "coming",
       "morning", "afternoon", "evening", "night", "tonight", "now", "in", "before"}
)  # fmt: skip
FULL_NAMES = sorted(name for name in (*MONTHS, *WEEKDAYS) if len(name) > 4)
# Only long words are corrected: a short word is too close to too many others.
CORRECTABLE = sorted(word for word in KNOWN if len(word) >= 4)

_DIGITS = {
    base + offset: str(offset)
    for base in (0x0660, 0x06F0, 0x0966, 0xFF10)  # Arabic-Indic, Urdu, Devanagari, full-width
    for offset in range(10)
}
_LETTERS = f"a-z{ARABIC_LETTERS}"
_WORD_PUNCTUATION = re.compile(rf"(?<=[{_LETTERS}])[.\-]|[.\-](?=[{_LETTERS}])")
_LETTER_DIGIT = re.compile(rf"(?<=[0-9])(?=[{_LETTERS}])|(?<=[{_LETTERS}])(?=[0-9])")
_ASIDE = re.compile(r"\([^()]*\)")  # "Fri 20 Nov (5 days ago)", copied from describe_date
_OTHER = re.compile(rf"[^{_LETTERS}0-9/.\-]+")
_SEPARATORS = re.compile(r"[/.\- ]+")
_NUMERIC = re.compile(r"[0-9/.\- ]+")

# Our own names: strftime's %a and %b follow the process locale.
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec")  # fmt: skip
_FULL_MONTH_NAMES = ("", "January", "February", "March", "April", "May", "June", "July",
                     "August", "September", "October", "November", "December")  # fmt: skip


@dataclass(frozen=True)
class CalendarWords:
    """How dates are written in one language: names, and the words around a date."""

    days: tuple[str, ...]  # Monday first
    months: tuple[str, ...]  # "" first, so January is months[1]
    full_months: tuple[str, ...]
    today: str
    yesterday: str
    tomorrow: str
    ago: str  # "{days} days ago"
    ahead: str  # "in {days} days"
    comma: str
    pad_day: bool  # "05 Jan" in an instant


_URDU_MONTHS = ("", "جنوری", "فروری", "مارچ", "اپریل", "مئی", "جون", "جولائی", "اگست", "ستمبر",
                "اکتوبر", "نومبر", "دسمبر")  # fmt: skip
# Pakistani clinics write Western digits and 24-hour times in both Urdu scripts; Roman Urdu
# takes the English month names, as people there type them ("20 Nov"), and Urdu weekdays.
CALENDARS: dict[str, CalendarWords] = {
    "en": CalendarWords(
        _DAY_NAMES, _MONTH_NAMES, _FULL_MONTH_NAMES, "today", "yesterday", "tomorrow",
        "{days} days ago", "in {days} days", ", ", pad_day=True,
    ),
    "ur": CalendarWords(
        ("پیر", "منگل", "بدھ", "جمعرات", "جمعہ", "ہفتہ", "اتوار"), _URDU_MONTHS, _URDU_MONTHS,
        "آج", "کل", "کل", "{days} دن پہلے", "{days} دن بعد", "، ", pad_day=False,
    ),
    "ur-Latn": CalendarWords(
        ("Peer", "Mangal", "Budh", "Jumeraat", "Jumma", "Hafta", "Itwaar"), _MONTH_NAMES,
        _FULL_MONTH_NAMES, "aaj", "kal", "kal", "{days} din pehle", "{days} din baad", ", ",
        pad_day=False,
    ),
}  # fmt: skip


def calendar_words(language: str) -> CalendarWords:
    """The date words of ``language``; English for a language without its own."""
    return CALENDARS.get(language, CALENDARS["en"])


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
class Impossible:
    """A date that does not exist: a day its month does not have, or a month past 12."""

    day: int
    month: int
    year: int | None = None


@dataclass(frozen=True)
class Unparseable:
    """Not a date we can read."""


Answer = Parsed | OutOfRange | Impossible | Unparseable


def _in_range(value: date, *, today: date) -> bool:
    """Whether a session on ``value`` can be planned, by the scheduler's own rule."""
    try:
        check_session_date(value, today=today)
    except SessionDateError:
        return False
    return True


def _checked(value: date | None, today: date) -> Answer:
    if value is None:
        return Unparseable()
    return Parsed(value) if _in_range(value, today=today) else OutOfRange(value)


def _edits(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a transposition counts once), or limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            if i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == other:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        before, previous = previous, current
    return previous[-1]


@lru_cache(maxsize=4096)
def _corrected(word: str) -> str:
    if word in KNOWN or not word.isalpha():
        return word
    if word in TYPOS:
        return TYPOS[word]
    prefixed = [name for name in FULL_NAMES if name.startswith(word)]
    if len(word) >= 3 and len(prefixed) == 1:  # "novem", "wednes"
        return prefixed[0]
    if len(word) < 5:
        return word
    limit = 1 if len(word) < 7 else 2
    # Same first letter only: "honth" (lips, in Roman Urdu) is not "month", nor "burning"
    # "morning".
    distances = {known: _edits(word, known, limit) for known in CORRECTABLE if known[0] == word[0]}
    best = min(distances.values(), default=limit + 1)
    if best > limit:
        return word
    matches = [known for known, distance in distances.items() if distance == best]
    return matches[0] if len(matches) == 1 else word


@lru_cache(maxsize=4096)
def _read(word: str) -> tuple[str, ...]:
    """The date words ``word`` stands for, ``()`` for filler: an English date word first, then
    an Urdu or Roman Urdu one, then an English typo repaired. Urdu is read before the typo
    repair, so a Roman Urdu word is never "repaired" into an English one ("kal", "din")."""
    if word not in KNOWN and word not in TYPOS:
        urdu = read_urdu_word(word)
        if urdu is not None:
            return urdu
        if not word.isascii():
            return (word,)
    word = _corrected(word)
    return () if word in FILLER else (word,)


def _tokens(text: str) -> tuple[list[str], bool]:
    """Lower-case words and numbers, typos fixed, Urdu read as English, filler dropped; and
    whether "18th" (or "18 tareekh") was seen."""
    text = text if text.isascii() else fold_urdu(text)
    lowered = text.lower().translate(_DIGITS).replace("'", "").replace("\u2019", "")
    lowered = _ASIDE.sub(" ", lowered)
    lowered = _WORD_PUNCTUATION.sub(" ", lowered)
    lowered = _LETTER_DIGIT.sub(" ", lowered)
    raw = _OTHER.sub(" ", lowered).split()
    words: list[str] = []
    ordinal = False
    for index, word in enumerate(raw):
        if (word in ORDINAL_SUFFIXES or word in ORDINAL_WORDS) and words and words[-1].isdigit():
            ordinal = True
            continue
        read = _read(word)
        if read == (HAFTA,) and index and raw[index - 1] in THIS_BEFORE_HAFTA:
            words.append("this")  # "is hafte": this week
        elif read == (PASSED,):  # "3 din ho gaye": ago; "kal hua": filler
            read = ("ago",) if words and words[-1] in SPANS else ()
        words.extend(read)
    return words, ordinal


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _impossible(day: int, month: int, year: int | None) -> Impossible | None:
    """``Impossible`` when day/month could be a date but is not one; None for mere numbers."""
    if day < 1 or month < 1 or day > 99 or month > 99 or (year is not None and year < 1):
        return None
    if month > 12:
        return Impossible(day, month, year)
    length = calendar.monthrange(year or 2000, month)[1]  # 2000: February's 29th exists
    return Impossible(day, month, year) if day > length else None


def _infer_year(month: int, day: int, today: date) -> date | None:
    """The occurrence of day/month that a session date means (see the module docstring)."""
    candidates = [
        found
        for year in range(today.year - 4, today.year + 2)
        if (found := _make(year, month, day)) is not None
    ]
    past = max((d for d in candidates if d <= today), default=None)
    future = min((d for d in candidates if d > today), default=None)
    if past is None:
        return future
    if (
        future is not None
        and today - past > FAR_BACK
        and future - today <= timedelta(days=MAX_DAYS_AHEAD)
    ):
        return future
    return past


def _latest_day_of_month(day: int, today: date) -> date | None:
    """The latest date on or before today whose day of the month is ``day``."""
    year, month = today.year, today.month
    for _ in range(12):
        found = _make(year, month, day)
        if found is not None and found <= today:
            return found
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return None


def _months_back(today: date, months: int) -> date | None:
    index = today.year * 12 + today.month - 1 - months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        return None
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(today.day, last))


def _day_of_week(word: str) -> int | None:
    """Monday 0 to Sunday 6; "hafta" is Saturday here (the parser's callers decide when it is
    a week instead)."""
    return 5 if word == HAFTA else WEEKDAYS.get(word)


def _weekday(words: list[str], today: date) -> Answer | None:
    if len(words) >= 2 and words[-1] == "days" and _day_of_week(words[-2]) is not None:
        words = words[:-1]  # "jumme ke din": on Friday
    if not 1 <= len(words) <= 2:
        return None
    day = _day_of_week(words[-1])
    if day is None:
        return None
    qualifier = words[0] if len(words) == 2 else ""
    if qualifier and words[-1] == HAFTA:
        return None  # "pichle hafte": last week, as vague as in English
    back = (today.weekday() - day) % 7
    if qualifier in {"", "this"}:
        return _checked(today - timedelta(days=back), today)
    if qualifier in {"last", "past", "previous"}:
        return _checked(today - timedelta(days=back or 7), today)
    if qualifier in {"next", "coming"}:
        coming = today + timedelta(days=(7 - back) % 7 or 7)
        if qualifier == "coming":
            return _checked(coming, today)
        return Parsed(coming, ambiguous=True, alternative=coming + timedelta(days=7))
    return None


def _amount(words: list[str]) -> int | None:
    if words == ["a", "couple"]:
        return 2
    if len(words) != 1:
        return None
    if words[0].isdigit():
        return int(words[0]) if len(words[0]) <= 3 else None
    if words[0] == "sat":  # "sat din pehle": seven days ago (alone, "sat" is Saturday)
        return 7
    return NUMBERS.get(words[0])


def _relative(words: list[str], today: date) -> Answer | None:
    """ "3 days ago", "a week ago", "two months back", "in 5 days"; "aaj se 3 din pehle",
    "ek hafta pehle", "3 din baad"."""
    if len(words) >= 3 and words[0] == "today":  # "aaj se 3 din pehle": 3 days before today
        words = words[1:]
    if len(words) >= 2 and words[-1] in AGO and words[-2] in SPANS:
        sign, unit, counted = -1, words[-2], words[:-2]
    elif len(words) >= 2 and words[-1] in AHEAD and words[-2] in SPANS:
        sign, unit, counted = 1, words[-2], words[:-2]
    elif len(words) >= 2 and words[0] == "in" and words[-1] in SPANS:
        sign, unit, counted = 1, words[-1], words[1:-1]
    else:
        return None
    amount = _amount(counted) if counted else (1 if not unit.endswith("s") else None)
    if amount is None:
        return None
    if SPANS[unit] == 0:
        return _checked(_months_back(today, -sign * amount), today)
    return _checked(today + sign * timedelta(days=amount * SPANS[unit]), today)


def _year(text: str) -> int | None:
    if len(text) == 4:
        return int(text)
    return 2000 + int(text) if len(text) == 2 else None


def _numeric(words: list[str], today: date, day_first: bool) -> Answer | None:
    """ "20/11", "20.11.26", "2026-11-20", "03/04" (ambiguous)."""
    joined = " ".join(words)
    if not _NUMERIC.fullmatch(joined):
        return None
    parts = _SEPARATORS.split(joined.strip("/.- "))
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() and len(p) <= 4 for p in parts):
        return Unparseable()
    if len(parts[0]) == 4:  # year first: ISO, never ambiguous
        if len(parts) != 3 or len(parts[1]) > 2 or len(parts[2]) > 2:
            return Unparseable()
        iso = int(parts[0]), int(parts[1]), int(parts[2])
        found = _make(*iso)
        if found is None:
            return _impossible(iso[2], iso[1], iso[0]) or Unparseable()
        return _checked(found, today)
    if len(parts[0]) > 2 or len(parts[1]) > 2:
        return Unparseable()
    year = _year(parts[2]) if len(parts) == 3 else None
    if len(parts) == 3 and year is None:
        return Unparseable()
    a, b = int(parts[0]), int(parts[1])

    def reading(day: int, month: int) -> date | None:
        if not 1 <= month <= 12:
            return None
        return _make(year, month, day) if year is not None else _infer_year(month, day, today)

    first, second = (reading(a, b), reading(b, a)) if day_first else (reading(b, a), reading(a, b))
    if first is None and second is None:
        day, month = (a, b) if day_first else (b, a)
        if 1 <= month <= 12:
            return _impossible(day, month, year) or Unparseable()
        if 1 <= day <= 12:  # "02/31": only the other reading has a month
            return _impossible(month, day, year) or Unparseable()
        return Unparseable()
    if first is None:
        return _checked(second, today)
    if second is None or second == first:
        return _checked(first, today)
    first_ok, second_ok = _in_range(first, today=today), _in_range(second, today=today)
    if first_ok and second_ok:
        return Parsed(first, ambiguous=True, alternative=second)
    return _checked(second if second_ok else first, today)


def _named_month(words: list[str], today: date) -> Answer | None:
    """ "20 Nov", "November 20th", "20th of November 2026", "Nov 20, 26"."""
    if len(words) not in (2, 3):
        return None
    if words[0] in MONTHS and words[1].isdigit():
        month, day_text = MONTHS[words[0]], words[1]
    elif words[1] in MONTHS and words[0].isdigit():
        month, day_text = MONTHS[words[1]], words[0]
    else:
        return None
    if len(day_text) > 2:
        return Unparseable()
    day = int(day_text)
    if len(words) == 2:
        inferred = _infer_year(month, day, today)
        if inferred is None:
            return _impossible(day, month, None) or Unparseable()
        return _checked(inferred, today)
    year = _year(words[2]) if words[2].isdigit() else None
    if year is None:
        return None
    found = _make(year, month, day)
    if found is None:
        return _impossible(day, month, year) or Unparseable()
    return _checked(found, today)


def parse_session_date(text: str, *, today: date, day_first: bool = True) -> Answer:
    """Read a session date typed in chat, relative to the patient's ``today``.

    Args:
        text: what the patient typed (untrusted; anything longer than MAX_INPUT is refused).
        today: the patient's local date.
        day_first: read "03/04" as 3 April (True) or as March 4 (False).
    """
    if len(text) > 4 * MAX_INPUT:
        return Unparseable()
    text = text.strip()
    if not text or len(text) > MAX_INPUT:
        return Unparseable()
    words, ordinal = _tokens(text)
    phrase = " ".join(words)
    if phrase in TODAY:
        return Parsed(today)
    if phrase in YESTERDAY:
        return Parsed(today - timedelta(days=1))
    if phrase in DAY_BEFORE:
        return Parsed(today - timedelta(days=2))
    if phrase in TOMORROW:
        return _checked(today + timedelta(days=1), today)
    for read in (_weekday, _relative):
        answer = read(words, today)
        if answer is not None:
            return answer
    if ordinal and len(words) == 1 and len(words[0]) <= 2:
        return _checked(_latest_day_of_month(int(words[0]), today), today)
    # "Fri 20 Nov", "Jumma 20 Nov", as describe_date writes them.
    if len(words) >= 2 and _day_of_week(words[0]) is not None:
        words = words[1:]
    answer = _numeric(words, today, day_first)
    if answer is None:
        answer = _named_month(words, today)
    return Unparseable() if answer is None else answer


def date_label(value: date, *, today: date, language: str = "en") -> str:
    """ "Wed 25 Nov", with the year when it is not today's ("Sat 2 Jan 2027");
    "بدھ 25 نومبر" in Urdu, "Budh 25 Nov" in Roman Urdu."""
    words = calendar_words(language)
    label = f"{words.days[value.weekday()]} {value.day} {words.months[value.month]}"
    if value.year != today.year:
        label += f" {value.year}"
    return label


def describe_date(value: date, *, today: date, language: str = "en") -> str:
    """A date in words for a confirmation: "today, Wed 25 Nov", "Fri 20 Nov (5 days ago)";
    "آج، بدھ 25 نومبر", "جمعہ 20 نومبر (5 دن پہلے)"; "aaj, Budh 25 Nov".

    The year is added when it is not today's; the distance in days only while it is a
    useful figure (up to RELATIVE_DAYS). Plain text (the caller escapes it).
    """
    words = calendar_words(language)
    label = date_label(value, today=today, language=language)
    days = (value - today).days
    if days == 0:
        return f"{words.today}{words.comma}{label}"
    if days == -1:
        return f"{words.yesterday}{words.comma}{label}"
    if days == 1:
        return f"{words.tomorrow}{words.comma}{label}"
    if abs(days) > RELATIVE_DAYS:
        return label
    if days < 0:
        return f"{label} ({words.ago.format(days=-days)})"
    return f"{label} ({words.ahead.format(days=days)})"


def describe_instant(instant: datetime, zone: str, *, now: datetime, language: str = "en") -> str:
    """An instant at the patient's local time: "Wed 25 Nov, 19:00"; the year is added when
    it is not the current one there ("Tue 05 Jan 2027, 09:00"). Urdu: "بدھ 25 نومبر، 19:00"."""
    words = calendar_words(language)
    place = ZoneInfo(zone)
    local = instant.astimezone(place)
    day = f"{local.day:02d}" if words.pad_day else str(local.day)
    label = f"{words.days[local.weekday()]} {day} {words.months[local.month]}"
    if local.year != now.astimezone(place).year:
        label += f" {local.year}"
    return f"{label}{words.comma}{local:%H:%M}"


def days_away(texts: Texts, days: int) -> Markup:
    """ "tomorrow", "in 7 days": how far ahead a session is, with the plural right."""
    if days == 1:
        return texts.render("date.in_one_day")
    return texts.render("date.in_days", days=days)


def impossible_text(texts: Texts, answer: Impossible) -> Markup:
    """What is wrong with a date that does not exist: "There's no 31 February..."."""
    if answer.month > 12:
        return texts.render("date.no_such_month", month=answer.month)
    if answer.month == 2 and answer.year is None:
        return texts.render("date.no_such_day_february", day=answer.day)
    return texts.render(
        "date.no_such_day",
        day=answer.day,
        month=calendar_words(texts.language).full_months[answer.month],
        year=f" {answer.year}" if answer.year is not None else "",
        length=calendar.monthrange(answer.year or 2001, answer.month)[1],
    )
