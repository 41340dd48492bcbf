"""The dashboard in a real headless Chromium, against the running bot over the stand-in:
sign in with the link /web sent, find a patient by the clinic's label, open the timeline.
Screenshots of each page at phone and desktop width land in screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import MISSING, Browser, new_driver, served
from tests.e2e.harness import BotHarness, say
from tests.e2e.test_clinics import join, make_clinic, patient_link

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
]

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
