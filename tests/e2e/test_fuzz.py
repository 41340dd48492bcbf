"""The model-based fuzz of the whole bot (issue 12, "How to prove it").

Hypothesis plays a patient against the real Application over the stand-in, on a real SQLite
file with a FakeClock, and checks every invariant of ``fuzz_machine`` after every step. The
number of sequences comes from the Hypothesis profile (tests/conftest.py): "ci" runs 300
sequences of up to 40 steps with a fixed seed; ``--hypothesis-profile=long`` runs 5,000.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from tests.e2e.fuzz_env import World
from tests.e2e.fuzz_machine import INVARIANTS, BotMachine, Stats


@pytest.fixture
def world() -> Iterator[World]:
    """One stand-in and one event loop for the whole run."""
    opened = World.open()
    try:
        yield opened
    finally:
        opened.close()


def test_the_bot_keeps_its_promises_under_random_use(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Red flags answered, reminders due exactly once, fresh, awake and wanted, no handler
    raising, nothing left after /delete: after every step of every sequence."""
    BotMachine.world = world
    Stats.reset()
    current = settings()
    try:
        run_state_machine_as_test(BotMachine, settings=current)
    finally:
        figure = (
            f"fuzz: {Stats.sequences} sequences x up to {current.stateful_step_count} steps "
            f"({Stats.steps} steps), {Stats.checks} invariant checks "
            f"({Stats.checks * INVARIANTS} invariants), {Stats.violations} violation(s)"
            + (f" {dict(Stats.kinds)}" if Stats.kinds else "")
        )
        with capsys.disabled():  # shown even when the test passes
            print(f"\n{figure}")
