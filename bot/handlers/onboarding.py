"""Getting a patient set up: /start, consent, the session date four ways, time zone, quiet hours."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from telegram import BotCommandScopeChat, CallbackQuery, Update
from telegram.error import TelegramError

from bot import keyboards
from bot.calendar import Day, Navigate, calendar_keyboard, parse_calendar_callback
from bot.context import BotContext
from bot.dates import (
    Impossible,
    OutOfRange,
    Parsed,
    days_away,
    describe_date,
    impossible_text,
    parse_session_date,
)
from bot.handlers import clinic as clinic_handlers
from bot.handlers import language
from bot.handlers.common import (
    chat_id_of,
    chat_state,
    confirm_registration,
    drop_buttons,
    local_today,
    prompt_of_button,
    reply,
    send,
    where_line,
)
from bot.menu import staff_commands
from bot.zones import COMMON_ZONES, describe_zone, resolve_timezone
from content.plan import day_of_healing
from content.texts import RTL_LANGUAGES
from scheduler.care.planning import (
    MAX_DAYS_AHEAD,
    MAX_DAYS_BACK,
    MIN_AWAKE,
    QuietHours,
    QuietHoursTooLong,
    SessionDateError,
    UnknownTimeZoneError,
)
from scheduler.care.prompts import DATE_KINDS, Prompt, PromptKind
from scheduler.care.views import NoSessionError, PatientView
from scheduler.clinics.codes import looks_like_code
from scheduler.clinics.errors import InviteError
from scheduler.clinics.views import InviteView
from storage.models import InviteKind, PatientStatus

DEEP_LINK_PAYLOAD_MAX = 64
INVITE_KEY = "invite_code"
CONSENT_KEY = "consent_asked"
TIMEZONE_KINDS = frozenset({PromptKind.TIMEZONE})
QUIET_KINDS = frozenset({PromptKind.QUIET})

log = logging.getLogger(__name__)


async def start(update: Update, context: BotContext) -> None:
    """Greet, explain, and ask for consent; a returning patient is told where they are.

    A clinic's invite code in the deep link (``/start <code>``) makes a member of staff of
    a staff invite at once; a patient invite is kept until the patient consents.
    """
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
    view = await context.patient()
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
    state[CONSENT_KEY] = True
    if not language.chosen(context):  # the language first, so the consent is read in it
        await language.ask(update, context, invite.clinic.language if invite else None)
        return
    await ask_consent(update, context, invite)


async def ask_consent(
    update: Update, context: BotContext, invite: InviteView | None = None
) -> None:
    """Greet, explain, and ask for consent in the chat's language (naming the clinic whose
    invite link the patient came with)."""
    state = chat_state(context)
    code = state.get(INVITE_KEY)
    if invite is None and code:
        try:
            invite = await context.clinics.peek(code=code)
        except InviteError:  # it went out of date meanwhile: joining will say so
            invite = None
    user = update.effective_user
    comma = "، " if context.language in RTL_LANGUAGES else ", "
    name = f"{comma}{user.first_name}" if user and user.first_name else ""
    texts = context.texts
    clinic = texts.render("start.clinic", clinic=invite.clinic.name) if invite else ""
    greeting = texts.render("start.greeting", name=name, clinic=clinic)
    state[CONSENT_KEY] = True
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
        await ask_date(update, context, PromptKind.DATE)
        return
    plan = context.plan(view.plan_id)
    today = local_today(context, view.timezone)
    day = day_of_healing(view.session_date, today)
    phase = plan.phase_for_day(day).name
    if day < 0:  # a planned session: no day of healing yet
        await reply(
            update,
            context,
            "start.welcome_before",
            when=days_away(context.texts, -day),
            phase=phase,
        )
        return
    await reply(update, context, "start.welcome_back", day=day, phase=phase)


async def answer_consent(update: Update, context: BotContext) -> None:
    """Yes creates the patient and asks for the date; No stores nothing."""
    query = _query(update)
    view = await context.patient()
    if view is not None and view.consented:  # an old consent message: already answered
        await query.answer(context.texts.plain("button_expired"), show_alert=True)
        return
    await query.answer()
    chat_state(context).pop(CONSENT_KEY, None)
    if query.data == "consent:no":
        await drop_buttons(query)
        await reply(update, context, "start.declined")
        return
    payload = chat_state(context).pop("start_payload", None)
    joining = INVITE_KEY in chat_state(context)
    view = await context.care.consent(
        chat_id=chat_id_of(update),
        start_payload=payload,
        language=context.language,
        ask=None if joining else PromptKind.DATE,  # the date question, in the same write
    )
    context.revisit(view)
    await language.set_menu(context, chat_id_of(update))
    await drop_buttons(query)
    if joining:
        await join_clinic(update, context)
        return
    await ask_date(update, context, PromptKind.DATE, prompt=view.prompt)


def consent_pending(context: BotContext) -> bool:
    """Whether this chat was asked for consent and has not answered yet."""
    return bool(chat_state(context).get(CONSENT_KEY))


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
        texts = context.texts
        first_name = update.effective_user.first_name if update.effective_user else ""
        html = str(texts.render("start.joined_clinic", clinic=joined.clinic.name))
        markup = None
        if first_name:
            question = texts.render("start.share_name", clinic=joined.clinic.name, name=first_name)
            html = f"{html}\n\n{question}"
            markup = keyboards.share_name(texts, joined.clinic.id)
        await send(update, context, html, markup)
    view = await context.care.view(chat_id=chat_id)
    assert view is not None
    if joined is not None and joined.session_date is not None and view.session_date is None:
        today = local_today(context, view.timezone)
        iso = joined.session_date.isoformat()
        prompt = await context.care.open_prompt(chat_id=chat_id, kind=PromptKind.DATE)
        assert prompt is not None
        await reply(
            update,
            context,
            "start.enrol_confirm",
            clinic=joined.clinic.name,
            date=describe_date(joined.session_date, today=today, language=context.language),
            markup=keyboards.stamp(keyboards.enrol_confirm(context.texts, iso), prompt.token),
        )
        return
    if view.session_date is None:
        await ask_date(update, context, PromptKind.DATE)
    else:
        await _welcome_back(update, context, view)


async def answer_share_name(update: Update, context: BotContext) -> None:
    """ "Yes, share my name" keeps the patient's Telegram first name for their clinic's list;
    "No" keeps (or makes) it private. A question from before a switch changes nothing."""
    query = _query(update)
    parts = (query.data or "").split(":")
    if len(parts) != 3 or parts[1] not in {"yes", "no"} or not parts[2].isdigit():
        await query.answer(context.texts.plain("button_expired"), show_alert=True)
        return
    share = parts[1] == "yes"
    name = query.from_user.first_name if share else None
    number = await context.clinics.share_name(
        chat_id=chat_id_of(update), clinic_id=int(parts[2]), name=name
    )
    clinic = await context.clinics.clinic_of_patient(chat_id=chat_id_of(update))
    if number is None or clinic is None:
        await query.answer(context.texts.plain("button_expired"), show_alert=True)
        return
    key = "start.name_shared" if share else "start.name_private"
    await query.answer(context.texts.plain(key, clinic=clinic.name, number=number))
    await drop_buttons(query)


async def answer_switch(update: Update, context: BotContext) -> None:
    """ "Switch to B" joins the other clinic (the old one keeps its alerts); "Stay" stays."""
    code = await clinic_handlers.take_switch_choice(update, context)
    if code is not None:
        chat_state(context)[INVITE_KEY] = code
        await join_clinic(update, context)


async def answer_enrol(update: Update, context: BotContext) -> None:
    """The patient confirms the session date their clinic filled in, or picks another."""
    query = _query(update)
    found = await prompt_of_button(query, context, DATE_KINDS)
    if found is None:
        return
    view, prompt, data = found
    if data.startswith("enrol:yes:"):
        try:
            chosen = date.fromisoformat(data.removeprefix("enrol:yes:"))
        except ValueError:
            await query.answer(context.texts.plain("button_expired"), show_alert=True)
            return
        await query.answer()
        await drop_buttons(query)
        await apply_date(update, context, view, prompt, chosen)
        return
    await query.answer()
    await drop_buttons(query)
    await ask_date(update, context, prompt.kind)


async def set_staff_menu(context: BotContext, chat_id: int) -> None:
    """Show the staff commands in this chat's menu, beside the patient ones."""
    try:
        await context.bot.set_my_commands(
            staff_commands(context.texts), scope=BotCommandScopeChat(chat_id)
        )
    except TelegramError as exc:  # a menu is a nicety
        log.warning("could not set the staff menu: %s", type(exc).__name__)


async def ask_date(
    update: Update,
    context: BotContext,
    kind: PromptKind,
    number: int | None = None,
    *,
    prompt: Prompt | None = None,
) -> None:
    """Ask when the session was, with Today / Yesterday / Pick a date (under ``prompt`` when
    the caller opened it already, else a new one)."""
    if prompt is None or prompt.kind is not kind:
        prompt = await context.care.open_prompt(chat_id=chat_id_of(update), kind=kind)
    if prompt is None:
        await reply(update, context, "no_patient")
        return
    if number is None and kind is PromptKind.NEXT:
        view = await context.care.view(chat_id=chat_id_of(update))
        number = (view.session_number or 0) + 1 if view is not None else 1
    key = {PromptKind.DATE: "date.question", PromptKind.CHANGE: "date.question_change"}.get(
        kind, "date.question_next"
    )
    await reply(
        update,
        context,
        key,
        markup=keyboards.stamp(keyboards.session_date(context.texts), prompt.token),
        number=number or 1,
    )


async def ask_again(update: Update, context: BotContext, view: PatientView) -> None:
    """Offer the pending prompt again (after answering something else), with fresh buttons."""
    prompt = view.prompt
    if prompt is None:
        return
    await reply(update, context, "prompt.back_to")
    if prompt.asks_date:
        await ask_date(update, context, prompt.kind)
    elif prompt.kind is PromptKind.TIMEZONE:
        await ask_timezone(update, context)
    elif prompt.kind is PromptKind.QUIET:
        await ask_quiet_hours(update, context)


async def unreadable_answer(
    update: Update, context: BotContext, view: PatientView, prompt: Prompt
) -> None:
    """What the prompt expects, for words that are neither its answer nor a question."""
    texts = context.texts
    if prompt.asks_date:
        markup = keyboards.stamp(keyboards.session_date(texts), prompt.token)
        await reply(update, context, "date.unreadable", markup=markup)
    elif prompt.kind is PromptKind.TIMEZONE:
        markup = keyboards.stamp(keyboards.timezones(texts, COMMON_ZONES), prompt.token)
        await reply(update, context, "timezone.unknown", markup=markup)
    else:
        markup = keyboards.stamp(keyboards.quiet_hours(texts), prompt.token)
        await reply(update, context, "quiet.invalid", markup=markup)


async def answer_date_button(update: Update, context: BotContext) -> None:
    """Today, Yesterday, Pick a date, or a confirmed candidate date."""
    query = _query(update)
    found = await prompt_of_button(query, context, DATE_KINDS)
    if found is None:
        return
    view, prompt, data = found
    today = local_today(context, view.timezone)
    if data == "date:pick":
        await query.answer()
        await query.edit_message_reply_markup(
            keyboards.stamp(
                calendar_keyboard(
                    today.year,
                    today.month,
                    **_calendar_range(today),
                    today=today,
                    language=context.language,
                ),
                prompt.token,
            )
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
            await query.answer(context.texts.plain("button_expired"), show_alert=True)
            return
    else:
        await query.answer(context.texts.plain("button_expired"), show_alert=True)
        return
    await query.answer()
    await drop_buttons(query)
    await apply_date(update, context, view, prompt, chosen)


async def answer_calendar(update: Update, context: BotContext) -> None:
    """Month navigation and day picks on the inline calendar."""
    query = _query(update)
    if keyboards.unstamp(query.data or "")[0] == keyboards.NOOP_DATA:
        await query.answer()
        return
    found = await prompt_of_button(query, context, DATE_KINDS)
    if found is None:
        return
    view, prompt, data = found
    today = local_today(context, view.timezone)
    action = parse_calendar_callback(data, **_calendar_range(today))
    if isinstance(action, Navigate):
        await query.answer()
        await query.edit_message_reply_markup(
            keyboards.stamp(
                calendar_keyboard(
                    action.year,
                    action.month,
                    **_calendar_range(today),
                    today=today,
                    language=context.language,
                ),
                prompt.token,
            )
        )
    elif isinstance(action, Day):
        await query.answer()
        await drop_buttons(query)
        await apply_date(update, context, view, prompt, action.value)
    elif action is None:
        await query.answer(context.texts.plain("date.button_expired"), show_alert=True)
    else:
        await query.answer()


def _calendar_range(today: date) -> dict[str, date]:
    return {
        "min_date": today - timedelta(days=MAX_DAYS_BACK),
        "max_date": today + timedelta(days=MAX_DAYS_AHEAD),
    }


async def take_typed_date(
    update: Update, context: BotContext, view: PatientView, text: str, *, dry_run: bool = False
) -> bool:
    """A date typed in chat while the bot waits for one (or while the patient has no session
    yet); whether the words were a date at all (a dry run only tells, and changes nothing)."""
    today = local_today(context, view.timezone)
    answer = parse_session_date(text, today=today, day_first=context.settings.date_order == "DMY")
    if not isinstance(answer, Parsed | OutOfRange | Impossible):
        return False
    if dry_run:
        return True
    prompt = view.prompt
    if prompt is None:  # no session yet and no prompt pending: this date is the answer
        prompt = await context.care.open_prompt(chat_id=view.chat_id, kind=PromptKind.DATE)
        assert prompt is not None
    markup = keyboards.stamp(keyboards.session_date(context.texts), prompt.token)
    if isinstance(answer, Parsed):
        if answer.ambiguous and answer.alternative is not None:
            choices = [
                (describe_date(d, today=today, language=context.language), d)
                for d in (answer.value, answer.alternative)
            ]
            await reply(
                update,
                context,
                "date.ambiguous",
                markup=keyboards.stamp(keyboards.date_choices(choices), prompt.token),
                first=choices[0][0],
                second=choices[1][0],
            )
            return True
        await apply_date(update, context, view, prompt, answer.value)
        return True
    if isinstance(answer, Impossible):
        await send(update, context, impossible_text(context.texts, answer), markup)
        return True
    key = "date.too_far_ahead" if answer.value > today else "date.too_far_back"
    await reply(
        update,
        context,
        key,
        markup=markup,
        date=describe_date(answer.value, today=today, language=context.language),
    )
    return True


async def apply_date(
    update: Update, context: BotContext, view: PatientView, prompt: Prompt, chosen: date
) -> None:
    """Register, move or add a session on ``chosen``, as ``prompt`` asked."""
    chat_id = chat_id_of(update)
    care = context.care
    # A clinic's patients get the clinic's care plan (a query only for them).
    clinic = (
        await context.clinics.clinic_of_patient(chat_id=chat_id)
        if view.clinic_id is not None
        else None
    )
    plan_id = clinic.plan_id if clinic else None
    token = prompt.token  # closed in the registration's own transaction
    try:
        if prompt.kind is PromptKind.NEXT:
            result = await care.register_session(
                chat_id=chat_id,
                session_date=chosen,
                next_in_series=True,
                plan_id=plan_id,
                close_token=token,
            )
        elif view.session_date is not None and prompt.kind is PromptKind.CHANGE:
            result = await care.change_session_date(
                chat_id=chat_id, session_date=chosen, close_token=token
            )
        elif view.session_date is None:
            result = await care.register_session(
                chat_id=chat_id, session_date=chosen, plan_id=plan_id, close_token=token
            )
        else:  # a first-date prompt of a patient who has registered since: nothing to do
            await care.close_prompt(chat_id=chat_id, token=prompt.token)
            await reply(update, context, "button_expired")
            return
    except SessionDateError:
        today = local_today(context, view.timezone)
        key = "date.too_far_ahead" if chosen > today else "date.too_far_back"
        await reply(
            update,
            context,
            key,
            markup=keyboards.stamp(keyboards.session_date(context.texts), prompt.token),
            date=describe_date(chosen, today=today, language=context.language),
        )
        return
    context.revisit(result.view)
    await confirm_registration(update, context, result)


async def ask_timezone(update: Update, context: BotContext) -> None:
    """Show the zone and offer common ones; typing a city or offset also works."""
    view = await _consented(update, context)
    if view is None:
        return
    prompt = await context.care.open_prompt(chat_id=chat_id_of(update), kind=PromptKind.TIMEZONE)
    assert prompt is not None
    await reply(
        update,
        context,
        "timezone.current",
        markup=keyboards.stamp(keyboards.timezones(context.texts, COMMON_ZONES), prompt.token),
        zone=describe_zone(view.timezone, context.now(), language=context.language),
    )


async def answer_timezone_button(update: Update, context: BotContext) -> None:
    """ "Change time zone" under a confirmation, or one of the common zones."""
    query = _query(update)
    if query.data == "tz:change":  # opens a new prompt: safe to press at any time
        await query.answer()
        await ask_timezone(update, context)
        return
    found = await prompt_of_button(query, context, TIMEZONE_KINDS)
    if found is None:
        return
    view, prompt, data = found
    match = resolve_timezone(data.removeprefix("tz:set:")) if data.startswith("tz:set:") else None
    if match is None:
        await query.answer(context.texts.plain("button_expired"), show_alert=True)
        return
    await query.answer()
    await drop_buttons(query)
    await set_timezone(update, context, view, prompt, match.zone)


async def take_typed_timezone(
    update: Update, context: BotContext, view: PatientView, text: str, *, dry_run: bool = False
) -> bool:
    """A city, an IANA name or a UTC offset typed while the bot waits for a zone; whether the
    words named one."""
    match = resolve_timezone(text)
    if match is None:
        return False
    if not dry_run:
        assert view.prompt is not None
        await set_timezone(update, context, view, view.prompt, match.zone)
    return True


async def set_timezone(
    update: Update, context: BotContext, view: PatientView, prompt: Prompt, zone: str
) -> None:
    """Store the zone, replan, and confirm with where the patient now is."""
    chat_id = chat_id_of(update)
    try:
        await context.care.set_timezone(chat_id=chat_id, timezone=zone)
    except UnknownTimeZoneError:
        await reply(update, context, "timezone.unknown")
        return
    except NoSessionError:
        await context.care.close_prompt(chat_id=chat_id, token=prompt.token)
        await reply(update, context, "no_patient")
        return
    await context.care.close_prompt(chat_id=chat_id, token=prompt.token)
    await reply(
        update,
        context,
        "timezone.changed",
        zone=describe_zone(zone, context.now(), language=context.language),
    )
    if view.session_date is not None:
        plan = context.plan(view.plan_id)
        today = local_today(context, zone)
        await send(update, context, where_line(context, plan, view.session_date, today))


async def ask_quiet_hours(update: Update, context: BotContext) -> None:
    """Show the quiet span and offer presets."""
    view = await _consented(update, context)
    if view is None:
        return
    prompt = await context.care.open_prompt(chat_id=chat_id_of(update), kind=PromptKind.QUIET)
    assert prompt is not None
    markup = keyboards.stamp(keyboards.quiet_hours(context.texts), prompt.token)
    if str(view.quiet_hours) == "off":
        await reply(update, context, "quiet.current_off", markup=markup)
    else:
        await reply(update, context, "quiet.current", markup=markup, span=str(view.quiet_hours))


async def answer_quiet_button(update: Update, context: BotContext) -> None:
    """A preset span, or off."""
    query = _query(update)
    found = await prompt_of_button(query, context, QUIET_KINDS)
    if found is None:
        return
    view, prompt, data = found
    text = "off" if data == "quiet:off" else data.removeprefix("quiet:set:")
    await query.answer()
    await drop_buttons(query)
    if not await _apply_quiet(update, context, view, prompt, text):
        await reply(update, context, "button_expired")


async def take_typed_quiet(
    update: Update, context: BotContext, view: PatientView, text: str, *, dry_run: bool = False
) -> bool:
    """A span like 22:00-07:00 (or "off") typed while the bot waits for one; whether the words
    were a span."""
    try:
        QuietHours.parse(text)
    except ValueError:
        return False
    if not dry_run:
        assert view.prompt is not None
        await _apply_quiet(update, context, view, view.prompt, text)
    return True


async def _apply_quiet(
    update: Update, context: BotContext, view: PatientView, prompt: Prompt, text: str
) -> bool:
    try:
        quiet = QuietHours.parse(text)
    except ValueError:
        return False
    chat_id = chat_id_of(update)
    try:
        await context.care.set_quiet_hours(chat_id=chat_id, quiet_hours=quiet)
    except NoSessionError:
        await context.care.close_prompt(chat_id=chat_id, token=prompt.token)
        await reply(update, context, "no_patient")
        return True
    except QuietHoursTooLong as error:  # refused with its reason; the prompt stays open
        awake = int(error.awake.total_seconds()) // 60
        await reply(
            update,
            context,
            "quiet.too_long",
            span=str(quiet),
            awake=f"{awake // 60}:{awake % 60:02d}",
            minimum=int(MIN_AWAKE.total_seconds()) // 3600,
            markup=keyboards.stamp(keyboards.quiet_hours(context.texts), prompt.token),
        )
        return True
    await context.care.close_prompt(chat_id=chat_id, token=prompt.token)
    if str(quiet) == "off":
        await reply(update, context, "quiet.changed_off")
    else:
        await reply(update, context, "quiet.changed", span=str(quiet))
    return True


async def _consented(update: Update, context: BotContext) -> PatientView | None:
    """The patient, or None after telling a stranger to /start first."""
    view = await context.patient()
    if view is None or not view.consented:
        await reply(update, context, "no_patient")
        return None
    return view


def _query(update: Update) -> CallbackQuery:
    query = update.callback_query
    assert query is not None
    return query


__all__ = [
    "answer_calendar",
    "answer_consent",
    "answer_date_button",
    "answer_quiet_button",
    "answer_timezone_button",
    "ask_again",
    "ask_date",
    "ask_quiet_hours",
    "ask_timezone",
    "consent_pending",
    "start",
    "take_typed_date",
    "take_typed_quiet",
    "take_typed_timezone",
    "unreadable_answer",
]
