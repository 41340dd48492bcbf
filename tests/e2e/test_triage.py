"""Questions in chat: day-aware answers, clarifying buttons, escalations, helpfulness."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.standin import ChatHandle
from bot.standin.records import SentMessage
from storage.models import Escalation, Question
from tests.e2e.harness import BotHarness, press, register, say


async def questions(bot: BotHarness) -> list[Question]:
    async with bot.database.session() as session:
        return list((await session.execute(select(Question).order_by(Question.id))).scalars())


async def escalations(bot: BotHarness) -> list[Escalation]:
    async with bot.database.session() as session:
        result = await session.execute(select(Escalation).order_by(Escalation.id))
        return list(result.scalars())


async def ready(bot: BotHarness, chat_id: int, when: str) -> None:
    chat = bot.chat(chat_id)
    await register(chat, when)
    await bot.travel(timedelta(0))  # any catch-up message goes out before the questions


async def test_the_same_words_on_day_1_and_day_8_get_different_levels(bot: BotHarness) -> None:
    await ready(bot, 1, "yesterday")
    await ready(bot, 8, "8 days ago")
    (early,) = await say(bot.chat(1), "my face is still red")
    (late,) = await say(bot.chat(8), "my face is still red")
    assert early.text.startswith("✅")
    assert not late.text.startswith("✅")
    levels = {(q.day, q.topic): q.level for q in await questions(bot)}
    assert levels[(1, "redness")] == "normal"
    assert levels[(8, "redness")] in {"watch", "clinic"}


async def test_an_urgent_message_escalates_and_the_words_stay_unless_shared(
    bot: BotHarness,
) -> None:
    chat = await _clinic_patient(bot, 1)
    (answer,) = await say(chat, "I can't breathe properly and my lips are swelling up")
    assert answer.text.startswith("🚨")
    assert "medical care now" in answer.text
    (escalation,) = await escalations(bot)
    assert (escalation.level, escalation.day, escalation.message_text) == ("urgent", 1, None)
    (shared,) = await press(chat, "📤 Share my message with the clinic")
    assert "can now read your message" in shared.text
    (escalation,) = await escalations(bot)
    assert escalation.message_text == "I can't breathe properly and my lips are swelling up"
    (document,) = await say(chat, "/export")
    exported = json.loads(document.file_bytes or b"{}")
    assert [e["level"] for e in exported["escalations"]] == ["urgent"]
    assert exported["questions"][0]["topic"] == "allergy"


async def test_a_negated_red_flag_does_not_escalate(bot: BotHarness) -> None:
    await ready(bot, 1, "yesterday")
    (answer,) = await say(bot.chat(1), "no pus, no fever, not bleeding, just a bit red")
    assert answer.text.startswith("✅")
    assert await escalations(bot) == []


async def test_a_clarifying_question_with_buttons_decides_the_level(bot: BotHarness) -> None:
    await ready(bot, 4, "4 days ago")
    chat = bot.chat(4)
    (question,) = await say(chat, "it's swollen")
    labels = [b.text for row in question.buttons for b in row]
    assert labels == ["Yes", "No"]
    assert await questions(bot) == []  # nothing decided yet
    (answer,) = await press(chat, "No")
    assert answer.text.startswith("👀")
    chat_questions = await questions(bot)
    assert [(q.topic, q.level) for q in chat_questions] == [("swelling", "watch")]

    (question,) = await say(chat, "it's swollen")
    (answer,) = await press(chat, "Yes")
    assert answer.text[0] in "📞🚨"
    assert len(await questions(bot)) == 2
    assert await escalations(bot) == []  # no clinic to read it


async def test_was_this_helpful_is_recorded_and_counts_are_anonymous(bot: BotHarness) -> None:
    await ready(bot, 1, "yesterday")
    chat = bot.chat(1)
    await say(chat, "can I wear makeup tomorrow?")
    before = len(chat.callback_answers)
    chat.press("👍 Helpful")
    await bot.standin.wait_until(lambda: len(chat.callback_answers) > before, timeout=5)
    assert chat.callback_answers[-1].text == "Thanks for telling me!"
    (question,) = await questions(bot)
    assert question.helpful is True and question.topic == "makeup"
    counts = await bot.runtime.services.questions.counts()  # type: ignore[union-attr]
    assert counts == {("makeup", "advice", 1): 1}


async def test_an_off_topic_question_is_not_answered_as_if_it_were(bot: BotHarness) -> None:
    await ready(bot, 1, "yesterday")
    (answer,) = await say(bot.chat(1), "who will win the cricket match tonight")
    assert answer.text.startswith("ℹ️")
    assert "can help with" in answer.text


# ---------------------------------------------------------------- before the session (issue 12.4)


async def test_a_session_a_week_ahead_is_a_planned_session_not_day_minus_7(
    bot: BotHarness,
) -> None:
    chat = bot.chat(1)
    confirmation = await register(chat, "in 7 days")
    await bot.travel(timedelta(0))
    assert "Your session is in 7 days" in confirmation.text
    assert "Come with clean skin" in confirmation.text  # the plan's pre-treatment advice
    (welcome,) = await say(chat, "/start")
    assert "Your session is in 7 days" in welcome.text
    (status,) = await say(chat, "/status")
    assert "in 7 days, on Fri 27 Nov" in status.text and "Come with clean skin" in status.text
    assert status.text.count("in 7 days") == 1
    (swollen,) = await say(chat, "swollen and hot")
    assert swollen.text.startswith("📞") and "before your session" in swollen.text
    (makeup,) = await say(chat, "can I wear makeup?")
    assert makeup.text.startswith("💡") and "After your session" in makeup.text
    (fever,) = await say(chat, "yellow crust and fever")
    assert fever.text.startswith("🚨")
    for message in (confirmation, welcome, status, swollen, makeup, fever):
        assert "day -" not in message.text and "day(s)" not in message.text
        assert "is expected on day" not in message.text
    levels = [(q.day, q.level) for q in await questions(bot)]
    assert levels == [(-7, "clinic"), (-7, "advice"), (-7, "urgent")]


async def test_a_session_tomorrow_says_tomorrow(bot: BotHarness) -> None:
    chat = bot.chat(1)
    confirmation = await register(chat, "tomorrow")
    assert "Your session is tomorrow" in confirmation.text


# ---------------------------------------------------------------- no clinic (issue 12.5)


async def test_a_patient_without_a_clinic_is_never_told_a_clinic_was_told(
    bot: BotHarness,
) -> None:
    await ready(bot, 1, "yesterday")
    chat = bot.chat(1)
    (answer,) = await say(chat, "yellow crust and fever")
    assert answer.text.startswith("🚨")
    assert "let your clinic know you may need them" not in answer.text
    assert "nobody has been told" in answer.text and "medical care now" in answer.text
    labels = [b.text for row in answer.buttons for b in row]
    assert "📤 Share my message with the clinic" not in labels
    assert await escalations(bot) == []
    assert [(q.topic, q.level) for q in await questions(bot)] == [("infection", "urgent")]
    counts = await bot.runtime.services.questions.counts()  # type: ignore[union-attr]
    assert counts == {("infection", "urgent", 1): 1}
    # A forged share button finds nothing to share and says nothing was read.
    (forged,) = await _press_data(bot, chat, "tri:s:1", replies=1)
    assert "can now read your message" not in forged.text


async def test_a_clinic_level_answer_without_a_clinic_says_to_contact_one(
    bot: BotHarness,
) -> None:
    await ready(bot, 1, "yesterday")
    chat = bot.chat(1)
    answer, question = await say(chat, "there is yellow crust on my cheek", replies=2)
    assert answer.text.startswith("📞")
    assert "I haven't told anyone" in answer.text and "clinic or a doctor" in answer.text
    (more,) = await press(chat, "Yes")
    assert more.text.startswith("🚨") and "nobody has been told" in more.text
    assert await escalations(bot) == []
    assert [(q.topic, q.level) for q in await questions(bot)] == [("fever", "urgent")]


# ---------------------------------------------------------------- one escalation a question (12.8)


async def _press_data(
    bot: BotHarness,
    chat: ChatHandle,
    data: str,
    *,
    message: SentMessage | None = None,
    replies: int = 0,
) -> list[SentMessage]:
    """Press ``data`` (an old or forged button) and wait for its pop-up and ``replies``."""
    before = len(chat.callback_answers)
    chat.press_data(data, message)
    await bot.standin.wait_until(lambda: len(chat.callback_answers) > before, timeout=5)
    return await chat.wait_for(replies, timeout=5) if replies else []


async def _clinic_patient(bot: BotHarness, chat_id: int) -> ChatHandle:
    from tests.e2e.test_clinics import join, make_clinic, patient_link

    north = await make_clinic(bot, "North Clinic", 9001)
    chat = await join(bot, chat_id, await patient_link(north), "Yesterday")
    await bot.travel(timedelta(0))
    return chat


async def test_no_to_the_follow_up_keeps_the_first_answer_and_records_nothing_new(
    bot: BotHarness,
) -> None:
    chat = await _clinic_patient(bot, 1)
    answer, question = await say(chat, "there is yellow crust on my cheek", replies=2)
    assert answer.text.startswith("📞") and "let your clinic know" in answer.text
    no_data = question.buttons[0][1].callback_data
    assert no_data is not None
    (noted,) = await press(chat, "No")
    assert noted.text == "Thank you. What I said above stands: please do contact your clinic."
    assert len(await questions(bot)) == 1
    assert len(await escalations(bot)) == 1
    # The old No pressed again is out of date and changes nothing.
    await _press_data(bot, chat, no_data, message=question)
    assert "out of date" in chat.callback_answers[-1].text
    assert len(await questions(bot)) == 1 and len(await escalations(bot)) == 1


async def test_yes_to_the_follow_up_raises_the_same_question_and_escalation(
    bot: BotHarness,
) -> None:
    chat = await _clinic_patient(bot, 1)
    _, question = await say(chat, "there is yellow crust on my cheek", replies=2)
    yes_data = question.buttons[0][0].callback_data
    assert yes_data is not None
    (urgent,) = await press(chat, "Yes")
    assert urgent.text.startswith("🚨")
    (row,) = await questions(bot)
    (escalation,) = await escalations(bot)
    assert (row.topic, row.level) == ("fever", "urgent")
    assert (escalation.question_id, escalation.level) == (row.id, "urgent")
    counts = await bot.runtime.services.questions.counts()  # type: ignore[union-attr]
    assert {k: v for k, v in counts.items() if v} == {("fever", "urgent", 1): 1}
    await _press_data(bot, chat, yes_data, message=question)
    assert len(await questions(bot)) == 1 and len(await escalations(bot)) == 1
