"""Clinic staff in chat: /patients, /alerts (reply, resolve), /invite, /enrol, /staff, /cancel.

Every handler and every button first finds the member of staff of the chat, and then acts
for *their* clinic only: ids in buttons are looked up inside that clinic, so a forged or
stale button names nothing of another clinic's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import Forbidden, TelegramError

from bot.context import BotContext
from bot.dates import OutOfRange, Parsed, describe_date, parse_session_date
from bot.handlers.common import action_and_id, chat_id_of, drop_buttons, reply, send
from bot.qr import invite_link, qr_png
from bot.sending import send_html
from content.texts import Markup
from scheduler.clinics import Alert, ClinicView, StaffView
from storage.models import InviteKind, StaffRole

log = logging.getLogger(__name__)

LEVEL_ICONS = {"urgent": "🚨", "clinic": "📞", "booking": "📅"}
MAX_ALERTS_SHOWN = 20
REPLY_STEP = "reply:"

StaffHandler = Callable[[Update, BotContext, StaffView], Awaitable[None]]


async def staff_of(update: Update, context: BotContext) -> StaffView | None:
    """The member of staff of this chat, or None."""
    return await context.clinics.staff(chat_id=chat_id_of(update))


def staff_only(handler: StaffHandler) -> Callable[[Update, BotContext], Awaitable[None]]:
    """Run ``handler`` for staff; everyone else is told the command is for clinic staff."""

    async def checked(update: Update, context: BotContext) -> None:
        staff = await staff_of(update, context)
        if staff is None:
            if update.callback_query is not None:
                await update.callback_query.answer(context.texts.plain("button_expired"))
            else:
                await reply(update, context, "staff.not_staff")
            return
        await handler(update, context, staff)

    checked.__doc__ = handler.__doc__
    checked.__name__ = handler.__name__
    return checked


def _until(context: BotContext, staff: StaffView, instant: datetime) -> str:
    """When a link stops working, as a date in the clinic's time zone."""
    zone = staff.clinic.timezone
    return describe_date(
        instant.astimezone(ZoneInfo(zone)).date(), today=context.local_now(zone).date()
    )


def _link(context: BotContext, code: str) -> str:
    username: str = context.bot.username
    return invite_link(username, code)


# /patients


@staff_only
async def show_patients(update: Update, context: BotContext, staff: StaffView) -> None:
    """Counts of the clinic's patients: by status and phase, due, new this week."""
    summary = await context.clinics.summary(clinic_id=staff.clinic.id)
    texts = context.texts
    plan = context.plan(staff.clinic.plan_id)
    names = {phase.id: phase.name for phase in plan.phases}
    phases = (
        "\n".join(
            texts.render("staff.phase_line", phase=names.get(phase_id, phase_id), count=count)
            for phase_id, count in sorted(
                summary.by_phase.items(), key=lambda item: _phase_order(plan, item[0])
            )
        )
        if summary.by_phase
        else texts.render("staff.no_phases")
    )
    await reply(
        update,
        context,
        "staff.patients",
        clinic=staff.clinic.name,
        total=summary.total,
        active=summary.active,
        paused=summary.paused,
        stopped=summary.stopped,
        new=summary.new_this_week,
        due=summary.due_next_session,
        no_session=summary.no_session,
        opted_out=summary.news_opt_out,
        phases=Markup(phases),
    )


def _phase_order(plan: object, phase_id: str) -> int:
    phases = getattr(plan, "phases", ())
    for index, phase in enumerate(phases):
        if phase.id == phase_id:
            return index
    return len(phases)


# /alerts


def alert_html(context: BotContext, staff: StaffView, alert: Alert) -> str:
    """One alert as staff read it."""
    texts = context.texts
    words = (
        texts.render("staff.alert_words", text=alert.shared_text)
        if alert.shared_text
        else texts.render("staff.alert_no_words")
    )
    when = alert.created_at.astimezone(context.local_now(staff.clinic.timezone).tzinfo)
    return texts.render(
        "staff.alert",
        icon=LEVEL_ICONS.get(alert.level, "👀"),
        level=alert.level.upper(),
        patient=alert.patient_id,
        day=alert.day,
        topic=alert.topic.replace("_", " "),
        when=when.strftime("%a %d %b, %H:%M"),
        replies=texts.render("staff.alert_replies", count=alert.replies) if alert.replies else "",
        words=words,
    )


def alert_buttons(context: BotContext, alert_id: int) -> InlineKeyboardMarkup:
    """Reply and Resolve under an alert."""
    texts = context.texts
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain("buttons.reply"), callback_data=f"cl:rp:{alert_id}"
                ),
                InlineKeyboardButton(
                    texts.plain("buttons.resolve"), callback_data=f"cl:rs:{alert_id}"
                ),
            ]
        ]
    )


@staff_only
async def show_alerts(update: Update, context: BotContext, staff: StaffView) -> None:
    """The clinic's open escalations, urgent first, each with Reply and Resolve."""
    alerts = await context.clinics.alerts(clinic_id=staff.clinic.id)
    if not alerts:
        await reply(update, context, "staff.no_alerts")
        return
    await reply(update, context, "staff.alerts_title", count=len(alerts))
    for alert in alerts[:MAX_ALERTS_SHOWN]:
        await send(
            update, context, alert_html(context, staff, alert), alert_buttons(context, alert.id)
        )


@staff_only
async def answer_button(update: Update, context: BotContext, staff: StaffView) -> None:
    """Reply, Resolve and Revoke buttons, checked against the member of staff's clinic."""
    query = update.callback_query
    assert query is not None
    parsed = await action_and_id(query, context)
    if parsed is None:
        return
    action, target = parsed
    clinics = context.clinics
    if action == "rs":
        done = await clinics.resolve(
            clinic_id=staff.clinic.id, escalation_id=target, staff_id=staff.id
        )
        await query.answer(context.texts.plain("staff.resolved" if done else "staff.not_found"))
        if done:
            await drop_buttons(query)
    elif action == "rp":
        alert = await clinics.alert(clinic_id=staff.clinic.id, escalation_id=target)
        if alert is None:
            await query.answer(context.texts.plain("staff.not_found"), show_alert=True)
            return
        await query.answer()
        await clinics.set_staff_step(chat_id=staff.chat_id, step=f"{REPLY_STEP}{target}")
        await reply(
            update,
            context,
            "staff.reply_prompt",
            patient=alert.patient_id,
            clinic=staff.clinic.name,
        )
    elif action == "rv":
        revoked = await clinics.revoke(clinic_id=staff.clinic.id, invite_id=target)
        await query.answer(context.texts.plain("staff.revoked" if revoked else "button_expired"))
        if revoked:
            await drop_buttons(query)
    else:
        await query.answer(context.texts.plain("button_expired"))


async def take_reply(update: Update, context: BotContext, staff: StaffView, text: str) -> bool:
    """A reply to a patient the bot is waiting for from this member of staff; False if the
    bot is not waiting for one."""
    if staff.step and staff.step.startswith(REPLY_STEP):
        await context.clinics.set_staff_step(chat_id=staff.chat_id, step=None)
        await _relay(update, context, staff, int(staff.step.removeprefix(REPLY_STEP)), text)
        return True
    return False


async def _relay(
    update: Update, context: BotContext, staff: StaffView, escalation_id: int, text: str
) -> None:
    """Send the staff member's words to the patient of one of their clinic's alerts."""
    # Resolved meanwhile by a colleague is fine: the patient still gets the answer.
    alert = await context.clinics.reply_target(
        clinic_id=staff.clinic.id, escalation_id=escalation_id
    )
    if alert is None:
        await reply(update, context, "staff.reply_gone")
        return
    chat_id = alert.chat_id
    try:
        await send_html(
            context.bot,
            chat_id,
            context.texts.render("relay", clinic=staff.clinic.name, text=text),
        )
    except Forbidden:
        await context.care.mark_blocked(chat_id=chat_id)
        await reply(update, context, "staff.reply_gone")
        return
    await reply(update, context, "staff.reply_sent", patient=alert.patient_id)


@staff_only
async def cancel(update: Update, context: BotContext, staff: StaffView) -> None:
    """Stop waiting for a reply or a broadcast text."""
    if staff.step:
        await context.clinics.set_staff_step(chat_id=staff.chat_id, step=None)
        await reply(update, context, "staff.cancelled")
    else:
        await reply(update, context, "staff.nothing_to_cancel")


# Invites


@staff_only
async def send_invite(update: Update, context: BotContext, staff: StaffView) -> None:
    """The clinic's patient link, with its QR code to print, and a button to withdraw it."""
    invite = await context.clinics.invite(
        clinic_id=staff.clinic.id, kind=InviteKind.PATIENT, created_by=staff.id
    )
    link = _link(context, invite.code)
    texts = context.texts
    await context.bot.send_photo(
        chat_id_of(update),
        InputFile(
            qr_png(link, caption=texts.plain("staff.invite_caption", clinic=staff.clinic.name)),
            filename="invite.png",
        ),
        caption=texts.render(
            "staff.invite",
            clinic=staff.clinic.name,
            link=link,
            until=_until(context, staff, invite.expires_at),
        ),
        parse_mode="HTML",
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts.plain("buttons.revoke"), callback_data=f"cl:rv:{invite.id}"
                    )
                ]
            ]
        ),
    )


@staff_only
async def enrol(update: Update, context: BotContext, staff: StaffView) -> None:
    """``/enrol DATE``: a one-time link for one patient with their session date filled in."""
    text = " ".join(context.args or [])
    today = context.local_now(staff.clinic.timezone).date()
    answer = parse_session_date(text, today=today, day_first=context.settings.date_order == "DMY")
    if not text or not isinstance(answer, Parsed):
        if isinstance(answer, OutOfRange):
            key = "date.too_far_ahead" if answer.value > today else "date.too_far_back"
            await reply(update, context, key, date=describe_date(answer.value, today=today))
        await reply(update, context, "staff.enrol_usage")
        return
    invite = await context.clinics.invite(
        clinic_id=staff.clinic.id,
        kind=InviteKind.ENROL,
        session_date=answer.value,
        created_by=staff.id,
    )
    await reply(
        update,
        context,
        "staff.enrol",
        date=describe_date(answer.value, today=today),
        link=_link(context, invite.code),
        until=_until(context, staff, invite.expires_at),
        markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        context.texts.plain("buttons.revoke"), callback_data=f"cl:rv:{invite.id}"
                    )
                ]
            ]
        ),
    )


@staff_only
async def invite_staff(update: Update, context: BotContext, staff: StaffView) -> None:
    """``/staff`` (or ``/staff admin``): a one-time invite for a colleague; admins only."""
    if not staff.is_admin:
        await reply(update, context, "staff.only_admins")
        return
    role = StaffRole.ADMIN if (context.args or [""])[0].lower() == "admin" else StaffRole.STAFF
    invite = await context.clinics.invite(
        clinic_id=staff.clinic.id, kind=InviteKind.STAFF, role=role, created_by=staff.id
    )
    await reply(
        update,
        context,
        "staff.staff_invite",
        role=context.texts.plain(f"staff.role_{role.value}"),
        clinic=staff.clinic.name,
        link=_link(context, invite.code),
        until=_until(context, staff, invite.expires_at),
    )


# Pushed to staff


async def push_alert(context: BotContext, clinic: ClinicView, alert: Alert) -> int:
    """Send an alert, with Reply and Resolve, to every member of the clinic's staff at once."""
    staff = StaffView(0, 0, StaffRole.STAFF, None, None, clinic)  # only the clinic is read
    return await tell_staff(
        context, clinic.id, alert_html(context, staff, alert), alert_buttons(context, alert.id)
    )


async def tell_staff(
    context: BotContext,
    clinic_id: int,
    html: str,
    markup: InlineKeyboardMarkup | None = None,
) -> int:
    """Send ``html`` to every member of a clinic's staff; returns how many got it."""
    delivered = 0
    for chat_id in await context.clinics.staff_chats(clinic_id=clinic_id):
        try:
            await send_html(context.bot, chat_id, html, reply_markup=markup)
            delivered += 1
        except TelegramError as exc:  # one unreachable colleague must not stop the others
            log.warning("could not reach a member of staff: %s", type(exc).__name__)
    return delivered
