"""Typed session dates: every style a patient uses, the year and ambiguity rules, and junk."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dates import (
    MAX_INPUT,
    Impossible,
    OutOfRange,
    Parsed,
    Unparseable,
    date_label,
    days_away,
    describe_date,
    describe_instant,
    impossible_text,
    parse_session_date,
)
from content.texts import load_texts
from scheduler.care.planning import MAX_DAYS_AHEAD, MAX_DAYS_BACK

# Wednesday 25 November 2026.
TODAY = date(2026, 11, 25)
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")  # fmt: skip


def parsed(text: str, today: date = TODAY, *, day_first: bool = True) -> date:
    answer = parse_session_date(text, today=today, day_first=day_first)
    assert isinstance(answer, Parsed), f"{text!r} gave {answer}"
    assert not answer.ambiguous, f"{text!r} is unexpectedly ambiguous: {answer}"
    return answer.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", TODAY),
        ("Today", TODAY),
        ("  TODAY!! ", TODAY),
        ("tody", TODAY),
        ("toady", TODAY),
        ("this morning", TODAY),
        ("just now", TODAY),
        ("yesterday", date(2026, 11, 24)),
        ("Yesterday.", date(2026, 11, 24)),
        ("yesteday", date(2026, 11, 24)),
        ("yestrday", date(2026, 11, 24)),
        ("it was yesterday", date(2026, 11, 24)),
        ("last night", date(2026, 11, 24)),
        ("day before yesterday", date(2026, 11, 23)),
        ("the day before yesterday", date(2026, 11, 23)),
        ("day-before-yesterday", date(2026, 11, 23)),
        ("tomorrow", date(2026, 11, 26)),
    ],
)
def test_words_for_days(text: str, expected: date) -> None:
    assert parsed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 days ago", date(2026, 11, 22)),
        ("3days ago", date(2026, 11, 22)),
        ("three days ago", date(2026, 11, 22)),
        ("Three  days   ago", date(2026, 11, 22)),
        ("1 day ago", date(2026, 11, 24)),
        ("a day ago", date(2026, 11, 24)),
        ("a couple of days ago", date(2026, 11, 23)),
        ("a week ago", date(2026, 11, 18)),
        ("one week ago", date(2026, 11, 18)),
        ("week ago", date(2026, 11, 18)),
        ("2 weeks ago", date(2026, 11, 11)),
        ("two weeks back", date(2026, 11, 11)),
        ("a fortnight ago", date(2026, 11, 11)),
        ("10 days ago", date(2026, 11, 15)),
        ("a month ago", date(2026, 10, 25)),
        ("2 months ago", date(2026, 9, 25)),
        ("in 5 days", date(2026, 11, 30)),
        ("in a week", date(2026, 12, 2)),
    ],
)
def test_relative_dates(text: str, expected: date) -> None:
    assert parsed(text) == expected


def test_months_back_clamp_to_the_end_of_the_month() -> None:
    assert parsed("a month ago", today=date(2026, 3, 31)) == date(2026, 2, 28)
    assert parsed("a month ago", today=date(2028, 3, 31)) == date(2028, 2, 29)


@pytest.mark.parametrize("text", ["days ago", "last week", "a few days ago", "5 hours ago"])
def test_vague_relative_dates_are_not_guessed(text: str) -> None:
    assert parse_session_date(text, today=TODAY) == Unparseable()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Friday", date(2026, 11, 20)),
        ("friday", date(2026, 11, 20)),
        ("fri", date(2026, 11, 20)),
        ("on friday", date(2026, 11, 20)),
        ("On Friday.", date(2026, 11, 20)),
        ("last Friday", date(2026, 11, 20)),
        ("last fri", date(2026, 11, 20)),
        ("past friday", date(2026, 11, 20)),
        ("this monday", date(2026, 11, 23)),
        ("monday", date(2026, 11, 23)),
        ("thursday", date(2026, 11, 19)),
        ("thurs", date(2026, 11, 19)),
        ("wensday", TODAY),
        ("wednesday", TODAY),
        ("this wednesday", TODAY),
        ("last wednesday", date(2026, 11, 18)),
        ("last Tuesday", date(2026, 11, 24)),
        ("on the last saturday", date(2026, 11, 21)),
    ],
)
def test_weekdays_are_the_latest_past_one(text: str, expected: date) -> None:
    """TODAY is a Wednesday: "wednesday" is today, "last wednesday" a week ago."""
    assert parsed(text) == expected


def test_next_weekday_asks_which_one() -> None:
    answer = parse_session_date("next friday", today=TODAY)
    assert answer == Parsed(date(2026, 11, 27), ambiguous=True, alternative=date(2026, 12, 4))
    assert parsed("coming friday") == date(2026, 11, 27)
    assert parsed("coming wednesday") == date(2026, 12, 2)


@pytest.mark.parametrize(
    "text",
    [
        "20/11",
        "20.11",
        "20-11",
        "20 / 11",
        "20/11/2026",
        "20.11.2026",
        "20-11-2026",
        "20/11/26",
        "20 Nov",
        "20 nov",
        "20nov",
        "20 Nov.",
        "20 November",
        "20 november 2026",
        "Nov 20",
        "Nov. 20",
        "November 20",
        "November 20th",
        "november 20th, 2026",
        "nov 20 26",
        "20th Nov",
        "20th of November",
        "20th of November 2026",
        "the 20th of november",
        "it was on the 20th of November",
        "Fri 20 Nov",
        "Fri 20 Nov (5 days ago)",
        "friday 20/11",
        "2026-11-20",
        "2026/11/20",
        "20/11 👍",
        "📅 20 Nov",
        "٢٠/١١",
        "۲۰/۱۱",
        "２０/１１",
        "20 novem",
        "20 novmber",
        "20 Novembre",
    ],
)
def test_explicit_dates_day_first(text: str) -> None:
    assert parsed(text) == date(2026, 11, 20)


@pytest.mark.parametrize(
    "text",
    ["11/20", "11.20", "11-20", "11/20/2026", "11/20/26", "Nov 20", "20 Nov", "2026-11-20"],
)
def test_explicit_dates_month_first(text: str) -> None:
    assert parsed(text, day_first=False) == date(2026, 11, 20)


def test_a_reading_that_is_no_date_is_dropped() -> None:
    """20 can't be a month: "20/11" and "11/20" are one date whatever the order."""
    assert parsed("20/11", day_first=False) == date(2026, 11, 20)
    assert parsed("11/20", day_first=True) == date(2026, 11, 20)


def test_the_ordinal_alone_is_the_latest_such_day() -> None:
    assert parsed("the 18th") == date(2026, 11, 18)
    assert parsed("on the 25th") == TODAY
    assert parsed("the 30th") == date(2026, 10, 30)
    assert parsed("the 31st") == date(2026, 10, 31)
    assert parsed("the 31st", today=date(2026, 3, 2)) == date(2026, 1, 31)
    assert parse_session_date("18", today=TODAY) == Unparseable()


@pytest.mark.parametrize(
    ("text", "day_first", "value", "alternative"),
    [
        ("03/04", True, date(2026, 4, 3), date(2026, 3, 4)),
        ("03/04", False, date(2026, 3, 4), date(2026, 4, 3)),
        ("3.4", True, date(2026, 4, 3), date(2026, 3, 4)),
        ("03/11", True, date(2026, 11, 3), date(2026, 3, 11)),
        ("03/11", False, date(2026, 3, 11), date(2026, 11, 3)),
        ("01/02/2026", True, date(2026, 2, 1), date(2026, 1, 2)),
        ("01/02/26", False, date(2026, 1, 2), date(2026, 2, 1)),
    ],
)
def test_ambiguous_numeric_dates_offer_the_other_reading(
    text: str, day_first: bool, value: date, alternative: date
) -> None:
    answer = parse_session_date(text, today=TODAY, day_first=day_first)
    assert answer == Parsed(value, ambiguous=True, alternative=alternative)


def test_no_ambiguity_when_both_readings_are_the_same_day() -> None:
    assert parsed("05/05") == date(2026, 5, 5)
    assert parsed("11/11/2026", day_first=False) == date(2026, 11, 11)


def test_no_ambiguity_when_the_other_reading_is_out_of_range() -> None:
    # 12 Jan 2027 is 48 days ahead; 1 December 2027 is more than 90.
    assert parsed("12/01/2027") == date(2027, 1, 12)
    # Month first, the only reading in range is taken, whatever the configured order.
    assert parsed("12/01/2027", day_first=False) == date(2027, 1, 12)


def test_month_names_and_iso_are_never_ambiguous() -> None:
    assert parsed("3 April") == date(2026, 4, 3)
    assert parsed("April 3") == date(2026, 4, 3)
    assert parsed("2026-04-03", day_first=False) == date(2026, 4, 3)
    assert parsed("2026-03-04") == date(2026, 3, 4)


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        # Year boundary: the recent past wins over ten months ahead.
        ("28/12", date(2027, 1, 3), date(2026, 12, 28)),
        ("28 Dec", date(2027, 1, 3), date(2026, 12, 28)),
        ("31/12", date(2027, 1, 1), date(2026, 12, 31)),
        ("1/1", date(2027, 1, 1), date(2027, 1, 1)),
        # More than ten months back and within 90 days ahead: next year's.
        ("2/1", date(2026, 12, 28), date(2027, 1, 2)),
        ("5 Jan", date(2026, 12, 28), date(2027, 1, 5)),
        ("20 Feb", date(2026, 12, 28), date(2027, 2, 20)),
        # Later than 90 days ahead: last year's, even if long ago.
        ("1 Apr", date(2026, 12, 28), date(2026, 4, 1)),
        # Within a few days ahead, rather than almost a year back.
        ("30 Nov", TODAY, date(2026, 11, 30)),
        ("1/12", TODAY, date(2026, 12, 1)),
        # 314 days back is more than ~10 months: the coming one, 51 days ahead.
        ("15 Jan", TODAY, date(2027, 1, 15)),
        # 297 days back is not: the past one, though the next is 68 days ahead.
        ("1 Feb", TODAY, date(2026, 2, 1)),
        ("20 Feb", TODAY, date(2026, 2, 20)),
    ],
)
def test_the_year_is_inferred(text: str, today: date, expected: date) -> None:
    answer = parse_session_date(text, today=today)
    assert isinstance(answer, Parsed) and answer.value == expected


def test_leap_day() -> None:
    assert parsed("29/02/2028", today=date(2028, 3, 10)) == date(2028, 2, 29)
    assert parsed("29 Feb", today=date(2028, 3, 10)) == date(2028, 2, 29)
    assert parsed("29/2", today=date(2028, 3, 10)) == date(2028, 2, 29)
    # The next one is within 90 days, the last one four years back.
    assert parsed("29 Feb", today=date(2028, 1, 15)) == date(2028, 2, 29)
    # No leap day near: the last one, honestly out of range.
    assert parse_session_date("29/02", today=TODAY) == OutOfRange(date(2024, 2, 29))
    assert parse_session_date("29/02/2026", today=TODAY) == Impossible(29, 2, 2026)
    assert parse_session_date("2027-02-29", today=TODAY) == Impossible(29, 2, 2027)


@pytest.mark.parametrize(
    "text",
    ["2026-00-10", "0/11", "13/13", "99/99/99", "20/11/202", "2026-11", "1/2/3/4",
     "20/11/20266"],
)  # fmt: skip
def test_numbers_that_are_no_date_are_unparseable(text: str) -> None:
    assert parse_session_date(text, today=TODAY) == Unparseable()


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("31/02", True, Impossible(31, 2)),
        ("02/31", True, Impossible(31, 2)),  # only one reading has a month
        ("02/31", False, Impossible(31, 2)),
        ("30 Feb", True, Impossible(30, 2)),
        ("Feb 30th", True, Impossible(30, 2)),
        ("31/04/2026", True, Impossible(31, 4, 2026)),
        ("2026-11-31", True, Impossible(31, 11, 2026)),
        ("32/01", True, Impossible(32, 1)),
        ("2026-13-01", True, Impossible(1, 13, 2026)),
        ("30 February 2028", True, Impossible(30, 2, 2028)),
    ],
)
def test_a_date_that_does_not_exist_is_told_apart_from_junk(
    text: str, day_first: bool, expected: Impossible
) -> None:
    assert parse_session_date(text, today=TODAY, day_first=day_first) == expected


def test_what_is_wrong_with_an_impossible_date_is_said() -> None:
    texts = load_texts()
    assert impossible_text(texts, Impossible(31, 2)) == (
        "There's no 31 February: February has 28 days, 29 in a leap year. Which date did you "
        "mean? Type it again, or tap a button."
    )
    assert impossible_text(texts, Impossible(31, 4, 2026)).startswith(
        "There's no 31 April 2026: April has only 30 days."
    )
    assert impossible_text(texts, Impossible(29, 2, 2026)).startswith(
        "There's no 29 February 2026: February has only 28 days."
    )
    assert impossible_text(texts, Impossible(1, 13, 2026)).startswith("There's no month 13:")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2029-01-01", date(2029, 1, 1)),
        ("2027-02-24", date(2027, 2, 24)),
        ("01/01/2020", date(2020, 1, 1)),
        ("105 weeks ago", TODAY - timedelta(weeks=105)),
        ("in 91 days", TODAY + timedelta(days=91)),
        ("24 nov 2024", date(2024, 11, 24)),
        ("24/11/2024", date(2024, 11, 24)),
    ],
)
def test_out_of_range_both_ways(text: str, expected: date) -> None:
    assert parse_session_date(text, today=TODAY) == OutOfRange(expected)


def test_the_range_edges_are_the_schedulers() -> None:
    back = TODAY - timedelta(days=MAX_DAYS_BACK)
    ahead = TODAY + timedelta(days=MAX_DAYS_AHEAD)
    assert parsed(back.isoformat()) == back
    assert parsed(ahead.isoformat()) == ahead
    too_far_back = back - timedelta(days=1)
    too_far_ahead = ahead + timedelta(days=1)
    assert parse_session_date(too_far_back.isoformat(), today=TODAY) == OutOfRange(too_far_back)
    assert parse_session_date(too_far_ahead.isoformat(), today=TODAY) == OutOfRange(too_far_ahead)


@pytest.mark.parametrize(
    "text",
    ["", " ", "asdf", "banana", "🙂", "💉💉", "20", "-3", "20 junk", "hello there",
     "0300 1234567", "nov", "friday 13", "next", "last", "ago", "20/", "/", "...", "\x00",
     "yesterday or today", "20 nov 20 nov", "'; DROP TABLE patients; --"],
)  # fmt: skip
def test_junk_is_unparseable(text: str) -> None:
    assert parse_session_date(text, today=TODAY) == Unparseable()


def test_long_input_is_refused_quickly() -> None:
    long_inputs = ["x" * 10_000, "1/" * 5_000, "a " * 5_000, "yesterday " * 1_000]
    started = time.perf_counter()
    for text in long_inputs:
        assert parse_session_date(text, today=TODAY) == Unparseable()
    assert parse_session_date(" " * 10_000 + "today", today=TODAY) == Unparseable()
    assert time.perf_counter() - started < 0.05


def test_the_longest_accepted_input_is_still_fast() -> None:
    worst = ("abcdefg " * 10)[:MAX_INPUT]
    started = time.perf_counter()
    assert parse_session_date(worst, today=TODAY) == Unparseable()
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize(
    ("value", "today", "expected"),
    [
        (date(2026, 11, 25), TODAY, "today, Wed 25 Nov"),
        (date(2026, 11, 24), TODAY, "yesterday, Tue 24 Nov"),
        (date(2026, 11, 26), TODAY, "tomorrow, Thu 26 Nov"),
        (date(2026, 11, 20), TODAY, "Fri 20 Nov (5 days ago)"),
        (date(2026, 11, 23), TODAY, "Mon 23 Nov (2 days ago)"),
        (date(2027, 1, 2), TODAY, "Sat 2 Jan 2027 (in 38 days)"),
        (date(2025, 12, 31), TODAY, "Wed 31 Dec 2025"),  # too far for a count of days
        (date(2026, 8, 25), TODAY, "Tue 25 Aug (92 days ago)"),
        (date(2026, 8, 24), TODAY, "Mon 24 Aug"),
        (date(2100, 1, 1), TODAY, "Fri 1 Jan 2100"),  # never "(in 26330 days)"
        (date(2026, 12, 31), date(2027, 1, 1), "yesterday, Thu 31 Dec 2026"),
        (date(2028, 2, 29), date(2028, 3, 1), "yesterday, Tue 29 Feb"),
    ],
)
def test_describe_date(value: date, today: date, expected: str) -> None:
    assert describe_date(value, today=today) == expected


def test_a_date_in_another_year_carries_its_year() -> None:
    assert date_label(date(2027, 11, 24), today=TODAY) == "Wed 24 Nov 2027"
    assert date_label(date(2026, 1, 2), today=TODAY) == "Fri 2 Jan"
    assert describe_date(date(2027, 11, 25), today=TODAY) == "Thu 25 Nov 2027"
    assert describe_date(date(2027, 1, 2), today=TODAY) == "Sat 2 Jan 2027 (in 38 days)"


def test_an_instant_in_another_year_carries_its_year() -> None:
    now = datetime(2026, 12, 20, 4, 0, tzinfo=UTC)
    soon = datetime(2026, 12, 24, 4, 0, tzinfo=UTC)
    assert describe_instant(soon, "Asia/Karachi", now=now) == "Thu 24 Dec, 09:00"
    next_year = datetime(2027, 1, 5, 4, 0, tzinfo=UTC)
    assert describe_instant(next_year, "Asia/Karachi", now=now) == "Tue 05 Jan 2027, 09:00"
    a_year_on = datetime(2027, 12, 24, 4, 0, tzinfo=UTC)
    assert describe_instant(a_year_on, "Asia/Karachi", now=now) == "Fri 24 Dec 2027, 09:00"
    # The year is the patient's: 31 Dec 20:00 UTC is already 1 January in Karachi.
    new_year = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    assert describe_instant(new_year, "Asia/Karachi", now=now) == "Fri 01 Jan 2027, 01:00"


def test_days_ahead_have_their_plural_right() -> None:
    texts = load_texts()
    assert days_away(texts, 1) == "tomorrow"
    assert days_away(texts, 2) == "in 2 days"
    assert days_away(texts, 7) == "in 7 days"
    for key in ("registered.where_before", "status.before"):
        assert "(s)" not in texts.templates[key]


def test_describe_date_reads_back_as_the_same_date() -> None:
    for days in range(-60, 60):
        value = TODAY + timedelta(days=days)
        answer = parse_session_date(describe_date(value, today=TODAY), today=TODAY)
        if abs(days) > 1:  # "today, ..." and "yesterday, ..." are two dates in one phrase
            assert isinstance(answer, Parsed) and answer.value == value


# --- properties --------------------------------------------------------------------------------

in_range_dates = st.dates(
    TODAY - timedelta(days=MAX_DAYS_BACK), TODAY + timedelta(days=MAX_DAYS_AHEAD)
)
todays = st.dates(date(2001, 1, 1), date(2098, 12, 31))


@settings(max_examples=300, deadline=None)
@given(todays, st.integers(-MAX_DAYS_BACK, MAX_DAYS_AHEAD), st.booleans())
def test_every_date_in_range_round_trips(today: date, offset: int, day_first: bool) -> None:
    value = today + timedelta(days=offset)
    numeric = (
        f"{value.day}/{value.month}/{value.year}"
        if day_first
        else f"{value.month}/{value.day}/{value.year}"
    )
    texts = [
        value.isoformat(),
        numeric,
        f"{value.day} {MONTH_NAMES[value.month - 1]} {value.year}",
        f"{MONTH_NAMES[value.month - 1]} {value.day}, {value.year}",
        f"{value.day}.{value.month:02d}.{value.year}" if day_first else value.isoformat(),
    ]
    for text in texts:
        answer = parse_session_date(text, today=today, day_first=day_first)
        assert isinstance(answer, Parsed), (text, answer)
        assert answer.value == value, (text, answer)


@settings(max_examples=300, deadline=None)
@given(in_range_dates, st.booleans())
def test_ambiguity_is_offered_only_in_range(value: date, day_first: bool) -> None:
    text = f"{value.day:02d}/{value.month:02d}" if day_first else f"{value.month}/{value.day}"
    answer = parse_session_date(text, today=TODAY, day_first=day_first)
    assert isinstance(answer, Parsed | OutOfRange)
    if isinstance(answer, Parsed) and answer.ambiguous:
        assert answer.alternative is not None and answer.alternative != answer.value
        for candidate in (answer.value, answer.alternative):
            assert TODAY - timedelta(days=MAX_DAYS_BACK) <= candidate
            assert candidate <= TODAY + timedelta(days=MAX_DAYS_AHEAD)
        assert {answer.value.day, answer.value.month} == {value.day, value.month}
    if value.day > 12 or value.day == value.month:
        assert isinstance(answer, Parsed) and not answer.ambiguous


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120), todays, st.booleans())
def test_the_parser_never_raises(text: str, today: date, day_first: bool) -> None:
    answer = parse_session_date(text, today=today, day_first=day_first)
    assert isinstance(answer, Parsed | OutOfRange | Impossible | Unparseable)
    if isinstance(answer, Parsed):
        assert answer.ambiguous == (answer.alternative is not None)


date_words = st.sampled_from(
    ["today", "yesterday", "ago", "days", "week", "last", "friday", "nov", "the", "of", "in",
     "next", "20", "3", "2026", "/", ".", "-", "th", "a", "couple", "month", "29", "02", "1999"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(date_words, max_size=8), st.sampled_from(["", " "]), todays, st.booleans())
def test_date_like_word_salad_never_raises(
    words: list[str], joiner: str, today: date, day_first: bool
) -> None:
    answer = parse_session_date(joiner.join(words), today=today, day_first=day_first)
    assert isinstance(answer, Parsed | OutOfRange | Impossible | Unparseable)


# Urdu and Roman Urdu: Urdu month and weekday names, Western digits, 24-hour times.
WED = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("language", "offset", "expected"),
    [
        ("ur", 0, "آج، بدھ 25 نومبر"),
        ("ur", -1, "کل، منگل 24 نومبر"),
        ("ur", -5, "جمعہ 20 نومبر (5 دن پہلے)"),
        ("ur", 7, "بدھ 2 دسمبر (7 دن بعد)"),
        ("ur", 40, "پیر 4 جنوری 2027 (40 دن بعد)"),
        ("ur-Latn", 0, "aaj, Budh 25 Nov"),
        ("ur-Latn", 1, "kal, Jumeraat 26 Nov"),
        ("ur-Latn", -5, "Jumma 20 Nov (5 din pehle)"),
        ("ur-Latn", 3, "Hafta 28 Nov (3 din baad)"),
        ("en", -5, "Fri 20 Nov (5 days ago)"),
    ],
)
def test_describe_date_in_urdu(language: str, offset: int, expected: str) -> None:
    value = WED + timedelta(days=offset)
    assert describe_date(value, today=WED, language=language) == expected


def test_date_label_in_urdu_names_every_month_and_weekday() -> None:
    labels = {date_label(date(2026, m, 1), today=WED, language="ur") for m in range(1, 13)}
    assert len(labels) == 12
    assert all(not any(c.isascii() and c.isalpha() for c in label) for label in labels)
    days = {date_label(WED + timedelta(days=d), today=WED, language="ur") for d in range(7)}
    assert {label.split()[0] for label in days} == {
        "پیر", "منگل", "بدھ", "جمعرات", "جمعہ", "ہفتہ", "اتوار",
    }  # fmt: skip


def test_describe_instant_in_urdu_uses_24_hour_western_digits() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    evening = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 19:00 in Karachi
    assert (
        describe_instant(evening, "Asia/Karachi", now=now, language="ur") == "بدھ 25 نومبر، 19:00"
    )
    assert (
        describe_instant(evening, "Asia/Karachi", now=now, language="ur-Latn")
        == "Budh 25 Nov, 19:00"
    )
    next_year = datetime(2027, 1, 5, 4, 0, tzinfo=UTC)
    assert describe_instant(next_year, "Asia/Karachi", now=now, language="ur") == (
        "منگل 5 جنوری 2027، 09:00"
    )
    assert describe_instant(evening, "Asia/Karachi", now=now) == "Wed 25 Nov, 19:00"


def test_an_unknown_language_writes_dates_in_english() -> None:
    assert describe_date(WED, today=WED, language="fr") == "today, Wed 25 Nov"


def test_impossible_dates_name_the_month_in_the_patients_language() -> None:
    assert "اپریل" in impossible_text(load_texts("ur"), Impossible(31, 4, 2026))
    assert "April mein sirf 30 din" in impossible_text(load_texts("ur-Latn"), Impossible(31, 4))
