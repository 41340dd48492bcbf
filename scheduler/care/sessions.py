"""``CareService``: the use cases of a patient's care, each owning a unit of work (register,
change, pause, resume and stop, the buttons of a reminder, erase and export), composed of its
groups."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from scheduler.care.buttons import ReminderUseCases
from scheduler.care.choices import ChoiceUseCases
from scheduler.care.planning import QuietHours, load_zone
from scheduler.care.records import RecordUseCases
from scheduler.care.registration import RegistrationUseCases
from scheduler.care.views import Registration, RegistrationRequest, ScheduleChanged
from scheduler.clock import Clock
from scheduler.outbox.reminders import PlanSource
from storage.batching import GroupCommit
from storage.database import Database


class CareService(RegistrationUseCases, ChoiceUseCases, ReminderUseCases, RecordUseCases):
    """A patient's care: sessions and the reminders planned from them."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        plans: PlanSource,
        default_timezone: str,
        default_quiet_hours: QuietHours,
        default_plan: str = "microneedling",
        on_schedule_changed: ScheduleChanged | None = None,
        sender_looks_at: Callable[[], datetime | None] | None = None,
    ) -> None:
        """Wire the service; ``on_schedule_changed`` runs after each commit (a refill).
        ``sender_looks_at``: when the reminder sender looks again anyway (None: it is busy,
        or cannot say); a batch of registrations whose earliest pending reminder is not due
        before then does not wake it (each such wake was a pass over the reminders table)."""
        load_zone(default_timezone)
        self.database = database
        self.clock = clock
        self.plans = plans
        self.default_timezone = default_timezone
        self.default_quiet_hours = default_quiet_hours
        self.default_plan = default_plan
        self.on_schedule_changed = on_schedule_changed
        self.sender_looks_at = sender_looks_at
        self._seen: dict[int, datetime] = {}
        # Registrations that arrive while one is being written share the next transaction.
        self._registrations: GroupCommit[RegistrationRequest, Registration] = GroupCommit(
            database, self._write_batch, after_commit=self._registered
        )
        self._batch_due: datetime | None = None  # the written batch's earliest pending due
