"""The scheduler's Notifier, implemented over the Telegram Bot API."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ExtBot

from bot import keyboards
from bot.dates import days_away
from bot.sending import send_html
from content.texts import Texts, load_texts
from scheduler.outbox.budget import Priority
from scheduler.outbox.messages import OutgoingMessage
from scheduler.outbox.notifier import (
    MessageRejectedError,
    OutgoingReminder,
    RecipientGoneError,
    TransientDeliveryError,
)

GONE = ("chat not found", "user is deactivated", "bot was blocked", "bot was kicked")


def retry_after_seconds(error: RetryAfter) -> float:
    """RetryAfter.retry_after is an int in older releases and a timedelta in newer ones."""
    value: object = error.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]


class TelegramNotifier:
    """Sends reminders as HTML messages with their buttons; maps Telegram's errors."""

    def __init__(
        self,
        bot: ExtBot[None],
        catalogues: Callable[[str], Texts] = load_texts,
        chat_turn: Callable[[int], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        """Send with ``bot``, word each reminder with the ``catalogues`` of its patient's
        language; wait for ``chat_turn`` (the chat's update lock) so a reminder never
        overtakes the reply a handler is writing to that chat."""
        self.bot = bot
        self.catalogues = catalogues
        self.chat_turn = chat_turn

    def render(self, reminder: OutgoingReminder, title: str) -> str:
        """The HTML of a reminder message in the patient's language (before the session, how
        far ahead it is: a planned session has no day of healing)."""
        texts = self.catalogues(reminder.language)
        if reminder.day < 0:
            when = days_away(texts, -reminder.day)
            return texts.render("reminder.body_before", title=title, when=when, text=reminder.text)
        return texts.render("reminder.body", title=title, day=reminder.day, text=reminder.text)

    async def send_reminder(self, reminder: OutgoingReminder) -> None:
        """Deliver one reminder, or raise the DeliveryError the scheduler understands."""
        texts = self.catalogues(reminder.language)
        markup = keyboards.reminder(texts, reminder.reminder_id, reminder.buttons)
        turn = self.chat_turn(reminder.chat_id) if self.chat_turn else contextlib.nullcontext()
        async with turn:
            await self._send(reminder, markup)

    async def send_message(self, message: OutgoingMessage) -> None:
        """Deliver a message of the outbox (to a member of staff), or raise the DeliveryError
        the scheduler understands. Never waits for the chat's turn: the update being handled
        may be that very chat's (a member of staff who is also a patient)."""
        markup = None
        if message.buttons is not None:
            markup = InlineKeyboardMarkup.de_json(json.loads(message.buttons), self.bot)
        async with delivery_errors():
            await send_html(
                self.bot,
                message.chat_id,
                message.body,
                reply_markup=markup,
                priority=Priority(message.priority),
            )

    async def _send(self, reminder: OutgoingReminder, markup: object) -> None:
        async with delivery_errors():
            await send_html(
                self.bot,
                reminder.chat_id,
                self.render(reminder, reminder.title),
                reply_markup=markup,  # type: ignore[arg-type]
                priority=Priority.REMINDER,
            )


@contextlib.asynccontextmanager
async def delivery_errors() -> AsyncIterator[None]:
    """Turn Telegram's errors into the DeliveryErrors the scheduler understands: 403 and a
    chat that is gone -> RecipientGoneError; 429 (with its retry_after), timeouts and network
    errors -> TransientDeliveryError; any other 400 -> MessageRejectedError."""
    try:
        yield
    except Forbidden as exc:
        raise RecipientGoneError(f"403 {exc.message}") from None
    except RetryAfter as exc:
        raise TransientDeliveryError("429", retry_after=retry_after_seconds(exc)) from None
    except BadRequest as exc:
        if any(marker in exc.message.lower() for marker in GONE):
            raise RecipientGoneError(f"400 {exc.message}") from None
        raise MessageRejectedError(f"400 {exc.message}") from None
    except TimedOut:
        raise TransientDeliveryError("timeout") from None
    except NetworkError as exc:
        raise TransientDeliveryError(f"network: {exc.message}"[:200]) from None
