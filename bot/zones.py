"""Time zones as patients name them: a city, an IANA name, a UTC offset or an abbreviation.

Rules:

- An IANA name in any case, with spaces or underscores ("asia/karachi", "America/New York").
- A city: the last part of an IANA name ("karachi", "new york", "st. john's") or one of
  ALIASES, big cities and countries whose names are not IANA names ("Lahore", "Delhi").
  "Hyderabad" (Pakistan and India) and "Portland" (Oregon and Maine) are deliberately absent.
- A UTC offset: "UTC+5", "GMT+5:30", "+05:00", "-3", "utc-8", "+0530", "+5.5". Whole hours
  map to the fixed-offset "Etc/GMT-5" zones (the IANA sign is inverted: Etc/GMT-5 is
  UTC+05:00); other offsets to a real zone that has it as its standard offset (PARTIAL_OFFSETS),
  or nothing. A bare number without a sign is not an offset.
- Abbreviations: only those with one reading that matters for a Pakistani clinic's patients.
  PKT, GST (Gulf), IST (India: the Irish and Israeli readings are not taken), the US ones (CST
  is the US Central reading, not China's), CET, MSK, JST, AEST... BST (British Summer Time or
  Bangladesh Standard Time) and AST (Arabia or Atlantic) are refused. Every answer is shown
  back as "Asia/Kolkata (UTC+05:30, 16:18 now)", so a wrong reading is seen at once.
- A trailing "time", "time zone", "standard time" and a ", country" after a city are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MAX_INPUT = 64

# Offered as buttons (label, zone), two per row; the clinic's own zone first.
COMMON_ZONES: tuple[tuple[str, str], ...] = (
    ("Pakistan", "Asia/Karachi"),
    ("UAE", "Asia/Dubai"),
    ("Saudi Arabia", "Asia/Riyadh"),
    ("India", "Asia/Kolkata"),
    ("UK", "Europe/London"),
    ("Central Europe", "Europe/Berlin"),
    ("US East", "America/New_York"),
    ("US West", "America/Los_Angeles"),
)

# Names that are not IANA names, with the spelling shown back.
ALIASES: dict[str, tuple[str, ...]] = {
    "Asia/Karachi": (
        "Pakistan", "Islamabad", "Lahore", "Rawalpindi", "Faisalabad", "Multan", "Peshawar",
        "Quetta", "Sialkot", "Gujranwala", "Sargodha", "Bahawalpur", "Sukkur", "Abbottabad",
        "Mardan", "Gwadar", "PKT", "Pakistan Standard",
    ),
    "Asia/Dubai": (
        "UAE", "United Arab Emirates", "Emirates", "Abu Dhabi", "Sharjah", "Ajman", "Al Ain",
        "Ras Al Khaimah", "Fujairah", "GST", "Gulf", "Gulf Standard",
    ),
    "Asia/Riyadh": (
        "Saudi", "Saudi Arabia", "KSA", "Jeddah", "Jiddah", "Mecca", "Makkah", "Medina",
        "Madinah", "Dammam", "Khobar", "Al Khobar", "Taif",
    ),
    "Asia/Qatar": ("Qatar", "Doha"),
    "Asia/Bahrain": ("Manama",),
    "Asia/Kuwait": ("Kuwait City",),
    "Asia/Muscat": ("Oman", "Salalah"),
    "Asia/Kolkata": (
        "India", "Delhi", "New Delhi", "Mumbai", "Bombay", "Bangalore", "Bengaluru",
        "Chennai", "Madras", "Calcutta", "Pune", "Ahmedabad", "Jaipur", "Lucknow",
        "Chandigarh", "Amritsar", "IST", "India Standard",
    ),
    "Asia/Dhaka": ("Bangladesh", "Chittagong"),
    "Asia/Kathmandu": ("Nepal", "NPT"),
    "Asia/Colombo": ("Sri Lanka",),
    "Asia/Kabul": ("Afghanistan", "AFT"),
    "Asia/Tehran": ("Iran", "IRST"),
    "Asia/Baghdad": ("Iraq",),
    "Asia/Jerusalem": ("Israel",),
    "Africa/Cairo": ("Egypt",),
    "Europe/Istanbul": ("Istanbul", "Turkey", "Turkiye", "Ankara"),
    "Europe/London": (
        "UK", "United Kingdom", "GB", "Great Britain", "Britain", "England", "Scotland",
        "Wales", "Northern Ireland", "Manchester", "Birmingham", "Leeds", "Liverpool",
        "Glasgow", "Edinburgh", "Bristol", "Cardiff", "Belfast", "Bradford", "Leicester",
        "Sheffield", "Nottingham", "Luton", "Slough",
    ),
    "Europe/Dublin": ("Ireland", "Eire"),
    "Europe/Berlin": (
        "Germany", "Frankfurt", "Munich", "Hamburg", "Cologne", "Stuttgart", "Dusseldorf",
        "CET", "CEST", "Central European",
    ),
    "Europe/Paris": ("France", "Lyon", "Marseille"),
    "Europe/Madrid": ("Spain", "Barcelona", "Valencia"),
    "Europe/Rome": ("Italy", "Milan", "Naples"),
    "Europe/Amsterdam": ("Netherlands", "Holland", "Rotterdam", "The Hague"),
    "Europe/Brussels": ("Belgium",),
    "Europe/Zurich": ("Switzerland", "Geneva", "Basel"),
    "Europe/Vienna": ("Austria",),
    "Europe/Stockholm": ("Sweden",),
    "Europe/Oslo": ("Norway",),
    "Europe/Copenhagen": ("Denmark",),
    "Europe/Athens": ("Greece",),
    "Europe/Lisbon": ("Portugal", "Porto"),
    "Europe/Warsaw": ("Poland",),
    "Europe/Moscow": ("Russia", "St Petersburg", "Saint Petersburg", "MSK"),
    "America/New_York": (
        "New York City", "NYC", "Washington", "Washington DC", "DC", "Boston",
        "Philadelphia", "Miami", "Atlanta", "Orlando", "New Jersey", "Florida", "Baltimore",
        "Pittsburgh", "US Eastern", "Eastern", "EST", "EDT", "ET",
    ),
    "America/Chicago": (
        "Houston", "Dallas", "Austin", "San Antonio", "Minneapolis", "St Louis", "Texas",
        "US Central", "Central", "CST", "CDT", "CT",
    ),
    "America/Denver": ("Salt Lake City", "US Mountain", "Mountain", "MST", "MDT", "MT"),
    "America/Los_Angeles": (
        "San Francisco", "San Jose", "San Diego", "Seattle", "Las Vegas", "Sacramento",
        "California", "US Pacific", "Pacific", "PST", "PDT", "PT",
    ),
    "America/Anchorage": ("Alaska", "AKST", "AKDT"),
    "Pacific/Honolulu": ("Hawaii", "HST"),
    "America/Toronto": (
        "Montreal", "Ottawa", "Mississauga", "Brampton", "Hamilton", "Quebec", "Quebec City",
        "Ontario",
    ),
    "America/Edmonton": ("Calgary", "Alberta"),
    "America/Vancouver": ("British Columbia", "Surrey"),
    "America/Halifax": ("Nova Scotia",),
    "Australia/Sydney": ("Canberra", "AEST", "AEDT"),
    "Australia/Brisbane": ("Gold Coast", "Queensland"),
    "Australia/Perth": ("AWST",),
    "Pacific/Auckland": ("New Zealand", "NZ", "Wellington", "Christchurch", "NZST", "NZDT"),
    "Asia/Shanghai": ("China", "Beijing", "Shenzhen", "Guangzhou", "PRC"),
    "Asia/Singapore": ("SGT",),
    "Asia/Hong_Kong": ("HKT",),
    "Asia/Tokyo": ("Japan", "Osaka", "JST"),
    "Asia/Seoul": ("Korea", "South Korea", "KST"),
    "Asia/Kuala_Lumpur": ("Malaysia",),
    "Asia/Jakarta": ("Indonesia",),
    "Asia/Manila": ("Philippines",),
    "Asia/Bangkok": ("Thailand",),
    "Africa/Johannesburg": ("South Africa", "Cape Town", "Durban"),
    "Africa/Lagos": ("Nigeria", "Abuja"),
    "Africa/Nairobi": ("Kenya",),
    "UTC": (
        "UTC", "GMT", "Z", "Zulu", "Universal", "Coordinated Universal", "Greenwich", "UCT",
        "GMT0", "GMT+0", "GMT-0", "UTC0",
    ),
}  # fmt: skip

# Offsets that are not whole hours, to a zone whose standard offset they are.
PARTIAL_OFFSETS = {
    (3, 30): "Asia/Tehran",
    (4, 30): "Asia/Kabul",
    (5, 30): "Asia/Kolkata",
    (5, 45): "Asia/Kathmandu",
    (6, 30): "Asia/Yangon",
    (8, 45): "Australia/Eucla",
    (9, 30): "Australia/Darwin",
    (10, 30): "Australia/Lord_Howe",
    (12, 45): "Pacific/Chatham",
    (-3, -30): "America/St_Johns",
    (-9, -30): "Pacific/Marquesas",
}
# Minutes after a colon, or after a dot as a clock ("5.30") or a fraction of an hour ("5.5").
DOT_MINUTES = {"0": 0, "00": 0, "15": 15, "25": 15, "30": 30, "5": 30, "50": 30, "45": 45,
               "75": 45}  # fmt: skip
OFFSET = re.compile(r"(?:utc|gmt)?([+-])(\d{1,2})(?::?(\d{2})|\.(\d{1,2}))?")
SUFFIXES = (" standard time", " time zone", " timezone", " time", " tz")
# The legacy IANA names outside the continents ("Turkey", "EST", "US/Eastern") are links or
# fixed offsets; a city found in a continent's zone wins over them.
AREAS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/",
         "Indian/", "Pacific/")  # fmt: skip
UNUSABLE = {"Factory", "localtime", "posixrules"}


@dataclass(frozen=True)
class ZoneMatch:
    """A zone found for what the patient typed, and the place it was found as."""

    zone: str
    label: str


def _key(text: str) -> str:
    """Lower case, apostrophes dropped, spaces, underscores, hyphens and dots made one space."""
    text = text.lower().replace("'", "").replace("\u2019", "")
    return " ".join(re.sub(r"[\s_.\-]+", " ", text).split())


@lru_cache(maxsize=1)
def _names() -> tuple[dict[str, str], dict[str, ZoneMatch]]:
    """IANA names by lower-case name; places (cities, then aliases) by key."""
    zones = sorted(available_timezones() - UNUSABLE)
    by_name = {zone.lower(): zone for zone in zones}
    places: dict[str, ZoneMatch] = {}
    for zone in sorted(zones, key=lambda z: (not z.startswith(AREAS), z)):
        if "/" in zone and not zone.startswith("Etc/"):
            city = zone.rsplit("/", 1)[1].replace("_", " ")
            places.setdefault(_key(city), ZoneMatch(zone, city))
    for zone, names in ALIASES.items():
        for name in names:
            places[_key(name)] = ZoneMatch(zone, name)
    return by_name, places


def _loads(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _offset_label(hours: int, minutes: int) -> str:
    sign = "-" if hours < 0 or minutes < 0 else "+"
    return f"UTC{sign}{abs(hours):02d}:{abs(minutes):02d}"


def _from_offset(text: str) -> ZoneMatch | None:
    match = OFFSET.fullmatch(text.replace(" ", "").replace("\u2212", "-"))
    if match is None:
        return None
    sign = -1 if match.group(1) == "-" else 1
    hours = int(match.group(2))
    minutes: int | None
    if match.group(4) is not None:
        minutes = DOT_MINUTES.get(match.group(4))
    else:
        minutes = int(match.group(3) or 0)
    if minutes is None or minutes not in (0, 15, 30, 45):
        return None
    if minutes == 0:
        if hours == 0:
            return ZoneMatch("UTC", "UTC")
        if hours > (14 if sign > 0 else 12):
            return None
        # Etc/ names have the sign inverted: Etc/GMT-5 is UTC+05:00.
        fixed = f"Etc/GMT{'-' if sign > 0 else '+'}{hours}"
        return ZoneMatch(fixed, _offset_label(sign * hours, 0))
    zone = PARTIAL_OFFSETS.get((sign * hours, sign * minutes))
    return None if zone is None else ZoneMatch(zone, _offset_label(sign * hours, sign * minutes))


def _lookup(text: str) -> ZoneMatch | None:
    """Places first: "EST", "Turkey" and "GB" are also legacy IANA names, and worse answers."""
    by_name, places = _names()
    place = places.get(_key(text))
    if place is not None:
        return place
    name = "/".join(part.strip().replace(" ", "_") for part in text.split("/"))
    if name in by_name:
        return ZoneMatch(by_name[name], by_name[name])
    return _from_offset(text)


def resolve_timezone(text: str) -> ZoneMatch | None:
    """The zone for a city, an IANA name, a UTC offset or an abbreviation; None if none fits."""
    if len(text) > 4 * MAX_INPUT:
        return None
    normal = " ".join(text.lower().split())
    if not normal or len(normal) > MAX_INPUT:
        return None
    for suffix in SUFFIXES:
        if normal.endswith(suffix) and len(normal) > len(suffix):
            normal = normal[: -len(suffix)]
            break
    found = _lookup(normal.strip(" .!"))
    if found is None and "," in normal:  # "Lahore, Pakistan"
        found = _lookup(normal.split(",", 1)[0].strip())
    if found is None or not _loads(found.zone):
        return None
    return found


def _offset_text(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta(0)).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# "now" after the local time, in each language's words.
NOW_WORDS = {"en": "now", "ur": "ابھی", "ur-Latn": "abhi"}


def describe_zone(zone: str, now: datetime, *, language: str = "en") -> str:
    """ "Asia/Karachi (UTC+05:00, 11:48 now)": the offset and local time at the instant ``now``
    ("11:48 ابھی" in Urdu).

    Fixed-offset zones read as their offset ("UTC+05:00 (11:48 now)"): "Etc/GMT-5" would
    show the inverted sign to the patient.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    local = now.astimezone(ZoneInfo(zone))
    offset = _offset_text(local.utcoffset())
    word = NOW_WORDS.get(language, NOW_WORDS["en"])
    if zone == "UTC" or zone.startswith("Etc/"):
        name = "UTC" if offset == "UTC+00:00" else offset
        return f"{name} ({local:%H:%M} {word})"
    return f"{zone} ({offset}, {local:%H:%M} {word})"
