"""What delivery needs from the outside world: a Notifier, and the errors it may raise."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from content.plan import ButtonAction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingReminder:
    """A reminder rendered for one chat."""

    reminder_id: int
    chat_id: int
    milestone_id: str
    phase_id: str
    day: int
    text: str
    buttons: tuple[ButtonAction, ...]
    title: str = ""
    language: str = "en"


class DeliveryError(Exception):
    """A send that did not happen. ``reason`` is a short code for the log, never message text."""

    def __init__(self, reason: str) -> None:
        """Keep the short reason."""
        super().__init__(reason)
        self.reason = reason[:200]


class TransientDeliveryError(DeliveryError):
    """Worth trying again later: a timeout, a network error, a 5xx, a 429."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        """``retry_after`` (seconds) is the wait the other side asked for, if it did."""
        super().__init__(reason)
        self.retry_after = retry_after


class RecipientGoneError(DeliveryError):
    """The chat will never accept messages again: the user blocked the bot or left."""


class MessageRejectedError(DeliveryError):
    """This message can never be delivered as it is (a 400); other messages may be."""


class NotSentError(DeliveryError):
    """The send never left this process: it was still waiting for the Telegram budget when
    the process began to stop. Its claim is handed back (the attempt not counted), so
    another process sends it at once, and nobody waits for it."""


class Notifier(Protocol):
    """Sends a rendered reminder to its chat, or raises a DeliveryError."""

    async def send_reminder(self, reminder: OutgoingReminder) -> None:
        """Deliver ``reminder``; return only once the other side accepted it."""
        ...


class LoggingNotifier:
    """A notifier that writes one log line per reminder: for the worker until the bot exists."""

    def __init__(self) -> None:
        """Start with an empty count."""
        self.sent = 0

    async def send_reminder(self, reminder: OutgoingReminder) -> None:
        """Log which reminder went to which chat, without its text (it is health data)."""
        self.sent += 1
        log.info(
            "reminder %s (%s, day %s) delivered to chat %s",
            reminder.reminder_id,
            reminder.milestone_id,
            reminder.day,
            reminder.chat_id,
        )
