"""A broadcast composed and sent from the dashboard reaches the patients' chats through the
real bot: signed in with /web, to a phase, only the clinic's patients in it, the progress
reaching 100 % and the final report in the sender's chat, as from the chat wizard."""

from __future__ import annotations

import pytest

from tests.e2e.harness import WAIT, BotHarness
from tests.e2e.test_clinics import join, make_clinic, patient_link
from tests.e2e.web import CSRF, dashboard

pytestmark = pytest.mark.fast_chat


async def test_a_broadcast_from_the_dashboard_reaches_the_phase_in_telegram(
    bot: BotHarness,
) -> None:
    assert bot.runtime is not None
    glow = await make_clinic(bot, "Glow", admin_chat=9001)
    other = await make_clinic(bot, "Other", admin_chat=9002)
    glow_link = await patient_link(glow)
    first = await join(bot, 1001, glow_link)
    second = await join(bot, 1002, glow_link)
    outsider = await join(bot, 2001, await patient_link(other))

    async with dashboard(bot, glow.admin) as browser:
        page = await browser.get("/dashboard/broadcasts")
        csrf = CSRF.search(page.text)
        assert csrf
        composed = await browser.post(
            "/dashboard/broadcasts",
            data={
                "csrf": csrf.group(1),
                "text": "We are open on Saturday <10-14>",
                "audience": "phase",
                "phase": "first_48h",
            },
        )
        assert composed.status_code == 303
        url = composed.headers["location"]
        preview = await browser.get(url)
        assert "Send now to 2 patients" in preview.text
        sent = await browser.post(f"{url}/send", data={"csrf": csrf.group(1), "when": "now"})
        assert sent.status_code == 303

        for chat in (first, second):
            (copy,) = await chat.wait_for(1, timeout=WAIT)
            assert copy.text == "📣 Message from Glow\n\nWe are open on Saturday <10-14>"
        (report,) = await glow.admin.wait_for(1, timeout=WAIT)
        assert "Sent 2" in (report.text or ""), report.text
        progress = await browser.get(f"{url}/progress")
        assert 'data-final="1"' in progress.text and "100 %" in progress.text
        assert '<dd class="sent">2</dd>' in progress.text
    assert not [m for m in outsider.messages if "Saturday" in (m.text or "")], "Other's patient"


async def test_a_photo_broadcast_from_the_dashboard_arrives_as_a_photo(bot: BotHarness) -> None:
    """The upload goes to the admin's own chat first (the preview); each patient then gets
    the same photo, by Telegram's file id, with the message as its caption."""
    from bot.qr import qr_png

    assert bot.runtime is not None
    glow = await make_clinic(bot, "Glow", admin_chat=9001)
    patient = await join(bot, 1001, await patient_link(glow))
    photo = qr_png("https://example.org/open-day")
    async with dashboard(bot, glow.admin) as browser:
        csrf = CSRF.search((await browser.get("/dashboard/broadcasts")).text)
        assert csrf
        composed = await browser.post(
            "/dashboard/broadcasts",
            data={"csrf": csrf.group(1), "text": "Open day on Saturday", "audience": "all"},
            files={"photo": ("open-day.png", photo, "image/png")},
        )
        assert composed.status_code == 303, composed.text[-500:]
        (preview,) = await glow.admin.wait_for(1, timeout=WAIT)
        assert preview.kind == "photo" and preview.file_bytes == photo
        url = composed.headers["location"]
        sent = await browser.post(f"{url}/send", data={"csrf": csrf.group(1), "when": "now"})
        assert sent.status_code == 303
        (copy,) = await patient.wait_for(1, timeout=WAIT)
        assert copy.kind == "photo" and copy.file_bytes == photo
        assert copy.caption == "📣 Message from Glow\n\nOpen day on Saturday"
