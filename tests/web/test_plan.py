"""The care plan page: phases by day with their reminders in order, in each language the
clinic uses (its own and its patients'), chosen with ``?lang=``; another clinic's patients'
languages are not offered."""

from __future__ import annotations

import html
from datetime import date

from content.loader import load_plan
from tests.web.conftest import Site

SESSION = date(2026, 11, 17)


async def test_the_plan_is_a_timeline_of_phases_and_milestones(site: Site) -> None:
    browser = await site.signed_in(site.glow, 9001)
    page = await browser.get("/dashboard/plan")
    assert page.status_code == 200
    text = html.unescape(page.text)
    plan = load_plan("microneedling")
    positions = [text.index(f'id="phase-{phase.id}"') for phase in plan.phases]
    assert positions == sorted(positions), "phases by their first day"
    assert "The first 48 hours" in text and "days 0-1" in text and "days 2-6" in text
    evening = text.index('id="milestone-day0_evening"')
    morning = text.index('id="milestone-day1_morning"')
    assert text.index('id="phase-first_48h"') < evening < morning
    assert "Tonight: what's normal, hands off, no makeup" in text
    assert "day 0, 19:00" in text
    assert 'href="?lang=en"' in text and "?lang=ur" not in text, "no Urdu patient yet"
    assert 'aria-current="page"' in text and 'href="/dashboard/plan"' in text


async def test_each_language_of_the_clinic_can_be_read(site: Site) -> None:
    await site.patient(site.glow, 1001, SESSION)
    await site.care.set_language(chat_id=1001, language="ur")
    await site.patient(site.other, 2001, SESSION)
    await site.care.set_language(chat_id=2001, language="ur-Latn")
    browser = await site.signed_in(site.glow, 9001)
    english = await browser.get("/dashboard/plan")
    assert 'href="?lang=ur"' in english.text and "?lang=ur-Latn" not in english.text
    urdu = await browser.get("/dashboard/plan", params={"lang": "ur"})
    assert urdu.status_code == 200
    assert 'lang="ur" dir="rtl"' in urdu.text
    assert "آج رات: کیا نارمل ہے، ہاتھ دور، میک اپ نہیں" in urdu.text
    other_language = await browser.get("/dashboard/plan", params={"lang": "ur-Latn"})
    assert 'class="plan" lang="en"' in other_language.text, "not a language of Glow's"
    junk = await browser.get("/dashboard/plan", params={"lang": "<script>"})
    assert junk.status_code == 200 and "<script>" not in junk.text
