"""The dashboard over HTTP: one-time sign-in, sessions, CSRF, clinic isolation, the patients
table and the patient page."""

from __future__ import annotations

import html
from datetime import date, timedelta

from sqlalchemy import select

from bot.web.security import COOKIE
from content.loader import load_plan
from scheduler.clinics.dashboard import PAGE_SIZE
from scheduler.clinics.web_access import WebAccessError, token_hash
from storage.models import Patient, WebLogin
from tests.web.conftest import Site, csrf_of

SESSION_DAY = date(2026, 11, 17)  # the fake clock's day is 2026-11-20: day 3 of healing


async def label_of(site: Site, patient_id: int) -> str | None:
    async with site.database.session() as session:
        patient = await session.get(Patient, patient_id)
        assert patient is not None
        return patient.clinic_label


async def test_a_link_opens_a_page_and_only_the_button_spends_it(site: Site) -> None:
    """GET shows a button and spends nothing (a link preview cannot use it up); POST signs
    in with a cookie that is HttpOnly, SameSite=Lax and scoped to the dashboard; the link
    then no longer works; only its hash is stored."""
    link = await site.access.link_for(clinic_id=site.glow.id, staff_chat_id=9001)
    browser = site.client()
    for _ in range(2):
        page = await browser.get("/dashboard/login", params={"t": link.token})
        assert page.status_code == 200 and "Sign in" in page.text
    answer = await browser.post("/dashboard/login", data={"t": link.token})
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/patients"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/dashboard" in cookie
    assert "secure" not in cookie, "plain http in tests: Secure only over https"
    patients = await browser.get("/dashboard/patients")
    assert patients.status_code == 200 and "Glow" in patients.text and "Amina" in patients.text

    again = await site.client().post("/dashboard/login", data={"t": link.token})
    assert again.status_code == 400 and "no longer works" in again.text
    async with site.database.session() as session:
        stored = (await session.execute(select(WebLogin.token_hash))).scalars().all()
    assert stored == [token_hash(link.token)] and link.token not in stored


async def test_an_expired_or_unknown_link_is_refused(site: Site) -> None:
    link = await site.access.link_for(clinic_id=site.glow.id, staff_chat_id=9001)
    site.clock.advance(timedelta(minutes=10, seconds=1))
    for token in (link.token, "made-up-token", ""):
        answer = await site.client().post("/dashboard/login", data={"t": token})
        assert answer.status_code == 400
        assert COOKIE not in answer.cookies


async def test_an_operator_link_is_only_for_a_clinic_without_an_admin(site: Site) -> None:
    """A clinic that has its admin refuses a staff-less link; a new clinic gets one for its
    first admin, who signs in as an admin."""
    try:
        await site.access.link_for(clinic_id=site.glow.id, staff_chat_id=None)
        raise AssertionError("a clinic with an admin got an operator link")
    except WebAccessError:
        pass
    try:
        await site.access.link_for(clinic_id=site.glow.id, staff_chat_id=9002)
        raise AssertionError("another clinic's member got a link")
    except WebAccessError:
        pass
    fresh, _ = await site.clinics.create_clinic(
        name="New",
        timezone="Asia/Karachi",
        plan_id="microneedling",
        quiet_hours=site.care.default_quiet_hours,
    )
    browser = await site.signed_in(fresh, None)
    page = await browser.get("/dashboard/patients")
    assert page.status_code == 200 and "first admin" in page.text and "New" in page.text


async def test_forged_expired_and_signed_out_sessions_see_nothing(site: Site) -> None:
    patient = await site.patient(site.glow, 1, SESSION_DAY)
    browser = await site.signed_in(site.glow, 9001)
    cookie = browser.cookies[COOKIE]
    token, _, mac = cookie.rpartition(".")

    forged = site.client()
    forged.cookies.set(COOKIE, f"{token}.{'A' * len(mac)}", path="/dashboard")
    answer = await forged.get(f"/dashboard/patients/{patient}")
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/signed-out"

    csrf = await csrf_of(browser, "/dashboard/patients")
    assert (await browser.post("/dashboard/logout", data={"csrf": csrf})).status_code == 303
    replay = site.client()
    replay.cookies.set(COOKIE, cookie, path="/dashboard")
    assert (await replay.get("/dashboard/patients")).status_code == 303

    later = await site.signed_in(site.glow, 9001)
    site.clock.advance(timedelta(hours=8, seconds=1))
    assert (await later.get("/dashboard/patients")).status_code == 303


async def test_a_removed_member_loses_the_dashboard_at_once(site: Site) -> None:
    member = await site.staff(site.glow, 9003)
    browser = await site.signed_in(site.glow, 9003)
    assert (await browser.get("/dashboard/patients")).status_code == 200
    await site.clinics.remove_staff(clinic_id=site.glow.id, staff_id=member)
    assert (await browser.get("/dashboard/patients")).status_code == 303


async def test_another_clinics_patient_is_not_found_and_not_changed(site: Site) -> None:
    mine = await site.patient(site.glow, 1, SESSION_DAY)
    theirs = await site.patient(site.other, 2, SESSION_DAY)
    browser = await site.signed_in(site.glow, 9001)
    assert (await browser.get(f"/dashboard/patients/{mine}")).status_code == 200
    assert (await browser.get(f"/dashboard/patients/{theirs}")).status_code == 404
    assert (await browser.get("/dashboard/patients/999999")).status_code == 404
    csrf = await csrf_of(browser, f"/dashboard/patients/{mine}")
    answer = await browser.post(
        f"/dashboard/patients/{theirs}/label", data={"csrf": csrf, "label": "Stolen"}
    )
    assert answer.status_code == 404
    assert await label_of(site, theirs) is None
    listing = await browser.get("/dashboard/patients", params={"q": f"#{theirs}"})
    assert f"/dashboard/patients/{theirs}" not in listing.text


async def test_a_form_without_the_sessions_csrf_token_changes_nothing(site: Site) -> None:
    patient = await site.patient(site.glow, 1, SESSION_DAY)
    browser = await site.signed_in(site.glow, 9001)
    other_browser = await site.signed_in(site.glow, 9001)
    someone_elses = await csrf_of(other_browser, "/dashboard/patients")
    for data in (
        {"label": "X"},
        {"label": "X", "csrf": "0" * 64},
        {"label": "X", "csrf": someone_elses},
    ):
        answer = await browser.post(f"/dashboard/patients/{patient}/label", data=data)
        assert answer.status_code == 403 and "nothing was changed" in answer.text
    assert await label_of(site, patient) is None
    anonymous = await site.client().post(
        f"/dashboard/patients/{patient}/label", data={"label": "X"}
    )
    assert anonymous.status_code == 401
    assert await label_of(site, patient) is None


async def test_staff_label_a_patient_and_find_them_by_it(site: Site) -> None:
    patient = await site.patient(site.glow, 1, SESSION_DAY)
    await site.patient(site.glow, 2, SESSION_DAY)
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, f"/dashboard/patients/{patient}")
    saved = await browser.post(
        f"/dashboard/patients/{patient}/label",
        data={"csrf": csrf, "label": "  Sana   K. <b>file 12</b> "},
    )
    assert saved.status_code == 303
    assert await label_of(site, patient) == "Sana K. <b>file 12</b>"
    page = await browser.get(f"/dashboard/patients/{patient}?saved=1")
    assert "Sana K. &lt;b&gt;file 12&lt;/b&gt;" in page.text and "<b>file 12</b>" not in page.text
    found = await browser.get("/dashboard/patients", params={"q": "sana"})
    assert f"/dashboard/patients/{patient}" in found.text
    assert found.text.count('href="/dashboard/patients/') == 1
    for pattern in ("%", "_", "\\"):
        nothing = await browser.get("/dashboard/patients", params={"q": pattern})
        assert "No patient matches" in nothing.text
    too_long = await browser.post(
        f"/dashboard/patients/{patient}/label", data={"csrf": csrf, "label": "x" * 81}
    )
    assert too_long.status_code == 400


async def test_the_table_filters_by_status_phase_and_alerts_and_pages(site: Site) -> None:
    """Day 3 is in the first week; a session 40 days ago is past it; a paused patient is
    found by status; 60 patients make two pages."""
    recent = await site.patient(site.glow, 1, SESSION_DAY)
    old = await site.patient(site.glow, 2, date(2026, 10, 11))
    await site.care.pause(chat_id=2)
    browser = await site.signed_in(site.glow, 9001)

    first_week = await browser.get("/dashboard/patients", params={"phase": "first_week"})
    assert f"/dashboard/patients/{recent}" in first_week.text
    assert f"/dashboard/patients/{old}" not in first_week.text
    paused = await browser.get("/dashboard/patients", params={"status": "paused"})
    assert f"/dashboard/patients/{old}" in paused.text
    assert f"/dashboard/patients/{recent}" not in paused.text
    attention = await browser.get("/dashboard/patients", params={"attention": "1"})
    assert "No patient matches" in attention.text
    nonsense = await browser.get(
        "/dashboard/patients", params={"phase": "nope", "status": "x", "page": "-4"}
    )
    assert nonsense.status_code == 200 and "No patient matches" in nonsense.text

    for chat in range(100, 100 + PAGE_SIZE + 8):
        await site.patient(site.glow, chat, SESSION_DAY)
    one = await browser.get("/dashboard/patients")
    assert "Page 1 of 2" in one.text and one.text.count('href="/dashboard/patients/') == PAGE_SIZE
    two = await browser.get("/dashboard/patients", params={"page": "2"})
    assert "Page 2 of 2" in two.text and two.text.count('href="/dashboard/patients/') == 10


async def test_the_patient_page_shows_the_plan_as_a_timeline(site: Site) -> None:
    patient = await site.patient(site.glow, 1, SESSION_DAY)
    browser = await site.signed_in(site.glow, 9001)
    page = await browser.get(f"/dashboard/patients/{patient}")
    assert page.status_code == 200
    assert "Day of healing" in page.text and ">3<" in page.text
    assert 'class="timeline"' in page.text and "pending · catch-up" in page.text
    headline = html.escape(load_plan("microneedling").milestone("day4_morning").headline)
    assert headline in page.text, "milestones are named by the plan's headline"
    assert page.text.count("<time>") == len(await site.care.reminders(chat_id=1))


async def test_every_answer_carries_the_security_headers(site: Site) -> None:
    browser = await site.signed_in(site.glow, 9001)
    for path in ("/dashboard/patients", "/dashboard/nowhere", "/dashboard/signed-out"):
        answer = await browser.get(path)
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
    assert (await browser.get("/dashboard/nowhere")).status_code == 404
    css = await browser.get("/dashboard/static/app.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
