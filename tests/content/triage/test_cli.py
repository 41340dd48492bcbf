"""``aftercare triage``: one message for a person or as JSON, and batches for score.py.

The score.py tests run the real command in a subprocess, as the evaluation does, on the
development cases in ../shared (skipped when that directory is absent) and on our own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import content.loader
import content.triage
import content.triage.data
from bot.cli import app as main_app
from bot.cli_triage import register
from tests.content.triage.scoring import CASES, load_cases

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "triage"
SCORE = SHARED / "score.py"
DEV_CASES = SHARED / "cases-dev.jsonl"
COMMAND = [sys.executable, "-m", "bot.cli", "triage", "--batch"]

app = typer.Typer()
register(app)


@app.callback()
def _root() -> None:
    """Make ``triage`` a sub-command, as in the real app."""


runner = CliRunner()


def run_score(cases: Path) -> subprocess.CompletedProcess[str]:
    """score.py on ``cases`` with the real command, from the repository root."""
    return subprocess.run(
        [sys.executable, str(SCORE), str(cases), "--", *COMMAND],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def metrics_of(output: str) -> dict[str, float]:
    """The metric lines of score.py's output."""
    found = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(("_recall", "_max", "_accuracy")):
            found[parts[0]] = float(parts[1])
    return found


@pytest.mark.slow
@pytest.mark.parametrize("cases", [DEV_CASES, CASES], ids=["dev", "ours"])
def test_score_py_passes_through_the_real_command(cases: Path) -> None:
    """The evaluation's own scorer, on the real CLI: every bar met."""
    if not SCORE.is_file() or not cases.is_file():
        pytest.skip(f"shared/triage is not beside the repository ({SHARED})")
    result = run_score(cases)
    assert result.returncode == 0, result.stdout + result.stderr
    metrics = metrics_of(result.stdout)
    assert metrics["urgent_recall"] == 1.0
    assert len(metrics) == 7, result.stdout


def write_cases(path: Path, cases: list[dict[str, Any]]) -> Path:
    """Write cases as JSONL."""
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def test_batch_prints_one_json_line_per_case(tmp_path: Path) -> None:
    """Exactly id, topic, level, allowed and answer; allowed only for advice; null topic for
    unknown; ids as given, in order."""
    cases = [
        {"id": "a", "text": "my face is red", "day": 1},
        {"id": 7, "text": "can I wear makeup?", "day": 1},
        {"id": "c", "text": "which sunscreen?", "day": 3},
        {"id": "d", "text": "tell me a joke", "day": 2},
    ]
    result = runner.invoke(
        app, ["triage", "--batch", str(write_cases(tmp_path / "in.jsonl", cases))]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [set(r) for r in rows] == [{"id", "topic", "level", "allowed", "answer"}] * 4
    assert [(r["id"], r["topic"], r["level"], r["allowed"]) for r in rows] == [
        ("a", "redness", "normal", None),
        (7, "makeup", "advice", False),
        ("c", "sunscreen", "advice", None),
        ("d", None, "unknown", None),
    ]
    assert all(r["answer"] for r in rows)


def test_batch_reads_standard_input() -> None:
    """``--batch -`` reads the cases from stdin."""
    line = json.dumps({"id": "x", "text": "I have a fever", "day": 2})
    result = runner.invoke(app, ["triage", "--batch", "-"], input=line + "\n\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["level"] == "urgent"


def test_a_bad_line_is_reported_and_the_rest_still_answered(tmp_path: Path) -> None:
    """Lines that are not cases go to stderr with their number; the exit code is 1."""
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": 1, "text": "red", "day": 1}\nnot json\n{"id": 3, "text": "x"}\n'
        '{"id": 4, "text": "peeling", "day": 4}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["triage", "--batch", str(path)])
    assert result.exit_code == 1
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [1, 4]
    assert "line 2: not JSON" in result.stderr
    assert "line 3: needs a string 'text' and an integer 'day'" in result.stderr


def test_batch_loads_the_plan_and_engine_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many cases, one plan load and one engine load: the batch is fast."""
    calls = {"plan": 0, "engine": 0}
    real_plan, real_engine = content.loader.load_plan, content.triage.load_engine

    def counted_plan(*args: Any) -> Any:
        calls["plan"] += 1
        return real_plan(*args)

    def counted_engine(*args: Any) -> Any:
        calls["engine"] += 1
        return real_engine(*args)

    monkeypatch.setattr(content.loader, "load_plan", counted_plan)
    monkeypatch.setattr(content.triage, "load_engine", counted_engine)
    cases = [{"id": i, "text": "a bit red", "day": i % 20} for i in range(300)]
    result = runner.invoke(
        app, ["triage", "--batch", str(write_cases(tmp_path / "in.jsonl", cases))]
    )
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 300
    assert calls == {"plan": 1, "engine": 1}


def test_one_message_for_a_person() -> None:
    """Level, topic, answer, the clarifying question and what was read."""
    result = runner.invoke(app, ["triage", "--day", "5", "my cheeks are still red"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert lines["level"].strip() == "watch (day 5)"
    assert lines["topic"].strip() == "redness"
    assert "Contact your clinic if" in lines["answer"]
    assert "[infection_signs:redness:watch]" in lines["ask"]
    assert lines["read"].strip() == "red (redness)"


def test_a_day_before_the_session() -> None:
    """--day=-7 (a session a week ahead) is the policy's "before the session"."""
    result = runner.invoke(app, ["triage", "--day=-7", "my cheeks are red", "--json"])
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert (verdict["level"], verdict["day"]) == ("clinic", -7)
    assert "before your session" in verdict["answer"]


def test_one_message_as_json() -> None:
    """--json prints the whole verdict, escalate and clarify included."""
    result = runner.invoke(
        app,
        ["triage", "--day", "3", "no fever but there's pus", "--json", "--contact", "Glow, 0300"],
    )
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert (verdict["topic"], verdict["level"], verdict["escalate"]) == (
        "infection",
        "clinic",
        True,
    )
    assert "Glow, 0300" in verdict["answer"]
    assert verdict["clarify"]["if_yes"] == {"topic": "fever", "level": "urgent"}
    assert {"concept": "fever", "text": "fever", "negated": True, "corrected": False} in verdict[
        "matched"
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["triage", "red"],
        ["triage", "--day", "2"],
        ["triage", "--batch", "x.jsonl", "--day", "2"],
    ],
)
def test_usage_errors(args: list[str]) -> None:
    """A message needs --day; --batch takes neither."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Error:" in result.stderr


def test_an_unreadable_batch_file_is_an_error(tmp_path: Path) -> None:
    """A missing file exits 1 with its name."""
    result = runner.invoke(app, ["triage", "--batch", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1
    assert "nope.jsonl" in result.stderr


def test_triage_is_a_command_of_the_aftercare_app() -> None:
    """bot.cli registers it beside the other commands; ``content check`` still works."""
    result = runner.invoke(main_app, ["triage", "--help"])
    assert result.exit_code == 0, result.output
    assert "--batch" in result.output
    result = runner.invoke(main_app, ["content", "check"])
    assert result.exit_code == 0, result.output


def test_the_cases_file_is_valid_input_for_the_batch() -> None:
    """Our cases run through the batch as they are (labels are ignored)."""
    cases = load_cases(CASES)
    result = runner.invoke(app, ["triage", "--batch", str(CASES)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == len(cases)


def test_check_validates_the_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--check summarises valid data, and lists each problem of broken data with exit 1."""
    result = runner.invoke(app, ["triage", "--check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("✓ triage data: ")
    for name in content.triage.data.FILES:
        (tmp_path / name).write_bytes((content.triage.data.DATA_DIR / name).read_bytes())
    answers = tmp_path / "answers.yaml"
    answers.write_text(answers.read_text(encoding="utf-8").replace("{contact}", "{phone}"), "utf-8")
    real = content.triage.load_engine
    monkeypatch.setattr(content.triage, "load_engine", lambda: real(tmp_path))
    result = runner.invoke(app, ["triage", "--check"])
    assert result.exit_code == 1
    assert "answers.yaml:" in result.stderr and "unknown placeholder {phone}" in result.stderr
    assert "✗ 1 problem in the triage data" in result.stderr
