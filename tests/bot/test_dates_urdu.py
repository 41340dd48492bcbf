"""Session dates typed in Roman Urdu, Urdu script, and both mixed with English."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import content.triage
from bot.dates import (
    CALENDARS,
    KNOWN,
    MAX_INPUT,
    Impossible,
    OutOfRange,
    Parsed,
    Unparseable,
    date_label,
    describe_date,
    parse_session_date,
)
from bot.urdu_dates import SKELETONS, SPELLINGS, WORDS, read_urdu_word
from content.texts import load_texts
from content.triage.script import fold_urdu

# Wednesday 25 November 2026.
TODAY = date(2026, 11, 25)
YESTERDAY = date(2026, 11, 24)
DAY_BEFORE = date(2026, 11, 23)
THREE_DAYS = date(2026, 11, 22)
A_WEEK = date(2026, 11, 18)
FRIDAY = date(2026, 11, 20)
SATURDAY = date(2026, 11, 21)


def parsed(text: str, today: date = TODAY) -> date:
    answer = parse_session_date(text, today=today)
    assert isinstance(answer, Parsed), f"{text!r} gave {answer}"
    assert not answer.ambiguous, f"{text!r} is unexpectedly ambiguous: {answer}"
    return answer.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aaj", TODAY),
        ("aj", TODAY),
        ("Aaj", TODAY),
        ("aaj subah", TODAY),
        ("abhi", TODAY),
        ("aaj hi", TODAY),
        ("kal", YESTERDAY),
        ("kl", YESTERDAY),
        ("Kal!", YESTERDAY),
        ("kal ki", YESTERDAY),
        ("kal ko", YESTERDAY),
        ("kal se", YESTERDAY),
        ("kal raat", YESTERDAY),
        ("kal shaam", YESTERDAY),
        ("kal subah", YESTERDAY),
        ("session kal tha", YESTERDAY),
        ("mera session kal hua", YESTERDAY),
        ("kal hi treatment hua tha", YESTERDAY),
        ("meri treatment kal hui thi", YESTERDAY),
        ("parson", DAY_BEFORE),
        ("parso", DAY_BEFORE),
        ("parsun", DAY_BEFORE),
        ("parsoon", DAY_BEFORE),
        ("parson ko", DAY_BEFORE),
        ("tarson", THREE_DAYS),
        ("3 din pehle", THREE_DAYS),
        ("3din pehle", THREE_DAYS),
        ("teen din pehle", THREE_DAYS),
        ("3 din pehlay", THREE_DAYS),
        ("3 din pahle", THREE_DAYS),
        ("3 din qabal", THREE_DAYS),
        ("mera session 3 din pehle hua", THREE_DAYS),
        ("mera session 3 din pehle hua tha", THREE_DAYS),
        ("aaj se 3 din pehle", THREE_DAYS),
        ("3 din ho gaye", THREE_DAYS),
        ("session ko 3 din ho gaye hain", THREE_DAYS),
        ("ek din pehle", YESTERDAY),
        ("aik din pehle", YESTERDAY),
        ("do din pehle", DAY_BEFORE),
        ("char din pehle", date(2026, 11, 21)),
        ("chaar din pehle", date(2026, 11, 21)),
        ("panch din pehle", FRIDAY),
        ("paanch din pehle", FRIDAY),
        ("chay din pehle", date(2026, 11, 19)),
        ("chhe din pehle", date(2026, 11, 19)),
        ("saat din pehle", A_WEEK),
        ("sat din pehle", A_WEEK),
        ("das din pehle", date(2026, 11, 15)),
        ("ek hafta pehle", A_WEEK),
        ("aik hafta pehle", A_WEEK),
        ("1 hafte pehle", A_WEEK),
        ("hafta pehle", A_WEEK),
        ("ek hafta ho gaya", A_WEEK),
        ("2 hafte pehle", date(2026, 11, 11)),
        ("do hafte pehle", date(2026, 11, 11)),
        ("ek mahina pehle", date(2026, 10, 25)),
        ("mahina pehle", date(2026, 10, 25)),
        ("2 mahine pehle", date(2026, 9, 25)),
        ("3 din baad", date(2026, 11, 28)),
        ("ek hafte baad", date(2026, 12, 2)),
        ("pichle jumme", FRIDAY),
        ("pichlay juma", FRIDAY),
        ("pichle jumme ko", FRIDAY),
        ("pichhle jummay", FRIDAY),
        ("guzishta jumma", FRIDAY),
        ("jumma", FRIDAY),
        ("jumme ko", FRIDAY),
        ("jumme ke din", FRIDAY),
        ("jumme wale din", FRIDAY),
        ("iss jumme", FRIDAY),
        ("is jumme", FRIDAY),
        ("peer", DAY_BEFORE),
        ("pir ko", DAY_BEFORE),
        ("somwar", DAY_BEFORE),
        ("mangal", YESTERDAY),
        ("budh", TODAY),
        ("pichle budh", A_WEEK),
        ("jumeraat", date(2026, 11, 19)),
        ("jumerat", date(2026, 11, 19)),
        ("jumairat", date(2026, 11, 19)),
        ("hafta", SATURDAY),
        ("haftay ko", SATURDAY),
        ("hafte ke din", SATURDAY),
        ("itwaar", date(2026, 11, 22)),
        ("itwar", date(2026, 11, 22)),
        ("aitwaar ko", date(2026, 11, 22)),
        ("20 November", FRIDAY),
        ("20 nov", FRIDAY),
        ("20 navambar", FRIDAY),
        ("20 novambar ko", FRIDAY),
        ("20 nov ko", FRIDAY),
        ("20 tareekh", FRIDAY),
        ("20 tarikh ko", FRIDAY),
        ("20/11 ko", FRIDAY),
        ("3 aktubar", date(2026, 10, 3)),
        ("15 sitambar", date(2026, 9, 15)),
        ("1 agast", date(2026, 8, 1)),
        ("Jumma 20 Nov", FRIDAY),
        ("Jumma 20 Nov (5 din pehle)", FRIDAY),
    ],
)
def test_roman_urdu(text: str, expected: date) -> None:
    assert parsed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("آج", TODAY),
        ("آج صبح", TODAY),
        ("کل", YESTERDAY),
        ("کل۔", YESTERDAY),
        ("کل کو", YESTERDAY),
        ("کل رات", YESTERDAY),
        ("سیشن کل ہوا تھا", YESTERDAY),
        ("پرسوں", DAY_BEFORE),
        ("3 دن پہلے", THREE_DAYS),
        ("۳ دن پہلے", THREE_DAYS),
        ("٣ دن پہلے", THREE_DAYS),
        ("تین دن پہلے", THREE_DAYS),
        ("میرا سیشن ۳ دن پہلے ہوا تھا", THREE_DAYS),
        ("3 دن ہو گئے", THREE_DAYS),
        ("دو دن پہلے", DAY_BEFORE),
        ("ایک ہفتہ پہلے", A_WEEK),
        ("ایک ہفتے پہلے", A_WEEK),
        ("دو ہفتے پہلے", date(2026, 11, 11)),
        ("ایک مہینہ پہلے", date(2026, 10, 25)),
        ("پچھلے جمعہ", FRIDAY),
        ("پچھلے جمعے کو", FRIDAY),
        ("جمعہ", FRIDAY),
        ("پیر", DAY_BEFORE),
        ("منگل کو", YESTERDAY),
        ("بدھ", TODAY),
        ("جمعرات", date(2026, 11, 19)),
        ("ہفتہ", SATURDAY),
        ("ہفتے کو", SATURDAY),
        ("اتوار", date(2026, 11, 22)),
        ("۲۰ نومبر", FRIDAY),
        ("۲۰ نومبر کو", FRIDAY),
        ("20 نومبر", FRIDAY),
        ("20نومبر", FRIDAY),
        ("٢٠ نومبر", FRIDAY),
        ("۲۰ تاریخ کو", FRIDAY),
        ("۲۰/۱۱", FRIDAY),
        ("۲۰/۱۱/۲۰۲۶", FRIDAY),
        ("۲۰۲۶-۱۱-۲۰", FRIDAY),
        ("جمعہ 20 نومبر (5 دن پہلے)", FRIDAY),
    ],
)
def test_urdu_script(text: str, expected: date) -> None:
    assert parsed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("last jumma", FRIDAY),
        ("last juma", FRIDAY),
        ("pichle friday", FRIDAY),
        ("pichle friday ko", FRIDAY),
        ("session kal tha", YESTERDAY),
        ("my session was kal", YESTERDAY),
        ("kal evening", YESTERDAY),
        ("yesterday tha", YESTERDAY),
        ("3 days pehle", THREE_DAYS),
        ("3 din ago", THREE_DAYS),
        ("3 weeks ho gaye", date(2026, 11, 4)),
        ("2 weeks pehle", date(2026, 11, 11)),
        ("20 Nov ko", FRIDAY),
        ("20 نومبر ko", FRIDAY),
        ("session 20 navambar ko hua", FRIDAY),
        ("on jumma", FRIDAY),
        ("کل evening", YESTERDAY),
        ("3 دن ago", THREE_DAYS),
        ("friday ko", FRIDAY),
    ],
)
def test_mixed_with_english(text: str, expected: date) -> None:
    assert parsed(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # Symptoms and questions: no date in them.
        "bohat kharish ho rahi hai",
        "kal se laal hai",
        "chehra bohat laal hai",
        "kya ye normal hai",
        "honth soojh gaye",
        "daane nikal aaye hain",
        "chahiye",
        "mujhe nahi pata",
        "yaad nahi",
        "کل سے خارش ہے",
        "سرخی بہت ہے",
        "ہونٹ سوج گئے ہیں",
        # Vague, as "last week" and "a few days ago" are in English.
        "pichle hafte",
        "pichle hafte ko",
        "is hafte",
        "agle hafte",
        "پچھلے ہفتے",
        "اس ہفتے",
        "kuch din pehle",
        "do teen din pehle",
        "din pehle",
        "3 din se",
        "kal ya parson",
        "aaj kal",
        "آج کل",
        # Filler alone, and a number alone.
        "ko",
        "session tha",
        "20 ko",
        "mai",
        "hua",
    ],
)
def test_no_date_is_read_into_these(text: str) -> None:
    assert parse_session_date(text, today=TODAY) == Unparseable()


def test_kal_and_parson_look_back() -> None:
    """Urdu says "kal" and "parson" for both sides of today; a session asked about is past."""
    new_year = date(2027, 1, 1)
    assert parsed("kal", today=new_year) == date(2026, 12, 31)
    assert parsed("کل", today=new_year) == date(2026, 12, 31)
    assert parsed("parson", today=new_year) == date(2026, 12, 30)


def test_hafta_is_saturday_alone_and_a_week_with_a_count() -> None:
    saturday = date(2026, 11, 28)
    assert parsed("hafta", today=saturday) == saturday
    assert parsed("ہفتہ", today=saturday) == saturday
    assert parsed("ek hafta pehle", today=saturday) == date(2026, 11, 21)
    assert parsed("Hafta 28 Nov (3 din baad)") == saturday


def test_on_a_friday_last_jumma_is_a_week_ago() -> None:
    friday = date(2026, 11, 27)
    assert parsed("jumma", today=friday) == friday
    assert parsed("pichle jumme", today=friday) == FRIDAY
    assert parsed("پچھلے جمعہ", today=friday) == FRIDAY


def test_next_weekday_asks_which_one_in_urdu_too() -> None:
    expected = Parsed(date(2026, 11, 27), ambiguous=True, alternative=date(2026, 12, 4))
    assert parse_session_date("agle jumme", today=TODAY) == expected
    assert parse_session_date("اگلے جمعہ", today=TODAY) == expected


def test_out_of_range_and_impossible_in_urdu() -> None:
    assert parse_session_date("200 hafte pehle", today=TODAY) == OutOfRange(
        TODAY - timedelta(weeks=200)
    )
    assert parse_session_date("1 navambar 2024", today=TODAY) == OutOfRange(date(2024, 11, 1))
    assert parse_session_date("31 نومبر", today=TODAY) == Impossible(31, 11)
    assert parse_session_date("۳۰ فروری", today=TODAY) == Impossible(30, 2)
    assert parse_session_date("31 navambar 2026", today=TODAY) == Impossible(31, 11, 2026)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("كل", YESTERDAY),  # Arabic kaf
        ("\u200fکل", YESTERDAY),  # a right-to-left mark first, as Telegram apps send it
        ("کَل", YESTERDAY),  # a vowel mark
        ("ک\u200cل", YESTERDAY),  # a zero-width non-joiner
        ("جمعه", FRIDAY),  # Arabic heh
        ("پچهلے جمعه", FRIDAY),  # heh for do-chashmi heh
        ("پيرکو", DAY_BEFORE),  # Arabic yeh, and "کو" typed on (ر does not join)
    ],
)
def test_the_forms_of_urdu_letters_are_one(text: str, expected: date) -> None:
    assert parsed(text) == expected


def test_urdu_digits_inside_a_date() -> None:
    assert parsed("۲۰ نومبر") == parsed("20 نومبر") == FRIDAY
    assert parsed("٢٠ نومبر") == FRIDAY
    assert parsed("۱۸ نومبر ۲۰۲۶") == date(2026, 11, 18)
    assert parsed("۱۸.۱۱.۲۶") == date(2026, 11, 18)
    assert parsed("۵ din pehle") == FRIDAY
    assert parsed("۱۰ دن پہلے") == date(2026, 11, 15)
    assert parse_session_date("۰۳/۰۴", today=TODAY) == Parsed(
        date(2026, 4, 3), ambiguous=True, alternative=date(2026, 3, 4)
    )


@pytest.mark.parametrize("language", ["ur", "ur-Latn"])
def test_describe_date_reads_back_in_urdu(language: str) -> None:
    for days in range(-60, 60):
        value = TODAY + timedelta(days=days)
        text = describe_date(value, today=TODAY, language=language)
        answer = parse_session_date(text, today=TODAY)
        if abs(days) > 1:  # "aaj, Budh 25 Nov" holds two dates, as "today, Wed 25 Nov" does
            assert answer == Parsed(value), (text, answer)


@pytest.mark.parametrize("language", ["ur", "ur-Latn"])
def test_every_month_and_weekday_name_we_write_is_read(language: str) -> None:
    words = CALENDARS[language]
    for month in range(1, 13):
        value = date(2025, month, 10)  # last year's: the label carries the year
        assert parsed(date_label(value, today=TODAY, language=language)) == value
        assert parsed(f"10 {words.full_months[month]} 2025") == value
    for offset, name in enumerate(words.days):
        assert parsed(name) == DAY_BEFORE + timedelta(days=offset - (offset > 2) * 7)


@pytest.mark.parametrize("language", ["en", "ur", "ur-Latn"])
def test_every_example_the_bot_gives_is_read(language: str) -> None:
    """ "Type it like <i>3 din pehle</i>": each example in the date texts is a date."""
    templates = load_texts(language).templates
    examples = [
        example
        for key, template in templates.items()
        if key.startswith("date.")
        for example in re.findall(r"<i>(.*?)</i>", template)
    ]
    assert len(examples) >= 8
    for example in examples:
        assert isinstance(parse_session_date(example, today=TODAY), Parsed), example


def test_no_spelling_has_two_meanings() -> None:
    seen: dict[str, str] = {}
    for meaning, spellings in WORDS.items():
        for spelling in spellings:
            folded = fold_urdu(spelling)
            assert seen.setdefault(folded, meaning) == meaning, (spelling, meaning)


def test_english_wins_where_a_spelling_is_an_english_date_word() -> None:
    """An English date word is read as English first: no Urdu spelling may be one."""
    assert not set(SPELLINGS) & KNOWN


def test_roman_urdu_words_are_read_as_listed_never_repaired_into_english() -> None:
    for spelling, meaning in SPELLINGS.items():
        assert read_urdu_word(spelling) == meaning
    assert parse_session_date("din", today=TODAY) == Unparseable()  # not "dec"
    assert parse_session_date("kal", today=TODAY) == Parsed(YESTERDAY)  # not "kal..." anything


def test_the_triage_lexicons_roman_urdu_is_never_repaired_into_a_date_word() -> None:
    """Every word of lexicon-ur.yaml (symptoms, body parts, verbs) is either a date word of
    ours or read as itself: "honth" (lips) is not "month", "daane" (pimples) not "dinon"."""
    text = Path(content.triage.__file__).with_name("lexicon-ur.yaml").read_text()
    words = set(re.findall(r"[a-z]+", fold_urdu(text).lower()))
    assert len(words) > 500
    for word in sorted(words):
        answer = parse_session_date(word, today=TODAY)
        if read_urdu_word(word) is None and not isinstance(answer, Unparseable):
            assert word in KNOWN, (word, answer)  # an English date word in an example


def test_skeletons_read_spelling_variants_of_long_words_only() -> None:
    assert parsed("pichley jumay") == FRIDAY
    assert parsed("itwaaar") == date(2026, 11, 22)
    assert parsed("20 navambarr") == FRIDAY
    assert parsed("12 aktoobar") == date(2026, 10, 12)
    assert all(len(key) - key.count("V") >= 3 for key in SKELETONS)
    for short in ("jaali", "daane", "chahiye", "dinnn", "chaaay"):
        assert read_urdu_word(short) is None, short


def test_the_longest_accepted_urdu_input_is_still_fast() -> None:
    worst = [("pichlaaa " * 10)[:MAX_INPUT], ("پچھلےےے " * 10)[:MAX_INPUT]]
    started = time.perf_counter()
    for text in worst:
        assert parse_session_date(text, today=TODAY) == Unparseable()
    assert time.perf_counter() - started < 0.1


urdu_date_words = st.sampled_from(
    ["aaj", "kal", "parson", "din", "hafta", "hafte", "mahina", "pehle", "baad", "pichle",
     "agle", "is", "jumma", "peer", "ek", "do", "sat", "ho", "gaye", "hua", "ko", "tareekh",
     "navambar", "آج", "کل", "دن", "ہفتہ", "پہلے", "پچھلے", "جمعہ", "نومبر", "۲۰", "٣", "20",
     "3", "/", "-", "(", ")", "last", "ago", "\u200f", "۔"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(urdu_date_words, max_size=8), st.sampled_from(["", " "]), st.booleans())
def test_urdu_word_salad_never_raises(words: list[str], joiner: str, day_first: bool) -> None:
    answer = parse_session_date(joiner.join(words), today=TODAY, day_first=day_first)
    assert isinstance(answer, Parsed | OutOfRange | Impossible | Unparseable)
    if isinstance(answer, Parsed):
        assert answer.ambiguous == (answer.alternative is not None)
