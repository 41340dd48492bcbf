"""Staff messages from the dashboard to a patient, in the same words as a reply from chat."""

from __future__ import annotations

from collections.abc import Callable

from bot.notifier import delivery_errors
from bot.web.app import Messenger
from content.texts import Texts, load_texts
from scheduler.outbox.notifier import DeliveryError


class MessengerRelay:
    """``scheduler.clinics.inbox.Relay`` over the dashboard's Messenger: the chat relay's text
    ("Message from <clinic>", in the patient's language), Telegram's errors as
    DeliveryErrors (a blocked patient: RecipientGoneError)."""

    def __init__(
        self, messenger: Messenger | None, catalogues: Callable[[str], Texts] = load_texts
    ) -> None:
        """Send with ``messenger`` (None where there is no bot: nothing can be sent)."""
        self.messenger = messenger
        self.catalogues = catalogues

    async def relay(self, *, chat_id: int, language: str, clinic: str, text: str) -> int:
        """Send ``text`` as the clinic's message; the Telegram message's id."""
        if self.messenger is None:
            raise DeliveryError("no bot to send with")
        html = self.catalogues(language).render("relay", clinic=clinic, text=text)
        async with delivery_errors():
            return await self.messenger.to_patient(chat_id, html)
