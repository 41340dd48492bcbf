"""Pieces every handler uses: replying, the patient's local day, confirmation messages."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update

from bot import keyboards
from bot.context import BotContext
from bot.dates import days_away, describe_date, describe_instant
from bot.sending import send_html
from bot.zones import describe_zone
from content.plan import CarePlan, day_of_healing
from scheduler.care.planning import catch_up_phase
from scheduler.care.prompts import Prompt, PromptKind
from scheduler.care.views import PatientView, Registration, Upcoming
from storage.models import Reminder

Coming = Reminder | Upcoming  # a stored reminder, or one a registration just planned

log = logging.getLogger(__name__)


# The command that asks a prompt's question again, named when an answer comes too late.
AGAIN_COMMAND = {
    PromptKind.DATE: "/start",
    PromptKind.CHANGE: "/change",
    PromptKind.NEXT: "/newsession",
    PromptKind.TIMEZONE: "/timezone",
    PromptKind.QUIET: "/quiet",
    PromptKind.DELETE: "/delete",
}


def chat_state(context: BotContext) -> dict[Any, Any]:
    """The chat's in-memory scratch space (kept between updates, not across restarts)."""
    data = context.chat_data
    assert data is not None, "every update we handle has a chat"
    return data


def chat_id_of(update: Update) -> int:
    """The chat an update belongs to."""
    chat = update.effective_chat
    assert chat is not None
    return chat.id


async def reply(
    update: Update,
    context: BotContext,
    key: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **values: object,
) -> Message:
    """Send the text ``key`` to the update's chat."""
    return await send_html(
        context.bot, chat_id_of(update), context.texts.render(key, **values), reply_markup=markup
    )


async def send(
    update: Update, context: BotContext, html: str, markup: InlineKeyboardMarkup | None = None
) -> Message:
    """Send already-rendered HTML to the update's chat."""
    return await send_html(context.bot, chat_id_of(update), html, reply_markup=markup)


async def action_and_id(query: CallbackQuery, context: BotContext) -> tuple[str, int] | None:
    """The action and id of a ``prefix:action:id`` button; None (after telling the user the
    button no longer works) when the data has another shape, as a forged one may."""
    parts = (query.data or "").split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        await query.answer(context.texts.plain("button_expired"))
        return None
    return parts[1], int(parts[2])


async def prompt_of_button(
    query: CallbackQuery, context: BotContext, kinds: frozenset[PromptKind]
) -> tuple[PatientView, Prompt, str] | None:
    """The patient, their pending prompt and the button's data without its token, when the
    button was drawn for that prompt and it still waits; else None after answering that the
    button is out of date (changing nothing)."""
    body, token = keyboards.unstamp(query.data or "")
    chat_id = query.from_user.id
    chat = query.message.chat if query.message is not None else None
    private = chat is not None and chat.id == chat_id
    view = await context.patient() if private else await context.care.view(chat_id=chat_id)
    prompt = view.prompt if view is not None and view.consented else None
    if prompt is None or token is None or token != prompt.token or prompt.kind not in kinds:
        await query.answer(context.texts.plain("button_expired"), show_alert=True)
        return None
    if prompt.expired(context.now()):
        await context.care.close_prompt(chat_id=chat_id, token=prompt.token)
        await query.answer(
            context.texts.plain("prompt.expired", command=AGAIN_COMMAND[prompt.kind]),
            show_alert=True,
        )
        return None
    assert view is not None
    return view, prompt, body


async def drop_buttons(query: CallbackQuery) -> None:
    """Take the buttons off a message once used, so an old button cannot be pressed twice."""
    message = query.message
    if message is not None and getattr(message, "reply_markup", None):
        await query.edit_message_reply_markup(None)


def flood_allows(update: Update, context: BotContext) -> bool:
    """Whether this chat may get a reply now (see FloodGuard)."""
    return context.bot_data.flood.allow(chat_id_of(update), time.monotonic())


def local_today(context: BotContext, zone: str) -> date:
    """Today's date where the patient is."""
    return context.local_now(zone).date()


def format_local(instant: datetime, zone: str, *, now: datetime, language: str = "en") -> str:
    """An instant as the patient reads it: "Wed 25 Nov, 19:00" (with the year when it is
    not the current one: "Tue 05 Jan 2027, 09:00")."""
    return describe_instant(instant, zone, now=now, language=language)


def reminder_title(plan: CarePlan, milestone_id: str) -> str:
    """A one-line title for a reminder row."""
    phase_id = catch_up_phase(milestone_id)
    try:
        if phase_id is not None:
            return plan.phase(phase_id).name
        return plan.milestone(milestone_id).headline
    except KeyError:
        return milestone_id


def upcoming_lines(context: BotContext, plan: CarePlan, rows: Sequence[Coming], zone: str) -> str:
    """The "coming up" list, one line per reminder."""
    if not rows:
        return context.texts.render("registered.nothing_upcoming")
    return "\n".join(
        context.texts.render(
            "registered.upcoming_line",
            when=format_local(row.due_at, zone, now=context.now(), language=context.language),
            title=reminder_title(plan, row.milestone_id),
        )
        for row in rows
    )


def where_line(context: BotContext, plan: CarePlan, session_date: date, today: date) -> str:
    """ "You're on day 3: The first week." or "Your session is in 2 days"."""
    day = day_of_healing(session_date, today)
    phase = plan.phase_for_day(day)
    if day < 0:
        when = days_away(context.texts, -day)
        return context.texts.render("registered.where_before", when=when, phase=phase.name)
    return context.texts.render("registered.where_day", day=day, phase=phase.name)


def before_session_advice(plan: CarePlan, day: int) -> str:
    """What to do until a planned session: the plan's pre-treatment advice, if it has one."""
    phase = plan.phase_for_day(day)
    return phase.key_advice if day < 0 and phase.start_day < 0 else ""


async def confirm_registration(
    update: Update, context: BotContext, registration: Registration
) -> None:
    """Say where the patient is now and what comes next, with the time zone to check (all
    of it read by the registration's own transaction)."""
    view = registration.view
    assert view is not None and view.session_date is not None
    if registration.unchanged:
        today = local_today(context, view.timezone)
        await reply(
            update,
            context,
            "registered.unchanged",
            date=describe_date(view.session_date, today=today, language=context.language),
        )
        return
    await send(
        update,
        context,
        confirmation_html(context, view, registration.catch_up, registration.upcoming),
        keyboards.change_timezone(context.texts),
    )


def confirmation_html(
    context: BotContext, view: PatientView, catch_up: bool, upcoming: Sequence[Coming]
) -> str:
    """The confirmation message of a registered session."""
    assert view.session_date is not None
    plan = context.plan(view.plan_id)
    today = local_today(context, view.timezone)
    day = day_of_healing(view.session_date, today)
    texts = context.texts
    series = (
        texts.render("registered.series", number=view.session_number)
        if view.session_number and view.session_number > 1
        else ""
    )
    parts = [
        texts.render(
            "registered.done",
            date=describe_date(view.session_date, today=today, language=context.language),
            series=series,
            where=where_line(context, plan, view.session_date, today),
            summary=f"{plan.phase_for_day(day).summary} {before_session_advice(plan, day)}".strip(),
            zone=describe_zone(view.timezone, context.now(), language=context.language),
        ),
        texts.render("registered.upcoming_title")
        + "\n"
        + upcoming_lines(context, plan, upcoming, view.timezone),
    ]
    if catch_up:
        parts.append(texts.render("registered.catch_up"))
    return "\n\n".join(parts)
