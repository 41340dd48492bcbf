"""Loading care plans from YAML, with every problem reported by location and line.

A plan is loaded by name from ``content/plans/<name>.yaml`` or from any file by path. The
YAML is composed into a node tree first, so each problem can point at the line it is about,
and all problems are collected before anything is raised: a clinic editing its wording sees
every mistake in one go.

Languages: the plan file is written in English. Its patient-facing texts in another language
live beside it in an overlay, ``<name>.<language>.yaml`` (``microneedling.ur.yaml``,
``microneedling.ur-Latn.yaml``), keyed by the base plan's ids::

    title: ...
    phases:      {<phase id>: {name: ..., summary: ..., key_advice: ...}}
    milestones:  {<milestone id>: {title: ..., text: ...}}
    advice:      {<topic>: <answer>}

Everything else (days, times, topics, buttons) comes from the base plan only, so a
translation can never move a reminder. ``load_plan(name, language)`` returns the plan with
the overlay's texts (English, and a language without an overlay, get the base plan);
``check_overlay`` lists every id or text missing or unknown, and every placeholder or HTML tag
that differs from the English.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from content.const import DEFAULT_PLAN
from content.plan import (
    DEFER_CROSS_CHECKS,
    AdviceRule,
    CarePlan,
    Loc,
    Milestone,
    Phase,
    find_inconsistencies,
)
from content.texts import DEFAULT_LANGUAGE, RTL_LANGUAGES, mark_direction, placeholders, tags

PLANS_DIR = Path(__file__).resolve().parent / "plans"
PLAN_SUFFIX = ".yaml"
_PLAN_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
# Scalar inputs are short enough to quote back in a message; mappings and lists are not.
_QUOTABLE = (str, int, float, bool)

_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True)
class PlanProblem:
    """One problem in a plan file: where it is, on which line (1-based), and what is wrong."""

    location: str
    line: int | None
    message: str

    def format(self, path: Path | str) -> str:
        """The problem as one line: ``path:line: location: message``."""
        where = f"{path}:{self.line}" if self.line is not None else str(path)
        return f"{where}: {self.location}: {self.message}"


class PlanError(Exception):
    """A plan that cannot be used, with every problem found in it."""

    def __init__(self, path: Path | str, problems: Sequence[PlanProblem]) -> None:
        """Record the file and its problems; the message lists them one per line."""
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(p.format(path) for p in self.problems))


class PlanNotFoundError(PlanError):
    """There is no plan file at the path, or no packaged plan by that name."""


def available_plans() -> list[str]:
    """The names of the plans shipped in ``content/plans``, sorted (overlays are not plans)."""
    return sorted(p.stem for p in PLANS_DIR.glob(f"*{PLAN_SUFFIX}") if "." not in p.stem)


def overlay_path(plan_file: Path, language: str) -> Path:
    """The file holding the ``language`` texts of the plan in ``plan_file``."""
    return plan_file.with_name(f"{plan_file.stem}.{language}{PLAN_SUFFIX}")


def plan_languages(source: str | Path = DEFAULT_PLAN) -> list[str]:
    """The languages a plan has texts in: English and one per overlay file beside it."""
    path = plan_path(source)
    prefix = f"{path.stem}."
    found = [
        p.stem[len(prefix) :]
        for p in path.parent.glob(f"{path.stem}.*{PLAN_SUFFIX}")
        if p.stem.startswith(prefix)
    ]
    return [DEFAULT_LANGUAGE, *sorted(found)]


def plan_path(source: str | Path = DEFAULT_PLAN) -> Path:
    """The file a plan name ("microneedling") or a path refers to."""
    if isinstance(source, str) and _PLAN_NAME.match(source):
        return PLANS_DIR / f"{source}{PLAN_SUFFIX}"
    return Path(source)


def load_plan(source: str | Path = DEFAULT_PLAN, language: str = DEFAULT_LANGUAGE) -> CarePlan:
    """Load and validate a plan by name or path, with its texts in ``language``.

    English, or a language the plan has no overlay for, gives the plan as written. Cached
    until a file changes.

    Raises:
        PlanNotFoundError: there is no such file or packaged plan.
        PlanError: the plan or the language's overlay is not valid; ``problems`` lists
            every problem (``path`` names the file they are in).
    """
    base = _load_base(source)
    if language == DEFAULT_LANGUAGE:
        return base
    path = overlay_path(_resolved(plan_path(source)), language)
    try:
        stat = path.stat()
    except OSError:
        return base
    return _load_overlay(base, path, stat.st_mtime_ns, stat.st_size, language)


def _resolved(path: Path) -> Path:
    return path if path.parent == PLANS_DIR else path.resolve()


def _load_base(source: str | Path) -> CarePlan:
    path = plan_path(source)
    if path.parent != PLANS_DIR:  # packaged plans' paths are resolved already
        path = path.resolve()
    try:
        stat = path.stat()
    except OSError:
        if isinstance(source, str) and _PLAN_NAME.match(source):
            message = f"no plan named {source!r}; available: {', '.join(available_plans())}"
        else:
            message = "no such file"
        raise PlanNotFoundError(path, [PlanProblem("plan", None, message)]) from None
    return _load_file(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _load_file(path: Path, mtime_ns: int, size: int) -> CarePlan:
    # mtime and size are part of the cache key only, so an edited file is read again.
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(path, [PlanProblem("plan", None, f"cannot read the file: {exc}")]) from None
    return parse_plan(text, path=path)


def parse_plan(text: str, *, path: Path | str = "<string>") -> CarePlan:
    """Validate the YAML text of a plan; ``path`` only names it in problems.

    Raises:
        PlanError: the text is not a valid plan; ``problems`` lists every problem.
    """
    root, data = _compose(text, path)
    problems = _duplicate_keys(root, root, ())
    plan: CarePlan | None = None
    try:
        plan = CarePlan.model_validate(data, context={DEFER_CROSS_CHECKS: True})
    except ValidationError as exc:
        problems += [_problem(root, error) for error in _relevant(exc.errors())]
        inconsistencies = find_inconsistencies(
            _validated(data, "phases", Phase),
            _validated(data, "milestones", Milestone, ("id", "phase")),
            _validated(data, "advice", AdviceRule, ("topic",)),
        )
    else:
        inconsistencies = find_inconsistencies(plan.phases, plan.milestones, plan.advice)
    for inconsistency in inconsistencies:
        location, line = _locate(root, inconsistency.loc)
        problems.append(PlanProblem(location, line, inconsistency.message))
    if problems or plan is None:
        problems.sort(key=lambda p: p.line if p.line is not None else 0)
        raise PlanError(path, problems)
    return plan


# What an overlay may hold for each item of the base plan: section -> translatable fields.
_OVERLAY_FIELDS: dict[str, tuple[str, ...]] = {
    "phases": ("name", "summary", "key_advice"),
    "milestones": ("title", "text"),
}


@functools.lru_cache(maxsize=32)
def _load_overlay(base: CarePlan, path: Path, mtime_ns: int, size: int, language: str) -> CarePlan:
    # mtime and size are part of the cache key only, so an edited file is read again.
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(path, [PlanProblem("plan", None, f"cannot read the file: {exc}")]) from None
    return parse_overlay(base, text, language=language, path=path)


def parse_overlay(
    base: CarePlan, text: str, *, language: str, path: Path | str = "<string>"
) -> CarePlan:
    """``base`` with its patient-facing texts taken from the overlay YAML ``text``.

    Raises:
        PlanError: the overlay is incomplete or does not match ``base``; every problem listed.
    """
    root, data = _compose(text, path)
    problems = _duplicate_keys(root, root, ()) + check_overlay(base, root, data)
    if problems:
        raise PlanError(path, problems)
    mark = mark_direction if language in RTL_LANGUAGES else (lambda value: value)
    merged = base.model_dump()
    merged["title"] = mark(data["title"])
    for section, fields in _OVERLAY_FIELDS.items():
        for item in merged[section]:
            for field in fields:
                if field in data[section][item["id"]]:
                    item[field] = mark(data[section][item["id"]][field])
    for rule in merged["advice"]:
        rule["answer"] = mark(data["advice"][rule["topic"]])
    try:
        return CarePlan.model_validate(merged)
    except ValidationError as exc:  # a translated title too long for a list, say
        problems = []
        for error in _relevant(exc.errors()):
            problem = _problem(root, {**error, "loc": _overlay_loc(base, error["loc"])})
            problems.append(problem)
        raise PlanError(path, problems) from None


def _overlay_loc(base: CarePlan, loc: Loc) -> Loc:
    """Where the value at ``loc`` of the merged plan comes from in the overlay."""
    if len(loc) >= 2 and isinstance(loc[1], int):
        if loc[0] in _OVERLAY_FIELDS:
            items = base.phases if loc[0] == "phases" else base.milestones
            return (loc[0], items[loc[1]].id, *loc[2:])
        if loc[0] == "advice":
            return ("advice", base.advice[loc[1]].topic)
    return loc


def check_overlay_file(plan_file: Path, path: Path, language: str) -> list[PlanProblem]:
    """Every problem of the ``language`` overlay in ``path`` for the plan in ``plan_file``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [PlanProblem("plan", None, f"cannot read the file: {exc}")]
    try:
        parse_overlay(load_plan(plan_file), text, language=language, path=path)
    except PlanError as exc:
        return exc.problems
    return []


def check_overlay(base: CarePlan, root: yaml.Node, data: Any) -> list[PlanProblem]:
    """Every way an overlay's data differs in shape from ``base``: ids and texts missing or
    unknown, values that are not text, placeholders and HTML tags unlike the English."""
    problems: list[PlanProblem] = []

    def report(loc: Loc, message: str) -> None:
        location, line = _locate(root, loc)
        problems.append(PlanProblem(location, line, message))

    def compare(loc: Loc, value: Any, english: str) -> None:
        if not isinstance(value, str) or not value.strip():
            report(loc, "expected a text")
            return
        try:
            ours = placeholders(value)
        except ValueError as exc:
            report(loc, str(exc))
            return
        if ours != placeholders(english):
            report(
                loc,
                f"placeholders {sorted(ours)} differ from the English's "
                f"{sorted(placeholders(english))}",
            )
        if tags(value) != tags(english):
            report(loc, "HTML tags differ from the English")

    if not isinstance(data, dict):
        return [PlanProblem("plan", None, "expected a mapping: title, phases, milestones, advice")]
    for key in data:
        if key not in ("title", *_OVERLAY_FIELDS, "advice"):
            report(
                (str(key),),
                f"unknown key {key!r}; an overlay holds title, phases, milestones, advice",
            )
    if "title" in data:
        compare(("title",), data["title"], base.title)
    else:
        report((), "missing required key 'title'")
    english: dict[str, dict[str, dict[str, str]]] = {
        "phases": {
            p.id: {f: getattr(p, f) for f in _OVERLAY_FIELDS["phases"]} for p in base.phases
        },
        "milestones": {
            m.id: {f: getattr(m, f) for f in _OVERLAY_FIELDS["milestones"] if getattr(m, f)}
            for m in base.milestones
        },
    }
    for section, items in english.items():
        given = data.get(section)
        if not isinstance(given, dict):
            report((section,) if section in data else (), f"missing {section}: a mapping by id")
            continue
        for item_id in given:
            if item_id not in items:
                report((section, str(item_id)), f"unknown {section[:-1]} id {item_id!r}")
        for item_id, texts in items.items():
            entry = given.get(item_id)
            if not isinstance(entry, dict):
                where: Loc = (section, item_id) if item_id in given else (section,)
                report(where, f"missing texts of {section[:-1]} {item_id!r}")
                continue
            for field in entry:
                if field not in texts:
                    report((section, item_id, str(field)), f"unknown key {field!r}")
            for field, text in texts.items():
                if field in entry:
                    compare((section, item_id, field), entry[field], text)
                else:
                    report((section, item_id), f"missing {field!r} of {section[:-1]} {item_id!r}")
    advice = data.get("advice")
    if not isinstance(advice, dict):
        report(("advice",) if "advice" in data else (), "missing advice: answers by topic")
    else:
        answers = {rule.topic: rule.answer for rule in base.advice}
        for topic in advice:
            if topic not in answers:
                report(("advice", str(topic)), f"unknown advice topic {topic!r}")
        for topic, answer in answers.items():
            if topic in advice:
                compare(("advice", topic), advice[topic], answer)
            else:
                report(("advice",), f"missing the answer for advice topic {topic!r}")
    problems.sort(key=lambda p: p.line if p.line is not None else 0)
    return problems


def _compose(text: str, path: Path | str) -> tuple[yaml.Node, Any]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"{exc.context}: {exc.problem}" if exc.context else str(exc.problem)
        line = mark.line + 1 if mark is not None else None
        raise PlanError(path, [PlanProblem("yaml", line, message)]) from None
    except yaml.YAMLError as exc:
        raise PlanError(path, [PlanProblem("yaml", None, str(exc))]) from None
    finally:
        loader.dispose()
    if root is None:
        raise PlanError(path, [PlanProblem("plan", None, "the file holds no plan")])
    return root, data


def _duplicate_keys(root: yaml.Node, node: yaml.Node, loc: Loc) -> list[PlanProblem]:
    # PyYAML keeps the last of two equal keys without a word; a plan author wants to know.
    problems: list[PlanProblem] = []
    seen: set[int] = set()  # an alias can make the node tree cyclic
    stack: list[tuple[yaml.Node, Loc]] = [(node, loc)]
    while stack:
        current, where = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key, value in current.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                line = key.start_mark.line + 1
                if key.value in first_line:
                    location, _ = _locate(root, (*where, key.value))
                    message = f"duplicate key {key.value!r} (first on line {first_line[key.value]})"
                    problems.append(PlanProblem(location, line, message))
                else:
                    first_line[key.value] = line
                stack.append((value, (*where, key.value)))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, (*where, index)) for index, item in enumerate(current.value))
    return problems


def _relevant(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    # A list whose items failed is also reported as too short; the item errors say it better.
    def inside(outer: Loc, inner: Loc) -> bool:
        return len(inner) > len(outer) and inner[: len(outer)] == outer

    return [
        e
        for e in errors
        if not (
            e["type"] == "too_short" and any(inside(e["loc"], other["loc"]) for other in errors)
        )
    ]


def _problem(root: yaml.Node, error: ErrorDetails) -> PlanProblem:
    loc = error["loc"]
    location, line = _locate(root, loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}" if loc else "unknown key"
    elif kind == "missing":
        message = f"missing required key {loc[-1]!r}" if loc else "missing"
    elif kind == "value_error" and "ctx" in error and "error" in error["ctx"]:
        message = str(error["ctx"]["error"])
    else:
        message = error["msg"]
        if isinstance(error.get("input"), _QUOTABLE):
            message = f"{message} (got {error['input']!r})"
    return PlanProblem(location, line, message)


def _validated(
    data: Any, section: str, model: type[_Model], identity: tuple[str, ...] = ()
) -> list[_Model | None]:
    """The items of a plan section that validate on their own, None for the others.

    An invalid item whose ``identity`` fields are all strings is kept as an unvalidated
    stand-in holding just those fields, so its id still counts for duplicates and references.
    """
    raw = data.get(section) if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return []
    items: list[_Model | None] = []
    for item in raw:
        try:
            items.append(model.model_validate(item))
        except ValidationError:
            if (
                identity
                and isinstance(item, dict)
                and all(isinstance(item.get(field), str) for field in identity)
            ):
                items.append(model.model_construct(**{f: item[f] for f in identity}))
            else:
                items.append(None)
    return items


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The node at ``part`` under ``node``, and the key node that names it (for mappings)."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return value, key
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part], None
    return None, None


def _item_label(node: yaml.Node | None) -> str:
    for field in ("id", "topic"):
        value, _ = _child(node, field) if node is not None else (None, None)
        if isinstance(value, yaml.ScalarNode):
            return f" ({field}={value.value})"
    return ""


def _locate(root: yaml.Node, loc: Loc) -> tuple[str, int | None]:
    """A readable path for ``loc`` ("milestones[3] (id=x).at") and the line where it starts."""
    node: yaml.Node | None = root
    line: int | None = root.start_mark.line + 1
    text = ""
    for part in loc:
        child, key = _child(node, part) if node is not None else (None, None)
        if isinstance(part, int):
            text += f"[{part}]{_item_label(child)}"
        else:
            text += f".{part}" if text else str(part)
        if child is not None:
            line = (key or child).start_mark.line + 1
        node = child
    return text or "plan", line
