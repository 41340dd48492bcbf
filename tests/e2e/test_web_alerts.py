"""The alerts inbox of the running bot, over the stand-in: staff answer an alert from the
dashboard, the patient's chat receives it as a message from the clinic, the patient's answer
reaches the staff in chat and joins the thread on the patient page; a patient who blocked the
bot is explained on the page, and nothing crashes."""

from __future__ import annotations

import html

import httpx
import pytest

from bot.standin import ChatHandle
from storage.models import EscalationStatus, PatientStatus
from tests.e2e.harness import WAIT, BotHarness
from tests.e2e.test_clinics import (
    escalations,
    join,
    make_clinic,
    patient_link,
    reply_to,
    urgent_alert,
)
from tests.e2e.test_replan import wait_status
from tests.e2e.web import CSRF, dashboard

pytestmark = pytest.mark.fast_chat


async def reply_from_dashboard(browser: httpx.AsyncClient, alert_id: int, text: str) -> str:
    """Answer an alert with the inbox's Reply form; the page shown afterwards."""
    page = await browser.get("/dashboard/alerts")
    assert f'id="alert-{alert_id}"' in page.text
    token = CSRF.search(page.text)
    assert token
    answer = await browser.post(
        f"/dashboard/alerts/{alert_id}/reply", data={"csrf": token.group(1), "text": text}
    )
    assert answer.status_code == 303
    shown = await browser.get(answer.headers["location"])
    assert shown.status_code == 200
    return html.unescape(shown.text)


async def test_staff_answer_from_the_dashboard_and_the_patients_answer_comes_back(
    bot: BotHarness,
) -> None:
    north = await make_clinic(bot, "North Clinic", 9001)
    chat: ChatHandle = await join(bot, 851, await patient_link(north), when="Yesterday")
    await urgent_alert(bot, chat, north, share=True)
    (alert,) = await escalations(bot)
    async with dashboard(bot, north.admin) as browser:
        inbox = html.unescape((await browser.get("/dashboard/alerts")).text)
        assert "I can't breathe properly" in inbox, "the words the patient shared"
        shown = await reply_from_dashboard(browser, alert.id, "Please come in at 4 <today>.")
        assert "the patient has your message in the bot" in shown

        (relayed,) = await chat.wait_for(1, timeout=WAIT)
        assert "Message from North Clinic" in relayed.text
        assert "Please come in at 4 <today>." in relayed.text
        assert "Reply here to answer them" in relayed.text

        # The patient answers the clinic's message: it reaches the staff in chat.
        reply_to(chat, relayed, "OK, I will be there")
        (passed,) = await chat.wait_for(1, timeout=WAIT)
        assert "passed your message on to North Clinic" in passed.text
        (forwarded,) = await north.admin.wait_for(1, timeout=WAIT)
        assert "OK, I will be there" in forwarded.text

        # And the thread on the patient's page has both, in order.
        record = html.unescape((await browser.get(f"/dashboard/patients/{alert.patient_id}")).text)
        assert record.index("Please come in at 4 <today>.") < record.index("OK, I will be there")
    (escalation,) = await escalations(bot)
    assert escalation.replies == 1 and escalation.status is EscalationStatus.OPEN


async def test_a_patient_who_blocked_the_bot_is_explained_on_the_page(bot: BotHarness) -> None:
    """Known blocked (Telegram's my_chat_member came first) or found blocked on sending (a
    403): either way the page says so, the patient is stopped, and nothing is recorded."""
    north = await make_clinic(bot, "North Clinic", 9001)
    known = await join(bot, 852, await patient_link(north), when="Yesterday")
    await urgent_alert(bot, known, north, share=False)
    found = await join(bot, 853, await patient_link(north), when="Yesterday")
    await urgent_alert(bot, found, north, share=False)
    first, second = await escalations(bot)
    known.block()
    await wait_status(bot, known, PatientStatus.STOPPED)
    # The other blocks the bot in a way the bot has not heard of yet: its send gets a 403.
    found._standin._chats[found.chat_id].blocked = True
    counts = (len(known.messages), len(found.messages))
    async with dashboard(bot, north.admin) as browser:
        for alert in (first, second):
            shown = await reply_from_dashboard(browser, alert.id, "Are you all right?")
            assert "Not delivered: the patient has blocked the bot" in shown
            record = (await browser.get(f"/dashboard/patients/{alert.patient_id}")).text
            assert "stopped or blocked the bot" in record and 'name="text"' not in record
    for chat in (known, found):
        patient = await bot.patient(chat.chat_id)
        assert patient is not None and patient.status is PatientStatus.STOPPED
    assert (len(known.messages), len(found.messages)) == counts
    for escalation in await escalations(bot):
        assert escalation.status is EscalationStatus.OPEN and escalation.replies == 0
