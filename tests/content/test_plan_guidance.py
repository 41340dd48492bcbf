"""The default plan's messages cover every point of the clinic's aftercare guidance."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest

from content.loader import load_plan
from content.plan import ButtonAction, CarePlan, Milestone
from tests.content.timing import due_day, expiry_day

PLAN: CarePlan = load_plan()
RANGE = r"\s*(?:-|–|to)\s*"

# Each point of the guidance, as facts that must all appear in one and the same message.
GUIDANCE: dict[str, tuple[str, ...]] = {
    "redness like a mild sunburn, a few hours up to 48 hours": (
        r"\bred\b",
        r"mild sunburn",
        r"few hours",
        r"48 hours",
    ),
    "sensitivity is normal": (r"\bsensitive\b", r"normal"),
    "mild swelling and warmth settle within a day or two": (
        r"swollen|swelling",
        r"\bwarm",
        r"within a day or two",
    ),
    "no touching or scratching: the channels are open, bacteria get in": (
        r"no touching",
        r"scratching",
        r"channels",
        r"bacteria",
    ),
    "hydrate with hyaluronic acid and peptide serums": (
        r"hydrat",
        r"hyaluronic acid",
        r"peptide",
        r"serum",
    ),
    "no makeup for 48 hours": (r"no makeup for 48 hours",),
    "a gentle, non-abrasive cleanser and lukewarm water": (
        r"gentle",
        r"non-abrasive",
        r"cleanser",
        r"lukewarm water",
    ),
    "no strong exfoliants in the first days": (r"no scrubs or strong exfoliants", r"first days"),
    "SPF 30+ every morning of the first week, even indoors": (
        r"spf 30\+",
        r"every morning",
        r"first week",
        r"even if you stay indoors|even indoors",
    ),
    "a hat outdoors": (r"spf 30\+", r"\bhat\b", r"\bout(side|doors)?\b"),
    "peeling and flaking on days 3-7, not to be picked": (
        rf"days 3{RANGE}7",
        r"peeling",
        r"flaking",
        r"don't pick|do not pick|no picking",
    ),
    "results after about a week, as collagen and elastin rebuild": (
        r"one week|a week",
        r"results",
        r"collagen",
        r"elastin",
    ),
    "minimal downtime": (r"downtime is minimal|minimal downtime",),
    "a series of 3-6 sessions, 4-6 weeks apart": (
        rf"3{RANGE}6 sessions",
        rf"4{RANGE}6 weeks",
    ),
    "maintenance every 6-12 months": (r"maintenance", rf"every 6{RANGE}12 months"),
}


def _covering(facts: tuple[str, ...]) -> list[str]:
    return [
        m.id
        for m in PLAN.milestones
        if all(re.search(fact, m.text, re.IGNORECASE) for fact in facts)
    ]


@pytest.mark.parametrize("point", sorted(GUIDANCE))
def test_a_message_covers_each_point_of_the_guidance(point: str) -> None:
    """Some milestone states all the facts of the point in one message."""
    assert _covering(GUIDANCE[point]), f"no milestone says: {point}"


def test_each_phase_says_what_to_expect_and_what_to_do() -> None:
    """Every phase has its own summary and catch-up advice."""
    assert [p.id for p in PLAN.phases] == [
        "preparation",
        "first_48h",
        "first_week",
        "results",
        "next_session",
        "maintenance",
    ]
    assert len({p.summary for p in PLAN.phases}) == len(PLAN.phases)
    assert len({p.key_advice for p in PLAN.phases}) == len(PLAN.phases)


def test_series_matches_the_guidance() -> None:
    """3-6 sessions, 4-6 weeks apart, maintenance every 6-12 months."""
    s = PLAN.series
    assert (s.min_sessions, s.max_sessions) == (3, 6)
    assert (s.interval_min_weeks, s.interval_max_weeks) == (4, 6)
    assert (s.maintenance_min_months, s.maintenance_max_months) == (6, 12)


@pytest.mark.parametrize("day", range(1, 7))
def test_sunscreen_every_morning_of_the_first_week(day: int) -> None:
    """Days 1-6 each have a morning SPF reminder that goes stale the same day."""
    reminders = [
        m
        for m in PLAN.milestones
        if "sunscreen" in m.topics
        and re.search(r"spf 30\+", m.text, re.IGNORECASE)
        and due_day(m) == day
        and m.at < time(12)
    ]
    assert reminders, f"no SPF reminder on the morning of day {day}"
    assert all(expiry_day(m) == day for m in reminders)


def test_the_evening_before_prepares_the_patient() -> None:
    """A reminder at 19:00 the evening before the session."""
    [prep] = [m for m in PLAN.milestones if m.phase == "preparation"]
    assert (prep.offset.days, prep.at) == (-1, time(19))


@pytest.mark.parametrize("milestone", PLAN.milestones, ids=lambda m: m.id)
def test_due_in_waking_hours(milestone: Milestone) -> None:
    """Due between 08:00 and 20:59 local, outside the default quiet hours (21:00-08:00)."""
    assert time(8) <= milestone.at < time(21)
    assert milestone.offset.hours == 0, "an hour offset could push it into quiet hours"


@pytest.mark.parametrize("milestone", PLAN.milestones, ids=lambda m: m.id)
def test_due_within_its_phase(milestone: Milestone) -> None:
    """A milestone belongs to the phase its due day falls in."""
    assert PLAN.phase(milestone.phase).contains(due_day(milestone))


@pytest.mark.parametrize("milestone", PLAN.milestones, ids=lambda m: m.id)
def test_short_plain_text(milestone: Milestone) -> None:
    """Telegram-sized plain text: no HTML or Markdown markup, under 800 characters."""
    assert len(milestone.text) < 800
    assert not re.search(r"</?[a-z]+[^>]*>", milestone.text)
    assert "**" not in milestone.text and "__" not in milestone.text


@pytest.mark.parametrize("milestone", PLAN.milestones, ids=lambda m: m.id)
def test_buttons_fit_the_message(milestone: Milestone) -> None:
    """Booking messages offer book/booked, the others done; every message offers a question."""
    assert ButtonAction.QUESTION in milestone.buttons
    if "next_session" in milestone.topics or "maintenance" in milestone.topics:
        assert {ButtonAction.BOOK, ButtonAction.BOOKED} <= set(milestone.buttons)
    else:
        assert ButtonAction.DONE in milestone.buttons


def test_booking_nudges_stop_after_the_sixth_session() -> None:
    """Next-session reminders at 4 and 6 weeks are not sent after a series' last session."""
    nudges = [m for m in PLAN.milestones if "next_session" in m.topics]
    assert sorted(due_day(m) for m in nudges) == [28, 42]
    assert all(m.series_max == PLAN.series.max_sessions - 1 for m in nudges)
    assert all(not m.applies_to(PLAN.series.max_sessions) for m in nudges)


def test_maintenance_reminders_at_six_and_twelve_months() -> None:
    """Maintenance sessions are suggested about 6 and 12 months on, with days to act on it."""
    reminders = [m for m in PLAN.milestones if m.topics == ("maintenance",)]
    days = sorted(due_day(m) for m in reminders)
    assert len(days) == 2
    assert 6 * 30 <= days[0] <= 6 * 31
    assert 365 <= days[1] <= 366
    assert all(m.expires_after.as_timedelta() >= timedelta(days=7) for m in reminders)
