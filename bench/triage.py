"""Triage speed: latency per question and questions per second, on one core.

    .venv/bin/python -m bench.triage [--repeat 20] [--cases FILE.jsonl ...]

Targets: p99 at most 5 ms per question and at least 1,000 questions/s on one core, over all
cases repeated: tests/content/triage/cases.jsonl and cases-ur.jsonl (Urdu script, Roman Urdu and
mixed) and, when they are there, ../shared/triage/cases-dev.jsonl and cases-dev-ur.jsonl. Each
case is answered in its language (its "lang" when the triage has it, else Urdu for Urdu script,
else English).

Three kinds of pass, each on a freshly built engine so no pass profits from another:
- cold: every case once, with the spelling cache empty (a new message, word by word);
- warm: every case ``--repeat`` times (what a running bot sees for common words);
- typos: every case once with a letter of each longer word swapped (a seeded random), so
  that nearly every word goes through the fuzzy typo repair: the slow path.
Loading (YAML, validation, compiling the phrase index) is timed on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.plans import REPO_ROOT, bench_plan
from bench.report import machine_facts, percentile, print_facts, print_table, verdict
from content.plan import CarePlan
from content.triage import LANGUAGES, Engine
from content.triage.data import load_data
from content.triage.script import has_urdu_script

TARGET_P99_MS = 5.0
TARGET_QPS = 1000.0
DEFAULT_CASES = [
    REPO_ROOT / "tests" / "content" / "triage" / "cases.jsonl",
    REPO_ROOT / "tests" / "content" / "triage" / "cases-ur.jsonl",
    REPO_ROOT.parent / "shared" / "triage" / "cases-dev.jsonl",
    REPO_ROOT.parent / "shared" / "triage" / "cases-dev-ur.jsonl",
]


@dataclass(frozen=True)
class Case:
    """One question: the text, the day since the session and the answer's language."""

    text: str
    day: int
    lang: str = "en"


@dataclass(frozen=True)
class Run:
    """The latencies of one pass, in seconds."""

    name: str
    latencies: list[float]

    def row(self) -> list[object]:
        """The pass as a table row: questions, p50, p99, max (ms) and questions per second."""
        total = sum(self.latencies)
        return [
            self.name,
            len(self.latencies),
            percentile(self.latencies, 50) * 1000,
            percentile(self.latencies, 99) * 1000,
            max(self.latencies) * 1000,
            len(self.latencies) / total if total else 0.0,
        ]


def load_cases(paths: Sequence[Path]) -> list[Case]:
    """The cases of every file that exists."""
    cases = []
    for path in paths:
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    lang = row.get("lang")
                    if lang not in LANGUAGES:  # the clinic's files also say "mixed"
                        lang = "ur" if has_urdu_script(row["text"]) else "en"
                    cases.append(Case(row["text"], row["day"], lang))
    return cases


def with_typos(cases: Sequence[Case], seed: int = 7) -> list[Case]:
    """The cases with two neighbouring letters swapped in each word of five letters or more."""
    rng = random.Random(seed)

    def swap(word: str) -> str:
        if len(word) < 5 or not word.isalpha():
            return word
        i = rng.randrange(1, len(word) - 1)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]

    return [Case(" ".join(swap(w) for w in c.text.split()), c.day, c.lang) for c in cases]


def timed_pass(
    name: str, engine: Engine, plan: CarePlan, cases: Sequence[Case], repeat: int
) -> Run:
    """Triage every case ``repeat`` times, timing each question."""
    latencies = []
    clock = time.perf_counter
    for _ in range(repeat):
        for case in cases:
            started = clock()
            engine.triage(case.text, case.day, plan, lang=case.lang)
            latencies.append(clock() - started)
    return Run(name, latencies)


def pin_to_one_core() -> str:
    """Run on a single CPU, so the figures are per core; say which."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="warm passes over all cases")
    parser.add_argument("--cases", type=Path, nargs="*", default=DEFAULT_CASES)
    args = parser.parse_args(argv)

    pinned = pin_to_one_core()
    cases = load_cases(args.cases)
    if not cases:
        parser.error("no cases found")
    plan = bench_plan()

    started = time.perf_counter()
    data = load_data()
    loaded = time.perf_counter() - started
    Engine(data)
    compiled = time.perf_counter() - started - loaded

    runs = [
        timed_pass("cold", Engine(data), plan, cases, 1),
        timed_pass(f"warm x{args.repeat}", Engine(data), plan, cases, args.repeat),
        timed_pass("typos", Engine(data), plan, with_typos(cases), 1),
    ]
    everything = Run("all passes", [t for run in runs for t in run.latencies])

    print_facts(
        "Machine",
        machine_facts(
            [
                ("CPU", pinned),
                (
                    "cases",
                    f"{len(cases)} from {', '.join(str(p) for p in args.cases if p.is_file())}",
                ),
                ("load: read + validate YAML", f"{loaded * 1000:.0f} ms"),
                ("load: compile the engine", f"{compiled * 1000:.0f} ms"),
            ]
        ),
    )
    print_table(
        "Triage latency (one core)",
        ["pass", "questions", "p50 ms", "p99 ms", "max ms", "questions/s"],
        [run.row() for run in [*runs, everything]],
    )
    p99 = percentile(everything.latencies, 99) * 1000
    qps = len(everything.latencies) / sum(everything.latencies)
    worst_qps = min(len(r.latencies) / sum(r.latencies) for r in runs)
    checks = [
        (f"p99 {p99:.3f} ms <= {TARGET_P99_MS} ms", p99 <= TARGET_P99_MS),
        (f"{qps:,.0f} questions/s >= {TARGET_QPS:,.0f} (all passes)", qps >= TARGET_QPS),
        (
            f"{worst_qps:,.0f} questions/s >= {TARGET_QPS:,.0f} (slowest pass)",
            worst_qps >= TARGET_QPS,
        ),
    ]
    print("\nTargets")
    for text, ok in checks:
        print(f"  {verdict(ok)}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
