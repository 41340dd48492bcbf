"""The broadcast sender's transport over the Telegram Bot API."""

from __future__ import annotations

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.notifier import GONE, retry_after_seconds
from scheduler.notifier import (
    MessageRejectedError,
    RecipientGoneError,
    TransientDeliveryError,
)


class BotBroadcastTransport:
    """Sends a clinic broadcast as a plain text message, or a photo (by file_id) with the text
    as its caption; maps Telegram's errors to the ones the sender understands."""

    def __init__(self, bot: Bot) -> None:
        """Send with ``bot`` (not rate limited itself: the sender paces)."""
        self.bot = bot

    async def send(self, *, chat_id: int, text: str, photo: str | None) -> None:
        """Deliver one copy, or raise a ``scheduler.notifier`` DeliveryError."""
        try:
            if photo:
                await self.bot.send_photo(chat_id, photo, caption=text or None)
            else:
                await self.bot.send_message(chat_id, text)
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
