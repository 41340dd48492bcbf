"""The ``triage`` command: what the "is this normal?" engine answers, for one message or a file.

    aftercare triage --day 6 "my face is still red"        # the answer, for a person
    aftercare triage --day 6 "my face is still red" --json # the whole verdict
    aftercare triage --batch cases.jsonl                   # {"id","text","day"} per line in,
                                                           # {"id","topic","level","allowed",
                                                           #  "answer"} per line out
    aftercare triage --check                               # validate content/triage/*.yaml
    aftercare triage --day 2 --lang ur-Latn "laali hai"    # the answer in Roman Urdu

The answer's language is --lang (en, ur, ur-Latn); without it, a message in Urdu script is
answered in Urdu script and any other in English. A --batch line may carry its own "lang".

The plan and the engine are loaded once, so a batch runs at the engine's own speed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from bot.cli_common import fail
from content.const import DEFAULT_PLAN

if TYPE_CHECKING:
    from content.plan import CarePlan
    from content.triage import Engine, Verdict


def register(app: typer.Typer) -> None:
    """Add the ``triage`` command to ``app``."""
    app.command("triage")(triage_command)


def triage_command(
    text: Annotated[
        str | None, typer.Argument(help="The patient's message.", show_default=False)
    ] = None,
    day: Annotated[
        int | None,
        typer.Option(
            "--day",
            help="Days since the session (0 is the session day; negative before it).",
            min=-3650,
        ),
    ] = None,
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch",
            metavar="FILE.jsonl",
            help='Triage each line {"id","text","day"} of FILE ("-" for stdin), one JSON line out.',
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole verdict as JSON.")
    ] = False,
    contact: Annotated[
        str | None,
        typer.Option("--contact", help="The clinic's contact, given in clinic and urgent answers."),
    ] = None,
    plan_name: Annotated[
        str, typer.Option("--plan", help="Care plan name or file (its advice rules).")
    ] = DEFAULT_PLAN,
    check: Annotated[
        bool, typer.Option("--check", help="Validate the triage data files and list problems.")
    ] = False,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="The answer's language: en, ur (Urdu script) or ur-Latn (Roman Urdu). "
            "Default: ur for a message in Urdu script, else en.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Triage a patient's message: the level, the topic and the answer the bot would give."""
    if check:
        _check_data()
        return
    if lang is not None:
        _check_language(lang)
    if batch is not None:
        if text is not None or day is not None:
            raise fail("--batch takes the messages and days from the file, not the command line")
        engine, plan = _load(plan_name)
        errors = _run_batch(batch, engine, plan, contact, lang)
        if errors:
            typer.secho(f"{errors} line(s) could not be triaged", err=True, fg=typer.colors.RED)
            raise typer.Exit(1)
        return
    if text is None or day is None:
        raise fail('give a message and --day, e.g. aftercare triage --day 3 "is peeling normal?"')
    engine, plan = _load(plan_name)
    verdict = engine.triage(text, day, plan, contact=contact, lang=lang or _guess_language(text))
    if as_json:
        typer.echo(json.dumps(verdict.as_dict(), indent=2, ensure_ascii=False))
    else:
        _print_verdict(verdict)


def _check_data() -> None:
    from content.triage import TriageDataError, load_engine

    try:
        engine = load_engine()
    except TriageDataError as exc:
        for problem in exc.problems:
            typer.echo(problem.format(), err=True)
        count = len(exc.problems)
        typer.echo(f"✗ {count} problem{'s' if count != 1 else ''} in the triage data", err=True)
        raise typer.Exit(1) from None
    concepts = engine.data.lexicon.concepts
    phrases = sum(len(c.phrases) for c in concepts.values())
    typer.echo(
        f"✓ triage data: {len(concepts)} concepts, {phrases} phrases, "
        f"{len(engine.rules.symptoms)} symptom rules, {len(engine.rules.questions)} questions"
    )


def _load(plan_name: str) -> tuple[Engine, CarePlan]:
    from content.loader import PlanError, load_plan
    from content.triage import TriageDataError, load_engine

    try:
        plan = load_plan(plan_name)
    except PlanError as exc:
        raise fail(str(exc), code=1) from None
    try:
        engine = load_engine()
    except TriageDataError as exc:
        raise fail(str(exc), code=1) from None
    return engine, plan


def _check_language(lang: str) -> None:
    from content.triage import LANGUAGES

    if lang not in LANGUAGES:
        raise fail(f"--lang {lang!r}: use one of {', '.join(LANGUAGES)}")


def _guess_language(text: str) -> str:
    """The answer's language when none is given: Urdu for Urdu script, else English.

    Roman Urdu cannot be told from English reliably, so it is never guessed.
    """
    from content.triage.script import has_urdu_script

    return "ur" if has_urdu_script(text) else "en"


def _run_batch(
    source: str, engine: Engine, plan: CarePlan, contact: str | None, lang: str | None
) -> int:
    """Triage every case of ``source`` to stdout; the number of lines that failed."""
    if source == "-":
        return _triage_lines(sys.stdin, engine, plan, contact, lang)
    try:
        with open(source, encoding="utf-8") as lines:
            return _triage_lines(lines, engine, plan, contact, lang)
    except OSError as exc:
        raise fail(f"cannot read {source}: {exc.strerror}", code=1) from None


def _triage_lines(
    lines: Iterable[str], engine: Engine, plan: CarePlan, contact: str | None, lang: str | None
) -> int:
    out: TextIO = sys.stdout
    errors = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        case = _parse_case(line, number)
        if case is None:
            errors += 1
            continue
        answer_in = case["lang"] or lang or _guess_language(case["text"])
        verdict = engine.triage(case["text"], case["day"], plan, contact=contact, lang=answer_in)
        row = {
            "id": case["id"],
            "topic": verdict.topic,
            "level": verdict.level.value,
            "allowed": verdict.allowed,
            "answer": verdict.answer,
        }
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.flush()
    return errors


def _parse_case(line: str, number: int) -> dict[str, Any] | None:
    try:
        case = json.loads(line)
    except json.JSONDecodeError as exc:
        typer.echo(f"line {number}: not JSON: {exc.msg}", err=True)
        return None
    if not isinstance(case, dict):
        typer.echo(f"line {number}: expected an object with id, text and day", err=True)
        return None
    text, day = case.get("text"), case.get("day")
    if not isinstance(text, str) or isinstance(day, bool) or not isinstance(day, int):
        typer.echo(f"line {number}: needs a string 'text' and an integer 'day'", err=True)
        return None
    lang = case.get("lang")
    if lang is not None:
        from content.triage import LANGUAGES

        if lang not in LANGUAGES:
            typer.echo(f"line {number}: 'lang' must be one of {', '.join(LANGUAGES)}", err=True)
            return None
    return {"id": case.get("id"), "text": text, "day": day, "lang": lang}


def _print_verdict(verdict: Verdict) -> None:
    allowed = {True: "yes", False: "no", None: "-"}[verdict.allowed]
    rows = [
        ("level", f"{verdict.level.value} (day {verdict.day})"),
        ("topic", verdict.topic or "-"),
        ("allowed", allowed),
        ("answer", verdict.answer),
    ]
    if verdict.clarify is not None:
        rows.append(("ask", f"{verdict.clarify.question}  [{verdict.clarify.id}]"))
    read = [f"{m.text} ({m.concept}{', negated' if m.negated else ''})" for m in verdict.matched]
    rows.append(("read", "; ".join(read) or "-"))
    for name, value in rows:
        typer.echo(f"{name + ':':9}{value}")
