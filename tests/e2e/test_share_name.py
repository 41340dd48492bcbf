"""Joining a clinic asks whether it may see the patient's first name; only a yes keeps it,
the dashboard shows it, and a switch to another clinic forgets it (an old answer then changes
nothing)."""

from __future__ import annotations

from bot.standin import ChatHandle, SentMessage
from tests.e2e.harness import BotHarness, begin, press
from tests.e2e.test_clinics import join, make_clinic, patient_link
from tests.e2e.web import dashboard


async def answer(bot: BotHarness, chat: ChatHandle, button: str, message: SentMessage) -> str:
    """Press ``button`` on ``message``; the pop-up the bot answers with."""
    query = chat.press(button, message)
    await bot.standin.wait_until(
        lambda: any(a.query_id == query for a in chat.callback_answers), what=button
    )
    return next(a.text for a in chat.callback_answers if a.query_id == query)


async def shared_name(bot: BotHarness, chat_id: int) -> str | None:
    patient = await bot.patient(chat_id)
    assert patient is not None
    return patient.shared_name


async def test_the_name_is_shared_only_with_a_yes_and_forgotten_on_a_switch(
    bot: BotHarness,
) -> None:
    assert bot.runtime is not None
    north = await make_clinic(bot, "North Clinic", 9001)
    south = await make_clinic(bot, "South Clinic", 9101)
    chat = bot.chat(801, first_name="Zainab")
    await begin(chat, await patient_link(north))
    joined, _ = await press(chat, "Yes, that's fine", replies=2)
    assert "connected with North Clinic" in joined.text
    assert "May North Clinic see your first name, Zainab" in joined.text
    assert await shared_name(bot, 801) is None, "nothing is kept before the answer"
    await press(chat, "Today")

    said = await answer(bot, chat, "Yes, share my name", joined)
    assert said == "North Clinic will see your first name."
    assert await shared_name(bot, 801) == "Zainab"
    async with dashboard(bot, north.admin) as browser:
        assert "Zainab" in (await browser.get("/dashboard/patients")).text

    # Switching to South forgets the name; North's old question then changes nothing.
    chat.start(await patient_link(south))
    await chat.wait_for(1)
    switched, _ = await press(chat, "Switch to South Clinic", replies=2)
    assert "May South Clinic see your first name" in switched.text
    assert await shared_name(bot, 801) is None
    # (North's question lost its buttons when answered; a forged press of it is refused.)
    query = chat.press_data(f"name:yes:{north.view.id}", joined)
    await bot.standin.wait_until(
        lambda: any(a.query_id == query for a in chat.callback_answers), what="old answer"
    )
    assert await shared_name(bot, 801) is None
    said = await answer(bot, chat, "No, keep it private", switched)
    assert said.startswith("South Clinic won't see your name: you stay patient #")
    assert await shared_name(bot, 801) is None


async def test_a_patient_without_a_clinic_is_not_asked(bot: BotHarness) -> None:
    chat = bot.chat(802)
    await begin(chat)
    (question,) = await press(chat, "Yes, that's fine")
    assert "first name" not in question.text and "When was yo" in question.text


async def test_the_join_helper_still_works(bot: BotHarness) -> None:
    clinic = await make_clinic(bot, "Glow", 9001)
    chat = await join(bot, 803, await patient_link(clinic))
    assert any("May Glow see your first name" in (m.text or "") for m in chat.messages)
