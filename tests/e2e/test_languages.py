"""English, اردو and Roman Urdu in chat (issue 13): the language is picked before consent,
every text, reminder, date and answer follows it, it changes mid-plan, and a red flag in Urdu
script or Roman Urdu is answered as urgent and escalated to the clinic, whose staff read
English and see which language the patient writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.standin import ChatHandle, SentMessage
from content.loader import load_plan
from content.texts import load_texts
from content.triage import triage
from scheduler.care.planning import catch_up_phase
from storage.models import Escalation
from tests.e2e.harness import WAIT, BotHarness, choose_language, press, say
from tests.e2e.test_clinics import join_in, make_clinic, patient_link

pytestmark = pytest.mark.fast_chat

TODAY = date(2026, 11, 20)  # the harness clock's local date at the start
URDU_LETTERS = re.compile(r"[\u0600-\u06ff]")
YESTERDAY_WORDS = {"ur": "کل", "ur-Latn": "kal", "en": "yesterday"}
LANGUAGES = ("ur", "ur-Latn")


def reminders(chat: ChatHandle) -> list[SentMessage]:
    """The reminder messages of a chat (they carry the reminder buttons)."""
    return [
        m
        for m in chat.messages
        if any((b.callback_data or "").startswith("rem:") for b in m.flat_buttons)
    ]


@dataclass
class Onboarding:
    """What the bot showed on the way in (button labels read before they were pressed)."""

    offered: list[str]  # the language buttons
    question: SentMessage  # the language question
    consent: SentMessage
    consent_buttons: list[str]
    asked: SentMessage  # the date question


async def registered_in(bot: BotHarness, chat: ChatHandle, language: str) -> Onboarding:
    """/start, the language, consent, and "yesterday" typed in that language."""
    chat.start()
    (question,) = await chat.wait_for(1, timeout=WAIT)
    offered = [b.text for b in question.flat_buttons]
    (consent,) = await choose_language(chat, language)
    consent_buttons = [b.text for b in consent.flat_buttons]
    (asked,) = await press(chat, 0)  # "Yes" in that language
    chat.send(YESTERDAY_WORDS[language])
    await chat.wait_for(1, timeout=WAIT)
    await bot.travel(timedelta(0))  # the catch-up goes out now
    return Onboarding(offered, question, consent, consent_buttons, asked)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_patient_is_cared_for_in_the_language_they_picked(
    bot: BotHarness, language: str
) -> None:
    texts = load_texts(language)
    plan = load_plan("microneedling", language)
    chat = bot.chat(2001)
    seen = await registered_in(bot, chat, language)
    # Every language is offered in its own words; the consent and the date question follow.
    assert seen.offered == ["✓ English", "اردو", "Roman Urdu"]
    assert texts.plain("start.consent") in seen.consent.text
    assert seen.consent_buttons == [
        texts.plain("buttons.consent_yes"),
        texts.plain("buttons.consent_no"),
    ]
    assert texts.plain("date.question").splitlines()[0] in seen.asked.text
    # "kal" / "کل" is yesterday; the confirmation says so in the language.
    patient = await bot.patient(2001)
    assert patient is not None and patient.language == language
    (treatment,) = await bot.sessions(2001)
    assert treatment.session_date == TODAY - timedelta(days=1)
    where = texts.plain("registered.where_day", day=1, phase=plan.phase_for_day(1).name)
    assert any(where in m.text for m in chat.messages), [m.text for m in chat.messages]
    # /plan, /help and /status in the language.
    (upcoming,) = await say(chat, "/plan")
    coming = [
        r.milestone_id
        for r in await bot.reminders(2001)
        if r.sent_at is None and catch_up_phase(r.milestone_id) is None
    ]
    assert plan.milestone(coming[0]).headline in upcoming.text
    (help_text,) = await say(chat, "/help")
    assert texts.plain("help", news="") == help_text.text
    (status,) = await say(chat, "/status")
    assert where.lower() in status.text.lower()  # within a sentence there
    assert not status.text[0].islower()
    # A question is answered in the language, as the triage words it for that language.
    asking = "kya main gym ja sakti hoon?" if language == "ur-Latn" else "کیا میں جم جا سکتی ہوں؟"
    (answer, *_) = await say(chat, asking)
    expected = triage(asking, 1, plan, lang=language)
    assert expected.answer.split("\n")[0][:40] in answer.text
    assert expected.answer != triage(asking, 1, load_plan(), lang="en").answer
    # Every reminder of the plan arrives in the language, headed by its milestone's title.
    await bot.travel(timedelta(days=370))
    arrived = reminders(chat)
    rows = [r for r in await bot.reminders(2001) if r.sent_at is not None]
    assert len(arrived) == len(rows) >= 10
    for message, row in zip(arrived, rows, strict=True):
        phase = catch_up_phase(row.milestone_id)
        title = plan.phase(phase).name if phase else plan.milestone(row.milestone_id).headline
        assert title in message.text, row.milestone_id
        if language == "ur":
            assert URDU_LETTERS.search(message.text)
    for message in chat.messages:  # no English sentence slipped through
        assert "Your session" not in message.text and "You're on day" not in message.text


async def test_switching_language_mid_plan_changes_the_next_reminder(bot: BotHarness) -> None:
    chat = bot.chat(2101)
    await registered_in(bot, chat, "en")
    await bot.travel(timedelta(days=1, hours=1))  # day 2: some reminders came in English
    english = load_plan()
    urdu = load_plan("microneedling", "ur")
    sent = [r for r in await bot.reminders(2101) if r.sent_at is not None]
    assert english.milestone(sent[-1].milestone_id).headline in reminders(chat)[-1].text
    (question,) = await say(chat, "/language")
    assert question.flat_buttons[0].text == "✓ English"  # the current one first
    (changed,) = await choose_language(chat, "ur")
    assert changed.text == load_texts("ur").plain("language.changed")
    assert (await bot.patient(2101)).language == "ur"  # type: ignore[union-attr]
    before = len(reminders(chat))
    await bot.travel(timedelta(days=3))
    after = reminders(chat)[before:]
    assert after, "a reminder came after the switch"
    rows = [r for r in await bot.reminders(2101) if r.sent_at is not None][before:]
    for message, row in zip(after, rows, strict=True):
        assert catch_up_phase(row.milestone_id) is None
        assert urdu.milestone(row.milestone_id).headline in message.text
        assert english.milestone(row.milestone_id).headline not in message.text
    # The patient's chat menu follows the language.
    menu = bot.standin.menu_descriptions(scope={"type": "chat", "chat_id": 2101})
    assert menu["language"] == load_texts("ur").plain("commands.language")
    # Back to Roman Urdu: the next /help is in it.
    await say(chat, "/language")
    await choose_language(chat, "ur-Latn")
    (help_text,) = await say(chat, "/help")
    assert help_text.text == load_texts("ur-Latn").plain("help", news="")


async def test_the_first_choice_is_preselected_from_telegram_the_script_or_the_clinic(
    bot: BotHarness,
) -> None:
    # Telegram in Urdu: Urdu first and ticked.
    urdu_app = bot.chat(2201, language_code="ur")
    urdu_app.start()
    (question,) = await urdu_app.wait_for(1, timeout=WAIT)
    assert [b.text for b in question.flat_buttons] == ["✓ اردو", "English", "Roman Urdu"]
    # A first message in Urdu script: answered in Urdu, and Urdu is offered first.
    writer = bot.chat(2202)
    (answer,) = await say(writer, "السلام علیکم، مجھے مدد چاہیے")
    assert answer.text == load_texts("ur").plain("no_patient")
    writer.start()
    (question,) = await writer.wait_for(1, timeout=WAIT)
    assert question.flat_buttons[0].text == "✓ اردو"
    # A clinic whose patients write Roman Urdu: its link offers Roman Urdu first.
    clinic = await make_clinic(bot, "Shifa Clinic", 9301, language="ur-Latn")
    code = await patient_link(clinic)
    joining = bot.chat(2203)
    joining.start(code)
    (question,) = await joining.wait_for(1, timeout=WAIT)
    assert question.flat_buttons[0].text == "✓ Roman Urdu"
    (consent,) = await choose_language(joining, "ur-Latn")
    assert "Shifa Clinic" in consent.text
    assert load_texts("ur-Latn").plain("start.consent") in consent.text


async def test_old_and_forged_language_buttons(bot: BotHarness) -> None:
    chat = bot.chat(2301)
    question = (await registered_in(bot, chat, "ur")).question
    # The first question's button, pressed after registering: it does what it says.
    chat.press_data("lang:ur-Latn", message=question)
    (changed,) = await chat.wait_for(1, timeout=WAIT)
    assert changed.text == load_texts("ur-Latn").plain("language.changed")
    # A language we do not have (a forged button): nothing changes.
    chat.press_data("lang:fr", message=question)
    await bot.standin.wait_until(lambda: len(chat.callback_answers) >= 2, timeout=WAIT)
    assert (
        "out of date" in chat.callback_answers[-1].text
        or URDU_LETTERS.search(chat.callback_answers[-1].text) is None
    )
    assert (await bot.patient(2301)).language == "ur-Latn"  # type: ignore[union-attr]
    # The same language again: told so, nothing else.
    await say(chat, "/language")
    (same,) = await choose_language(chat, "ur-Latn")
    assert same.text == load_texts("ur-Latn").plain("language.unchanged")


# One red flag per urgent topic of the policy, in Roman Urdu and in Urdu script.
RED_FLAGS = {
    "redness": (
        "laali bohat tezi se phail rahi hai aur laal lakeerein ban gayi hain",
        "سرخی بہت تیزی سے پھیل رہی ہے اور سرخ لکیریں بن گئی ہیں اور بخار ہے",
    ),
    "swelling": (
        "hont aur zuban soojh gaye hain aur saans lene mein mushkil ho rahi hai",
        "ہونٹ سوج گئے ہیں اور سانس لینے میں مشکل ہو رہی ہے",
    ),
    "warmth": ("chehra bohat garam hai aur bukhar bhi hai", "چہرہ بہت گرم ہے اور بخار بھی ہے"),
    "bleeding": (
        "khoon ruk nahi raha, dabane se bhi nahi ruka",
        "خون رک نہیں رہا، دبانے سے بھی نہیں رکا",
    ),
    "pain": ("aankh mein shadeed dard ho raha hai", "آنکھ میں شدید درد ہو رہا ہے"),
    "infection": (
        "peep nikal rahi hai aur bukhar aur kapkapi hai",
        "پیپ نکل رہی ہے اور بخار اور کپکپی ہے",
    ),
    "fever": ("mujhe bukhar ho gaya hai", "مجھے بخار ہو گیا ہے"),
    "allergy": (
        "pitti nikal aayi hai aur aankhein soojh gayi hain, saans mein takleef",
        "چھپاکی نکل آئی ہے اور آنکھیں سوج گئی ہیں، سانس میں تکلیف ہے",
    ),
    "eye": (
        "aankh mein kuch chala gaya hai aur dhundla dikh raha hai",
        "آنکھ میں کچھ چلا گیا ہے اور دھندلا دکھائی دے رہا ہے",
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("topic", sorted(RED_FLAGS))
async def test_an_urdu_red_flag_is_urgent_and_escalated(
    bot: BotHarness, topic: str, language: str
) -> None:
    clinic = await make_clinic(bot, "North Clinic", 9001)
    chat = await join_in(bot, 3001, await patient_link(clinic), language)
    words = RED_FLAGS[topic][0 if language == "ur-Latn" else 1]
    staff_before = len(clinic.admin.messages)
    chat.send(words)
    (answer, *_) = await chat.wait_for(1, timeout=WAIT)
    assert answer.text.lstrip("\u200f").startswith("🚨"), answer.text
    verdict = triage(words, 0, load_plan("microneedling", language), lang=language)
    assert verdict.answer.split("\n")[0][:30] in answer.text  # in the patient's language
    await bot.standin.wait_until(lambda: len(clinic.admin.messages) > staff_before, timeout=WAIT)
    alert = clinic.admin.messages[-1]
    language_name = load_texts(language).plain("language_name")
    assert "URGENT" in alert.text and f"({language_name})" in alert.text  # staff read English
    assert [b.text for b in alert.flat_buttons] == ["💬 Reply", "✅ Resolve"]
    async with bot.database.session() as session:
        (escalation,) = (await session.execute(select(Escalation))).scalars()
    assert escalation.level == "urgent" and escalation.clinic_id == clinic.view.id


async def test_staff_see_their_patients_languages(bot: BotHarness) -> None:
    clinic = await make_clinic(bot, "North Clinic", 9001)
    code = await patient_link(clinic)
    await join_in(bot, 3101, code, "ur")
    await join_in(bot, 3102, code, "ur")
    await join_in(bot, 3103, code, "en")
    (summary,) = await say(clinic.admin, "/patients")
    assert "Languages: اردو 2 · English 1" in summary.text, summary.text


async def test_language_before_start_and_for_staff(bot: BotHarness) -> None:
    # A stranger's /language: noted, and /start then asks for consent in it at once.
    chat = bot.chat(3201)
    await say(chat, "/language")
    (noted,) = await choose_language(chat, "ur-Latn")
    assert noted.text == load_texts("ur-Latn").plain("language.changed")
    assert await bot.patient(3201) is None  # nothing stored before consent
    chat.start()
    (consent,) = await chat.wait_for(1, timeout=WAIT)
    assert load_texts("ur-Latn").plain("start.consent") in consent.text
    await press(chat, 0, replies=1)
    assert (await bot.patient(3201)).language == "ur-Latn"  # type: ignore[union-attr]
    # A member of staff (not a patient) is told staff messages stay English.
    clinic = await make_clinic(bot, "North Clinic", 9001)
    (answer,) = await say(clinic.admin, "/language")
    assert "staff are in English" in answer.text and not answer.flat_buttons
