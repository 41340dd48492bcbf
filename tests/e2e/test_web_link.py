"""/web in chat: a member of staff gets a one-time sign-in link that opens their clinic's
dashboard; a patient is told the command is for staff; the link is never logged."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette

from tests.e2e.harness import BotHarness, say
from tests.e2e.test_clinics import join, make_clinic, patient_link
from tests.e2e.web import URL


async def test_web_gives_staff_a_link_that_opens_their_dashboard_once(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert bot.runtime is not None
    clinic = await make_clinic(bot, "Glow", admin_chat=9001)
    patient = await join(bot, 1001, await patient_link(clinic))

    (message,) = await say(clinic.admin, "/web")
    found = URL.search(message.text or "")
    assert found, message.text
    assert "works once, for 10 minutes" in (message.text or "")
    token = found.group(3)

    app = Starlette(routes=[bot.runtime.dashboard.mount()])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=found.group(1)
    ) as browser:
        signed = await browser.post("/dashboard/login", data={"t": token})
        assert signed.status_code == 303
        page = await browser.get("/dashboard/patients")
        assert page.status_code == 200 and "Glow" in page.text
        assert page.text.count('href="/dashboard/patients/') == 1
        again = await browser.post("/dashboard/login", data={"t": token})
        assert again.status_code == 400

    (refusal,) = await say(patient, "/web")
    assert "That command is for clinic staff" in (refusal.text or "")
    ours = [r for r in caplog.records if r.name.split(".")[0] in {"bot", "scheduler", "storage"}]
    assert ours, "our loggers were captured"
    assert not [r for r in ours if token in r.getMessage()], "the sign-in token was logged"
