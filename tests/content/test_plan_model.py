"""The plan models on their own: times of day, advice rules and the plan's cross-checks."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from content.plan import (
    AdviceRule,
    CarePlan,
    Milestone,
    Phase,
    find_inconsistencies,
    parse_time_of_day,
)
from tests.content.test_loader import VALID

MINUTE_TIMES = st.builds(time, st.integers(0, 23), st.integers(0, 59))


@given(MINUTE_TIMES)
def test_every_real_time_parses(moment: time) -> None:
    """ "HH:MM", "H:MM" and YAML's sexagesimal integer all give the same time."""
    assert parse_time_of_day(f"{moment:%H:%M}") == moment
    assert parse_time_of_day(f"{moment.hour}:{moment.minute:02d}") == moment
    assert parse_time_of_day(f" {moment:%H:%M} ") == moment
    assert parse_time_of_day(moment.hour * 60 + moment.minute) == moment


@given(
    st.one_of(
        st.tuples(st.integers(24, 99), st.integers(0, 99)),
        st.tuples(st.integers(0, 99), st.integers(60, 99)),
    )
)
def test_times_that_do_not_exist_are_refused(hours_minutes: tuple[int, int]) -> None:
    """24:00 and later, or 60 minutes and more, are not on a 24-hour clock."""
    hours, minutes = hours_minutes
    with pytest.raises(ValueError, match="not a time that exists"):
        parse_time_of_day(f"{hours:02d}:{minutes:02d}")


@given(st.text(max_size=8).filter(lambda s: not re.fullmatch(r"[0-9]{1,2}:[0-9]{2}", s.strip())))
def test_anything_else_is_not_a_time(text: str) -> None:
    """Text that is not HH:MM is refused with a ValueError, never parsed by luck."""
    with pytest.raises(ValueError):
        parse_time_of_day(text)


@given(st.integers(-5, 20), st.integers(1, 10), st.integers(0, 40))
def test_advice_rule_days(not_until: int, gap: int, day: int) -> None:
    """Not allowed up to and on not_allowed_until_day, allowed from allowed_from_day, else None."""
    rule = AdviceRule(
        topic="makeup",
        not_allowed_until_day=not_until,
        allowed_from_day=not_until + gap,
        answer="x",
    )
    expected = False if day <= not_until else True if day >= not_until + gap else None
    assert rule.allowed_on(day) is expected


def test_a_never_rule_is_never_allowed() -> None:
    """Touching is never allowed, on any day, and has no day bounds."""
    assert AdviceRule(topic="touching", never=True, answer="x").allowed_on(100) is False
    with pytest.raises(ValidationError, match="no day bounds"):
        AdviceRule(topic="touching", never=True, allowed_from_day=3, answer="x")


def test_advice_bounds_must_be_in_order() -> None:
    """The first allowed day comes after the last refused one."""
    with pytest.raises(ValidationError, match="not after"):
        AdviceRule(topic="makeup", not_allowed_until_day=2, allowed_from_day=2, answer="x")


def _milestone(**fields: Any) -> Milestone:
    data: dict[str, Any] = {
        "id": "m",
        "phase": "p",
        "offset": {"days": 1},
        "at": "09:00",
        "expires_after": {"hours": 1},
        "text": "t",
    }
    return Milestone.model_validate(data | fields)


def test_topics_are_the_policys() -> None:
    """A misspelt topic is an error, not a reminder the policy checks never see."""
    with pytest.raises(ValidationError, match="unknown topic 'makup'"):
        _milestone(topics=["makup"])


def test_allows_is_part_of_topics() -> None:
    """A milestone can only allow what it talks about."""
    assert _milestone(topics=["makeup"], allows=["makeup"]).allows == ("makeup",)
    with pytest.raises(ValidationError, match="not listed in topics"):
        _milestone(topics=["sun"], allows=["makeup"])


def test_expected_symptoms_are_symptoms() -> None:
    """A phase expects symptoms, not activities."""
    with pytest.raises(ValidationError, match="unknown symptom topic 'makeup'"):
        Phase(id="p", name="P", start_day=0, summary="s", key_advice="k", expected=("makeup",))


def test_an_invalid_plan_cannot_be_built_directly() -> None:
    """The cross-checks run for any CarePlan, not only for loaded files."""
    import yaml

    data = yaml.safe_load(VALID.replace("- id: morning", "- id: evening"))
    with pytest.raises(ValidationError, match="duplicate id 'evening'"):
        CarePlan.model_validate(data)


@st.composite
def _contiguous_phases(draw: st.DrawFn) -> list[Phase]:
    lengths = draw(st.lists(st.integers(1, 30), min_size=0, max_size=6))
    start = draw(st.integers(-3, 0))
    phases: list[Phase] = []
    for index, length in enumerate(lengths):
        phases.append(
            Phase(
                id=f"p{index}",
                name="P",
                start_day=start,
                end_day=start + length - 1,
                summary="s",
                key_advice="k",
            )
        )
        start += length
    last = Phase(id="last", name="L", start_day=start, summary="s", key_advice="k")
    phases.append(last)
    return draw(st.permutations(phases))


@given(_contiguous_phases())
def test_contiguous_phases_in_any_order_are_consistent(phases: list[Phase]) -> None:
    """Phases that follow day by day and end open-ended pass, whatever their listed order."""
    assert find_inconsistencies(phases, []) == []


@given(_contiguous_phases(), st.data())
def test_a_late_start_is_located(phases: list[Phase], data: st.DataObject) -> None:
    """Starting a phase a day late leaves a gap, reported at that phase's start_day."""
    first = min(p.start_day for p in phases)
    movable = [
        i
        for i, p in enumerate(phases)
        if p.start_day != first and (p.end_day is None or p.end_day > p.start_day)
    ]
    if not movable:
        return
    index = data.draw(st.sampled_from(movable))
    late = phases[index].model_copy(update={"start_day": phases[index].start_day + 1})
    phases[index] = late
    gaps = [p for p in find_inconsistencies(phases, []) if "gap" in p.message]
    assert [p.loc for p in gaps] == [("phases", index, "start_day")]
