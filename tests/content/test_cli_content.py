"""``content check``: a clean plan passes, a broken one lists every problem with its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from typer.testing import CliRunner

from bot.cli_content import content_app
from content.loader import load_plan
from tests.content.test_loader import VALID

app = typer.Typer()
app.add_typer(content_app, name="content")
runner = CliRunner()


def test_default_plan_passes() -> None:
    """Without a file, the default plan is checked."""
    result = runner.invoke(app, ["content", "check"])
    plan = load_plan()
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"✓ microneedling v{plan.version}: {len(plan.phases)} phases, "
        f"{len(plan.milestones)} milestones, {len(plan.advice)} advice rules",
        "✓ texts and plan complete in en, ur, ur-Latn",
    ]


def test_a_plan_by_name_and_by_path(tmp_path: Path) -> None:
    """A bare name is a packaged plan; anything else is a file."""
    assert runner.invoke(app, ["content", "check", "microneedling"]).exit_code == 0
    path = tmp_path / "tiny.yaml"
    path.write_text(VALID, encoding="utf-8")
    result = runner.invoke(app, ["content", "check", str(path)])
    assert result.output.startswith("✓ tiny v1: 2 phases, 2 milestones, 0 advice rules")
    # a valid plan, but a patient who reads Urdu would get it in English
    assert result.exit_code == 1
    assert f"{tmp_path / 'tiny.ur.yaml'}: no ur texts for this plan" in result.output


def test_a_broken_plan_lists_each_problem_with_its_line(tmp_path: Path) -> None:
    """Exit 1; one ``path:line: location: message`` line per problem, then the count."""
    path = tmp_path / "broken.yaml"
    text = VALID.replace('at: "09:00"', 'at: "24:30"').replace("- id: morning", "- id: evening")
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["content", "check", str(path)])
    assert result.exit_code == 1
    resolved = path.resolve()
    assert result.output.splitlines() == [
        f"{resolved}:30: milestones[1] (id=evening).id: "
        "duplicate id 'evening' (first used by milestones[0])",
        f"{resolved}:33: milestones[1] (id=evening).at: "
        "'24:30' is not a time that exists on a 24-hour clock",
        f"✗ 2 problems in {resolved}",
    ]


def test_a_missing_file(tmp_path: Path) -> None:
    """A clear message and exit 1, no traceback."""
    result = runner.invoke(app, ["content", "check", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 1
    assert "absent.yaml: no such file" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unknown_plan_name() -> None:
    """The available plans are named."""
    result = runner.invoke(app, ["content", "check", "nope"])
    assert result.exit_code == 1
    assert "no plan named 'nope'; available: microneedling" in result.output


def _catalogues(tmp_path: Path, language: str, replace: str, by: str) -> Path:
    """A copy of the packaged catalogues with one edit in ``language``."""
    from content.texts import TEXTS_DIR

    directory = tmp_path / "texts"
    shutil.copytree(TEXTS_DIR, directory)
    path = directory / f"{language}.yaml"
    text = path.read_text(encoding="utf-8")
    assert replace in text
    path.write_text(text.replace(replace, by, 1), encoding="utf-8")
    return directory


def _check_texts(directory: Path) -> list[str]:
    result = runner.invoke(app, ["content", "check", "--texts", str(directory)])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("✓ microneedling")
    assert lines[-1].startswith("✗ ")
    return lines[1:-1]


def test_a_key_missing_in_one_language(tmp_path: Path) -> None:
    directory = _catalogues(tmp_path, "ur", "  kept: ", "  kep: ")
    assert _check_texts(directory) == [
        f"{directory / 'ur.yaml'}: delete.kept: missing",
        f"{directory / 'ur.yaml'}: delete.kep: not in en (a typo, or a key removed there?)",
    ]


def test_a_placeholder_that_differs(tmp_path: Path) -> None:
    directory = _catalogues(tmp_path, "ur-Latn", "{clinic} ke saath agla", "{klinik} ke saath agla")
    assert _check_texts(directory) == [
        f"{directory / 'ur-Latn.yaml'}: reminder.book_clinic: placeholders {{klinik}} "
        "differ from en's {clinic}"
    ]


def test_an_html_tag_mismatch(tmp_path: Path) -> None:
    directory = _catalogues(tmp_path, "ur", "<b>سب</b>", "<i>سب</i>")
    assert _check_texts(directory) == [
        f"{directory / 'ur.yaml'}: delete.confirm: HTML tags </i> <i> differ from en's </b> <b>"
    ]


def test_a_plural_form_missing(tmp_path: Path) -> None:
    directory = _catalogues(
        tmp_path, "ur-Latn", '    one: "▶️ Reminders dobara shuru ho gaye. Is dauran ek', "    #"
    )
    assert _check_texts(directory) == [
        f"{directory / 'ur-Latn.yaml'}: resume.expired: plural form one missing"
    ]


def test_a_plan_overlay_problem_and_a_missing_overlay(tmp_path: Path) -> None:
    """A copy of the packaged plan: one overlay breaks, the other is gone."""
    from content.loader import PLANS_DIR

    plan = tmp_path / "copy.yaml"
    shutil.copy(PLANS_DIR / "microneedling.yaml", plan)
    overlay = tmp_path / "copy.ur.yaml"
    text = (PLANS_DIR / "microneedling.ur.yaml").read_text(encoding="utf-8")
    overlay.write_text(text.replace("  day14_sun:\n", "  day14_sunny:\n"), encoding="utf-8")
    result = runner.invoke(app, ["content", "check", str(plan)])
    assert result.exit_code == 1
    lines = text.splitlines()
    line = lines.index("  day14_sun:") + 1
    section = lines.index("milestones:") + 1
    assert result.output.splitlines()[1:] == [
        f"{overlay}:{section}: milestones: missing texts of milestone 'day14_sun'",
        f"{overlay}:{line}: milestones.day14_sunny: unknown milestone id 'day14_sunny'",
        f"{tmp_path / 'copy.ur-Latn.yaml'}: no ur-Latn texts for this plan (expected this file)",
        "✗ 3 problems in the languages",
    ]
