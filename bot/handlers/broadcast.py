"""/broadcast: a clinic's message to a chosen group of its patients.

Compose (text, or a photo with a caption) -> audience -> preview with the number of
recipients -> send now or at a local time -> one progress message edited in place, with
Cancel, and a final report. Delivery itself (pacing, retries, resuming after a restart) is
``scheduler.broadcasts``; here is only the conversation.

Every value in a ``bc:*`` button is read as if a stranger typed it (a client can send any
callback data): the shape is matched exactly, numbers are bounded, the broadcast is looked up
inside the presser's clinic (whoever presses must be a member of its staff now: any role may
broadcast, only for their own clinic), and a time goes through the same checks as a typed one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.handlers.clinic import staff_only
from bot.handlers.common import chat_id_of, drop_buttons, reply
from content.texts import Markup, Texts
from scheduler.broadcasts.audience import Audience
from scheduler.broadcasts.errors import (
    AudienceError,
    BroadcastNotFound,
    BroadcastStateError,
    BroadcastTimeError,
    BroadcastTooLong,
    TimeProblem,
    UnknownPhase,
)
from scheduler.broadcasts.report import BroadcastReport
from scheduler.broadcasts.rules import MAX_AHEAD
from scheduler.clinics.views import StaffView
from storage.models import BroadcastStatus

COMPOSE_STEP = "broadcast"
TIME_STEP = "broadcast-at:"
PREVIEW_CHARS = 300
BAR_WIDTH = 20
SILENT_DAYS = (14, 30)
DUE_DAYS = 7
LANGUAGES = {"en": "English", "ur": "اردو"}
# bc:<action>:<broadcast id>[:<value>]; ids fit a 32-bit column, a time is a Unix timestamp
# of at most 11 digits (past the year 5000: refused later as too far, never an overflow).
_BUTTON = re.compile(
    r"bc:(?:(?P<bare>p|go|sch|x):(?P<id>[0-9]{1,9})"
    r"|(?P<valued>a|at):(?P<vid>[0-9]{1,9}):(?P<value>[a-z0-9_:]{1,48}))"
)
_TIMESTAMP = re.compile(r"[0-9]{1,11}")


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
        except BroadcastTooLong as exc:  # a message (4,096) or caption (1,024), with the label
            await reply(update, context, "broadcast.too_long", length=exc.length, limit=exc.limit)
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
        try:
            await _confirm(update, context, staff, broadcast_id, at)
        except BroadcastTimeError as exc:  # the step stays: another time may be typed
            await _refuse_time(update, context, staff, broadcast_id, at, exc)
            return True
        except BroadcastNotFound:
            await reply(update, context, "broadcast.not_found")
        except BroadcastStateError:
            await reply(update, context, "broadcast.not_draft")
        await context.clinics.set_staff_step(chat_id=staff.chat_id, step=None)
        return True
    return False


async def _refuse_time(
    update: Update,
    context: BotContext,
    staff: StaffView,
    broadcast_id: int,
    at: datetime,
    problem: BroadcastTimeError,
) -> None:
    """Say why a typed time cannot be used; for quiet hours, offer the next allowed time."""
    if problem.problem is TimeProblem.QUIET and problem.next_allowed is not None:
        when = _local(staff, problem.next_allowed)
        await reply(
            update,
            context,
            "broadcast.time_quiet",
            when=_local(staff, at),
            quiet=str(staff.clinic.quiet_hours),
            next=when,
            markup=InlineKeyboardMarkup(
                [
                    [
                        _button(
                            context.texts.plain("broadcast.send_at_button", when=when),
                            f"bc:at:{broadcast_id}:{int(problem.next_allowed.timestamp())}",
                        )
                    ]
                ]
            ),
        )
    elif problem.problem is TimeProblem.PAST:
        await reply(update, context, "broadcast.time_past")
    else:
        await reply(update, context, "broadcast.time_too_far")


def _local(staff: StaffView, instant: datetime) -> str:
    return instant.astimezone(ZoneInfo(staff.clinic.timezone)).strftime("%a %d %b, %H:%M")


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
    texts = context.texts
    match = _BUTTON.fullmatch(query.data or "")
    if match is None:
        await query.answer(texts.plain("button_expired"))
        return
    action = match["bare"] or match["valued"]
    broadcast_id = int(match["id"] or match["vid"])
    value: str = match["value"] or ""
    clinic_id = staff.clinic.id
    try:
        report = await context.broadcasts.report(broadcast_id=broadcast_id, clinic_id=clinic_id)
    except BroadcastNotFound:
        await query.answer(texts.plain("broadcast.not_found"), show_alert=True)
        return
    if action == "x":
        cancelled = await context.broadcasts.cancel(broadcast_id=broadcast_id, clinic_id=clinic_id)
        await query.answer(texts.plain("broadcast.cancelled" if cancelled else "broadcast.over"))
        if cancelled:
            await drop_buttons(query)
        return
    if report.status is not BroadcastStatus.DRAFT:
        await query.answer(texts.plain("broadcast.not_draft"), show_alert=True)
        return
    try:
        await _act_on_draft(update, context, staff, action, broadcast_id, value)
    except BroadcastNotFound:
        await query.answer(texts.plain("broadcast.not_found"), show_alert=True)
    except BroadcastStateError:
        await query.answer(texts.plain("broadcast.not_draft"), show_alert=True)
    except BroadcastTimeError as exc:
        key = {
            TimeProblem.PAST: "broadcast.time_past",
            TimeProblem.TOO_FAR: "broadcast.time_too_far",
            TimeProblem.QUIET: "broadcast.time_quiet_short",
        }[exc.problem]
        await query.answer(texts.plain(key, quiet=str(staff.clinic.quiet_hours)), show_alert=True)
    except (AudienceError, UnknownPhase):  # an audience no button of ours names
        await query.answer(texts.plain("button_expired"), show_alert=True)


async def _act_on_draft(
    update: Update,
    context: BotContext,
    staff: StaffView,
    action: str,
    broadcast_id: int,
    value: str,
) -> None:
    """A button on a draft of the staff's clinic: the query is answered here on success;
    the errors of ``scheduler.broadcasts`` are answered by the caller."""
    query = update.callback_query
    assert query is not None
    clinic_id = staff.clinic.id
    if action == "p":
        await query.answer()
        await query.edit_message_reply_markup(phase_keyboard(context, staff, broadcast_id))
    elif action == "a":
        audience = Audience.parse(value)
        await context.broadcasts.set_audience(
            broadcast_id=broadcast_id, clinic_id=clinic_id, audience=audience
        )
        count = await context.broadcasts.count(clinic_id=clinic_id, audience=audience)
        await query.answer()
        await drop_buttons(query)
        await _preview(update, context, staff, broadcast_id, audience, count)
    elif action == "go":
        await _confirm(update, context, staff, broadcast_id, None)
    elif action == "sch":
        await query.answer()
        await query.edit_message_reply_markup(schedule_keyboard(context, staff, broadcast_id))
    elif value == "type":
        await query.answer()
        await drop_buttons(query)
        await context.clinics.set_staff_step(
            chat_id=staff.chat_id, step=f"{TIME_STEP}{broadcast_id}"
        )
        await reply(update, context, "broadcast.type_time")
    elif _TIMESTAMP.fullmatch(value):
        at = datetime.fromtimestamp(int(value), tz=UTC)
        await _confirm(update, context, staff, broadcast_id, at)
        if staff.step == f"{TIME_STEP}{broadcast_id}":  # the time offered for a typed one
            await context.clinics.set_staff_step(chat_id=staff.chat_id, step=None)
    else:
        await query.answer(context.texts.plain("button_expired"))


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
    """A few sensible local times, or type one; none in the clinic's quiet hours (a pick that
    falls in them moves to their end)."""
    zone = ZoneInfo(staff.clinic.timezone)
    now = context.local_now(staff.clinic.timezone)
    tomorrow = now.date() + timedelta(days=1)
    wanted = [(now + timedelta(hours=1)).replace(second=0, microsecond=0)] + [
        datetime.combine(tomorrow, time(hour), tzinfo=zone) for hour in (10, 18)
    ]
    choices = sorted(
        {
            moved.astimezone(zone)
            for at in wanted
            if (moved := staff.clinic.quiet_hours.defer(at, zone)) - now <= MAX_AHEAD
        }
    )
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
    """Queue the broadcast, and post the message that shows its progress. From a button,
    the press is answered and its buttons dropped once the broadcast is confirmed: a
    refused time leaves them to choose again."""
    count = await context.broadcasts.confirm(
        broadcast_id=broadcast_id,
        clinic_id=staff.clinic.id,
        report_chat_id=chat_id_of(update),
        at=at,
    )
    query = update.callback_query
    if query is not None:
        await query.answer()
        await drop_buttons(query)
    report = await context.broadcasts.report(broadcast_id=broadcast_id, clinic_id=staff.clinic.id)
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
            **progress_values(context.texts, report),
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


def _line(texts: Texts, key: str, **values: object) -> Markup:
    """A text on a line of its own, to append to another."""
    return Markup("\n" + texts.render(key, **values))


def progress_values(texts: Texts, report: BroadcastReport) -> dict[str, object]:
    """The numbers and the bar of a progress message."""
    done = report.sent + report.failed + report.skipped
    total = max(report.total, 1)
    filled = round(BAR_WIDTH * done / total) if report.total else BAR_WIDTH
    return {
        "waiting": _line(texts, "broadcast.waiting", held=report.held) if report.held else "",
        "expired": _line(texts, "broadcast.expired", expired=report.expired)
        if report.expired
        else "",
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
        return texts.render("broadcast.done", **progress_values(texts, report)), True
    if report.status is BroadcastStatus.CANCELLED:
        return texts.render(
            "broadcast.stopped", **progress_values(texts, report), cancelled=report.cancelled
        ), True
    return texts.render("broadcast.progress", **progress_values(texts, report)), False
