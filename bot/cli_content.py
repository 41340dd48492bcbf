"""The ``content`` commands: check a care-plan file before a clinic puts it in use."""

from __future__ import annotations

from typing import Annotated

import typer

from content.const import DEFAULT_PLAN
from content.loader import PlanError, PlanNotFoundError, load_plan

content_app = typer.Typer(help="Care-plan content.", no_args_is_help=True)


@content_app.command("check")
def check_plan(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="FILE",
            help=f"A plan file, or the name of a packaged plan (default: {DEFAULT_PLAN}).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Validate a care plan and list every problem with its line."""
    try:
        plan = load_plan(source or DEFAULT_PLAN)
    except PlanNotFoundError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {exc.path}: {problem.message}", err=True)
        raise typer.Exit(1) from None
    except PlanError as exc:
        for problem in exc.problems:
            typer.echo(problem.format(exc.path), err=True)
        count = len(exc.problems)
        typer.echo(f"✗ {count} problem{'s' if count != 1 else ''} in {exc.path}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"✓ {plan.id} v{plan.version}: {len(plan.phases)} phases, "
        f"{len(plan.milestones)} milestones, {len(plan.advice)} advice rules"
    )
