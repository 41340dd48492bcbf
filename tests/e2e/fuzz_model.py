"""The fuzz's own reading of the care plan: when each reminder is due, stale and quiet.

Independent of the code under test on purpose: the plan YAML is read with a plain
``yaml.safe_load`` and every instant is computed here from the patient's registered date,
zone and quiet hours, never through ``scheduler.care.planning`` or ``content.plan``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

PLAN_FILE = Path(__file__).resolve().parents[2] / "content" / "plans" / "microneedling.yaml"


@dataclass(frozen=True)
class Milestone:
    """One reminder of the plan as the YAML states it."""

    id: str
    title: str
    days: int
    hours: int
    at: time
    expires_after: timedelta
    series_max: int | None

    def applies_to(self, number: int) -> bool:
        """Whether session ``number`` of a series gets this reminder."""
        return self.series_max is None or number <= self.series_max


@dataclass(frozen=True)
class Plan:
    """The milestones and the phase names (a catch-up message is titled with a phase name)."""

    milestones: tuple[Milestone, ...]
    phase_names: frozenset[str]
    # Titles in the other languages (the plan's overlays), by milestone id.
    translated: dict[str, frozenset[str]] = field(default_factory=dict)

    def by_title(self, title: str) -> Milestone | None:
        """The milestone whose title heads a reminder message, in any language."""
        title = title.replace("\u200f", "").strip()
        for milestone in self.milestones:
            if milestone.title == title or title in self.translated.get(milestone.id, ()):
                return milestone
        return None

    def is_phase(self, title: str) -> bool:
        """Whether ``title`` names a phase (a catch-up message's title), in any language."""
        return title.replace("\u200f", "").strip() in self.phase_names


def _duration(raw: dict[str, Any]) -> timedelta:
    return timedelta(
        days=raw.get("days", 0), hours=raw.get("hours", 0), minutes=raw.get("minutes", 0)
    )


def _time(raw: str) -> time:
    hours, minutes = raw.split(":")
    return time(int(hours), int(minutes))


@cache
def plan() -> Plan:
    """The default plan, read from its YAML file."""
    data = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    milestones = tuple(
        Milestone(
            id=m["id"],
            title=m.get("title") or m["text"].strip().splitlines()[0],
            days=m["offset"].get("days", 0),
            hours=m["offset"].get("hours", 0),
            at=_time(m["at"]),
            expires_after=_duration(m["expires_after"]),
            series_max=m.get("series_max"),
        )
        for m in data["milestones"]
    )
    phase_names = {p["name"] for p in data["phases"]}
    translated: dict[str, set[str]] = {}
    for overlay in sorted(PLAN_FILE.parent.glob(f"{PLAN_FILE.stem}.*.yaml")):
        words = yaml.safe_load(overlay.read_text(encoding="utf-8"))
        phase_names |= {p["name"] for p in words["phases"].values()}
        for milestone_id, m in words["milestones"].items():
            title = m.get("title") or m["text"].strip().splitlines()[0]
            translated.setdefault(milestone_id, set()).add(title)
    return Plan(
        milestones,
        frozenset(phase_names),
        {key: frozenset(titles) for key, titles in translated.items()},
    )


@dataclass(frozen=True)
class Quiet:
    """A nightly quiet span in local time; equal ends mean none."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Whether a local time of day is quiet."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def waking_hours(self) -> float:
        """Hours a day outside the span."""
        if self.start == self.end:
            return 24.0
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        quiet = (end - start) % (24 * 60)
        return (24 * 60 - quiet) / 60


def utc_of(local: datetime, zone: ZoneInfo) -> datetime:
    """The first UTC instant showing ``local`` on the wall in ``zone`` (past a gap)."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def is_quiet(instant: datetime, zone: ZoneInfo, quiet: Quiet) -> bool:
    """Whether ``instant`` falls in the patient's quiet hours."""
    return quiet.contains(instant.astimezone(zone).time().replace(second=0, microsecond=0))


def first_awake(instant: datetime, zone: ZoneInfo, quiet: Quiet) -> datetime:
    """``instant``, or the end of the quiet span it falls in."""
    if not is_quiet(instant, zone, quiet):
        return instant
    local = instant.astimezone(zone).replace(tzinfo=None)
    end = datetime.combine(local.date(), quiet.end)
    if end <= local:
        end += timedelta(days=1)
    moved = utc_of(end, zone)
    return moved if moved > instant else instant + timedelta(minutes=1)


@dataclass(frozen=True)
class Window:
    """When a milestone of one session may be sent: from ``due`` (the wall time the plan
    names) until ``expires`` (stale from then on)."""

    milestone: Milestone
    due: datetime
    expires: datetime


def window(milestone: Milestone, session_date: date, zone: ZoneInfo) -> Window:
    """The milestone's window for a session on ``session_date`` in ``zone``."""
    local = datetime.combine(session_date + timedelta(days=milestone.days), milestone.at)
    local += timedelta(hours=milestone.hours)
    return Window(milestone, utc_of(local, zone), utc_of(local + milestone.expires_after, zone))


def local_today(now: datetime, zone: ZoneInfo) -> date:
    """The patient's date at ``now``."""
    return now.astimezone(zone).date()
