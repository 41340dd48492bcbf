"""Which handler answers which update. Order matters: the first match in a group wins."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.handlers import (
    broadcast,
    clinic,
    commands,
    conversation,
    language,
    onboarding,
    other,
    triage,
    visit,
)

PRIVATE = filters.ChatType.PRIVATE
NEW_PRIVATE_MESSAGE = PRIVATE & filters.UpdateType.MESSAGE

COMMANDS: dict[str, Any] = {
    "start": onboarding.start,
    "help": commands.show_help,
    "status": commands.show_status,
    "plan": commands.show_plan,
    "newsession": commands.new_session,
    "change": commands.change_date,
    "timezone": onboarding.ask_timezone,
    "quiet": onboarding.ask_quiet_hours,
    "pause": commands.pause,
    "resume": commands.resume,
    "stop": commands.stop,
    "delete": commands.delete,
    "export": commands.export,
    "news": commands.toggle_news,
    "language": language.ask_language,
    # Clinic staff (each checks the chat is staff, and acts for that staff's clinic only).
    "patients": clinic.show_patients,
    "alerts": clinic.show_alerts,
    "broadcast": broadcast.start_broadcast,
    "invite": clinic.send_invite,
    "enrol": clinic.enrol,
    "staff": clinic.manage_staff,
    "web": clinic.send_web_link,
    "cancel": conversation.cancel,
}

CALLBACKS: tuple[tuple[str, Any], ...] = (
    (r"^lang:", language.answer_language),
    (r"^consent:(yes|no)$", onboarding.answer_consent),
    (r"^date:", onboarding.answer_date_button),
    (r"^cal:", onboarding.answer_calendar),
    (r"^tz:", onboarding.answer_timezone_button),
    (r"^quiet:", onboarding.answer_quiet_button),
    (r"^rem:", other.answer_reminder_button),
    (r"^delete:", commands.answer_delete_button),
    (r"^resume:(yes|no)$", commands.answer_resume_button),
    (r"^tri:", triage.answer_triage_button),
    (r"^enrol:", onboarding.answer_enrol),
    (r"^name:", onboarding.answer_share_name),
    (r"^cl:", clinic.answer_button),
    (r"^sw:", onboarding.answer_switch),
    (r"^bc:", broadcast.answer_button),
)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Every handler of the patient's bot, in the order they are tried."""
    found: list[BaseHandler[Any, Any, Any]] = [
        # Outside private chats the bot only says, once in a while, that it works privately.
        MessageHandler(
            (filters.ChatType.GROUPS | filters.ChatType.CHANNEL) & filters.UpdateType.MESSAGE,
            other.take_group_message,
        ),
        MessageHandler(PRIVATE & filters.UpdateType.EDITED_MESSAGE, other.take_edit),
    ]
    found += [
        CommandHandler(name, callback, filters=NEW_PRIVATE_MESSAGE)
        for name, callback in COMMANDS.items()
    ]
    found += [CallbackQueryHandler(callback, pattern=pattern) for pattern, callback in CALLBACKS]
    found += [
        CallbackQueryHandler(other.stale_button),
        MessageHandler(NEW_PRIVATE_MESSAGE & filters.COMMAND, other.unknown_command),
        MessageHandler(NEW_PRIVATE_MESSAGE & filters.TEXT, conversation.take_text),
        MessageHandler(NEW_PRIVATE_MESSAGE, other.take_non_text),
        ChatMemberHandler(other.track_membership, ChatMemberHandler.MY_CHAT_MEMBER),
    ]
    return found


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the handlers and the error handler to ``application``.

    Before the handlers (group 0), each update first reads its chat once (group -3: the
    patient and member of staff; a command also ends the pending prompt there), then
    remembers the chat's language from that (group -2). Neither stops the update.
    """
    application.add_handler(TypeHandler(Update, visit.open_visit), group=-3)
    application.add_handler(TypeHandler(Update, language.remember), group=-2)
    application.add_handlers(handlers())
    application.add_error_handler(other.report_error)
