"""Commands: /help, /status, /plan, /newsession, /change, /pause, /resume, /stop, /delete..."""

from __future__ import annotations

import io
import json

from telegram import Update

from bot import keyboards
from bot.context import BotContext
from bot.dates import date_label, days_away, describe_date
from bot.handlers.common import (
    before_session_advice,
    chat_id_of,
    chat_state,
    format_local,
    local_today,
    prompt_of_button,
    reminder_title,
    reply,
    send,
    upcoming_lines,
)
from bot.handlers.onboarding import ask_date
from bot.zones import describe_zone
from content.plan import day_of_healing
from content.texts import Markup
from scheduler.care.prompts import PromptKind
from scheduler.care.views import PatientView
from storage.models import PatientStatus

PLAN_LIMIT = 10
DELETE_KINDS = frozenset({PromptKind.DELETE})


async def show_help(update: Update, context: BotContext) -> None:
    """What the bot can do (and, for a clinic's staff, what they can do too); a clinic's
    patient also hears of /news."""
    clinic = await context.clinics.clinic_of_patient(chat_id=chat_id_of(update))
    news = "\n" + context.texts.render("help_news", clinic=clinic.name) if clinic else ""
    await reply(update, context, "help", news=Markup(news))
    staff = await context.staff()
    if staff is not None:
        admin = context.texts.render("staff.admin_extra") if staff.is_admin else ""
        await reply(update, context, "staff.help", clinic=staff.clinic.name, admin=admin)


async def _with_session(update: Update, context: BotContext) -> PatientView | None:
    view = await context.patient()
    if view is None or not view.consented:
        await reply(update, context, "no_patient")
        return None
    if view.session_date is None:
        await reply(update, context, "no_session")
        return None
    return view


async def show_status(update: Update, context: BotContext) -> None:
    """Day N, the phase, what to expect now, and the next reminder."""
    view = await _with_session(update, context)
    if view is None or view.session_date is None:
        return
    plan = context.plan(view.plan_id)
    today = local_today(context, view.timezone)
    day = day_of_healing(view.session_date, today)
    phase = plan.phase_for_day(day)
    texts = context.texts
    date_words = describe_date(view.session_date, today=today, language=context.language)
    if day < 0:
        date_words = date_label(view.session_date, today=today, language=context.language)
        parts = [
            texts.render(
                "status.before",
                date=date_words,
                when=days_away(texts, -day),
                summary=phase.summary,
                advice=before_session_advice(plan, day),
            )
        ]
    else:
        summary = texts.render(
            "status.summary", day=day, date=date_words, phase=phase.name, summary=phase.summary
        )
        parts = [Markup(summary[:1].upper() + summary[1:])]  # "Kal, Jumeraat 19 Nov ke..."
    upcoming = await context.care.upcoming(chat_id=view.chat_id, limit=1)
    if view.status is PatientStatus.PAUSED:
        parts.append(texts.render("status.paused"))
    elif view.status is PatientStatus.STOPPED:
        parts.append(texts.render("status.stopped"))
    elif upcoming:
        parts.append(
            texts.render(
                "status.next",
                when=format_local(
                    upcoming[0].due_at, view.timezone, now=context.now(), language=context.language
                ),
                title=reminder_title(plan, upcoming[0].milestone_id),
            )
        )
    await send(update, context, "\n\n".join(parts))


async def show_plan(update: Update, context: BotContext) -> None:
    """The upcoming reminders with their local times."""
    view = await _with_session(update, context)
    if view is None:
        return
    if view.status is PatientStatus.STOPPED:
        await reply(update, context, "plan.stopped")
        return
    plan = context.plan(view.plan_id)
    rows = await context.care.upcoming(chat_id=view.chat_id, limit=PLAN_LIMIT)
    title = context.texts.render(
        "plan.title", zone=describe_zone(view.timezone, context.now(), language=context.language)
    )
    html = title + "\n" + upcoming_lines(context, plan, rows, view.timezone)
    if view.status is PatientStatus.PAUSED:
        html += "\n\n" + context.texts.render("status.paused")
    await send(update, context, html)


async def new_session(update: Update, context: BotContext) -> None:
    """The next session of the series: ask its date."""
    view = await _with_session(update, context)
    if view is None:
        return
    await ask_date(update, context, PromptKind.NEXT, number=(view.session_number or 0) + 1)


async def change_date(update: Update, context: BotContext) -> None:
    """Fix the date of the current session."""
    view = await _with_session(update, context)
    if view is None:
        return
    await ask_date(update, context, PromptKind.CHANGE)


async def pause(update: Update, context: BotContext) -> None:
    """Hold reminders."""
    view = await _with_session(update, context)
    if view is None:
        return
    if view.status is PatientStatus.PAUSED:
        await reply(update, context, "pause.already")
        return
    await context.care.pause(chat_id=view.chat_id)
    await reply(update, context, "pause.done")


async def resume(update: Update, context: BotContext) -> None:
    """Start reminders again (every fresh one is planned again); say how many went out of
    date meanwhile."""
    view = await _with_session(update, context)
    if view is None:
        return
    if view.status is PatientStatus.ACTIVE:
        await reply(update, context, "resume.already")
        return
    result = await context.care.resume(chat_id=view.chat_id)
    if result.stale:
        await reply(update, context, "resume.expired", count=result.stale)
    else:
        await reply(update, context, "resume.done")


async def answer_resume_button(update: Update, context: BotContext) -> None:
    """The offer to resume after coming back from /stop or a block."""
    query = update.callback_query
    assert query is not None
    view = await context.patient()
    if view is None or view.status is not PatientStatus.STOPPED:  # answered already
        await query.answer(context.texts.plain("button_expired"), show_alert=True)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    if query.data == "resume:yes":
        await resume(update, context)


async def stop(update: Update, context: BotContext) -> None:
    """No more messages; the data stays until /delete."""
    view = await context.patient()
    if view is None:
        await reply(update, context, "delete.nothing")
        return
    await context.care.stop(chat_id=view.chat_id)
    await reply(update, context, "stop.done")


async def delete(update: Update, context: BotContext) -> None:
    """Ask before erasing everything."""
    view = await context.patient()
    if view is None:
        await reply(update, context, "delete.nothing")
        return
    prompt = await context.care.open_prompt(chat_id=view.chat_id, kind=PromptKind.DELETE)
    assert prompt is not None
    markup = keyboards.stamp(keyboards.confirm_delete(context.texts), prompt.token)
    await reply(update, context, "delete.confirm", markup=markup)


async def answer_delete_button(update: Update, context: BotContext) -> None:
    """Erase on yes, keep on no."""
    query = update.callback_query
    assert query is not None
    found = await prompt_of_button(query, context, DELETE_KINDS)
    if found is None:  # an old question (or forged): erase nothing
        return
    view, prompt, data = found
    await query.answer()
    await query.edit_message_reply_markup(None)
    await context.care.close_prompt(chat_id=view.chat_id, token=prompt.token)
    if data != "delete:yes":
        await reply(update, context, "delete.kept")
        return
    erased = await context.care.erase(chat_id=chat_id_of(update))
    chat_state(context).clear()
    await reply(update, context, "delete.done" if erased else "delete.nothing")


async def export(update: Update, context: BotContext) -> None:
    """Everything stored about the patient, as a JSON file."""
    document = await context.care.export(chat_id=chat_id_of(update))
    if document is None:
        await reply(update, context, "delete.nothing")
        return
    data = json.dumps(document, indent=2, ensure_ascii=False).encode()
    await context.bot.send_document(
        chat_id_of(update),
        io.BytesIO(data),
        filename="aftercare-data.json",
        caption=context.texts.plain("export.caption"),
    )


async def toggle_news(update: Update, context: BotContext) -> None:
    """``/news``: switch clinic news off or on (``/news off``, ``/news on``); reminders stay."""
    view = await context.patient()
    if view is None or not view.consented:
        await reply(update, context, "no_patient")
        return
    clinic = await context.clinics.clinic_of_patient(chat_id=view.chat_id)
    if clinic is None:
        await reply(update, context, "news.no_clinic")
        return
    wanted = (context.args or [""])[0].lower()
    opt_out = {"off": True, "on": False}.get(wanted, not view.news_opt_out)
    await context.clinics.set_news(chat_id=view.chat_id, opt_out=opt_out)
    await reply(update, context, "news.off" if opt_out else "news.on", clinic=clinic.name)
