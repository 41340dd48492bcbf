"""A broadcast's progress, shown to the member of staff who sent it in one message edited in
place, then a final report. Edits are best effort: a failed edit never touches delivery."""

from __future__ import annotations

import logging

from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.handlers.broadcast import cancel_keyboard, progress_html
from bot.sending import send_html
from content.texts import Texts
from scheduler.broadcasts.report import BroadcastReport

log = logging.getLogger(__name__)


class TelegramBroadcastReporter:
    """Edits the progress message of a broadcast, and sends the report when it ends."""

    def __init__(self, bot: ExtBot[None], texts: Texts) -> None:
        """Report with ``bot`` in the words of ``texts``."""
        self.bot = bot
        self.texts = texts

    async def progress(self, report: BroadcastReport) -> None:
        """Show how far delivery is."""
        await self._edit(report)

    async def finished(self, report: BroadcastReport) -> None:
        """Show the final counts in the progress message, and send them as a new message."""
        await self._edit(report)
        if report.report_chat_id is None:
            return
        html, _ = progress_html(self.texts, report)
        try:
            await send_html(self.bot, report.report_chat_id, html)
        except TelegramError as exc:
            log.warning("broadcast %s: final report not sent: %s", report.broadcast_id, exc)

    async def _edit(self, report: BroadcastReport) -> None:
        if report.report_chat_id is None or report.progress_message_id is None:
            return
        html, final = progress_html(self.texts, report)
        try:
            await self.bot.edit_message_text(
                html,
                chat_id=report.report_chat_id,
                message_id=report.progress_message_id,
                parse_mode="HTML",
                reply_markup=None if final else cancel_keyboard(self.texts, report.broadcast_id),
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                log.warning("broadcast %s: progress not shown: %s", report.broadcast_id, exc)
        except TelegramError as exc:
            log.warning("broadcast %s: progress not shown: %s", report.broadcast_id, exc)
