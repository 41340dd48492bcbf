"""The broadcast sender's transport over the Telegram Bot API."""

from __future__ import annotations

from telegram import Bot

from bot.notifier import delivery_errors


class BotBroadcastTransport:
    """Sends a clinic broadcast as a plain text message, or a photo (by file_id) with the text
    as its caption; maps Telegram's errors to the ones the sender understands."""

    def __init__(self, bot: Bot) -> None:
        """Send with ``bot``. The sender paces itself; the product's bot also has its rate
        limiter, which keeps replies to patients and the broadcast within Telegram's 30/s."""
        self.bot = bot

    async def send(self, *, chat_id: int, text: str, photo: str | None) -> None:
        """Deliver one copy, or raise a ``scheduler.notifier`` DeliveryError."""
        async with delivery_errors():
            if photo:
                await self.bot.send_photo(chat_id, photo, caption=text or None)
            else:
                await self.bot.send_message(chat_id, text)
