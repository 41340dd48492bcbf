"""The patient's language: English, اردو (Urdu script) or Roman Urdu.

A patient picks it at /start, before consenting (the consent is then asked in it), and
changes it with /language; a clinic's invite link pre-selects the clinic's default, and
before anything is chosen the first message's script (or Telegram's language setting) does.

Every handler reads the chat's language from ``context.language``: ``remember`` (group -2,
before every handler) keeps it in the chat's memory, taken from the patient's record that
the update's visit read anyway (``bot.handlers.visit``), so a change made by another process
is seen at the next message and a conversation costs no extra query per message.
"""

from __future__ import annotations

import time

from telegram import BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.context import LANGUAGE_KEY, STAFF_LANGUAGE, BotContext, CachedLanguage
from bot.handlers.common import chat_id_of, chat_state, drop_buttons, send
from bot.menu import patient_commands, staff_commands
from content.texts import DEFAULT_LANGUAGE, available_languages
from scheduler.care.views import NoSessionError

CHOSEN = "✓ "


def _has_urdu_script(text: str) -> bool:
    return any("\u0600" <= char <= "\u06ff" or "\u0750" <= char <= "\u077f" for char in text)


def guess(update: Update) -> str:
    """The language to offer first before the patient chose: Urdu script when they wrote in
    it or their Telegram is in Urdu, else English (no offline detector tells Roman Urdu from
    English reliably, so Roman Urdu is always one tap away instead)."""
    if _has_urdu_script(_words(update)):
        return "ur"
    user = update.effective_user
    code = (user.language_code or "") if user is not None else ""
    if code.split("-")[0].lower() == "ur":
        return "ur"
    return DEFAULT_LANGUAGE


async def remember(update: Update, context: BotContext) -> None:
    """Keep the chat's language in its memory (group -2: runs before every handler, after
    the visit read the chat's patient and member of staff, so this costs no query)."""
    chat = update.effective_chat
    data = context.chat_data
    if chat is None or chat.type != ChatType.PRIVATE or data is None:
        return
    cached = data.get(LANGUAGE_KEY)
    now = time.monotonic()
    visit = await context.visit()
    stored = visit.patient.language if visit.patient is not None else None
    if stored is None and visit.staff is not None:
        stored = STAFF_LANGUAGE  # a member of staff who is not also a patient
    if stored is not None:
        data[LANGUAGE_KEY] = CachedLanguage.of(stored, chosen=True, read_at=now)
    elif isinstance(cached, CachedLanguage) and (
        cached.chosen or guess(update) == DEFAULT_LANGUAGE
    ):  # chosen before consenting, or a guess these words do not change
        data[LANGUAGE_KEY] = CachedLanguage.of(cached.code, chosen=cached.chosen, read_at=now)
    else:
        data[LANGUAGE_KEY] = CachedLanguage.of(guess(update), chosen=False, read_at=now)


def _words(update: Update) -> str:
    message = update.effective_message
    return (message.text or message.caption or "") if message is not None else ""


def chosen(context: BotContext) -> bool:
    """Whether this chat's language was picked (or is on the patient's record)."""
    cached = chat_state(context).get(LANGUAGE_KEY)
    return isinstance(cached, CachedLanguage) and cached.chosen


def choose(context: BotContext, code: str) -> None:
    """Make ``code`` this chat's language in memory (the record is the caller's)."""
    chat_state(context)[LANGUAGE_KEY] = CachedLanguage.of(
        code, chosen=True, read_at=time.monotonic()
    )


def picker(context: BotContext, preselected: str) -> tuple[str, InlineKeyboardMarkup]:
    """The question in every language (one line each, so anyone can read it) and one button
    per language named in itself; the pre-selected one first and ticked."""
    codes = sorted(available_languages(), key=lambda code: code != preselected)
    question = "\n".join(context.texts_for(code).render("language.choose") for code in codes)
    buttons = [
        InlineKeyboardButton(
            (CHOSEN if code == preselected else "")
            + context.texts_for(code).plain("language_name"),
            callback_data=f"lang:{code}",
        )
        for code in codes
    ]
    return question, InlineKeyboardMarkup([buttons])


async def ask(update: Update, context: BotContext, preselected: str | None = None) -> None:
    """Show the language buttons."""
    question, markup = picker(context, preselected or context.language)
    await send(update, context, question, markup)


async def ask_language(update: Update, context: BotContext) -> None:
    """/language: the buttons, the current language ticked (a member of staff who is not
    also a patient is told that staff messages stay English)."""
    visit = await context.visit()
    if visit.patient is None and visit.staff is not None:
        await send(update, context, context.staff_texts.render("staff.language_english"))
        return
    await ask(update, context)


async def answer_language(update: Update, context: BotContext) -> None:
    """A language button: before consent it leads on to the consent question in that
    language; afterwards it changes the patient's language (an old picker's button does what
    it says, which is what the patient means by pressing it)."""
    from bot.handlers import onboarding  # onboarding asks for the language first

    query = update.callback_query
    assert query is not None
    code = (query.data or "").removeprefix("lang:")
    if code not in available_languages():
        await query.answer(context.texts.plain("button_expired"), show_alert=True)
        return
    await query.answer()
    await drop_buttons(query)
    chat_id = chat_id_of(update)
    view = await context.patient()
    if view is None or not view.consented:
        choose(context, code)
        if onboarding.consent_pending(context):  # picked at /start: the consent follows
            await onboarding.ask_consent(update, context)
        else:  # /language before /start: noted for when we meet
            await send(update, context, context.texts.render("language.changed"))
        return
    if view.language == code and chosen(context):
        choose(context, code)
        await send(update, context, context.texts.render("language.unchanged"))
        return
    try:
        await context.care.set_language(chat_id=chat_id, language=code)
    except NoSessionError:  # erased in between
        await send(update, context, context.texts.render("no_patient"))
        return
    choose(context, code)
    await send(update, context, context.texts.render("language.changed"))
    await set_menu(context, chat_id)


async def set_menu(context: BotContext, chat_id: int) -> None:
    """This chat's command menu in its language (a member of staff keeps the staff menu,
    its patient commands in their language)."""
    texts = context.texts
    staff = await context.staff()
    commands = staff_commands(texts) if staff is not None else patient_commands(texts)
    try:
        await context.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))
    except TelegramError:  # a menu is a nicety; the language is changed all the same
        return


__all__ = ["answer_language", "ask", "ask_language", "choose", "chosen", "guess", "remember"]
