"""Loading plans: the default one loads, and each mistake is reported with location and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from content.const import DEFAULT_PLAN
from content.loader import (
    PLANS_DIR,
    PlanError,
    PlanNotFoundError,
    PlanProblem,
    available_plans,
    load_plan,
    parse_plan,
)

VALID = """\
id: tiny
title: Tiny plan
version: 1
series:
  min_sessions: 3
  max_sessions: 6
  interval_min_weeks: 4
  interval_max_weeks: 6
  maintenance_min_months: 6
  maintenance_max_months: 12
phases:
  - id: early
    name: Early
    start_day: 0
    end_day: 1
    summary: Red and warm.
    key_advice: Hands off.
  - id: later
    name: Later
    start_day: 2
    summary: Calm.
    key_advice: Carry on.
milestones:
  - id: evening
    phase: early
    offset: {days: 0}
    at: "19:00"
    expires_after: {hours: 2}
    text: No makeup tonight.
  - id: morning
    phase: early
    offset: {days: 1}
    at: "09:00"
    expires_after: {hours: 4}
    text: Gentle cleanser, lukewarm water.
"""


def _variant(old: str, new: str, *, base: str = VALID) -> str:
    assert base.count(old) == 1, f"{old!r} is not unique in the base plan"
    return base.replace(old, new)


def _line_of(text: str, snippet: str, occurrence: int = 1) -> int:
    """The 1-based number of the line holding the n-th occurrence of ``snippet``."""
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if snippet in line]
    return lines[occurrence - 1]


def _problems(tmp_path: Path, text: str) -> list[PlanProblem]:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanError) as raised:
        load_plan(path)
    assert raised.value.path == path.resolve()
    return raised.value.problems


def _only(problems: list[PlanProblem]) -> PlanProblem:
    assert len(problems) == 1, problems
    return problems[0]


def test_default_plan_loads() -> None:
    """The shipped plan is valid and is the default."""
    plan = load_plan()
    assert plan.id == DEFAULT_PLAN
    assert DEFAULT_PLAN in available_plans()


def test_default_plan_is_cached() -> None:
    """By name, by path and by default it is one and the same object, parsed once."""
    assert load_plan() is load_plan(DEFAULT_PLAN)
    assert load_plan() is load_plan(PLANS_DIR / f"{DEFAULT_PLAN}.yaml")
    assert load_plan() is load_plan(str(PLANS_DIR / f"{DEFAULT_PLAN}.yaml"))


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    """The cache notices a changed file."""
    path = tmp_path / "plan.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert load_plan(path).title == "Tiny plan"
    path.write_text(_variant("title: Tiny plan", "title: A tiny plan"), encoding="utf-8")
    assert load_plan(path).title == "A tiny plan"


def test_a_valid_file_loads(tmp_path: Path) -> None:
    """A small plan elsewhere on disk loads by path."""
    path = tmp_path / "plan.yaml"
    path.write_text(VALID, encoding="utf-8")
    plan = load_plan(path)
    assert [m.id for m in plan.milestones] == ["evening", "morning"]


def test_unknown_key(tmp_path: Path) -> None:
    """A key the model does not know is pointed at, with its line."""
    text = _variant(
        "    text: No makeup tonight.\n", "    text: No makeup tonight.\n    colour: red\n"
    )
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "milestones[0] (id=evening).colour"
    assert problem.line == _line_of(text, "colour: red")
    assert "unknown key 'colour'" in problem.message


def test_duplicate_id_points_at_the_second(tmp_path: Path) -> None:
    """Two milestones with one id: the second is the problem."""
    text = _variant("  - id: morning\n", "  - id: evening\n")
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "milestones[1] (id=evening).id"
    assert problem.line == _line_of(text, "- id: evening", occurrence=2)
    assert "duplicate id 'evening'" in problem.message


@pytest.mark.parametrize("expiry", ["{hours: 0}", "{hours: -1}", "{days: 1, hours: -30}"])
def test_expiry_not_after_due(tmp_path: Path, expiry: str) -> None:
    """A reminder must stay valid for some time after it is due."""
    text = _variant("expires_after: {hours: 4}", f"expires_after: {expiry}")
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "milestones[1] (id=morning).expires_after"
    assert problem.line == _line_of(text, f"expires_after: {expiry}")
    assert "expiry is not after the due time" in problem.message


@pytest.mark.parametrize("at", ['"24:30"', "24:30", '"25:00"', '"09:75"', "09:75", '"nine"'])
def test_a_time_that_does_not_exist(tmp_path: Path, at: str) -> None:
    """Quoted or not (YAML reads 24:30 as a number), an impossible time is refused."""
    text = _variant('at: "09:00"', f"at: {at}")
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "milestones[1] (id=morning).at"
    assert problem.line == _line_of(text, f"at: {at}")
    assert "time" in problem.message


def test_unknown_phase(tmp_path: Path) -> None:
    """A milestone naming a phase that is not in the plan."""
    text = _variant("phase: early\n    offset: {days: 1}", "phase: late\n    offset: {days: 1}")
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "milestones[1] (id=morning).phase"
    assert problem.line == _line_of(text, "phase: late")
    assert "unknown phase 'late'" in problem.message


def test_gap_between_phases(tmp_path: Path) -> None:
    """Phases must follow one another day by day."""
    text = _variant("start_day: 2", "start_day: 3")
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "phases[1] (id=later).start_day"
    assert problem.line == _line_of(text, "start_day: 3")
    assert "gap" in problem.message


def test_missing_field_points_at_the_item(tmp_path: Path) -> None:
    """A missing key is reported at the item that lacks it."""
    text = _variant("    text: Gentle cleanser, lukewarm water.\n", "")
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "milestones[1] (id=morning).text"
    assert problem.line == _line_of(text, "- id: morning")
    assert "missing required key 'text'" in problem.message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    """YAML would keep the last of two equal keys silently; the loader says so."""
    text = _variant(
        "    text: No makeup tonight.\n", "    text: No makeup.\n    text: Hands off.\n"
    )
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "milestones[0] (id=evening).text"
    assert problem.line == _line_of(text, "text: Hands off.")
    assert "duplicate key 'text'" in problem.message


def test_yaml_syntax_error(tmp_path: Path) -> None:
    """A file that is not YAML gets one problem at the line where parsing failed."""
    text = _variant("version: 1", "version: 1: 2")
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "yaml"
    assert problem.line == _line_of(text, "version: 1: 2")
    assert "mapping values are not allowed" in problem.message


def test_all_problems_at_once(tmp_path: Path) -> None:
    """Every mistake in a file is reported in one go, in line order."""
    text = VALID
    for old, new in [
        ("    text: No makeup tonight.\n", "    text: No makeup tonight.\n    colour: red\n"),
        ("  - id: morning\n", "  - id: evening\n"),
        ('at: "09:00"', 'at: "24:30"'),
        ("phase: early\n    offset: {days: 1}", "phase: late\n    offset: {days: 1}"),
        ("expires_after: {hours: 4}", "expires_after: {hours: 0}"),
        ("start_day: 2", "start_day: 3"),
    ]:
        text = _variant(old, new, base=text)
    problems = _problems(tmp_path, text)
    assert [(p.location, p.line) for p in problems] == [
        ("phases[1] (id=later).start_day", _line_of(text, "start_day: 3")),
        ("milestones[0] (id=evening).colour", _line_of(text, "colour: red")),
        ("milestones[1] (id=evening).id", _line_of(text, "- id: evening", occurrence=2)),
        ("milestones[1] (id=evening).phase", _line_of(text, "phase: late")),
        ("milestones[1] (id=evening).at", _line_of(text, 'at: "24:30"')),
        ("milestones[1] (id=evening).expires_after", _line_of(text, "{hours: 0}")),
    ]


def test_a_bad_phase_does_not_also_count_as_a_gap(tmp_path: Path) -> None:
    """Cross-checks that need every phase wait until the phases themselves are valid."""
    text = _variant("    name: Later\n", "")
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "phases[1] (id=later).name"


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "holds no plan"), ("- a\n- b\n", "valid dictionary")],
)
def test_not_a_plan_at_all(tmp_path: Path, text: str, message: str) -> None:
    """An empty file, or a list instead of a mapping."""
    problem = _only(_problems(tmp_path, text))
    assert problem.location == "plan"
    assert message in problem.message


def test_unknown_plan_name_lists_the_available_ones() -> None:
    """A bare name that is not a packaged plan."""
    with pytest.raises(PlanNotFoundError) as raised:
        load_plan("no_such_plan")
    assert DEFAULT_PLAN in _only(raised.value.problems).message


def test_missing_file(tmp_path: Path) -> None:
    """A path to nowhere."""
    with pytest.raises(PlanNotFoundError) as raised:
        load_plan(tmp_path / "absent.yaml")
    assert _only(raised.value.problems).message == "no such file"


def test_the_error_message_lists_every_problem() -> None:
    """str(PlanError) is one ``path:line: location: message`` line per problem."""
    text = _variant('at: "09:00"', 'at: "24:30"')
    text = _variant("  - id: morning\n", "  - id: evening\n", base=text)
    with pytest.raises(PlanError) as raised:
        parse_plan(text, path="tiny.yaml")
    assert str(raised.value).splitlines() == [
        "tiny.yaml:30: milestones[1] (id=evening).id: "
        "duplicate id 'evening' (first used by milestones[0])",
        "tiny.yaml:33: milestones[1] (id=evening).at: "
        "'24:30' is not a time that exists on a 24-hour clock",
    ]


def test_a_problem_without_a_line() -> None:
    """The line is left out when it is not known."""
    assert (
        PlanProblem("plan", None, "no such file").format("x.yaml") == "x.yaml: plan: no such file"
    )
