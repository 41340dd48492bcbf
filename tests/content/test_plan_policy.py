"""The default plan agrees with the triage policy (shared/triage/POLICY.md) on every day window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from content.const import ADVICE_TOPICS, SYMPTOM_TOPICS
from content.loader import load_plan
from content.plan import CarePlan, Milestone, Phase
from tests.content.timing import due_day, expiry_day

POLICY_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "triage" / "POLICY.md"
if not POLICY_PATH.is_file():
    pytest.skip(f"the triage policy is not at {POLICY_PATH}", allow_module_level=True)

PLAN: CarePlan = load_plan()
# Keywords that mean a message talks about a time-limited activity, whatever it says about it.
MENTIONS = {
    "makeup": r"makeup",
    "sun": r"sunbath",
    "actives": r"retinol|\bacids\b|exfoliant|scrub|vitamin c|\bpeels\b|chemical peel",
    "hot_water": r"hot (water|shower)|steam",
    "exercise": r"\bgym\b|exercise|workout|sweat",
    "swimming": r"\bpool\b|sauna|hot tub",
    "next_session": r"next session|between sessions",
}


@dataclass(frozen=True)
class PolicyAdvice:
    """One row of the policy's advice table."""

    topic: str
    not_allowed_until_day: int | None
    allowed_from_day: int | None
    never: bool


@dataclass(frozen=True)
class PolicySymptom:
    """One row of the policy's symptom table: its synonyms and the days it is normal."""

    topic: str
    synonyms: tuple[str, ...]
    normal_days: tuple[tuple[int, int | None], ...]

    def normal_on(self, day: int) -> bool:
        """Whether the policy calls the symptom normal on ``day``."""
        return any(lo <= day and (hi is None or day <= hi) for lo, hi in self.normal_days)


def _section_rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the table under a ``## heading``, as stripped cells."""
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]


def _topic(cell: str) -> str:
    match = re.match(r"`([a-z_]+)`", cell)
    assert match, f"no topic in {cell!r}"
    return match.group(1)


def _day_ranges(cell: str) -> tuple[tuple[int, int | None], ...]:
    """ "days 0-3" -> ((0, 3),); "day 0" -> ((0, 0),); "day 7 on" -> ((7, None),); "—" -> ()."""
    ranges: list[tuple[int, int | None]] = []
    for piece in cell.split(","):
        match = re.match(r"\s*days? (\d+)(?:-(\d+))?( on)?", piece)
        if match:
            lo = int(match.group(1))
            hi = None if match.group(3) else int(match.group(2) or lo)
            ranges.append((lo, hi))
    return tuple(ranges)


def _advice_row(cells: list[str]) -> PolicyAdvice:
    topic, refused, allowed = cells
    topic = _topic(topic)
    if refused == "always" and allowed == "never":
        return PolicyAdvice(topic, None, None, never=True)
    not_until: int | None = None
    if refused != "—":
        [(_, hi)] = _day_ranges(refused)
        not_until = hi
    from_day: int | None
    if match := re.search(r"\bday (\d+) on\b", allowed):
        from_day = int(match.group(1))
    elif allowed.startswith("any day"):
        from_day = 0
    elif allowed.startswith("`null`") or allowed == "—":
        from_day = None
    else:
        raise AssertionError(f"cannot read the policy's 'allowed' cell {allowed!r}")
    return PolicyAdvice(topic, not_until, from_day, never=False)


def _symptom_row(cells: list[str]) -> PolicySymptom:
    name, normal = cells[0], cells[1]
    synonyms = re.search(r"\(([^)]*)\)", name)
    words = tuple(w.strip() for w in synonyms.group(1).split(",")) if synonyms else ()
    return PolicySymptom(_topic(name), words, _day_ranges(normal))


POLICY_TEXT = POLICY_PATH.read_text(encoding="utf-8")
ADVICE = {
    row.topic: row
    for row in map(_advice_row, _section_rows(POLICY_TEXT, "Questions that are not symptoms"))
}
SYMPTOMS = {
    row.topic: row for row in map(_symptom_row, _section_rows(POLICY_TEXT, "Symptoms by day"))
}


def test_policy_tables_were_read() -> None:
    """The parser found both tables, with the rows the policy is known to have."""
    assert ADVICE["makeup"] == PolicyAdvice("makeup", 1, 2, never=False)
    assert ADVICE["touching"].never
    assert SYMPTOMS["peeling"].normal_days == ((2, 10),)
    assert SYMPTOMS["bleeding"].normal_days == ((0, 0),)


def test_the_topic_constants_are_the_policys_topics() -> None:
    """content.const names exactly the topics of the two policy tables."""
    assert set(ADVICE) == ADVICE_TOPICS
    assert set(SYMPTOMS) == SYMPTOM_TOPICS


def test_one_advice_rule_per_policy_topic() -> None:
    """The plan answers every advice topic of the policy, once."""
    assert sorted(rule.topic for rule in PLAN.advice) == sorted(ADVICE)


@pytest.mark.parametrize("topic", sorted(ADVICE))
def test_advice_rule_days_are_the_policys(topic: str) -> None:
    """not_allowed_until_day, allowed_from_day and never are copied from the policy."""
    rule, policy = PLAN.advice_rule(topic), ADVICE[topic]
    assert (rule.not_allowed_until_day, rule.allowed_from_day, rule.never) == (
        policy.not_allowed_until_day,
        policy.allowed_from_day,
        policy.never,
    )


@pytest.mark.parametrize("milestone", PLAN.milestones, ids=lambda m: m.id)
def test_mentioned_activities_are_listed_as_topics(milestone: Milestone) -> None:
    """A message that talks about a time-limited activity lists it, so its timing is checked."""
    for topic, pattern in MENTIONS.items():
        if re.search(pattern, milestone.text, re.IGNORECASE):
            assert topic in milestone.topics, f"{milestone.id} talks about {topic}"


@pytest.mark.parametrize("milestone", PLAN.milestones, ids=lambda m: m.id)
def test_nothing_is_allowed_before_the_policy_allows_it(milestone: Milestone) -> None:
    """A message saying an activity is fine is due on or after the policy's first allowed day."""
    day = due_day(milestone)
    for topic in milestone.allows:
        policy = ADVICE[topic]
        assert not policy.never, f"{milestone.id} allows {topic}, which the policy never allows"
        assert policy.allowed_from_day is not None, f"the policy never says {topic} is allowed"
        assert day >= policy.allowed_from_day, (
            f"{milestone.id} (day {day}) allows {topic} before day {policy.allowed_from_day}"
        )


@pytest.mark.parametrize("milestone", PLAN.milestones, ids=lambda m: m.id)
def test_not_yet_goes_stale_before_the_policy_allows_it(milestone: Milestone) -> None:
    """A message holding an activity back is never delivered on a day the policy allows it."""
    stale_on = expiry_day(milestone)
    for topic in set(milestone.topics) - set(milestone.allows):
        policy = ADVICE.get(topic)
        if policy is None or policy.allowed_from_day is None:
            continue
        if policy.not_allowed_until_day is None:
            continue
        assert stale_on < policy.allowed_from_day, (
            f"{milestone.id} says 'not yet' about {topic} until day {stale_on}, "
            f"but the policy allows it from day {policy.allowed_from_day}"
        )


@pytest.mark.parametrize("milestone", PLAN.milestones, ids=lambda m: m.id)
def test_symptoms_are_described_when_the_policy_calls_them_normal(milestone: Milestone) -> None:
    """A message describing a symptom as expected is due on a day the policy calls it normal."""
    day = due_day(milestone)
    for topic in milestone.topics:
        if topic in SYMPTOMS:
            assert SYMPTOMS[topic].normal_on(day), f"{topic} is not normal on day {day}"


@pytest.mark.parametrize("phase", PLAN.phases, ids=lambda p: p.id)
def test_expected_symptoms_are_normal_throughout_the_phase(phase: Phase) -> None:
    """What a phase says to expect is normal on each of its days, and its summary names it."""
    last = phase.end_day if phase.end_day is not None else phase.start_day + 365
    for topic in phase.expected:
        symptom = SYMPTOMS[topic]
        off = [d for d in range(phase.start_day, last + 1) if not symptom.normal_on(d)]
        assert not off, f"{topic} is not normal on days {off} of {phase.id}"
        words = (topic, *symptom.synonyms)
        assert any(w.lower() in phase.summary.lower() for w in words), (
            f"the summary of {phase.id} does not mention {topic}"
        )


@pytest.mark.parametrize(
    ("phase_id", "topic"),
    [
        ("first_week", "makeup"),
        ("results", "actives"),
        ("results", "swimming"),
        ("next_session", "next_session"),
    ],
)
def test_phases_turn_where_the_policy_allows_more(phase_id: str, topic: str) -> None:
    """Phase boundaries sit on the days the policy lifts a restriction."""
    assert PLAN.phase(phase_id).start_day == ADVICE[topic].allowed_from_day


def test_the_first_48_hours_are_the_no_makeup_days() -> None:
    """The first phase after the session spans exactly the days makeup is not allowed."""
    phase = PLAN.phase("first_48h")
    assert (phase.start_day, phase.end_day) == (0, ADVICE["makeup"].not_allowed_until_day)


def test_peeling_is_expected_inside_the_policys_window() -> None:
    """The phase that warns about peeling lies inside the days the policy calls it normal."""
    phases = [p for p in PLAN.phases if "peeling" in p.expected]
    assert phases
    for phase in phases:
        assert phase.end_day is not None
        assert SYMPTOMS["peeling"].normal_on(phase.start_day)
        assert SYMPTOMS["peeling"].normal_on(phase.end_day)
