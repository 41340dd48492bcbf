"""What every group of a clinic's use cases works with."""

from __future__ import annotations

from scheduler.clock import Clock
from scheduler.outbox.reminders import PlanSource
from storage.database import Database


class ClinicBase:
    """The database, the clock and the care plans a clinic's use cases share."""

    database: Database
    clock: Clock
    plans: PlanSource
