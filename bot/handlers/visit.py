"""The unit of work of an update: its chat's patient and member of staff, read once.

``open_visit`` runs before every other handler (group -3) and reads, in one transaction,
what the handlers of this update need to know about the chat (``scheduler.care.visits``); they
take it from ``context.patient()`` and ``context.staff()`` instead of each reading it again.
A command also ends the prompt that was pending, in that same transaction (the command may
then open its own prompt; ``/cancel`` tells whether one was pending).
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import filters

from bot.context import BotContext

PRIVATE_COMMAND = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.COMMAND


async def open_visit(update: Update, context: BotContext) -> None:
    """Read the private chat's patient and member of staff (group -3: before everything)."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    await context.visit(end_prompt=bool(PRIVATE_COMMAND.check_update(update)))
