"""The care plan the benchmarks plan with: the default one, else the tests' small plan."""

from __future__ import annotations

import sys
from pathlib import Path

from content.loader import PlanNotFoundError, load_plan
from content.plan import CarePlan

REPO_ROOT = Path(__file__).resolve().parent.parent


def bench_plan() -> CarePlan:
    """The default plan (``content/plans/microneedling.yaml``), or ``tests.plans.small_plan``."""
    try:
        return load_plan()
    except PlanNotFoundError:
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        from tests.plans import small_plan

        return small_plan()
