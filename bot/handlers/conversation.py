"""Free text and pending prompts, routed in one place.

Every message a patient types passes the triage's red-flag screen before any prompt reads
it: an urgent or clinic reading is answered as such whatever the bot was waiting for, and the
prompt is offered again. A prompt ends when it is answered, on ``/cancel``, on any other
command, or after ``PROMPT_TTL``; an answer that comes too late is told so and changes
nothing. Buttons drawn for a prompt carry its token, so a button of an earlier prompt is
answered "out of date".
"""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.handlers import clinic
from bot.handlers.common import AGAIN_COMMAND, chat_id_of, chat_state, reply
from bot.handlers.onboarding import (
    ask_again,
    consent_pending,
    take_typed_date,
    take_typed_quiet,
    take_typed_timezone,
    unreadable_answer,
)
from bot.handlers.other import QUESTION_KEY, flood_ok, staff_input
from bot.handlers.triage import answer_question, screen_red_flags
from scheduler.care.prompts import Prompt, PromptKind
from scheduler.care.views import PatientView


async def take_text(update: Update, context: BotContext) -> None:
    """Free text in a private chat: a red flag first, then what the bot asked for, else a
    question for the triage."""
    message = update.effective_message
    assert message is not None and message.text is not None
    text = message.text.strip()
    chat_id = chat_id_of(update)
    if await staff_input(update, context, message.text, None):
        return
    view = await context.patient()
    if view is None or not view.consented:
        await _take_stranger_text(update, context, text)
        return
    await context.care.seen(chat_id=chat_id)
    # Only a prompt that typed words can answer reads them ("delete everything?" takes buttons).
    prompt = view.prompt if view.prompt is not None and view.prompt.typed else None
    if await screen_red_flags(update, context, view, text):
        if prompt is not None and not prompt.expired(context.now()):
            await ask_again(update, context, view)
        return
    if prompt is not None and prompt.expired(context.now()):
        await context.care.close_prompt(chat_id=chat_id, token=prompt.token)
        if await _answers(update, context, view, prompt, text, dry_run=True):
            await reply(update, context, "prompt.expired", command=AGAIN_COMMAND[prompt.kind])
            return
        prompt = None
    if prompt is not None or view.session_date is None:
        if await _answers(update, context, view, prompt, text, dry_run=False):
            return
        if prompt is None:  # no session yet, and this is not a date: a question, or "hello"
            await _answer(update, context, view, text)
            return
        # Not an answer to the prompt: a question gets its answer and the prompt again;
        # anything else is told what the prompt expects.
        if await answer_question(update, context, view, text, only_if_understood=True):
            await ask_again(update, context, view)
        else:
            await unreadable_answer(update, context, view, prompt)
        return
    await _answer(update, context, view, text)


async def _answers(
    update: Update,
    context: BotContext,
    view: PatientView,
    prompt: Prompt | None,
    text: str,
    *,
    dry_run: bool,
) -> bool:
    """Whether ``text`` answers ``prompt`` (a session date when there is none yet); unless a
    dry run, apply it and reply."""
    kind = prompt.kind if prompt is not None else PromptKind.DATE
    if kind is PromptKind.TIMEZONE:
        return await take_typed_timezone(update, context, view, text, dry_run=dry_run)
    if kind is PromptKind.QUIET:
        return await take_typed_quiet(update, context, view, text, dry_run=dry_run)
    return await take_typed_date(update, context, view, text, dry_run=dry_run)


async def _answer(update: Update, context: BotContext, view: PatientView, text: str) -> None:
    """Words for the clinic's open conversation, else a question for the triage (after "I have
    a question", always the triage)."""
    asked = chat_state(context).pop(QUESTION_KEY, False)
    if not await flood_ok(update, context):
        return
    if not asked and await clinic.relay_to_clinic(update, context, view, text):
        return
    await answer_question(update, context, view, text)


async def _take_stranger_text(update: Update, context: BotContext, text: str) -> None:
    """Someone the bot has not met (or who has not consented yet): a red flag still gets the
    urgent answer (as a patient's does, flood or not); then how to begin."""
    await screen_red_flags(update, context, None, text)
    if not await flood_ok(update, context):
        return
    if consent_pending(context):
        await reply(update, context, "start.consent_pending")
    elif await context.staff() is not None:
        await reply(update, context, "staff.outside_step")
    else:
        await reply(update, context, "no_patient")


async def cancel(update: Update, context: BotContext) -> None:
    """``/cancel``: stop waiting, for patients and staff alike (the command itself ended the
    patient's prompt, see ``bot.handlers.visit``)."""
    visit = await context.visit()
    closed = visit.prompt_closed
    staff = visit.staff
    if staff is not None and staff.step:
        await clinic.cancel(update, context)
        return
    await reply(update, context, "prompt.cancelled" if closed else "prompt.nothing_to_cancel")
