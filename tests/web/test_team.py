"""Invites and staff on the dashboard: patient links with their QR code (a PNG of the link),
enrolment links, staff invites (admins), revoking (admins any, others their own), the team,
removing a member and changing roles (admins; never the last admin, never oneself); another
clinic's ids are not found, forms without the CSRF token and admins' actions by others are
refused, and nothing changes."""

from __future__ import annotations

import html
import re
from datetime import date

import httpx
import pytest
from sqlalchemy import select

from bot.qr import qr_matrix
from scheduler.clinics.codes import code_hash
from scheduler.outbox.notifier import RecipientGoneError
from storage.models import Invite, InviteKind, Staff, StaffRole
from tests.bot.test_qr import modules_of, read_png
from tests.web.conftest import Site, csrf_of
from tests.web.wired import USERNAME, rewire

LINK = re.compile(r'value="(https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+))"')
DATA_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


class Outbox:
    """A messenger that records what it sends; a chat in ``gone`` has blocked the bot."""

    def __init__(self, gone: frozenset[int] = frozenset()) -> None:
        self.sent: list[tuple[int, str]] = []
        self.gone = gone

    async def to_patient(self, chat_id: int, html: str) -> int:
        if chat_id in self.gone:
            raise RecipientGoneError("Forbidden")
        self.sent.append((chat_id, html))
        return len(self.sent)


@pytest.fixture
async def wired(site: Site) -> Site:
    return rewire(site)[0]


async def invites(site: Site, kind: InviteKind | None = None) -> list[Invite]:
    """Every invite (of a kind), the first admins' from create_clinic included."""
    async with site.database.session() as session:
        found = list((await session.execute(select(Invite).order_by(Invite.id))).scalars())
    return [i for i in found if kind is None or i.kind is kind]


async def team(site: Site) -> dict[int, StaffRole]:
    async with site.database.session() as session:
        rows = await session.execute(select(Staff.chat_id, Staff.role))
        return {row.chat_id: row.role for row in rows}


async def make(browser: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    csrf = await csrf_of(browser, "/dashboard/invites")
    return await browser.post(path, data={"csrf": csrf, **data})


async def test_a_patient_link_with_its_qr_code_is_shown_once_and_downloads_as_a_png(
    wired: Site,
) -> None:
    site = wired
    browser = await site.signed_in(site.glow, 9001)
    page = await make(browser, "/dashboard/invites/patient")
    assert page.status_code == 200, page.text
    found = LINK.search(page.text)
    assert found and found.group(2) == USERNAME
    link, code = found.group(1), found.group(3)
    (stored,) = [i for i in await invites(site) if i.kind is InviteKind.PATIENT]
    assert stored.code_hash == code_hash(code) and stored.clinic_id == site.glow.id
    assert stored.created_by is not None, "made by the signed-in member"
    inline = DATA_PNG.search(page.text)
    assert inline, "the QR code is on the page"

    csrf = await csrf_of(browser, "/dashboard/invites")
    download = await browser.post("/dashboard/invites/qr", data={"csrf": csrf, "code": code})
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert 'attachment; filename="invite.png"' in download.headers["content-disposition"]
    width, _, rows = read_png(download.content)
    matrix = qr_matrix(link)
    assert modules_of(rows, len(matrix)) == matrix, "the PNG is the QR code of the link"
    assert len(rows) > width, "with the caption under the code"

    listing = await browser.get("/dashboard/invites")
    assert code not in listing.text, "the code is shown only when it is made"
    assert f'id="invite-{stored.id}"' in listing.text and "Patient link" in listing.text


async def test_an_enrolment_link_carries_the_date_and_bad_dates_are_refused(
    wired: Site,
) -> None:
    site = wired
    browser = await site.signed_in(site.glow, 9001)
    made = await make(
        browser, "/dashboard/invites/enrol", session_date="2026-11-18", label="  Sana   0412 "
    )
    assert made.status_code == 200 and LINK.search(made.text)
    for bad, reason in (("2027-06-01", "more than 90 days ahead"), ("18/11", "Give the date")):
        refused = await make(browser, "/dashboard/invites/enrol", session_date=bad)
        assert refused.status_code == 400 and reason in html.unescape(refused.text)
    (stored,) = await invites(site, InviteKind.ENROL)
    assert stored.kind is InviteKind.ENROL and stored.session_date == date(2026, 11, 18)
    assert stored.max_uses == 1 and stored.label == "Sana 0412"


async def test_the_qr_download_is_only_for_a_working_link_of_the_clinic(wired: Site) -> None:
    site = wired
    theirs = await site.clinics.invite(clinic_id=site.other.id, kind=InviteKind.PATIENT)
    staff_code = await site.clinics.invite(
        clinic_id=site.glow.id, kind=InviteKind.STAFF, role=StaffRole.STAFF
    )
    revoked = await site.clinics.invite(clinic_id=site.glow.id, kind=InviteKind.PATIENT)
    await site.clinics.revoke(clinic_id=site.glow.id, invite_id=revoked.id)
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/invites")
    for code in (theirs.code, staff_code.code, revoked.code, "made-up", "x" * 100):
        answer = await browser.post("/dashboard/invites/qr", data={"csrf": csrf, "code": code})
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")


async def test_staff_invites_are_for_admins_only(wired: Site) -> None:
    site = wired
    await site.staff(site.glow, 9101)
    before = [i.id for i in await invites(site)]
    member = await site.signed_in(site.glow, 9101)
    page = await member.get("/dashboard/invites")
    assert "Invite a colleague" not in page.text
    refused = await make(member, "/dashboard/invites/staff", role="admin")
    assert refused.status_code == 403 and "Admins only" in refused.text
    assert [i.id for i in await invites(site)] == before

    admin = await site.signed_in(site.glow, 9001)
    made = await make(admin, "/dashboard/invites/staff", role="admin")
    assert made.status_code == 200 and "One-time invite for a colleague" in made.text
    assert not DATA_PNG.search(made.text), "no poster for a colleague's invite"
    found = LINK.search(made.text)
    assert found
    joined = await site.clinics.join_staff(code=found.group(3), chat_id=9102, name="Sana")
    assert joined.role is StaffRole.ADMIN and joined.clinic.id == site.glow.id


async def test_members_revoke_their_own_links_and_admins_any(wired: Site) -> None:
    site = wired
    member_id = await site.staff(site.glow, 9101)
    mine = await site.clinics.invite(
        clinic_id=site.glow.id, kind=InviteKind.PATIENT, created_by=member_id
    )
    admins = await site.clinics.invite(clinic_id=site.glow.id, kind=InviteKind.PATIENT)
    member = await site.signed_in(site.glow, 9101)
    page = await member.get("/dashboard/invites")
    assert f'action="/dashboard/invites/{mine.id}/revoke"' in page.text
    assert f'action="/dashboard/invites/{admins.id}/revoke"' not in page.text
    csrf = await csrf_of(member, "/dashboard/invites")
    refused = await member.post(f"/dashboard/invites/{admins.id}/revoke", data={"csrf": csrf})
    assert refused.status_code == 403
    done = await member.post(f"/dashboard/invites/{mine.id}/revoke", data={"csrf": csrf})
    assert done.status_code == 303
    state = {i.id: i.revoked_at is not None for i in await invites(site, InviteKind.PATIENT)}
    assert state == {mine.id: True, admins.id: False}

    admin = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(admin, "/dashboard/invites")
    again = await admin.post(f"/dashboard/invites/{mine.id}/revoke", data={"csrf": csrf})
    assert again.status_code == 404, "a revoked link no longer works, nothing to revoke"
    done = await admin.post(f"/dashboard/invites/{admins.id}/revoke", data={"csrf": csrf})
    assert done.status_code == 303
    assert all(i.revoked_at is not None for i in await invites(site, InviteKind.PATIENT))


async def test_another_clinics_invites_and_staff_are_not_found(wired: Site) -> None:
    site = wired
    theirs = await site.clinics.invite(clinic_id=site.other.id, kind=InviteKind.PATIENT)
    their_member = await site.staff(site.other, 9201)
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/invites")
    for path, data in (
        (f"/dashboard/invites/{theirs.id}/revoke", {}),
        (f"/dashboard/staff/{their_member}/remove", {}),
        (f"/dashboard/staff/{their_member}/role", {"role": "admin"}),
    ):
        answer = await browser.post(path, data={"csrf": csrf, **data})
        assert answer.status_code == 404, path
    (stored,) = await invites(site, InviteKind.PATIENT)
    assert stored.revoked_at is None
    assert (await team(site))[9201] is StaffRole.STAFF
    page = await browser.get("/dashboard/staff")
    assert "member-" + str(their_member) not in page.text


async def test_forms_without_the_csrf_token_are_refused(wired: Site) -> None:
    site = wired
    link = await site.clinics.invite(clinic_id=site.glow.id, kind=InviteKind.PATIENT)
    member = await site.staff(site.glow, 9101)
    browser = await site.signed_in(site.glow, 9001)
    for data in ({}, {"csrf": "f" * 64}):
        for path, extra in (
            ("/dashboard/invites/patient", {}),
            ("/dashboard/invites/enrol", {"session_date": "2026-11-18"}),
            ("/dashboard/invites/staff", {"role": "staff"}),
            ("/dashboard/invites/qr", {"code": link.code}),
            (f"/dashboard/invites/{link.id}/revoke", {}),
            (f"/dashboard/staff/{member}/remove", {}),
            (f"/dashboard/staff/{member}/role", {"role": "admin"}),
        ):
            answer = await browser.post(path, data={**data, **extra})
            assert answer.status_code == 403, path
    (stored,) = await invites(site, InviteKind.PATIENT)
    assert stored.revoked_at is None
    assert (await team(site))[9101] is StaffRole.STAFF


async def test_admins_change_roles_and_remove_members_but_the_last_admin_stays(
    site: Site,
) -> None:
    outbox = Outbox()
    site, _ = rewire(site, messenger=outbox)
    member = await site.staff(site.glow, 9101)
    browser = await site.signed_in(site.glow, 9001)
    page = await browser.get("/dashboard/staff")
    assert "Amina" in page.text and "(you)" in page.text
    csrf = await csrf_of(browser, "/dashboard/staff")
    promoted = await browser.post(
        f"/dashboard/staff/{member}/role", data={"csrf": csrf, "role": "admin"}
    )
    assert promoted.status_code == 303
    assert (await team(site))[9101] is StaffRole.ADMIN

    async with site.database.session() as session:
        me = (await session.execute(select(Staff.id).where(Staff.chat_id == 9001))).scalar_one()
    for path, data in (
        (f"/dashboard/staff/{me}/remove", {}),
        (f"/dashboard/staff/{me}/role", {"role": "staff"}),
    ):
        refused = await browser.post(path, data={"csrf": csrf, **data})
        assert refused.status_code == 400 and "cannot remove yourself" in refused.text
    bad = await browser.post(f"/dashboard/staff/{member}/role", data={"csrf": csrf, "role": "x"})
    assert bad.status_code == 400

    colleague = await site.signed_in(site.glow, 9101)
    csrf_b = await csrf_of(colleague, "/dashboard/staff")
    removed = await colleague.post(f"/dashboard/staff/{me}/remove", data={"csrf": csrf_b})
    assert removed.status_code == 303
    assert await team(site) == {9101: StaffRole.ADMIN, 9002: StaffRole.ADMIN}
    assert (
        outbox.sent and outbox.sent[0][0] == 9001 and "no longer on the team" in outbox.sent[0][1]
    )
    gone = await browser.get("/dashboard/staff")
    assert gone.status_code == 303, "a removed member is out at once"

    async with site.database.session() as session:
        sole = (await session.execute(select(Staff.id).where(Staff.chat_id == 9101))).scalar_one()
    fresh = await site.signed_in(site.other, 9002)
    csrf_c = await csrf_of(fresh, "/dashboard/staff")
    assert (
        await fresh.post(f"/dashboard/staff/{sole}/role", data={"csrf": csrf_c, "role": "staff"})
    ).status_code == 404


async def test_the_last_admin_cannot_be_demoted_by_the_first_admin_link(site: Site) -> None:
    """The operator's first admin of a new clinic (no chat) signs in; the clinic's only admin
    joins; making them staff or removing them is refused."""
    site, _ = rewire(site)
    fresh, first = await site.clinics.create_clinic(
        name="New",
        timezone="Asia/Karachi",
        plan_id="microneedling",
        quiet_hours=site.care.default_quiet_hours,
    )
    browser = await site.signed_in(fresh, None)
    await site.clinics.join_staff(code=first.code, chat_id=9301, name="Zara")
    async with site.database.session() as session:
        zara = (await session.execute(select(Staff.id).where(Staff.chat_id == 9301))).scalar_one()
    answer = await browser.get("/dashboard/staff")
    if answer.status_code == 303:
        pytest.skip("the operator's link ends once the clinic has an admin")
    csrf = await csrf_of(browser, "/dashboard/staff")
    for path, data in (
        (f"/dashboard/staff/{zara}/role", {"role": "staff"}),
        (f"/dashboard/staff/{zara}/remove", {}),
    ):
        refused = await browser.post(path, data={"csrf": csrf, **data})
        assert refused.status_code == 400 and "at least one admin" in refused.text
    assert (await team(site))[9301] is StaffRole.ADMIN


async def test_non_admins_see_the_team_without_actions_and_are_refused(wired: Site) -> None:
    site = wired
    member = await site.staff(site.glow, 9101)
    other_member = await site.staff(site.glow, 9102)
    browser = await site.signed_in(site.glow, 9101)
    page = await browser.get("/dashboard/staff")
    assert page.status_code == 200 and "Amina" in page.text
    assert "/remove" not in page.text and "/role" not in page.text
    csrf = await csrf_of(browser, "/dashboard/invites")
    for path, data in (
        (f"/dashboard/staff/{other_member}/remove", {}),
        (f"/dashboard/staff/{member}/role", {"role": "admin"}),
        (f"/dashboard/staff/{other_member}/role", {"role": "admin"}),
    ):
        answer = await browser.post(path, data={"csrf": csrf, **data})
        assert answer.status_code == 403, path
    assert await team(site) == {
        9001: StaffRole.ADMIN,
        9002: StaffRole.ADMIN,
        9101: StaffRole.STAFF,
        9102: StaffRole.STAFF,
    }
