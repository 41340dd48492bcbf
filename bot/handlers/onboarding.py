"""Getting a patient set up: /start, consent, the session date four ways, time zone, quiet hours."""

from __future__ import annotations

from datetime import date, timedelta

from telegram import CallbackQuery, Update

from bot import keyboards
from bot.calendar import Day, Navigate, calendar_keyboard, parse_calendar_callback
from bot.context import BotContext
from bot.dates import OutOfRange, Parsed, describe_date, parse_session_date
from bot.handlers.common import (
    DATE_STEPS,
    Step,
    chat_id_of,
    chat_state,
    confirm_registration,
    local_today,
    reply,
    send,
    where_line,
)
from bot.zones import COMMON_ZONES, describe_zone, resolve_timezone
from scheduler.planning import (
    MAX_DAYS_AHEAD,
    MAX_DAYS_BACK,
    QuietHours,
    SessionDateError,
    UnknownTimeZoneError,
)
from scheduler.sessions import NoSessionError, PatientView
from storage.models import PatientStatus

DEEP_LINK_PAYLOAD_MAX = 64


async def start(update: Update, context: BotContext) -> None:
    """Greet, explain, and ask for consent; a returning patient is told where they are."""
    chat_id = chat_id_of(update)
    payload = " ".join(context.args or [])[:DEEP_LINK_PAYLOAD_MAX] or None
    if payload:
        chat_state(context)["start_payload"] = payload
    view = await context.care.view(chat_id=chat_id)
    texts = context.texts
    if view is not None and view.consented:
        await _welcome_back(update, context, view)
        return
    user = update.effective_user
    name = f", {user.first_name}" if user and user.first_name else ""
    # The clinic's name comes with the clinics' invite links; the payload is kept for them.
    greeting = texts.render("start.greeting", name=name, clinic="")
    await send(
        update,
        context,
        "\n\n".join([greeting, texts.render("start.disclaimer"), texts.render("start.consent")]),
        keyboards.consent(texts),
    )


async def _welcome_back(update: Update, context: BotContext, view: PatientView) -> None:
    if view.status is PatientStatus.STOPPED:
        await reply(update, context, "start.stopped", markup=keyboards.offer_resume(context.texts))
        return
    if view.status is PatientStatus.PAUSED:
        await reply(update, context, "start.paused")
        return
    if view.session_date is None:
        await ask_date(update, context, Step.DATE)
        return
    plan = context.plan(view.plan_id)
    today = local_today(context, view.timezone)
    day = (today - view.session_date).days
    await reply(update, context, "start.welcome_back", day=day, phase=plan.phase_for_day(day).name)


async def answer_consent(update: Update, context: BotContext) -> None:
    """Yes creates the patient and asks for the date; No stores nothing."""
    query = _query(update)
    await query.answer()
    if query.data == "consent:no":
        await _drop_buttons(query)
        await reply(update, context, "start.declined")
        return
    payload = chat_state(context).pop("start_payload", None)
    await context.care.consent(chat_id=chat_id_of(update), start_payload=payload)
    await _drop_buttons(query)
    await ask_date(update, context, Step.DATE)


async def ask_date(update: Update, context: BotContext, step: Step, number: int = 1) -> None:
    """Ask when the session was, with Today / Yesterday / Pick a date."""
    await context.care.set_step(chat_id=chat_id_of(update), step=step)
    key = {Step.DATE: "date.question", Step.CHANGE: "date.question_change"}.get(
        step, "date.question_next"
    )
    await reply(update, context, key, markup=keyboards.session_date(context.texts), number=number)


async def answer_date_button(update: Update, context: BotContext) -> None:
    """Today, Yesterday, Pick a date, or a confirmed candidate date."""
    query = _query(update)
    await query.answer()
    view = await _consented(update, context)
    if view is None:
        return
    today = local_today(context, view.timezone)
    data = query.data or ""
    if data == "date:pick":
        await query.edit_message_reply_markup(
            calendar_keyboard(today.year, today.month, **_calendar_range(today), today=today)
        )
        return
    if data == "date:today":
        chosen = today
    elif data == "date:yesterday":
        chosen = today - timedelta(days=1)
    elif data.startswith("date:set:"):
        try:
            chosen = date.fromisoformat(data.removeprefix("date:set:"))
        except ValueError:
            await reply(update, context, "button_expired")
            return
    else:
        await reply(update, context, "button_expired")
        return
    await _drop_buttons(query)
    await apply_date(update, context, view, chosen)


async def answer_calendar(update: Update, context: BotContext) -> None:
    """Month navigation and day picks on the inline calendar."""
    query = _query(update)
    view = await _consented(update, context)
    if view is None:
        await query.answer()
        return
    today = local_today(context, view.timezone)
    action = parse_calendar_callback(query.data or "", **_calendar_range(today))
    if isinstance(action, Navigate):
        await query.answer()
        await query.edit_message_reply_markup(
            calendar_keyboard(action.year, action.month, **_calendar_range(today), today=today)
        )
    elif isinstance(action, Day):
        await query.answer()
        await _drop_buttons(query)
        await apply_date(update, context, view, action.value)
    elif action is None:
        await query.answer(context.texts.plain("date.button_expired"))
    else:
        await query.answer()


def _calendar_range(today: date) -> dict[str, date]:
    return {
        "min_date": today - timedelta(days=MAX_DAYS_BACK),
        "max_date": today + timedelta(days=MAX_DAYS_AHEAD),
    }


async def take_typed_date(
    update: Update, context: BotContext, view: PatientView, text: str
) -> None:
    """A date typed in chat, while the bot is waiting for one."""
    today = local_today(context, view.timezone)
    answer = parse_session_date(text, today=today, day_first=context.settings.date_order == "DMY")
    markup = keyboards.session_date(context.texts)
    if isinstance(answer, Parsed):
        if answer.ambiguous and answer.alternative is not None:
            choices = [
                (describe_date(d, today=today), d) for d in (answer.value, answer.alternative)
            ]
            await reply(
                update,
                context,
                "date.ambiguous",
                markup=keyboards.date_choices(choices),
                first=choices[0][0],
                second=choices[1][0],
            )
            return
        await apply_date(update, context, view, answer.value)
    elif isinstance(answer, OutOfRange):
        key = "date.too_far_ahead" if answer.value > today else "date.too_far_back"
        await reply(
            update, context, key, markup=markup, date=describe_date(answer.value, today=today)
        )
    else:
        await reply(update, context, "date.unreadable", markup=markup)


async def apply_date(update: Update, context: BotContext, view: PatientView, chosen: date) -> None:
    """Register, move or add a session on ``chosen`` according to what the bot asked."""
    chat_id = chat_id_of(update)
    step = Step(view.step) if view.step in set(Step) else None
    care = context.care
    try:
        if step is Step.NEXT:
            result = await care.register_session(
                chat_id=chat_id, session_date=chosen, next_in_series=True
            )
        elif view.session_date is not None:
            result = await care.change_session_date(chat_id=chat_id, session_date=chosen)
        else:
            result = await care.register_session(chat_id=chat_id, session_date=chosen)
    except SessionDateError:
        today = local_today(context, view.timezone)
        key = "date.too_far_ahead" if chosen > today else "date.too_far_back"
        await reply(
            update,
            context,
            key,
            markup=keyboards.session_date(context.texts),
            date=describe_date(chosen, today=today),
        )
        return
    await care.set_step(chat_id=chat_id, step=None)
    await confirm_registration(update, context, result)


async def ask_timezone(update: Update, context: BotContext) -> None:
    """Show the zone and offer common ones; typing a city or offset also works."""
    view = await _consented(update, context)
    if view is None:
        return
    await context.care.set_step(chat_id=chat_id_of(update), step=Step.TIMEZONE)
    await reply(
        update,
        context,
        "timezone.current",
        markup=keyboards.timezones(context.texts, COMMON_ZONES),
        zone=describe_zone(view.timezone, context.now()),
    )


async def answer_timezone_button(update: Update, context: BotContext) -> None:
    """ "Change time zone" under a confirmation, or one of the common zones."""
    query = _query(update)
    await query.answer()
    data = query.data or ""
    if data == "tz:change":
        await ask_timezone(update, context)
        return
    if data.startswith("tz:set:"):
        match = resolve_timezone(data.removeprefix("tz:set:"))
        if match is not None:
            await _drop_buttons(query)
            await set_timezone(update, context, match.zone)
            return
    await reply(update, context, "button_expired")


async def take_typed_timezone(update: Update, context: BotContext, text: str) -> None:
    """A city, an IANA name or a UTC offset typed while the bot waits for a zone."""
    match = resolve_timezone(text)
    if match is None:
        await reply(
            update,
            context,
            "timezone.unknown",
            markup=keyboards.timezones(context.texts, COMMON_ZONES),
        )
        return
    await set_timezone(update, context, match.zone)


async def set_timezone(update: Update, context: BotContext, zone: str) -> None:
    """Store the zone, replan, and confirm with where the patient now is."""
    chat_id = chat_id_of(update)
    try:
        await context.care.set_timezone(chat_id=chat_id, timezone=zone)
    except (UnknownTimeZoneError, NoSessionError):
        await reply(update, context, "timezone.unknown")
        return
    await context.care.set_step(chat_id=chat_id, step=None)
    view = await context.care.view(chat_id=chat_id)
    assert view is not None
    await reply(update, context, "timezone.changed", zone=describe_zone(zone, context.now()))
    if view.session_date is not None:
        plan = context.plan(view.plan_id)
        today = local_today(context, view.timezone)
        await send(update, context, where_line(context, plan, view.session_date, today))


async def ask_quiet_hours(update: Update, context: BotContext) -> None:
    """Show the quiet span and offer presets."""
    view = await _consented(update, context)
    if view is None:
        return
    await context.care.set_step(chat_id=chat_id_of(update), step=Step.QUIET)
    markup = keyboards.quiet_hours(context.texts)
    if str(view.quiet_hours) == "off":
        await reply(update, context, "quiet.current_off", markup=markup)
    else:
        await reply(update, context, "quiet.current", markup=markup, span=str(view.quiet_hours))


async def answer_quiet_button(update: Update, context: BotContext) -> None:
    """A preset span, or off."""
    query = _query(update)
    await query.answer()
    data = query.data or ""
    text = "off" if data == "quiet:off" else data.removeprefix("quiet:set:")
    await _drop_buttons(query)
    await take_typed_quiet(update, context, text)


async def take_typed_quiet(update: Update, context: BotContext, text: str) -> None:
    """A span like 22:00-07:00 (or "off")."""
    try:
        quiet = QuietHours.parse(text)
    except ValueError:
        await reply(update, context, "quiet.invalid", markup=keyboards.quiet_hours(context.texts))
        return
    chat_id = chat_id_of(update)
    await context.care.set_quiet_hours(chat_id=chat_id, quiet_hours=quiet)
    await context.care.set_step(chat_id=chat_id, step=None)
    if str(quiet) == "off":
        await reply(update, context, "quiet.changed_off")
    else:
        await reply(update, context, "quiet.changed", span=str(quiet))


async def _consented(update: Update, context: BotContext) -> PatientView | None:
    """The patient, or None after telling a stranger to /start first."""
    view = await context.care.view(chat_id=chat_id_of(update))
    if view is None or not view.consented:
        await reply(update, context, "no_patient")
        return None
    return view


def _query(update: Update) -> CallbackQuery:
    query = update.callback_query
    assert query is not None
    return query


async def _drop_buttons(query: CallbackQuery) -> None:
    """Take the buttons off a message once used, so an old button cannot be pressed twice."""
    message = query.message
    if message is not None and getattr(message, "reply_markup", None):
        await query.edit_message_reply_markup(None)


def in_date_step(view: PatientView) -> bool:
    """Whether the bot is waiting for a date from this patient."""
    return view.step in {s.value for s in DATE_STEPS} or (
        view.consented and view.session_date is None and view.step is None
    )


__all__ = [
    "answer_calendar",
    "answer_consent",
    "answer_date_button",
    "answer_quiet_button",
    "answer_timezone_button",
    "ask_date",
    "ask_quiet_hours",
    "ask_timezone",
    "in_date_step",
    "start",
    "take_typed_date",
    "take_typed_quiet",
    "take_typed_timezone",
]
