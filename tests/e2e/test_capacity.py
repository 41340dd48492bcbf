"""A delivery window that will overflow is told, once, to the admins of the clinics whose
patients are in it, through the real bot and the stand-in."""

from __future__ import annotations

import asyncio

from bot.capacity_watch import CapacityWatch
from content.loader import load_plan
from content.texts import load_texts
from scheduler.outbox.windows import CapacityService
from tests.e2e.harness import BotHarness
from tests.e2e.test_clinics import colleague, join, make_clinic, patient_link


async def test_admins_hear_of_an_overfull_window_once_and_nobody_else(bot: BotHarness) -> None:
    """With a budget too small for even one reminder in a window, the windows of the coming
    day overflow: the admin of the patient's clinic hears of each once, in the clinic's time;
    a member of staff who is not an admin and another clinic's admin hear nothing."""
    assert bot.runtime is not None
    services = bot.runtime.services
    clinic = await make_clinic(bot, "Glow", admin_chat=9001)
    other = await make_clinic(bot, "Elsewhere", admin_chat=9002)
    member = await colleague(bot, clinic, 9003)
    await join(bot, 1001, await patient_link(clinic))
    before = {chat.chat_id: len(chat.messages) for chat in (clinic.admin, other.admin, member)}

    watch = CapacityWatch(
        capacity=CapacityService(
            database=services.database, clock=bot.clock, plans=load_plan, rate=0.0001
        ),
        clinics=services.clinics,
        outbox=services.outbox,
        texts=load_texts(),
    )
    sent = await watch.check()
    assert sent >= 1
    warnings = await clinic.admin.wait_for(sent, timeout=10)
    for warning in warnings:
        assert "A crowded reminder window ahead" in warning.text
        assert "1 for your patients" in warning.text
        assert "Nothing is lost" in warning.text
    assert any("19:00-20:30" in w.text for w in warnings), "told in Karachi time"

    assert await watch.check() == 0, "each window is told once"
    await asyncio.sleep(0.3)
    assert len(other.admin.messages) == before[other.admin.chat_id]
    assert len(member.messages) == before[member.chat_id]
    assert clinic.admin.messages[before[clinic.admin.chat_id] :] == warnings
