"""Printing benchmark results: machine facts, small tables and PASS/FAIL verdicts."""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

Row = Sequence[object]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_facts(extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """What the figures depend on: CPUs, Python, SQLite and the libraries in the hot path."""
    facts = [
        ("CPUs (os.cpu_count)", str(os.cpu_count())),
        ("CPUs usable by this process", str(_usable_cpus())),
        ("CPU model", cpu_model()),
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
    print(f"\n{title}")
    width = max(len(name) for name, _ in facts)
    for name, value in facts:
        print(f"  {name:<{width}}  {value}")


def print_table(title: str, header: Row, rows: Sequence[Row]) -> None:
    """Print a plain-text table; numeric columns right-aligned, the others left-aligned."""
    cells = [[str(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(header))]

    def line(row: list[str]) -> str:
        padded = (
            cell.rjust(width) if num else cell.ljust(width)
            for cell, width, num in zip(row, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    print(f"\n{title}")
    print("  " + line(cells[0]))
    print("  " + "  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print("  " + line(row))


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


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


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
