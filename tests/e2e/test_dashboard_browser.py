"""The dashboard in a real headless Chromium, against the running bot over the stand-in:
sign in with the link /web sent, find a patient by the clinic's label, open the timeline.
Screenshots of each page at phone and desktop width land in screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from scheduler.clinics.errors import InviteError, InviteProblem
from tests.e2e.browser import MISSING, Browser, new_driver, served
from tests.e2e.harness import BotHarness, say
from tests.e2e.test_clinics import join, make_clinic, patient_link, urgent_alert

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
]

# A patient's chat holds Telegram's per-chat pace (3 at once, then one a second) and the
# machine may be busy: what reaches a chat is waited for generously.
SLOW = 30.0
LINK = re.compile(r"https?://[^/\s]+(/dashboard/login\?t=[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    """One browser for the module; each test starts without cookies."""
    chromium = new_driver()
    try:
        yield chromium
    finally:
        chromium.quit()


async def sign_in(bot: BotHarness, browser: Browser, admin: Any) -> None:
    """The member of staff sends /web and opens the link; one press signs in."""
    (message,) = await say(admin, "/web")
    found = LINK.search(message.text or "")
    assert found, message.text
    await browser.go(found.group(1))
    await browser.shoot("sign-in")
    await browser.click("form button.primary")
    assert (await browser.url()).endswith("/dashboard/patients")


async def test_staff_sign_in_find_a_patient_by_label_and_read_the_timeline(
    bot: BotHarness, driver: Any
) -> None:
    assert bot.runtime is not None
    clinic = await make_clinic(bot, "Glow", admin_chat=9001)
    code = await patient_link(clinic)
    await join(bot, 1001, code)
    await join(bot, 1002, code, when="Yesterday")
    async with served(bot.runtime) as origin:
        browser = Browser(driver, origin)
        await browser.go("/dashboard/signed-out")
        driver.delete_all_cookies()
        await sign_in(bot, browser, clinic.admin)
        assert await browser.count("table.patients tbody tr") == 2
        await browser.shoot("patients")

        await browser.click("table.patients tbody tr:last-child a")
        await browser.fill("input[name=label]", "Sana, file 7")
        await browser.click("form.label button")
        assert "Saved." in await browser.text()

        await browser.go("/dashboard/patients")
        await browser.fill("input[name=q]", "sana")
        await browser.click("form.filters button")
        assert await browser.count("table.patients tbody tr") == 1
        assert "Sana, file 7" in await browser.text("table.patients")
        await browser.click("table.patients tbody tr a")
        assert await browser.count("ol.timeline li") > 5
        assert "pending" in await browser.text("ol.timeline")
        await browser.shoot("patient")
        assert await browser.console_errors() == [], "no CSP violation or script error"

        await browser.click("form.signout button")
        assert (await browser.url()).endswith("/dashboard/signed-out")
        await browser.go("/dashboard/patients")
        assert (await browser.url()).endswith("/dashboard/signed-out")


async def test_staff_answer_an_alert_broadcast_to_a_phase_and_revoke_a_link(
    bot: BotHarness, driver: Any
) -> None:
    """The inbox: a red flag appears, the reply typed in the browser reaches the patient's
    chat. Broadcasts: to a phase, the progress reaches 100 % by itself and the patients get
    it. Invites: a link made and revoked no longer works. Every page is photographed."""
    assert bot.runtime is not None
    clinic = await make_clinic(bot, "Glow", admin_chat=9001)
    code = await patient_link(clinic)
    patient = await join(bot, 1001, code)
    second = await join(bot, 1002, code)
    await urgent_alert(bot, patient, clinic, share=True)
    async with served(bot.runtime) as origin:
        browser = Browser(driver, origin)
        await browser.go("/dashboard/signed-out")
        driver.delete_all_cookies()
        await sign_in(bot, browser, clinic.admin)

        await browser.go("/dashboard/alerts")
        assert "1 open alert" in await browser.text()
        assert "lips are swelling" in await browser.text("ul.inbox")
        await browser.shoot("alerts")
        await browser.fill(
            "form.reply textarea", "Please come to the clinic now, we are expecting you."
        )
        await browser.click("form.reply button")
        await bot.standin.wait_until(
            lambda: any("we are expecting you" in (m.text or "") for m in patient.messages),
            what="the reply in the patient's chat",
            timeout=SLOW,
        )

        await browser.go("/dashboard/broadcasts")
        await browser.fill("textarea[name=text]", "We are open on Saturday this week.")
        await browser.click("input[name=audience][value=phase]", navigates=False)
        await browser.choose("select[name=phase]", "first_48h")
        await browser.shoot("broadcasts")
        await browser.click("form.compose button.primary")
        assert "2 patient" in await browser.text()
        await browser.shoot("broadcast-draft")
        await browser.click("form input[name=when][value=now] ~ button")
        await browser.wait_text("#progress .percent", "100 %", timeout=30)
        await browser.shoot("broadcast-progress")
        for chat in (patient, second):
            await bot.standin.wait_until(
                lambda chat=chat: any("open on Saturday" in (m.text or "") for m in chat.messages),
                what="the broadcast in a patient's chat",
                timeout=SLOW,
            )

        await browser.go("/dashboard/invites")
        await browser.click("form[action$='/invites/patient'] button")
        made = await browser.value("input.link")
        new_code = made.rsplit("start=", 1)[1]
        await browser.shoot("invites")
        assert (await bot.runtime.services.clinics.peek(code=new_code)).clinic.id == clinic.view.id
        rows = await browser.count("table.invites tbody tr")
        await browser.click("table.invites tbody tr:first-child form button")
        assert "Revoked" in await browser.text()
        assert await browser.count("table.invites tbody tr") == rows - 1
        try:
            await bot.runtime.services.clinics.peek(code=new_code)
            raise AssertionError("a revoked link still works")
        except InviteError as error:
            assert error.problem is InviteProblem.REVOKED

        for page in ("staff", "plan", "figures"):
            await browser.go(f"/dashboard/{page}")
            assert "Not found" not in await browser.text()
            await browser.shoot(page)
        assert await browser.console_errors() == [], "no CSP violation or script error"
