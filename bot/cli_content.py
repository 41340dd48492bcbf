"""The ``content`` commands: check a care plan and the text catalogues before use.

``aftercare content check`` validates the plan, then proves every language complete: each
catalogue in content/texts has every key of en.yaml with the same placeholders, HTML tags
and plural forms, and the plan has an overlay per language with every id and text. Exit 1,
one line per problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from content.const import DEFAULT_PLAN
from content.loader import (
    PlanError,
    PlanNotFoundError,
    check_overlay_file,
    load_plan,
    overlay_path,
    plan_path,
)
from content.texts import (
    DEFAULT_LANGUAGE,
    TEXTS_DIR,
    TextsError,
    available_languages,
    compare_catalogues,
    read_catalogue,
)

content_app = typer.Typer(help="Care-plan content and text catalogues.", no_args_is_help=True)


@content_app.command("check")
def check_content(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="FILE",
            help=f"A plan file, or the name of a packaged plan (default: {DEFAULT_PLAN}).",
            show_default=False,
        ),
    ] = None,
    texts_dir: Annotated[
        Path | None,
        typer.Option(
            "--texts",
            help="A directory of catalogues <language>.yaml (default: the packaged ones).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Validate a care plan and every language's texts; list every problem with its place."""
    try:
        plan = load_plan(source or DEFAULT_PLAN)
    except PlanNotFoundError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {exc.path}: {problem.message}", err=True)
        raise typer.Exit(1) from None
    except PlanError as exc:
        for problem in exc.problems:
            typer.echo(problem.format(exc.path), err=True)
        typer.echo(f"✗ {_count(len(exc.problems))} in {exc.path}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"✓ {plan.id} v{plan.version}: {len(plan.phases)} phases, "
        f"{len(plan.milestones)} milestones, {len(plan.advice)} advice rules"
    )
    directory = texts_dir or TEXTS_DIR
    languages = available_languages(directory)
    problems = _check_catalogues(directory, languages)
    others = [code for code in languages if code != DEFAULT_LANGUAGE]
    problems += _check_overlays(plan_path(source or DEFAULT_PLAN), others)
    for line in problems:
        typer.echo(line, err=True)
    if problems:
        typer.echo(f"✗ {_count(len(problems))} in the languages", err=True)
        raise typer.Exit(1)
    typer.echo(f"✓ texts and plan complete in {', '.join(languages)}")


def _count(number: int) -> str:
    return f"{number} problem{'s' if number != 1 else ''}"


def _check_catalogues(directory: Path, languages: Sequence[str]) -> list[str]:
    reference_path = directory / f"{DEFAULT_LANGUAGE}.yaml"
    try:
        reference = read_catalogue(reference_path)
    except TextsError as exc:
        return [str(exc)]
    problems: list[str] = []
    for language in languages:
        if language == DEFAULT_LANGUAGE:
            continue
        path = directory / f"{language}.yaml"
        try:
            other = read_catalogue(path)
        except TextsError as exc:
            problems.append(str(exc))
            continue
        problems += [f"{path}: {problem}" for problem in compare_catalogues(reference, other)]
    return problems


def _check_overlays(plan_file: Path, languages: list[str]) -> list[str]:
    problems: list[str] = []
    for language in languages:
        path = overlay_path(plan_file, language)
        if not path.exists():
            problems.append(f"{path}: no {language} texts for this plan (expected this file)")
            continue
        problems += [p.format(path) for p in check_overlay_file(plan_file, path, language)]
    return problems
