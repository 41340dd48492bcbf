"""Time zones typed by patients: IANA names, cities, offsets, abbreviations; and their wording."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.zones import ALIASES, COMMON_ZONES, PARTIAL_OFFSETS, describe_zone, resolve_timezone

JULY = datetime(2026, 7, 15, 6, 48, tzinfo=UTC)
JANUARY = datetime(2026, 1, 15, 6, 48, tzinfo=UTC)


def _minutes(local: datetime) -> int:
    offset = local.utcoffset()
    assert offset is not None
    return int(offset.total_seconds() // 60)


def zone_of(text: str) -> str | None:
    match = resolve_timezone(text)
    return None if match is None else match.zone


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Asia/Karachi", "Asia/Karachi"),
        ("asia/karachi", "Asia/Karachi"),
        ("ASIA/KARACHI", "Asia/Karachi"),
        (" asia / karachi ", "Asia/Karachi"),
        ("America/New_York", "America/New_York"),
        ("america/new york", "America/New_York"),
        ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("Etc/GMT-5", "Etc/GMT-5"),
        ("us/eastern", "US/Eastern"),
    ],
)
def test_iana_names_in_any_case(text: str, zone: str) -> None:
    assert zone_of(text) == zone


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("karachi", "Asia/Karachi"),
        ("Karachi", "Asia/Karachi"),
        ("Karachi time", "Asia/Karachi"),
        ("Islamabad", "Asia/Karachi"),
        ("Lahore", "Asia/Karachi"),
        ("lahore.", "Asia/Karachi"),
        ("Lahore, Pakistan", "Asia/Karachi"),
        ("Rawalpindi", "Asia/Karachi"),
        ("Peshawar", "Asia/Karachi"),
        ("Pakistan", "Asia/Karachi"),
        ("Pakistan time", "Asia/Karachi"),
        ("pakistan standard time", "Asia/Karachi"),
        ("Dubai", "Asia/Dubai"),
        ("Abu Dhabi", "Asia/Dubai"),
        ("abu_dhabi", "Asia/Dubai"),
        ("UAE", "Asia/Dubai"),
        ("Riyadh", "Asia/Riyadh"),
        ("Jeddah", "Asia/Riyadh"),
        ("Doha", "Asia/Qatar"),
        ("Muscat", "Asia/Muscat"),
        ("Kuwait", "Asia/Kuwait"),
        ("Bahrain", "Asia/Bahrain"),
        ("Delhi", "Asia/Kolkata"),
        ("New Delhi", "Asia/Kolkata"),
        ("Mumbai", "Asia/Kolkata"),
        ("Kolkata", "Asia/Kolkata"),
        ("Calcutta", "Asia/Kolkata"),
        ("London", "Europe/London"),
        ("Manchester", "Europe/London"),
        ("Birmingham", "Europe/London"),
        ("UK", "Europe/London"),
        ("GB", "Europe/London"),
        ("Dublin", "Europe/Dublin"),
        ("Berlin", "Europe/Berlin"),
        ("Paris", "Europe/Paris"),
        ("new york", "America/New_York"),
        ("New York City", "America/New_York"),
        ("NYC", "America/New_York"),
        ("new-york", "America/New_York"),
        ("los angeles", "America/Los_Angeles"),
        ("Los_Angeles", "America/Los_Angeles"),
        ("San Francisco", "America/Los_Angeles"),
        ("Chicago", "America/Chicago"),
        ("Houston", "America/Chicago"),
        ("Toronto", "America/Toronto"),
        ("Montreal", "America/Toronto"),
        ("Vancouver", "America/Vancouver"),
        ("Calgary", "America/Edmonton"),
        ("st. john's", "America/St_Johns"),
        ("Sydney", "Australia/Sydney"),
        ("Melbourne", "Australia/Melbourne"),
        ("Perth", "Australia/Perth"),
        ("Canberra", "Australia/Sydney"),
        ("Auckland", "Pacific/Auckland"),
        ("Kathmandu", "Asia/Kathmandu"),
        ("Turkey", "Europe/Istanbul"),
        ("Istanbul", "Europe/Istanbul"),
        ("kyiv", "Europe/Kyiv"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),
    ],
)
def test_cities_and_countries(text: str, zone: str) -> None:
    assert zone_of(text) == zone


@pytest.mark.parametrize(
    ("text", "zone", "label"),
    [
        ("UTC+5", "Etc/GMT-5", "UTC+05:00"),
        ("utc +5", "Etc/GMT-5", "UTC+05:00"),
        ("GMT+5", "Etc/GMT-5", "UTC+05:00"),
        ("+05:00", "Etc/GMT-5", "UTC+05:00"),
        ("+5", "Etc/GMT-5", "UTC+05:00"),
        ("+0500", "Etc/GMT-5", "UTC+05:00"),
        ("-3", "Etc/GMT+3", "UTC-03:00"),
        ("\u22123", "Etc/GMT+3", "UTC-03:00"),
        ("utc-8", "Etc/GMT+8", "UTC-08:00"),
        ("UTC-08:00", "Etc/GMT+8", "UTC-08:00"),
        ("UTC+14", "Etc/GMT-14", "UTC+14:00"),
        ("UTC-12", "Etc/GMT+12", "UTC-12:00"),
        ("UTC+0", "UTC", "UTC"),
        ("GMT-0", "UTC", "GMT-0"),
        ("GMT+5:30", "Asia/Kolkata", "UTC+05:30"),
        ("+0530", "Asia/Kolkata", "UTC+05:30"),
        ("+5.5", "Asia/Kolkata", "UTC+05:30"),
        ("+5.30", "Asia/Kolkata", "UTC+05:30"),
        ("UTC+5:45", "Asia/Kathmandu", "UTC+05:45"),
        ("+3:30", "Asia/Tehran", "UTC+03:30"),
        ("+4:30", "Asia/Kabul", "UTC+04:30"),
        ("+9:30", "Australia/Darwin", "UTC+09:30"),
        ("-3:30", "America/St_Johns", "UTC-03:30"),
        ("-9:30", "Pacific/Marquesas", "UTC-09:30"),
        ("utc+5 time", "Etc/GMT-5", "UTC+05:00"),
    ],
)
def test_utc_offsets(text: str, zone: str, label: str) -> None:
    match = resolve_timezone(text)
    assert match is not None and (match.zone, match.label) == (zone, label)


@pytest.mark.parametrize(
    "text", ["UTC+15", "UTC-13", "+5:15", "+5:20", "+5:60", "+123", "5", "530", "UTC 5", "++5"]
)
def test_offsets_no_zone_has(text: str) -> None:
    assert resolve_timezone(text) is None


def test_partial_offsets_are_the_standard_offset_of_their_zone() -> None:
    """Each zone has the offset as its winter (standard) offset, in one hemisphere or the other."""
    for (hours, minutes), zone in PARTIAL_OFFSETS.items():
        offset = hours * 60 + minutes
        seen = {_minutes(moment.astimezone(ZoneInfo(zone))) for moment in (JANUARY, JULY)}
        assert offset in seen, zone


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("UTC", "UTC"),
        ("utc", "UTC"),
        ("GMT", "UTC"),
        ("Zulu", "UTC"),
        ("PKT", "Asia/Karachi"),
        ("pkt", "Asia/Karachi"),
        ("IST", "Asia/Kolkata"),
        ("GST", "Asia/Dubai"),
        ("EST", "America/New_York"),
        ("EDT", "America/New_York"),
        ("Eastern time", "America/New_York"),
        ("CST", "America/Chicago"),
        ("PST", "America/Los_Angeles"),
        ("Pacific Time", "America/Los_Angeles"),
        ("MST", "America/Denver"),
        ("HST", "Pacific/Honolulu"),
        ("CET", "Europe/Berlin"),
        ("MSK", "Europe/Moscow"),
        ("JST", "Asia/Tokyo"),
        ("AEST", "Australia/Sydney"),
    ],
)
def test_abbreviations_with_one_reading(text: str, zone: str) -> None:
    assert zone_of(text) == zone


@pytest.mark.parametrize("text", ["BST", "AST", "Hyderabad", "Portland"])
def test_ambiguous_names_are_refused(text: str) -> None:
    """British Summer or Bangladesh; Arabia or Atlantic; Pakistan or India; Oregon or Maine."""
    assert resolve_timezone(text) is None


@pytest.mark.parametrize(
    "text",
    ["", "   ", "Atlantis", "asdf", "🙂", "Asia/Atlantis", "Europe/", "/", "Factory",
     "localtime", "posixrules", "../../etc/passwd", "Asia/Karachi\x00", "time", "New York York",
     "x" * 10_000, "UTC+5" + " " * 10_000],
)  # fmt: skip
def test_unknown_input_is_none(text: str) -> None:
    assert resolve_timezone(text) is None


def test_every_common_zone_loads_and_resolves_to_itself() -> None:
    assert COMMON_ZONES[0] == ("Pakistan", "Asia/Karachi")
    assert len(COMMON_ZONES) % 2 == 0, "two per row in bot.keyboards.timezones"
    for label, zone in COMMON_ZONES:
        ZoneInfo(zone)
        assert zone_of(zone) == zone
        assert label and len(f"tz:set:{zone}".encode()) <= 64


def test_every_alias_loads_and_no_name_is_given_twice() -> None:
    seen: dict[str, str] = {}
    for zone, names in ALIASES.items():
        ZoneInfo(zone)
        for name in names:
            assert name.lower() not in seen, (name, seen.get(name.lower()), zone)
            seen[name.lower()] = zone
            match = resolve_timezone(name)
            assert match is not None and match.zone == zone and match.label == name


def test_labels_say_what_was_recognised() -> None:
    assert resolve_timezone("lahore") == resolve_timezone("LAHORE")
    match = resolve_timezone("new york")
    assert match is not None and match.label == "New York"
    match = resolve_timezone("asia/karachi")
    assert match is not None and match.label == "Asia/Karachi"


def test_resolution_is_fast() -> None:
    resolve_timezone("warm up")
    started = time.perf_counter()
    for text in ["Lahore", "UTC+5", "asia/karachi", "Atlantis", "x" * 64]:
        resolve_timezone(text)
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        ("Asia/Karachi", JULY, "Asia/Karachi (UTC+05:00, 11:48 now)"),
        ("Asia/Karachi", JANUARY, "Asia/Karachi (UTC+05:00, 11:48 now)"),
        ("Europe/London", JULY, "Europe/London (UTC+01:00, 07:48 now)"),
        ("Europe/London", JANUARY, "Europe/London (UTC+00:00, 06:48 now)"),
        ("America/New_York", JULY, "America/New_York (UTC-04:00, 02:48 now)"),
        ("America/New_York", JANUARY, "America/New_York (UTC-05:00, 01:48 now)"),
        ("Australia/Sydney", JULY, "Australia/Sydney (UTC+10:00, 16:48 now)"),
        ("Australia/Sydney", JANUARY, "Australia/Sydney (UTC+11:00, 17:48 now)"),
        ("Asia/Kolkata", JULY, "Asia/Kolkata (UTC+05:30, 12:18 now)"),
        ("Asia/Kathmandu", JULY, "Asia/Kathmandu (UTC+05:45, 12:33 now)"),
        ("America/St_Johns", JANUARY, "America/St_Johns (UTC-03:30, 03:18 now)"),
        ("Etc/GMT-5", JULY, "UTC+05:00 (11:48 now)"),
        ("Etc/GMT+8", JULY, "UTC-08:00 (22:48 now)"),
        ("UTC", JULY, "UTC (06:48 now)"),
    ],
)
def test_describe_zone(zone: str, now: datetime, expected: str) -> None:
    assert describe_zone(zone, now) == expected


def test_describe_zone_at_the_dst_change() -> None:
    """London springs forward at 01:00 UTC on 29 March 2026."""
    before = datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
    after = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert describe_zone("Europe/London", before) == "Europe/London (UTC+00:00, 00:59 now)"
    assert describe_zone("Europe/London", after) == "Europe/London (UTC+01:00, 02:00 now)"


def test_describe_zone_takes_any_aware_instant_and_refuses_naive() -> None:
    karachi = JULY.astimezone(ZoneInfo("Asia/Karachi"))
    assert describe_zone("Europe/London", karachi) == describe_zone("Europe/London", JULY)
    with pytest.raises(ValueError, match="aware"):
        describe_zone("Asia/Karachi", JULY.replace(tzinfo=None))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_resolve_never_raises_and_answers_only_loadable_zones(text: str) -> None:
    match = resolve_timezone(text)
    if match is not None:
        ZoneInfo(match.zone)
        assert describe_zone(match.zone, JULY)


@settings(max_examples=200, deadline=None)
@given(st.integers(-12, 14), st.sampled_from(["UTC", "GMT", ""]), st.booleans())
def test_whole_hour_offsets_round_trip(hours: int, prefix: str, padded: bool) -> None:
    sign = "-" if hours < 0 else "+"
    text = f"{prefix}{sign}{abs(hours):02d}:00" if padded else f"{prefix}{sign}{abs(hours)}"
    match = resolve_timezone(text)
    assert match is not None
    assert _minutes(JULY.astimezone(ZoneInfo(match.zone))) == hours * 60


def test_a_zone_description_is_never_put_in_brackets() -> None:
    """describe_zone brings its own brackets: "(Asia/Karachi (UTC+05:00, 09:00 now))" is wrong."""
    from content.texts import load_texts

    texts = load_texts()
    described = describe_zone("Asia/Karachi", JULY)
    with_zone = [key for key, fields in texts.fields.items() if "zone" in fields]
    assert "plan.title" in with_zone and "registered.done" in with_zone
    for key in with_zone:
        values = dict.fromkeys(texts.fields[key], "x") | {"zone": described}
        rendered = texts.plain(key, **values)
        assert "))" not in rendered and "((" not in rendered, (key, rendered)
        assert f"({described}" not in rendered, (key, rendered)
