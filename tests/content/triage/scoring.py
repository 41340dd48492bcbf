"""Scoring labelled triage cases in-process, with the metrics and bars of shared/triage/score.py.

score.py runs a command on a case file; these helpers score a function instead, so a test can
show every miss with what the engine read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from content.triage import Verdict

CASES = Path(__file__).resolve().parent / "cases.jsonl"
BARS = {
    "urgent_recall": 1.00,
    "escalation_recall": 0.97,
    "false_alarm_max": 0.05,
    "level_accuracy": 0.90,
    "topic_accuracy": 0.85,
    "allowed_accuracy": 0.90,
    "unknown_accuracy": 0.85,
}
ESCALATE = {"clinic", "urgent"}


def load_cases(path: Path = CASES) -> list[dict[str, Any]]:
    """The cases of a JSONL file: id, day, text, topic (a name, a list, or null), level, allowed."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def topics(case: dict[str, Any]) -> set[str | None]:
    """The topics a case accepts."""
    topic = case["topic"]
    return set(topic) if isinstance(topic, list) else {topic}


@dataclass
class Score:
    """The metrics of a run and the cases it missed."""

    metrics: dict[str, float]
    misses: list[str] = field(default_factory=list)

    def below_bars(self) -> list[str]:
        """The metrics that miss their bar."""
        return [
            name
            for name, bar in BARS.items()
            if (self.metrics[name] > bar if name.endswith("_max") else self.metrics[name] < bar)
        ]

    def report(self) -> str:
        """Metrics and misses, one per line."""
        lines = [
            f"{name:18} {value:.3f} (bar {BARS[name]:.2f})" for name, value in self.metrics.items()
        ]
        return "\n".join([*lines, *self.misses])


def score(cases: Iterable[dict[str, Any]], answer: Callable[[str, int], Verdict]) -> Score:
    """Score ``answer`` (text, day -> Verdict) on labelled cases, as score.py does."""
    n = dict.fromkeys(
        ("all", "urgent", "urgent_ok", "esc", "esc_ok", "calm", "alarm", "level_ok", "topic",
         "topic_ok", "allowed", "allowed_ok", "unknown", "unknown_ok"),
        0,
    )  # fmt: skip
    misses: list[str] = []
    for case in cases:
        verdict = answer(case["text"], case["day"])
        got, want = verdict.level.value, case["level"]
        ok = got == want
        n["all"] += 1
        n["level_ok"] += ok
        if want == "urgent":
            n["urgent"] += 1
            n["urgent_ok"] += got == "urgent"
        if want in ESCALATE:
            n["esc"] += 1
            n["esc_ok"] += got in ESCALATE
        elif want != "unknown":
            n["calm"] += 1
            n["alarm"] += got in ESCALATE
        if want == "unknown":
            n["unknown"] += 1
            n["unknown_ok"] += got == "unknown"
        else:
            n["topic"] += 1
            topic_ok = verdict.topic in topics(case)
            n["topic_ok"] += topic_ok
            ok = ok and topic_ok
        if case.get("allowed") is not None:
            n["allowed"] += 1
            allowed_ok = verdict.allowed is case["allowed"]
            n["allowed_ok"] += allowed_ok
            ok = ok and allowed_ok
        if not ok:
            misses.append(
                f"MISS {case['id']} day {case['day']} {case['text']!r}: want {want}/"
                f"{case['topic']}/{case.get('allowed')} got {got}/{verdict.topic}/"
                f"{verdict.allowed}; read {[m.concept for m in verdict.matched]}"
            )

    def ratio(hit: str, total: str) -> float:
        return n[hit] / n[total] if n[total] else 1.0

    metrics = {
        "urgent_recall": ratio("urgent_ok", "urgent"),
        "escalation_recall": ratio("esc_ok", "esc"),
        "false_alarm_max": ratio("alarm", "calm"),
        "level_accuracy": ratio("level_ok", "all"),
        "topic_accuracy": ratio("topic_ok", "topic"),
        "allowed_accuracy": ratio("allowed_ok", "allowed"),
        "unknown_accuracy": ratio("unknown_ok", "unknown"),
    }
    return Score(metrics, misses)
