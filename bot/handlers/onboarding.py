"""Getting a patient set up: /start, consent, the session date four ways, time zone, quiet hours."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from telegram import BotCommandScopeChat, CallbackQuery, Update
from telegram.error import TelegramError

from bot import keyboards
from bot.calendar import Day, Navigate, calendar_keyboard, parse_calendar_callback
from bot.context import BotContext
from bot.dates import OutOfRange, Parsed, describe_date, parse_session_date
from bot.handlers import clinic as clinic_handlers
from bot.handlers.common import (
    DATE_STEPS,
    Step,
    chat_id_of,
    chat_state,
    confirm_registration,
    drop_buttons,
    local_today,
    reply,
    send,
    where_line,
)
from bot.menu import staff_commands
from bot.zones import COMMON_ZONES, describe_zone, resolve_timezone
from scheduler.clinics import InviteError, InviteView, looks_like_code
from scheduler.planning import (
    MAX_DAYS_AHEAD,
    MAX_DAYS_BACK,
    QuietHours,
    SessionDateError,
    UnknownTimeZoneError,
)
from scheduler.sessions import NoSessionError, PatientView
from storage.models import InviteKind, PatientStatus

DEEP_LINK_PAYLOAD_MAX = 64
INVITE_KEY = "invite_code"

log = logging.getLogger(__name__)


async def start(update: Update, context: BotContext) -> None:
    """Greet, explain, and ask for consent; a returning patient is told where they are.

    A clinic's invite code in the deep link (``/start <code>``) makes a member of staff of
    a staff invite at once; a patient invite is kept until the patient consents.
    """
    chat_id = chat_id_of(update)
    payload = " ".join(context.args or [])[:DEEP_LINK_PAYLOAD_MAX] or None
    state = chat_state(context)
    invite: InviteView | None = None
    if payload and looks_like_code(payload):
        invite = await _peek_invite(update, context, payload)
        if invite is not None and invite.kind is InviteKind.STAFF:
            await _join_staff(update, context, payload)
            return
        if invite is not None:
            state[INVITE_KEY] = payload
    elif payload:
        state["start_payload"] = payload
    view = await context.care.view(chat_id=chat_id)
    texts = context.texts
    if view is not None and view.consented:
        if invite is not None and view.clinic_id not in (None, invite.clinic.id):
            code = state.pop(INVITE_KEY)  # the question keeps it; no old button redeems it
            await clinic_handlers.offer_switch(update, context, view, invite, code)
            return
        if invite is not None:
            await join_clinic(update, context)
            return
        await _welcome_back(update, context, view)
        return
    user = update.effective_user
    name = f", {user.first_name}" if user and user.first_name else ""
    clinic = texts.render("start.clinic", clinic=invite.clinic.name) if invite else ""
    greeting = texts.render("start.greeting", name=name, clinic=clinic)
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
        await drop_buttons(query)
        await reply(update, context, "start.declined")
        return
    payload = chat_state(context).pop("start_payload", None)
    await context.care.consent(chat_id=chat_id_of(update), start_payload=payload)
    await drop_buttons(query)
    if INVITE_KEY in chat_state(context):
        await join_clinic(update, context)
        return
    await ask_date(update, context, Step.DATE)


async def _peek_invite(update: Update, context: BotContext, code: str) -> InviteView | None:
    """What an invite code is for, or None after telling the person why it does not work
    (failed codes are rate-limited per user)."""
    return await clinic_handlers.peek_invite(update, context, code)


async def _join_staff(update: Update, context: BotContext, code: str) -> None:
    user = update.effective_user
    try:
        staff = await context.clinics.join_staff(
            code=code, chat_id=chat_id_of(update), name=user.full_name if user else None
        )
    except InviteError as error:
        await reply(update, context, f"start.invite_{error.problem.value}")
        return
    texts = context.texts
    await reply(
        update,
        context,
        "staff.joined",
        clinic=staff.clinic.name,
        role=texts.plain(f"staff.role_{staff.role.value}"),
        admin=texts.render("staff.admin_extra") if staff.is_admin else "",
    )
    await set_staff_menu(context, staff.chat_id)


async def join_clinic(update: Update, context: BotContext) -> None:
    """A consented patient redeems the clinic invite they came with, then gives the date
    (or, with an enrolment link, only confirms the one the clinic filled in)."""
    chat_id = chat_id_of(update)
    code = chat_state(context).pop(INVITE_KEY, None)
    joined: InviteView | None = None
    if code:
        try:
            joined = await context.clinics.join_patient(code=code, chat_id=chat_id)
        except InviteError as error:
            await reply(update, context, f"start.invite_{error.problem.value}")
    if joined is not None:
        await reply(update, context, "start.joined_clinic", clinic=joined.clinic.name)
    view = await context.care.view(chat_id=chat_id)
    assert view is not None
    if joined is not None and joined.session_date is not None and view.session_date is None:
        today = local_today(context, view.timezone)
        iso = joined.session_date.isoformat()
        await reply(
            update,
            context,
            "start.enrol_confirm",
            clinic=joined.clinic.name,
            date=describe_date(joined.session_date, today=today),
            markup=keyboards.enrol_confirm(context.texts, iso),
        )
        return
    if view.session_date is None:
        await ask_date(update, context, Step.DATE)
    else:
        await _welcome_back(update, context, view)


async def answer_switch(update: Update, context: BotContext) -> None:
    """ "Switch to B" joins the other clinic (the old one keeps its alerts); "Stay" stays."""
    code = await clinic_handlers.take_switch_choice(update, context)
    if code is not None:
        chat_state(context)[INVITE_KEY] = code
        await join_clinic(update, context)


async def answer_enrol(update: Update, context: BotContext) -> None:
    """The patient confirms the session date their clinic filled in, or picks another."""
    query = _query(update)
    await query.answer()
    view = await _consented(update, context)
    if view is None:
        return
    await drop_buttons(query)
    data = query.data or ""
    if data.startswith("enrol:yes:"):
        try:
            chosen = date.fromisoformat(data.removeprefix("enrol:yes:"))
        except ValueError:
            await reply(update, context, "button_expired")
            return
        await apply_date(update, context, view, chosen)
        return
    await ask_date(update, context, Step.CHANGE if view.session_date else Step.DATE)


async def set_staff_menu(context: BotContext, chat_id: int) -> None:
    """Show the staff commands in this chat's menu, beside the patient ones."""
    try:
        await context.bot.set_my_commands(
            staff_commands(context.texts), scope=BotCommandScopeChat(chat_id)
        )
    except TelegramError as exc:  # a menu is a nicety
        log.warning("could not set the staff menu: %s", type(exc).__name__)


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
    await drop_buttons(query)
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
        await drop_buttons(query)
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
    # A clinic's patients get the clinic's care plan (a query only for them).
    clinic = (
        await context.clinics.clinic_of_patient(chat_id=chat_id)
        if view.clinic_id is not None
        else None
    )
    try:
        if step is Step.NEXT:
            result = await care.register_session(
                chat_id=chat_id,
                session_date=chosen,
                next_in_series=True,
                plan_id=clinic.plan_id if clinic else None,
            )
        elif view.session_date is not None:
            result = await care.change_session_date(chat_id=chat_id, session_date=chosen)
        else:
            result = await care.register_session(
                chat_id=chat_id, session_date=chosen, plan_id=clinic.plan_id if clinic else None
            )
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
            await drop_buttons(query)
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
    await drop_buttons(query)
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
