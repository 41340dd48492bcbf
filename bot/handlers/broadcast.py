"""/broadcast: a clinic's message to a chosen group of its patients.

Compose (text, or a photo with a caption) -> audience -> preview with the number of
recipients -> send now or at a local time -> one progress message edited in place, with
Cancel, and a final report. Delivery itself (pacing, retries, resuming after a restart) is
``scheduler.broadcasts``; here is only the conversation. Every button is checked against the
member of staff's own clinic.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.handlers.clinic import staff_only
from bot.handlers.common import chat_id_of, drop_buttons, reply
from content.texts import Texts
from scheduler.broadcasts import (
    MAX_CAPTION,
    MAX_TEXT,
    Audience,
    BroadcastNotFound,
    BroadcastReport,
)
from scheduler.clinics import StaffView
from storage.models import BroadcastStatus

COMPOSE_STEP = "broadcast"
TIME_STEP = "broadcast-at:"
PREVIEW_CHARS = 300
BAR_WIDTH = 20
SILENT_DAYS = (14, 30)
DUE_DAYS = 7
LANGUAGES = {"en": "English", "ur": "اردو"}


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


@staff_only
async def start_broadcast(update: Update, context: BotContext, staff: StaffView) -> None:
    """Ask for the message."""
    await context.clinics.set_staff_step(chat_id=staff.chat_id, step=COMPOSE_STEP)
    await reply(update, context, "broadcast.compose", clinic=staff.clinic.name)


async def take_message(
    update: Update, context: BotContext, staff: StaffView, text: str, photo: str | None
) -> bool:
    """The message being composed, or a typed send time; False if the bot is not waiting
    for one from this member of staff."""
    if not staff.step:
        return False
    if staff.step == COMPOSE_STEP:
        text = text.strip()
        if not text and photo is None:
            await reply(update, context, "broadcast.empty")
            return True
        try:
            broadcast_id = await context.broadcasts.create(
                clinic_id=staff.clinic.id, staff_id=staff.id, text=text, photo=photo
            )
        except ValueError:  # too long for a message (4,096) or a caption (1,024)
            limit = MAX_CAPTION if photo else MAX_TEXT
            await reply(update, context, "broadcast.too_long", length=len(text), limit=limit)
            return True
        await context.clinics.set_staff_step(chat_id=staff.chat_id, step=None)
        await reply(
            update, context, "broadcast.audience", markup=audience_keyboard(context, broadcast_id)
        )
        return True
    if staff.step.startswith(TIME_STEP):
        broadcast_id = int(staff.step.removeprefix(TIME_STEP))
        at = parse_local_time(text, context.local_now(staff.clinic.timezone))
        if at is None:
            await reply(update, context, "broadcast.bad_time")
            return True
        await context.clinics.set_staff_step(chat_id=staff.chat_id, step=None)
        await _confirm(update, context, staff, broadcast_id, at)
        return True
    return False


def audience_keyboard(context: BotContext, broadcast_id: int) -> InlineKeyboardMarkup:
    """Who gets it: everyone, a phase, due for the next session, quiet for a while, a language."""
    texts = context.texts
    prefix = f"bc:a:{broadcast_id}:"
    return InlineKeyboardMarkup(
        [
            [_button(texts.plain("broadcast.to_all"), prefix + "all")],
            [_button(texts.plain("broadcast.to_phase"), f"bc:p:{broadcast_id}")],
            [_button(texts.plain("broadcast.to_due", days=DUE_DAYS), f"{prefix}due:{DUE_DAYS}")],
            [
                _button(texts.plain("broadcast.to_silent", days=days), f"{prefix}silent:{days}")
                for days in SILENT_DAYS
            ],
            [_button(name, f"{prefix}lang:{code}") for code, name in LANGUAGES.items()],
            [_button(texts.plain("broadcast.cancel"), f"bc:x:{broadcast_id}")],
        ]
    )


def phase_keyboard(
    context: BotContext, staff: StaffView, broadcast_id: int
) -> InlineKeyboardMarkup:
    """One button per phase of the clinic's care plan."""
    plan = context.plan(staff.clinic.plan_id)
    rows = [
        [_button(phase.name, f"bc:a:{broadcast_id}:phase:{phase.id}")]
        for phase in plan.phases
        if len(f"bc:a:{broadcast_id}:phase:{phase.id}".encode()) <= 64
    ]
    rows.append([_button(context.texts.plain("broadcast.cancel"), f"bc:x:{broadcast_id}")])
    return InlineKeyboardMarkup(rows)


def parse_local_time(text: str, now: datetime) -> datetime | None:
    """ "18:30" (today, or tomorrow if that has passed) or "26/11 18:30", in ``now``'s zone;
    None if unreadable or not in the next 30 days."""
    parts = text.strip().lower().split()
    try:
        if len(parts) == 1:
            clock = time.fromisoformat(parts[0].zfill(5))
            at = datetime.combine(now.date(), clock, tzinfo=now.tzinfo)
            if at <= now:
                at += timedelta(days=1)
        elif len(parts) == 2:
            day, month = (int(p) for p in parts[0].split("/"))
            clock = time.fromisoformat(parts[1].zfill(5))
            at = datetime(now.year, month, day, clock.hour, clock.minute, tzinfo=now.tzinfo)
            if at <= now:
                at = at.replace(year=now.year + 1)
        else:
            return None
    except ValueError:
        return None
    return at if at - now <= timedelta(days=30) else None


@staff_only
async def answer_button(update: Update, context: BotContext, staff: StaffView) -> None:
    """Audience, phase list, send now, schedule, time choices and cancel."""
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":", 3)
    if len(parts) < 3 or not parts[2].isdigit():
        await query.answer(context.texts.plain("button_expired"))
        return
    action, broadcast_id = parts[1], int(parts[2])
    texts = context.texts
    clinic_id = staff.clinic.id
    try:
        if action == "p":
            await query.answer()
            await query.edit_message_reply_markup(phase_keyboard(context, staff, broadcast_id))
        elif action == "a" and len(parts) == 4:
            audience = Audience.parse(parts[3])
            await context.broadcasts.set_audience(
                broadcast_id=broadcast_id, clinic_id=clinic_id, audience=audience
            )
            count = await context.broadcasts.count(clinic_id=clinic_id, audience=audience)
            await query.answer()
            await drop_buttons(query)
            await _preview(update, context, staff, broadcast_id, audience, count)
        elif action == "go":
            await query.answer()
            await drop_buttons(query)
            await _confirm(update, context, staff, broadcast_id, None)
        elif action == "sch":
            await query.answer()
            await query.edit_message_reply_markup(schedule_keyboard(context, staff, broadcast_id))
        elif action == "at" and len(parts) == 4:
            await query.answer()
            await drop_buttons(query)
            if parts[3] == "type":
                await context.clinics.set_staff_step(
                    chat_id=staff.chat_id, step=f"{TIME_STEP}{broadcast_id}"
                )
                await reply(update, context, "broadcast.type_time")
                return
            at = datetime.fromtimestamp(int(parts[3]), tz=ZoneInfo(staff.clinic.timezone))
            await _confirm(update, context, staff, broadcast_id, at)
        elif action == "x":
            cancelled = await context.broadcasts.cancel(
                broadcast_id=broadcast_id, clinic_id=clinic_id
            )
            await query.answer(
                texts.plain("broadcast.cancelled" if cancelled else "button_expired")
            )
            if cancelled:
                await drop_buttons(query)
        else:
            await query.answer(texts.plain("button_expired"))
    except (BroadcastNotFound, ValueError):
        await query.answer(texts.plain("button_expired"), show_alert=True)


async def _preview(
    update: Update,
    context: BotContext,
    staff: StaffView,
    broadcast_id: int,
    audience: Audience,
    count: int,
) -> None:
    report = await context.broadcasts.report(broadcast_id=broadcast_id, clinic_id=staff.clinic.id)
    if report is None:
        raise BroadcastNotFound(broadcast_id)
    texts = context.texts
    buttons = [
        [_button(texts.plain("broadcast.send_now"), f"bc:go:{broadcast_id}")],
        [_button(texts.plain("broadcast.schedule"), f"bc:sch:{broadcast_id}")],
        [_button(texts.plain("broadcast.cancel"), f"bc:x:{broadcast_id}")],
    ]
    await reply(
        update,
        context,
        "broadcast.preview",
        text=_shorten(report.text),
        photo=texts.plain("broadcast.with_photo") if report.photo else "",
        audience=describe_audience(context, staff, audience),
        count=count,
        markup=InlineKeyboardMarkup(buttons if count else buttons[2:]),
    )


def _shorten(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def describe_audience(context: BotContext, staff: StaffView, audience: Audience) -> str:
    """The audience in words."""
    texts = context.texts
    kind, _, value = str(audience).partition(":")
    if kind == "phase":
        plan = context.plan(staff.clinic.plan_id)
        try:
            value = plan.phase(value).name
        except KeyError:
            pass
    if kind == "lang":
        value = LANGUAGES.get(value, value)
    return texts.plain(f"broadcast.audience_{kind}", value=value)


def schedule_keyboard(
    context: BotContext, staff: StaffView, broadcast_id: int
) -> InlineKeyboardMarkup:
    """A few sensible local times, or type one."""
    now = context.local_now(staff.clinic.timezone)
    tomorrow = now.date() + timedelta(days=1)
    choices = [now + timedelta(hours=1)] + [
        datetime.combine(tomorrow, time(hour), tzinfo=now.tzinfo) for hour in (10, 18)
    ]
    rows = [
        [_button(at.strftime("%a %d %b, %H:%M"), f"bc:at:{broadcast_id}:{int(at.timestamp())}")]
        for at in choices
    ]
    rows.append(
        [_button(context.texts.plain("broadcast.type_time_button"), f"bc:at:{broadcast_id}:type")]
    )
    return InlineKeyboardMarkup(rows)


async def _confirm(
    update: Update,
    context: BotContext,
    staff: StaffView,
    broadcast_id: int,
    at: datetime | None,
) -> None:
    """Queue the broadcast, and post the message that shows its progress."""
    count = await context.broadcasts.confirm(
        broadcast_id=broadcast_id,
        clinic_id=staff.clinic.id,
        report_chat_id=chat_id_of(update),
        at=at,
    )
    report = await context.broadcasts.report(broadcast_id=broadcast_id, clinic_id=staff.clinic.id)
    assert report is not None
    if at is not None:
        message = await reply(
            update,
            context,
            "broadcast.scheduled",
            when=at.astimezone(ZoneInfo(staff.clinic.timezone)).strftime("%a %d %b, %H:%M"),
            count=count,
            markup=cancel_keyboard(context.texts, broadcast_id),
        )
    else:
        message = await reply(
            update,
            context,
            "broadcast.progress",
            **progress_values(report),
            markup=cancel_keyboard(context.texts, broadcast_id),
        )
    await context.broadcasts.set_progress_message(
        broadcast_id=broadcast_id, clinic_id=staff.clinic.id, message_id=message.message_id
    )
    context.bot_data.wake_broadcasts()


def cancel_keyboard(texts: Texts, broadcast_id: int) -> InlineKeyboardMarkup:
    """Cancel a broadcast before or during delivery."""
    return InlineKeyboardMarkup(
        [[_button(texts.plain("broadcast.cancel"), f"bc:x:{broadcast_id}")]]
    )


def progress_values(report: BroadcastReport) -> dict[str, object]:
    """The numbers and the bar of a progress message."""
    done = report.sent + report.failed + report.skipped
    total = max(report.total, 1)
    filled = round(BAR_WIDTH * done / total) if report.total else BAR_WIDTH
    return {
        "bar": "▓" * filled + "░" * (BAR_WIDTH - filled),
        "sent": report.sent,
        "failed": report.failed,
        "skipped": report.skipped,
        "remaining": report.remaining,
        "total": report.total,
    }


def progress_html(texts: Texts, report: BroadcastReport) -> tuple[str, bool]:
    """The progress message's HTML, and whether it is final (no Cancel button any more)."""
    if report.status is BroadcastStatus.DONE:
        return texts.render("broadcast.done", **progress_values(report)), True
    if report.status is BroadcastStatus.CANCELLED:
        return texts.render(
            "broadcast.stopped", **progress_values(report), cancelled=report.cancelled
        ), True
    return texts.render("broadcast.progress", **progress_values(report)), False
