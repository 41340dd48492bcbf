"""Fixtures of the triage tests: the packaged engine and plan, loaded once."""

from __future__ import annotations

import pytest

from content.loader import load_plan
from content.plan import CarePlan
from content.triage import Engine, Verdict, load_engine


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The engine of the packaged data files."""
    return load_engine()


@pytest.fixture(scope="session")
def plan() -> CarePlan:
    """The default care plan."""
    return load_plan()


class Ask:
    """Triage as a test writes it: ``ask("text", day)``."""

    def __init__(self, engine: Engine, plan: CarePlan) -> None:
        """Keep the engine and plan."""
        self.engine = engine
        self.plan = plan

    def __call__(self, text: str, day: int, *, contact: str | None = None) -> Verdict:
        """The verdict on ``text`` on ``day``."""
        return self.engine.triage(text, day, self.plan, contact=contact)


@pytest.fixture(scope="session")
def ask(engine: Engine, plan: CarePlan) -> Ask:
    """Triage a message with the packaged engine and the default plan."""
    return Ask(engine, plan)
