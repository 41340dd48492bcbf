"""Questions in chat: day-aware answers, clarifying buttons, escalations, helpfulness."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

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
    await ready(bot, 1, "yesterday")
    chat = bot.chat(1)
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
    assert len(await escalations(bot)) == 1


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
