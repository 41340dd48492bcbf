"""Fakes for the outside world: a notifier that records and can be told to fail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from scheduler.clock import Clock
from scheduler.notifier import DeliveryError, OutgoingReminder


@dataclass
class Delivery:
    """One reminder the fake notifier accepted, and when (by the clock)."""

    reminder: OutgoingReminder
    at: datetime


@dataclass
class RecordingNotifier:
    """Records every reminder; ``failures`` maps a chat id to errors to raise, in order."""

    clock: Clock
    sent: list[Delivery] = field(default_factory=list)
    failures: dict[int, list[DeliveryError | Exception]] = field(default_factory=dict)
    calls: int = 0
    on_send: Callable[[OutgoingReminder], None] | None = None

    async def send_reminder(self, reminder: OutgoingReminder) -> None:
        """Raise the next queued failure for this chat, else record the delivery."""
        self.calls += 1
        queued = self.failures.get(reminder.chat_id)
        if queued:
            raise queued.pop(0)
        if self.on_send is not None:
            self.on_send(reminder)
        self.sent.append(Delivery(reminder, self.clock.now()))

    def milestones(self, chat_id: int | None = None) -> list[str]:
        """Milestone ids delivered (to one chat, or to all), in order."""
        return [
            d.reminder.milestone_id
            for d in self.sent
            if chat_id is None or d.reminder.chat_id == chat_id
        ]
