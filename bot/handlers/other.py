"""Reminder buttons, free text, and everything else a patient can send."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from telegram import ChatMemberUpdated, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import Forbidden

from bot.context import BotContext
from bot.handlers import broadcast as broadcast_handlers
from bot.handlers import clinic as clinic_handlers
from bot.handlers.common import (
    action_and_id,
    chat_id_of,
    chat_state,
    flood_allows,
    format_local,
    reply,
    send,
)
from scheduler.care.views import ReminderButtonError, ReminderProblem, SnoozeOutcome
from storage.models import PatientStatus

log = logging.getLogger(__name__)

SNOOZE = timedelta(hours=2)
QUESTION_KEY = "asked_question"


async def answer_reminder_button(update: Update, context: BotContext) -> None:
    """Done, Remind me in 2 hours, I have a question, Book, Already booked.

    The service decides whether the reminder is still current; an old button ("this button
    is out of date") or a forged one changes nothing.
    """
    query = update.callback_query
    assert query is not None
    parsed = await action_and_id(query, context)
    if parsed is None:
        return
    action, reminder_id = parsed
    chat_id = chat_id_of(update)
    care = context.care
    texts = context.texts
    try:
        if action == "done":
            await care.acknowledge(chat_id=chat_id, reminder_id=reminder_id)
            await query.answer(texts.plain("reminder.done"))
            await query.edit_message_reply_markup(None)
        elif action == "snooze":
            result = await care.snooze(chat_id=chat_id, reminder_id=reminder_id, delay=SNOOZE)
            view = await care.view(chat_id=chat_id)
            if result.outcome is SnoozeOutcome.SNOOZED and result.due_at and view:
                await query.answer()
                await query.edit_message_reply_markup(None)
                await reply(
                    update,
                    context,
                    "reminder.snoozed",
                    when=format_local(
                        result.due_at, view.timezone, now=context.now(), language=context.language
                    ),
                )
            else:
                key = {
                    SnoozeOutcome.TOO_LATE: "reminder.too_late",
                    SnoozeOutcome.LIMIT: "reminder.snooze_limit",
                }.get(result.outcome, "reminder.gone")
                await query.answer(texts.plain(key), show_alert=True)
        elif action == "question":
            await query.answer()
            await care.close_prompt(chat_id=chat_id)  # the next words are the question
            chat_state(context)[QUESTION_KEY] = True  # for the triage, not the clinic's thread
            await reply(update, context, "question_prompt")
        elif action == "book":
            await care.acknowledge(chat_id=chat_id, reminder_id=reminder_id)
            await query.answer()
            await book(update, context)
        elif action == "booked":
            await care.mark_booked(chat_id=chat_id, reminder_id=reminder_id)
            await query.answer()
            await query.edit_message_reply_markup(None)
            await reply(update, context, "reminder.booked")
        else:
            await query.answer(texts.plain("button_expired"))
    except ReminderButtonError as error:
        key = {ReminderProblem.OUT_OF_DATE: "reminder.out_of_date"}.get(
            error.problem, "reminder.gone"
        )
        await query.answer(texts.plain(key), show_alert=True)


async def book(update: Update, context: BotContext) -> None:
    """The clinic's booking link, or a booking request passed on to its staff."""
    chat_id = chat_id_of(update)
    clinic = await context.clinics.clinic_of_patient(chat_id=chat_id)
    if clinic is None:
        await reply(update, context, "reminder.book")
        return
    if clinic.booking_url:
        button = InlineKeyboardButton(
            context.texts.plain("buttons.book_online"), url=clinic.booking_url
        )
        await reply(
            update,
            context,
            "reminder.book_clinic",
            clinic=clinic.name,
            markup=InlineKeyboardMarkup([[button]]),
        )
        return
    alert = await context.clinics.request_booking(chat_id=chat_id)
    if alert is not None:
        await clinic_handlers.push_alert(context, clinic, alert)
    await reply(update, context, "reminder.book_requested", clinic=clinic.name)


async def staff_input(update: Update, context: BotContext, text: str, photo: str | None) -> bool:
    """What a member of staff sends while the bot waits for a reply to a patient, a broadcast
    or its time; False when it is not that (then it is read like anyone's message)."""
    staff = await clinic_handlers.staff_of(update, context)
    if staff is None or not staff.step:
        return False
    if photo is None and await clinic_handlers.take_reply(update, context, staff, text):
        return True
    return await broadcast_handlers.take_message(update, context, staff, text, photo)


async def take_non_text(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice notes, files: say what the bot can read (a photo from staff
    composing a broadcast is the broadcast's)."""
    message = update.effective_message
    if message is not None and message.photo:
        photo = message.photo[-1].file_id  # the largest size
        if await staff_input(update, context, message.caption or "", photo):
            return
    if not await flood_ok(update, context):
        return
    if message is None or not (message.photo or message.document or message.video):
        await reply(update, context, "non_text")
        return
    # A picture is often of the skin: say how to put it into words, and where to send it.
    parts = [context.texts.render("non_text_picture")]
    clinic = await context.clinics.clinic_of_patient(chat_id=chat_id_of(update))
    if clinic is not None:
        contact = clinic.contact()
        parts.append(
            context.texts.render("non_text_clinic", contact=contact)
            if contact
            else context.texts.render("non_text_clinic_no_contact", clinic=clinic.name)
        )
    await send(update, context, "\n\n".join(parts))


async def take_edit(update: Update, context: BotContext) -> None:
    """An edited message: the bot answers new messages only, and says so."""
    if update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
        if await flood_ok(update, context):
            await reply(update, context, "edited")


async def take_group_message(update: Update, context: BotContext) -> None:
    """In a group the bot answers once, politely, that it works in private chats."""
    chat_id = chat_id_of(update)
    notified = chat_state(context).get("group_notice_at")
    if notified is not None and time.monotonic() - notified < 3600:
        return
    chat_state(context)["group_notice_at"] = time.monotonic()
    try:
        await reply(update, context, "group")
    except Forbidden:
        log.info("cannot write to group %s", chat_id)


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command we don't have."""
    if await flood_ok(update, context):
        await reply(update, context, "unknown_command")


async def stale_button(update: Update, context: BotContext) -> None:
    """A button whose data we don't recognise (old, or forged)."""
    query = update.callback_query
    assert query is not None
    await query.answer(context.texts.plain("button_expired"))


async def track_membership(update: Update, context: BotContext) -> None:
    """The patient blocked the bot (stop everything) or unblocked it.

    An unblock gives back what the block took: a patient whose reminders were on gets them
    back (every fresh one replanned) and a short welcome; one who had paused stays paused
    and is told so. A patient who sent /stop before blocking stays stopped, silently: they
    asked for no messages.
    """
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return
    new = change.new_chat_member.status
    if new in {ChatMemberStatus.BANNED, ChatMemberStatus.LEFT}:
        stopped = await context.care.mark_blocked(chat_id=change.chat.id)
        log.info("chat %s blocked the bot (patient stopped: %s)", change.chat.id, stopped)
    elif new == ChatMemberStatus.MEMBER:
        restored = await context.care.mark_unblocked(chat_id=change.chat.id)
        log.info("chat %s unblocked the bot (restored: %s)", change.chat.id, restored)
        if restored is PatientStatus.ACTIVE:
            await reply(update, context, "unblocked.active")
        elif restored is PatientStatus.PAUSED:
            await reply(update, context, "unblocked.paused")


async def flood_ok(update: Update, context: BotContext) -> bool:
    """Within the chat's allowance, or else one notice per window and silence."""
    if flood_allows(update, context):
        return True
    chat_id = chat_id_of(update)
    if context.bot_data.flood.should_notice(chat_id, time.monotonic()):
        await reply(update, context, "flood")
    return False


async def report_error(update: object, context: BotContext) -> None:
    """Log the failure (its type, never the message text) and tell the patient kindly."""
    error = context.error
    log.error(
        "handler failed: %s",
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
    if isinstance(update, Update) and update.effective_chat is not None:
        if update.effective_chat.type != ChatType.PRIVATE:
            return
        try:
            await reply(update, context, "error")
        except Exception:  # the error message itself could not be sent; nothing more to do
            log.warning("could not tell chat %s about the error", update.effective_chat.id)
