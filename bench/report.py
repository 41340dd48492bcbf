"""Printing benchmark results: machine facts, tables, targets with PASS/FAIL, the exit code."""

from __future__ import annotations

import argparse
import math
import os
import platform
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.table import Table

Row = Sequence[object]

_console: Console | None = None


def console() -> Console:
    """The console every benchmark prints to; 140 columns wide when not a terminal."""
    global _console
    if _console is None:
        wide = sys.stdout.isatty() or "COLUMNS" in os.environ
        _console = Console(highlight=False, width=None if wide else 140)
    return _console


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine disturbs figures."""
    if not hasattr(os, "getloadavg"):
        return "unknown"
    return " / ".join(f"{load:.2f}" for load in os.getloadavg())


def machine_facts(extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """What the figures depend on: CPUs, Python, SQLite and the libraries in the hot path."""
    facts = [
        ("CPUs (os.cpu_count)", str(os.cpu_count())),
        ("CPUs usable by this process", str(_usable_cpus())),
        ("CPU model", cpu_model()),
        ("Load average (1/5/15 min)", load_average()),
        ("Platform", platform.platform()),
        ("Python", sys.version.split()[0] + f" ({platform.python_implementation()})"),
        ("SQLite (library)", sqlite3.sqlite_version),
    ]
    for package in ("sqlalchemy", "aiosqlite", "asyncpg", "apscheduler"):
        try:
            facts.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            facts.append((package, "not installed"))
    facts.extend(extra)
    return facts


def print_facts(title: str, facts: Sequence[tuple[str, str]]) -> None:
    """Print ``facts`` as an aligned two-column list under ``title``."""
    grid = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in facts:
        grid.add_row(name, value)
    console().print()
    console().print(grid)


def print_table(
    title: str,
    header: Row,
    rows: Sequence[Row],
    notes: Sequence[str] = (),
    *,
    decimals: int | None = None,
) -> None:
    """Print a table; numeric columns right-aligned, PASS green and FAIL red; notes under it.

    Floats get 3 decimals below 100 and 1 above, or ``decimals`` when given.
    """
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(header))]
    table = Table(title=title, title_justify="left", header_style="bold")
    for name, is_number in zip(header, numeric, strict=True):
        table.add_column(str(name), justify="right" if is_number else "left")
    for row in rows:
        table.add_row(*(_styled(_cell(cell, decimals)) for cell in row))
    console().print()
    console().print(table)
    for note in notes:
        console().print(f"  {note}", style="dim")


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


@dataclass(frozen=True)
class Target:
    """One target of a benchmark, what was measured against it, and whether it was met."""

    target: str
    scope: str
    measured: str
    ok: bool


def print_targets(targets: Sequence[Target]) -> None:
    """The targets table."""
    print_table(
        "Targets",
        ["target", "for", "measured", "verdict"],
        [[t.target, t.scope, t.measured, verdict(t.ok)] for t in targets],
    )


def add_check_option(parser: argparse.ArgumentParser) -> None:
    """``--no-check``: print the figures and exit 0 even when a target is missed."""
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="only print the figures: exit 0 even when a target is missed",
    )


def finish(targets: Sequence[Target], *, check: bool) -> None:
    """Print the targets; exit 1 if one was missed, unless ``check`` is off."""
    print_targets(targets)
    missed = [t for t in targets if not t.ok]
    if not missed:
        console().print("\nAll targets met.", style="bold green")
        return
    summary = f"\n{len(missed)} of {len(targets)} targets missed"
    if not check:
        console().print(summary + " (--no-check: exit 0).", style="bold yellow")
        return
    console().print(summary + ".", style="bold red")
    raise SystemExit(1)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0-100) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def _usable_cpus() -> int | None:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def _cell(value: object, decimals: int | None = None) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if decimals is not None:
            return f"{value:,.{decimals}f}"
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _styled(text: str) -> str:
    if text == "PASS":
        return "[green]PASS[/green]"
    if text == "FAIL":
        return "[bold red]FAIL[/bold red]"
    return text.replace("[", r"\[")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
