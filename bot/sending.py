"""Sending HTML messages so that a formatting error never loses a message."""

from __future__ import annotations

import html
import logging
from typing import Any

from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ExtBot

from content.texts import strip_tags
from scheduler.outbox.budget import Priority

log = logging.getLogger(__name__)

MAX_TEXT = 4096


def as_plain(markup: str) -> str:
    """Telegram HTML turned into the plain text it displays."""
    return html.unescape(strip_tags(markup))


def fit(text: str, limit: int = MAX_TEXT) -> str:
    """Cut a text to Telegram's limit, on a line break when possible."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 1)
    return text[: cut if cut > limit // 2 else limit - 1] + "…"


async def send_html(
    bot: ExtBot[Any],
    chat_id: int,
    markup: str,
    *,
    reply_markup: InlineKeyboardMarkup | None = None,
    priority: Priority | None = None,
) -> Message:
    """Send ``markup`` as HTML; if Telegram refuses the formatting, send it as plain text.
    ``priority``: how urgent it is for the Telegram budget (None: a reply in conversation)."""
    try:
        return await bot.send_message(
            chat_id,
            markup,
            parse_mode=ParseMode.HTML,
            reply_markup=reply_markup,
            rate_limit_args=priority,
        )
    except BadRequest as exc:
        if "can't parse entities" not in exc.message.lower():
            raise
        log.warning("HTML refused for chat %s; sending plain text", chat_id)
        return await bot.send_message(
            chat_id, fit(as_plain(markup)), reply_markup=reply_markup, rate_limit_args=priority
        )


async def edit_html(
    message: Message, markup: str, *, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace a message's text, falling back to plain text; an unchanged edit is fine."""
    try:
        await message.edit_text(markup, parse_mode=ParseMode.HTML, reply_markup=reply_markup)
    except BadRequest as exc:
        lowered = exc.message.lower()
        if "message is not modified" in lowered:
            return
        if "can't parse entities" not in lowered:
            raise
        await message.edit_text(fit(as_plain(markup)), reply_markup=reply_markup)
