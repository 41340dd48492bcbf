"""The broadcast sender's transport over the Telegram Bot API."""

from __future__ import annotations

from collections.abc import Callable

from telegram import Bot
from telegram.constants import ParseMode

from bot.notifier import delivery_errors
from content.texts import Texts, load_texts


class BotBroadcastTransport:
    """Sends a clinic broadcast as a text message, or a photo (by file_id) with the text as
    its caption, labelled with the clinic's name so the patient knows who writes; maps
    Telegram's errors to the ones the sender understands."""

    def __init__(self, bot: Bot, catalogues: Callable[[str], Texts] = load_texts) -> None:
        """Send with ``bot``, labelled in the words of the patient's language from
        ``catalogues``. The sender paces itself; the product's bot also has its rate limiter,
        which keeps replies to patients and the broadcast within Telegram's 30/s."""
        self.bot = bot
        self.catalogues = catalogues

    async def send(
        self, *, chat_id: int, text: str, photo: str | None, clinic: str, language: str = "en"
    ) -> None:
        """Deliver one copy, labelled in the patient's ``language``, or raise a
        ``scheduler.notifier`` DeliveryError."""
        # The staff's words are escaped into our template: they reach the patient as typed.
        texts = self.catalogues(language)
        labelled = str(texts.render("broadcast.from_clinic", clinic=clinic, text=text))
        async with delivery_errors():
            if photo:
                await self.bot.send_photo(
                    chat_id, photo, caption=labelled, parse_mode=ParseMode.HTML
                )
            else:
                await self.bot.send_message(chat_id, labelled, parse_mode=ParseMode.HTML)
