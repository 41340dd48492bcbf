"""The broadcast sender's transport over the Telegram Bot API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram.constants import ParseMode
from telegram.ext import ExtBot

from bot.notifier import delivery_errors
from content.texts import Texts, load_texts
from scheduler.outbox.budget import Priority


class BotBroadcastTransport:
    """Sends a clinic broadcast as a text message, or a photo (by file_id) with the text as
    its caption, labelled with the clinic's name so the patient knows who writes; maps
    Telegram's errors to the ones the sender understands."""

    def __init__(self, bot: ExtBot[Any], catalogues: Callable[[str], Texts] = load_texts) -> None:
        """Send with ``bot``, labelled in the words of the patient's language from
        ``catalogues``. The sender paces itself; the bot's rate limiter (the Telegram budget)
        serves these copies last, after replies, alerts and reminders, and keeps the whole
        deployment within Telegram's 30/s."""
        self.bot = bot
        self.catalogues = catalogues

    async def send(
        self, *, chat_id: int, text: str, photo: str | None, clinic: str, language: str = "en"
    ) -> None:
        """Deliver one copy, labelled in the patient's ``language``, or raise a
        ``scheduler.outbox.notifier`` DeliveryError."""
        # The staff's words are escaped into our template: they reach the patient as typed.
        texts = self.catalogues(language)
        labelled = str(texts.render("broadcast.from_clinic", clinic=clinic, text=text))
        async with delivery_errors():
            if photo:
                await self.bot.send_photo(
                    chat_id,
                    photo,
                    caption=labelled,
                    parse_mode=ParseMode.HTML,
                    rate_limit_args=Priority.BROADCAST,
                )
            else:
                await self.bot.send_message(
                    chat_id,
                    labelled,
                    parse_mode=ParseMode.HTML,
                    rate_limit_args=Priority.BROADCAST,
                )
