"""Time zones as patients name them: a city, an IANA name, or a UTC offset."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# Offered as buttons (label, zone); the clinic's own zone first.
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

# Big cities whose names are not IANA zone names, and common country names.
ALIASES = {
    "islamabad": "Asia/Karachi", "lahore": "Asia/Karachi", "rawalpindi": "Asia/Karachi",
    "peshawar": "Asia/Karachi", "faisalabad": "Asia/Karachi", "multan": "Asia/Karachi",
    "quetta": "Asia/Karachi", "pakistan": "Asia/Karachi", "pkt": "Asia/Karachi",
    "abu dhabi": "Asia/Dubai", "sharjah": "Asia/Dubai", "uae": "Asia/Dubai",
    "jeddah": "Asia/Riyadh", "mecca": "Asia/Riyadh", "makkah": "Asia/Riyadh",
    "medina": "Asia/Riyadh", "dammam": "Asia/Riyadh", "saudi arabia": "Asia/Riyadh",
    "doha": "Asia/Qatar", "qatar": "Asia/Qatar", "manama": "Asia/Bahrain",
    "muscat": "Asia/Muscat", "oman": "Asia/Muscat", "kuwait city": "Asia/Kuwait",
    "delhi": "Asia/Kolkata", "new delhi": "Asia/Kolkata", "mumbai": "Asia/Kolkata",
    "bombay": "Asia/Kolkata", "bangalore": "Asia/Kolkata", "bengaluru": "Asia/Kolkata",
    "chennai": "Asia/Kolkata", "hyderabad": "Asia/Kolkata", "india": "Asia/Kolkata",
    "kolkata": "Asia/Kolkata", "calcutta": "Asia/Kolkata",
    "manchester": "Europe/London", "birmingham": "Europe/London", "glasgow": "Europe/London",
    "edinburgh": "Europe/London", "uk": "Europe/London", "england": "Europe/London",
    "britain": "Europe/London", "bst": "Europe/London",
    "new york city": "America/New_York", "nyc": "America/New_York",
    "washington": "America/New_York", "boston": "America/New_York",
    "miami": "America/New_York", "atlanta": "America/New_York", "houston": "America/Chicago",
    "dallas": "America/Chicago", "austin": "America/Chicago", "san francisco":
    "America/Los_Angeles", "seattle": "America/Los_Angeles", "san diego": "America/Los_Angeles",
    "las vegas": "America/Los_Angeles", "montreal": "America/Toronto",
    "ottawa": "America/Toronto", "calgary": "America/Edmonton", "frankfurt": "Europe/Berlin",
    "munich": "Europe/Berlin", "hamburg": "Europe/Berlin", "germany": "Europe/Berlin",
    "france": "Europe/Paris", "milan": "Europe/Rome", "barcelona": "Europe/Madrid",
    "geneva": "Europe/Zurich", "st petersburg": "Europe/Moscow", "beijing": "Asia/Shanghai",
    "hong kong": "Asia/Hong_Kong", "canberra": "Australia/Sydney",
    "gold coast": "Australia/Brisbane", "utc": "UTC", "gmt": "UTC", "zulu": "UTC",
}  # fmt: skip

# Offsets with no whole-hour Etc/ zone, mapped to a real zone that has them.
PARTIAL_OFFSETS = {
    (3, 30): "Asia/Tehran",
    (4, 30): "Asia/Kabul",
    (5, 30): "Asia/Kolkata",
    (5, 45): "Asia/Kathmandu",
    (6, 30): "Asia/Yangon",
    (9, 30): "Australia/Darwin",
    (-3, 30): "America/St_Johns",
    (-9, 30): "Pacific/Marquesas",
}
OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?:[:.h]?(\d{2}))?$")
MAX_INPUT = 64


@dataclass(frozen=True)
class ZoneMatch:
    """A zone found for what the patient typed."""

    zone: str
    label: str


@lru_cache(maxsize=1)
def _by_name() -> dict[str, str]:
    """Every IANA zone by its lower-case name and by its city ("new york")."""
    names: dict[str, str] = {}
    for zone in sorted(available_timezones()):
        names[zone.lower()] = zone
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/")):
            city = zone.rsplit("/", 1)[1].replace("_", " ").lower()
            names.setdefault(city, zone)
    return names


def _loads(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _from_offset(text: str) -> str | None:
    match = OFFSET.match(text.replace(" ", ""))
    if match is None:
        return None
    sign = -1 if match.group(1) == "-" else 1
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    if minutes == 0:
        if hours == 0:
            return "UTC"
        if sign > 0 and hours > 14 or sign < 0 and hours > 12:
            return None
        # Etc/ names have the sign inverted: Etc/GMT-5 is UTC+05:00.
        return f"Etc/GMT{'-' if sign > 0 else '+'}{hours}"
    return PARTIAL_OFFSETS.get((sign * hours, minutes))


def resolve_timezone(text: str) -> ZoneMatch | None:
    """The zone for a city, an IANA name or a UTC offset; None when nothing fits."""
    normal = re.sub(r"\s+", " ", text.strip().lower()[:MAX_INPUT])
    normal = re.sub(r" (time|timezone|time zone)$", "", normal).strip(" .")
    if not normal:
        return None
    zone = ALIASES.get(normal)
    if zone is None:
        zone = _by_name().get(normal.replace(" ", "_")) or _by_name().get(normal)
    if zone is None:
        zone = _from_offset(normal)
    if zone is None or not _loads(zone):
        return None
    return ZoneMatch(zone=zone, label=text.strip()[:MAX_INPUT])


def _offset_text(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta(0)).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def describe_zone(zone: str, now: datetime) -> str:
    """ "Asia/Karachi (UTC+05:00, 14:05 now)" at the instant ``now``."""
    local = now.astimezone(ZoneInfo(zone))
    return f"{zone} ({_offset_text(local.utcoffset())}, {local:%H:%M} now)"
