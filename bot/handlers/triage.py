"""Free text and "I have a question": the day-aware triage answers, with its level shown.

The engine (content/triage) is pure; here we pick the patient's day, show the answer with
an icon, ask its one clarifying question with buttons when it is unsure, record the outcome
(topic, level, day; never the words) and open an escalation for clinic and urgent levels.
The patient's words reach the clinic only if they press "Share my message".

One question is one question row and at most one escalation, whatever the follow-ups: the
Yes/No buttons carry a one-time token of the question they were drawn for, and a press either
answers a question not yet recorded or updates the row it belongs to. A patient without a
clinic gets no escalation (nobody would read it) and is told to contact a clinic or doctor.
"""

from __future__ import annotations

import secrets
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.handlers.clinic import push_alert
from bot.handlers.common import chat_id_of, chat_state, local_today, reply, send
from content.plan import day_of_healing
from content.triage import (
    ClarificationError,
    Level,
    Verdict,
    resolve_clarification,
    screen,
    triage,
)
from content.triage.verdict import severity
from scheduler.care.questions import Recorded
from scheduler.care.views import PatientView

ICONS = {
    Level.NORMAL: "✅",
    Level.WATCH: "👀",
    Level.CLINIC: "📞",
    Level.URGENT: "🚨",
    Level.ADVICE: "💡",
    Level.UNKNOWN: "ℹ️",
}
SHARE_KEY = "shareable"
PENDING_KEY = "clarifying"
MAX_KEPT = 5


def _day(context: BotContext, view: PatientView) -> int | None:
    if view.session_date is None:
        return None
    return day_of_healing(view.session_date, local_today(context, view.timezone))


async def screen_red_flags(
    update: Update, context: BotContext, view: PatientView | None, text: str
) -> bool:
    """Answer ``text`` now if the triage reads it as urgent or a matter for the clinic, whatever
    the bot was waiting for; whether it did. Someone with no session yet is read as on day 0
    (urgent signs only: red flags are red flags on any day); someone the bot has not met gets
    the answer only."""
    day = _day(context, view) if view is not None else None
    verdict = screen(
        text,
        day,
        context.plan(view.plan_id if view is not None else None),
        lang=context.language,
    )
    if verdict is None:
        return False
    if view is None or view.session_date is None:
        await reply(
            update, context, "triage.answer", icon=ICONS[verdict.level], answer=verdict.answer
        )
        return True
    await answer_question(update, context, view, text)
    return True


async def answer_question(
    update: Update,
    context: BotContext,
    view: PatientView,
    text: str,
    *,
    only_if_understood: bool = False,
) -> bool:
    """Triage what the patient wrote on their day of healing; whether it answered (with
    ``only_if_understood``, words the triage cannot place get no answer, for the caller to
    read otherwise)."""
    day = _day(context, view)
    if day is None:
        if only_if_understood:
            return False
        await reply(update, context, "no_session")
        return True
    plan = context.plan(view.plan_id)
    clinic = (  # a query only for a clinic's patients
        await context.clinics.clinic_of_patient(chat_id=view.chat_id)
        if view.clinic_id is not None
        else None
    )
    verdict = triage(
        text, day, plan, contact=clinic.contact() if clinic else None, lang=context.language
    )
    if only_if_understood and verdict.level is Level.UNKNOWN:
        return False
    clarify = verdict.clarify
    if clarify is None:
        await deliver(update, context, verdict, text)
        return True
    token = secrets.token_hex(4)  # what the Yes/No buttons were drawn for, used once
    pending: dict[str, Any] = {"id": clarify.id, "level": verdict.level.value}
    if verdict.escalate:
        # Already a matter for the clinic: answer and escalate now, then ask whether it is
        # more serious still; a patient who never answers is not left without help.
        recorded = await deliver(update, context, verdict, text)
        pending["question"] = recorded.question_id if recorded is not None else None
    else:
        _keep_words(context, f"c{token}", text)
    _keep(context, PENDING_KEY, token, pending)
    yes, no = context.texts.plain("buttons.yes"), context.texts.plain("buttons.no")
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(yes, callback_data=f"tri:c:1:{token}"),
                InlineKeyboardButton(no, callback_data=f"tri:c:0:{token}"),
            ]
        ]
    )
    await reply(update, context, "triage.clarify", markup=markup, question=clarify.question)
    return True


async def deliver(
    update: Update, context: BotContext, verdict: Verdict, text: str | None
) -> Recorded | None:
    """Send the answer, record it, and open an escalation when the level calls for it."""
    recorded = await context.questions.record(
        chat_id=chat_id_of(update),
        day=verdict.day,
        topic=verdict.topic,
        level=verdict.level.value,
        escalate=verdict.escalate,
    )
    await _present(update, context, verdict, recorded, text)
    return recorded


async def _present(
    update: Update,
    context: BotContext,
    verdict: Verdict,
    recorded: Recorded | None,
    text: str | None,
) -> None:
    """The answer with its buttons; an urgent escalation goes to the clinic's staff at once."""
    chat_id = chat_id_of(update)
    texts = context.texts
    rows = []
    if recorded is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    texts.plain("buttons.helpful_yes"),
                    callback_data=f"tri:h:1:{recorded.question_id}",
                ),
                InlineKeyboardButton(
                    texts.plain("buttons.helpful_no"),
                    callback_data=f"tri:h:0:{recorded.question_id}",
                ),
            ]
        )
        if recorded.escalation_id is not None and text:
            _keep_words(context, f"e{recorded.escalation_id}", text)
            rows.append(
                [
                    InlineKeyboardButton(
                        texts.plain("buttons.share"),
                        callback_data=f"tri:s:{recorded.escalation_id}",
                    )
                ]
            )
    if not verdict.escalate:
        key = "triage.answer"
    elif recorded is not None and recorded.escalation_id is not None:
        key = "triage.escalated"
    else:  # no clinic to tell: never say one was told
        key = "triage.urgent_alone" if verdict.level is Level.URGENT else "triage.clinic_alone"
    await send(
        update,
        context,
        texts.render(key, icon=ICONS[verdict.level], answer=verdict.answer),
        InlineKeyboardMarkup(rows) if rows else None,
    )
    escalated = recorded.escalation_id if recorded is not None else None
    if escalated is not None and verdict.level is Level.URGENT:  # the patient has their answer
        await _push_urgent(context, chat_id, escalated)


async def _push_urgent(context: BotContext, chat_id: int, escalation_id: int) -> None:
    """An urgent escalation goes to every member of the patient's clinic's staff at once."""
    clinic = await context.clinics.clinic_of_patient(chat_id=chat_id)
    if clinic is None:
        return
    alert = await context.clinics.alert(clinic_id=clinic.id, escalation_id=escalation_id)
    if alert is not None:
        await push_alert(context, clinic, alert)


def _keep_words(context: BotContext, key: str, text: str) -> None:
    """Hold the patient's words in memory only, for a share they may ask for."""
    _keep(context, SHARE_KEY, key, text)


def _keep(context: BotContext, store: str, key: str, value: object) -> None:
    """Keep ``value`` in the chat's memory under ``store``, the latest few only."""
    kept: dict[str, object] = chat_state(context).setdefault(store, {})
    kept[key] = value
    while len(kept) > MAX_KEPT:
        kept.pop(next(iter(kept)))


async def answer_triage_button(update: Update, context: BotContext) -> None:
    """Clarifying Yes/No, "Was this helpful?", and "Share my message with the clinic"."""
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":", 3)
    chat_id = chat_id_of(update)
    texts = context.texts
    kind = parts[1] if len(parts) > 1 else ""
    if kind == "h" and len(parts) == 4 and parts[3].isdigit():
        done = await context.questions.helpful(
            chat_id=chat_id, question_id=int(parts[3]), helpful=parts[2] == "1"
        )
        await query.answer(texts.plain("triage.thanks" if done else "button_expired"))
        if done and query.message is not None:
            await _drop_row(update, context, "tri:h:")
        return
    if kind == "s" and len(parts) == 3 and parts[2].isdigit():
        words = chat_state(context).get(SHARE_KEY, {}).pop(f"e{parts[2]}", None)
        shared = words is not None and await context.questions.share(
            chat_id=chat_id, escalation_id=int(parts[2]), text=words
        )
        await query.answer()
        await _drop_row(update, context, "tri:s:")
        await reply(update, context, "triage.shared" if shared else "triage.share_expired")
        return
    if kind == "c" and len(parts) == 4:
        await _clarified(update, context, parts[3], parts[2] == "1")
        return
    await query.answer(texts.plain("button_expired"))


async def _clarified(update: Update, context: BotContext, token: str, yes: bool) -> None:
    """A Yes/No to the clarifying question: answered once; an old or second press is refused."""
    query = update.callback_query
    assert query is not None
    pending = chat_state(context).get(PENDING_KEY, {}).pop(token, None)
    words = chat_state(context).get(SHARE_KEY, {}).pop(f"c{token}", None)
    if pending is None:
        await query.answer(context.texts.plain("button_expired"))
        await _drop_row(update, context, "tri:c:")
        return
    await query.answer()
    await _drop_row(update, context, "tri:c:")
    chat_id = chat_id_of(update)
    view = await context.care.view(chat_id=chat_id)
    day = _day(context, view) if view is not None else None
    if view is None or day is None:
        await reply(update, context, "no_session")
        return
    try:
        verdict = resolve_clarification(
            pending["id"], yes, day, context.plan(view.plan_id), lang=context.language
        )
    except ClarificationError:
        await reply(update, context, "button_expired")
        return
    if "question" not in pending:  # nothing was answered or recorded yet: answer it now
        await deliver(update, context, verdict, words)
        return
    if severity(verdict.level) <= severity(Level(pending["level"])):
        await reply(update, context, "triage.noted")  # the first answer stands; not again
        return
    recorded = None
    if pending["question"] is not None:
        recorded = await context.questions.clarify(
            chat_id=chat_id,
            question_id=pending["question"],
            topic=verdict.topic,
            level=verdict.level.value,
            escalate=verdict.escalate,
        )
    shared = None
    if recorded is not None and recorded.escalation_id is not None:
        shared = chat_state(context).get(SHARE_KEY, {}).get(f"e{recorded.escalation_id}")
    await _present(update, context, verdict, recorded, shared)


async def _drop_row(update: Update, context: BotContext, prefix: str) -> None:
    """Take the row of buttons starting with ``prefix`` off the message they were on."""
    query = update.callback_query
    assert query is not None
    message = query.message
    markup = getattr(message, "reply_markup", None)
    if markup is None:
        return
    rows = [
        row
        for row in markup.inline_keyboard
        if not any((b.callback_data or "").startswith(prefix) for b in row)
    ]
    await query.edit_message_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
