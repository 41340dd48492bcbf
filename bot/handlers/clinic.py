"""Clinic staff in chat: /patients, /alerts (reply, resolve), /invite, /enrol, /staff, /cancel;
and the clinic's side of a patient's chat: replies to the clinic, switching clinic, invite codes.

Every handler and every button first finds the member of staff of the chat (afresh, so a
member removed a moment ago is refused), checks their role for what the button does, and
then acts for *their* clinic only: ids in buttons are looked up inside that clinic, so a
forged or stale button names nothing of another clinic's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import (
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.error import Forbidden, TelegramError

from bot.context import BotContext
from bot.dates import OutOfRange, Parsed, describe_date, parse_session_date
from bot.handlers.common import (
    action_and_id,
    chat_id_of,
    chat_state,
    drop_buttons,
    reply,
    send,
)
from bot.qr import invite_link, qr_png
from bot.sending import send_html
from bot.web.app import sign_in_url
from content.texts import Markup
from scheduler.care.views import PatientView
from scheduler.clinics.errors import InviteError, InviteProblem, StaffError
from scheduler.clinics.views import Alert, ClinicView, InviteView, StaffView
from scheduler.outbox.budget import Priority
from scheduler.outbox.messages import MessageKind, Post
from storage.models import InviteKind, StaffRole

log = logging.getLogger(__name__)

LEVEL_ICONS = {"urgent": "🚨", "clinic": "📞", "booking": "📅"}
MAX_ALERTS_SHOWN = 20
REPLY_STEP = "reply:"
ADMIN_ACTIONS = frozenset({"rm", "is", "ia"})  # remove staff, invite staff, invite an admin
SWITCH_KEY = "switch_offer"  # in memory only: the invite code is never in a button or the log
# Failed invite codes per user: a counter in memory (user_data), not the database. Codes are
# 192 random bits, so this is not what keeps them safe; it stops one user hammering /start
# (database reads, answers telling which codes exist but expired). A restart forgets it,
# which costs an attacker nothing they could use; several processes each keep their own.
FAILED_CODES_KEY = "failed_invite_codes"
MAX_FAILED_CODES = 5
FAILED_CODES_WINDOW = timedelta(minutes=15)

StaffHandler = Callable[[Update, BotContext, StaffView], Awaitable[None]]


async def staff_of(update: Update, context: BotContext) -> StaffView | None:
    """The member of staff of this chat, or None."""
    return await context.staff()


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
        languages=" · ".join(
            f"{context.texts_for(code).plain('language_name')} {count}"
            for code, count in sorted(summary.by_language.items(), key=lambda item: -item[1])
        )
        or "–",
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
    """One alert as staff read it (with the language the patient writes in)."""
    texts = context.staff_texts
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
        language=context.texts_for(alert.language).plain("language_name"),
        day=alert.day,
        topic=alert.topic.replace("_", " "),
        when=when.strftime("%a %d %b, %H:%M"),
        replies=texts.render("staff.alert_replies", count=alert.replies) if alert.replies else "",
        words=words,
    ) + ("\n" + texts.render("staff.alert_moved") if alert.moved else "")


def alert_buttons(context: BotContext, alert: Alert) -> InlineKeyboardMarkup:
    """Reply and Resolve under an alert (only Resolve once its patient moved clinic)."""
    texts = context.staff_texts
    reply_button = InlineKeyboardButton(
        texts.plain("buttons.reply"), callback_data=f"cl:rp:{alert.id}"
    )
    resolve = InlineKeyboardButton(
        texts.plain("buttons.resolve"), callback_data=f"cl:rs:{alert.id}"
    )
    return InlineKeyboardMarkup([[resolve] if alert.moved else [reply_button, resolve]])


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
            update, context, alert_html(context, staff, alert), alert_buttons(context, alert)
        )


@staff_only
async def answer_button(update: Update, context: BotContext, staff: StaffView) -> None:
    """Reply, Resolve, Revoke, Remove and Invite buttons, checked against the role of the
    member of staff who presses them and looked up inside their clinic only."""
    query = update.callback_query
    assert query is not None
    parsed = await action_and_id(query, context)
    if parsed is None:
        return
    action, target = parsed
    clinics = context.clinics
    if action in ADMIN_ACTIONS and not staff.is_admin:
        await query.answer(context.texts.plain("staff.admins_only_button"), show_alert=True)
        return
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
        if alert.moved:
            await query.answer(context.texts.plain("staff.reply_moved"), show_alert=True)
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
        # Admins withdraw any of the clinic's links; other staff only the ones they made.
        revoked = await clinics.revoke(
            clinic_id=staff.clinic.id,
            invite_id=target,
            created_by=None if staff.is_admin else staff.id,
        )
        await query.answer(context.texts.plain("staff.revoked" if revoked else "button_expired"))
        if revoked:
            await drop_buttons(query)
    elif action == "rm":
        await _remove_member(update, context, staff, target)
    elif action in {"is", "ia"} and target == staff.clinic.id:
        await query.answer()
        role = StaffRole.ADMIN if action == "ia" else StaffRole.STAFF
        await _send_staff_invite(update, context, staff, role)
    else:
        await query.answer(context.texts.plain("button_expired"))


async def _remove_member(
    update: Update, context: BotContext, staff: StaffView, staff_id: int
) -> None:
    """Remove a colleague (the caller checked the presser is an admin)."""
    query = update.callback_query
    assert query is not None
    try:
        removed = await context.clinics.remove_staff(
            clinic_id=staff.clinic.id, staff_id=staff_id, by_staff_id=staff.id
        )
    except StaffError as error:
        await query.answer(
            context.texts.plain(f"staff.remove_{error.problem.value}"), show_alert=True
        )
        return
    await query.answer(context.texts.plain("staff.removed_short"))
    await reply(update, context, "staff.removed", member=_member_name(context, removed))
    await _show_team(update, context, staff)
    try:  # best effort: the staff menu goes, and they learn why their commands stop
        await context.bot.delete_my_commands(scope=BotCommandScopeChat(removed.chat_id))
        await send_html(
            context.bot,
            removed.chat_id,
            context.texts.render("staff.you_were_removed", clinic=staff.clinic.name),
        )
    except TelegramError as exc:
        log.warning("could not tell a removed member of staff: %s", type(exc).__name__)


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
        sent = await send_html(
            context.bot,
            chat_id,
            context.texts_for(alert.language).render("relay", clinic=staff.clinic.name, text=text),
            priority=Priority.ALERT,
        )
    except Forbidden:
        await context.care.mark_blocked(chat_id=chat_id)
        await reply(update, context, "staff.reply_gone")
        return
    await context.clinics.record_relay(
        clinic_id=staff.clinic.id,
        escalation_id=escalation_id,
        message_id=sent.message_id,
        text=text,
        staff_id=staff.id,
    )
    await reply(update, context, "staff.reply_sent", patient=alert.patient_id)


# The patient's side: replies to the clinic


async def relay_to_clinic(
    update: Update, context: BotContext, view: PatientView, text: str
) -> bool:
    """Pass a patient's message to their clinic's staff, as part of the alert's thread, when
    it answers the clinic: a Telegram reply to a message from the clinic, or any message
    within CONVERSATION_WINDOW (24 hours) of the clinic's last one. True when it was passed
    on (the patient is told); False when it is not for the clinic. Never logs the text."""
    if view.clinic_id is None:
        return False
    message = update.effective_message
    replied_to = message.reply_to_message if message is not None else None
    found = await context.clinics.patient_reply(
        chat_id=view.chat_id,
        reply_to_message_id=replied_to.message_id if replied_to is not None else None,
        text=text,
        message_id=message.message_id if message is not None else None,
    )
    if found is None:
        return False
    texts = context.staff_texts
    alert = found.alert
    html = texts.render(
        "staff.patient_reply",
        patient=alert.patient_id,
        language=context.texts_for(alert.language).plain("language_name"),
        day=alert.day,
        topic=alert.topic.replace("_", " "),
        reopened=texts.render("staff.patient_reply_reopened") if found.reopened else "",
        text=text,
    )
    await tell_staff(
        context,
        found.clinic.id,
        html,
        alert_buttons(context, alert),
        kind=MessageKind.RELAY,
        patient_id=alert.patient_id,
    )
    await reply(update, context, "relay_passed", clinic=found.clinic.name)
    return True


# The patient's side: invite codes and switching clinic


async def peek_invite(update: Update, context: BotContext, code: str) -> InviteView | None:
    """What an invite code is for, or None after telling the person why it does not work.

    After MAX_FAILED_CODES failures within FAILED_CODES_WINDOW, a user gets the answer to an
    unknown code without any code being checked (each try counts, so hammering stays
    refused), quietly: the answer is the same as for a code that does not exist."""
    now = context.now()
    failures = _recent_failures(context, now)
    if len(failures) >= MAX_FAILED_CODES:
        failures.append(now)
        await reply(update, context, f"start.invite_{InviteProblem.UNKNOWN.value}")
        return None
    try:
        return await context.clinics.peek(code=code)
    except InviteError as error:
        failures.append(now)
        await reply(update, context, f"start.invite_{error.problem.value}")
        return None


def _recent_failures(context: BotContext, now: datetime) -> list[datetime]:
    data = context.user_data if context.user_data is not None else chat_state(context)
    kept = [t for t in data.get(FAILED_CODES_KEY, []) if now - t < FAILED_CODES_WINDOW]
    data[FAILED_CODES_KEY] = kept
    return kept


async def offer_switch(
    update: Update, context: BotContext, view: PatientView, invite: InviteView, code: str
) -> None:
    """A patient of one clinic opened another clinic's link: ask before moving them. The code
    stays in memory; the buttons carry the invite's id and the clinic the patient is with,
    so an old pair of buttons (another link since, or a clinic change meanwhile) is refused."""
    current = await context.clinics.clinic_of_patient(chat_id=view.chat_id)
    if current is None:  # left their clinic meanwhile: nothing to ask
        return
    chat_state(context)[SWITCH_KEY] = (invite.id, current.id, code)
    texts = context.texts
    drawn_for = f"{invite.id}:{current.id}"
    await reply(
        update,
        context,
        "switch.question",
        current=current.name,
        new=invite.clinic.name,
        markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts.plain("switch.button_go", clinic=invite.clinic.name),
                        callback_data=f"sw:go:{drawn_for}",
                    )
                ],
                [
                    InlineKeyboardButton(
                        texts.plain("switch.button_stay", clinic=current.name),
                        callback_data=f"sw:stay:{drawn_for}",
                    )
                ],
            ]
        ),
    )


async def take_switch_choice(update: Update, context: BotContext) -> str | None:
    """The patient's answer to "Switch to B?": the invite code to redeem when they chose to
    switch, else None (they stay, or the buttons are out of date: they are told)."""
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    offer = chat_state(context).get(SWITCH_KEY)
    view = await context.patient()
    valid = (
        len(parts) == 4
        and parts[1] in {"go", "stay"}
        and offer is not None
        and view is not None
        and view.clinic_id is not None
        and f"{offer[0]}:{offer[1]}" == f"{parts[2]}:{parts[3]}"
        and view.clinic_id == offer[1]
    )
    if not valid:
        await query.answer(context.texts.plain("switch.out_of_date"), show_alert=True)
        return None
    await query.answer()
    chat_state(context).pop(SWITCH_KEY, None)
    await drop_buttons(query)
    if parts[1] == "stay":
        current = await context.clinics.clinic_of_patient(chat_id=chat_id_of(update))
        await reply(update, context, "switch.stayed", clinic=current.name if current else "")
        return None
    assert offer is not None
    code: str = offer[2]
    return code


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
async def send_web_link(update: Update, context: BotContext, staff: StaffView) -> None:
    """/web: a one-time sign-in link to the clinic's web dashboard (never logged)."""
    link = await context.web_access.link_for(clinic_id=staff.clinic.id, staff_chat_id=staff.chat_id)
    url = sign_in_url(context.settings.dashboard_base(), link.token)
    await reply(update, context, "staff.web_link", clinic=staff.clinic.name, link=url)


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
            qr_png(  # patients read the poster: in the clinic's language
                link,
                caption=context.texts_for(staff.clinic.language).plain(
                    "staff.invite_caption", clinic=staff.clinic.name
                ),
            ),
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
    """``/enrol DATE [LABEL]``: a one-time link for one patient with their session date
    filled in, and the clinic's label for them (a name or file number) when one follows the
    date: ``/enrol 20/11 Sana K. 0412``."""
    words = list(context.args or [])
    today = context.local_now(staff.clinic.timezone).date()
    day_first = context.settings.date_order == "DMY"
    text, label = " ".join(words), ""
    answer = parse_session_date(text, today=today, day_first=day_first)
    # The longest run of leading words that reads as a date is the date; the rest, a label.
    cut = len(words) - 1
    while not isinstance(answer, Parsed | OutOfRange) and cut > 0:
        head = " ".join(words[:cut])
        found = parse_session_date(head, today=today, day_first=day_first)
        if isinstance(found, Parsed | OutOfRange):
            text, label, answer = head, " ".join(words[cut:]), found
        cut -= 1
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
        label=label,
    )
    await reply(
        update,
        context,
        "staff.enrol",
        date=describe_date(answer.value, today=today),
        label=context.texts.render("staff.enrol_label", label=label[:80]) if label else "",
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
async def manage_staff(update: Update, context: BotContext, staff: StaffView) -> None:
    """``/staff``: the team, with Remove and Invite buttons; ``/staff invite`` (or ``/staff
    admin``) a one-time invite for a colleague at once. Admins only."""
    if not staff.is_admin:
        await reply(update, context, "staff.only_admins")
        return
    word = (context.args or [""])[0].lower()
    if word in {"invite", "admin"}:
        role = StaffRole.ADMIN if word == "admin" else StaffRole.STAFF
        await _send_staff_invite(update, context, staff, role)
        return
    await _show_team(update, context, staff)


def _member_name(context: BotContext, member: StaffView) -> str:
    return member.name or context.texts.plain("staff.member_unnamed", id=member.id)


async def _show_team(update: Update, context: BotContext, staff: StaffView) -> None:
    """The clinic's staff, one a line, a Remove button for each colleague."""
    texts = context.texts
    team = await context.clinics.team(clinic_id=staff.clinic.id)
    lines = "\n".join(
        texts.render(
            "staff.team_line",
            name=_member_name(context, member),
            role=texts.plain(f"staff.role_{member.role.value}"),
            you=texts.render("staff.team_you") if member.id == staff.id else "",
        )
        for member in team
    )
    rows = [
        [
            InlineKeyboardButton(
                texts.plain("buttons.remove_staff", name=_member_name(context, member))[:64],
                callback_data=f"cl:rm:{member.id}",
            )
        ]
        for member in team
        if member.id != staff.id
    ]
    rows.append(
        [
            InlineKeyboardButton(
                texts.plain("buttons.invite_staff"), callback_data=f"cl:is:{staff.clinic.id}"
            ),
            InlineKeyboardButton(
                texts.plain("buttons.invite_admin"), callback_data=f"cl:ia:{staff.clinic.id}"
            ),
        ]
    )
    await reply(
        update,
        context,
        "staff.team",
        clinic=staff.clinic.name,
        lines=Markup(lines),
        markup=InlineKeyboardMarkup(rows),
    )


async def _send_staff_invite(
    update: Update, context: BotContext, staff: StaffView, role: StaffRole
) -> None:
    """A one-time invite for a colleague with ``role`` (the caller checked the admin)."""
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
        context,
        clinic.id,
        alert_html(context, staff, alert),
        alert_buttons(context, alert),
        patient_id=alert.patient_id,
    )


async def tell_staff(
    context: BotContext,
    clinic_id: int,
    html: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    kind: MessageKind = MessageKind.ALERT,
    patient_id: int | None = None,
) -> int:
    """Send ``html`` to every member of a clinic's staff through the outbox (at once; what
    cannot go now is retried by the sender, not lost); returns how many got it now."""
    return await context.outbox.post_and_send(
        Post(
            kind=kind,
            priority=Priority.ALERT,
            recipients=await context.clinics.staff_recipients(clinic_id=clinic_id),
            body=html,
            buttons=markup.to_json() if markup is not None else None,
            clinic_id=clinic_id,
            patient_id=patient_id,
        )
    )
