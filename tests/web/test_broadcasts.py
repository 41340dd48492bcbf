"""Broadcasts on the dashboard: compose with an audience and its count, preview, send now or
schedule (the chat wizard's rules), cancel, progress and report, the list; clinic isolation
and CSRF."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from content.loader import load_plan
from scheduler.broadcasts.copies import BroadcastCopies
from storage.models import Broadcast, BroadcastStatus, OutboxMessage, RecipientStatus
from tests.scheduler.test_broadcasts import FAST, FakeTransport
from tests.web.conftest import FakeMessenger, Site, csrf_of
from tests.web.wired import Wakes, rewire

FIRST_WEEK = date(2026, 11, 17)  # day 3 on the fake clock's 2026-11-20: the first week
TODAY = date(2026, 11, 20)  # day 0: the first 48 hours
DRAFT_URL = re.compile(r"^/dashboard/broadcasts/(\d+)$")


@pytest.fixture
async def wired(site: Site) -> tuple[Site, Wakes]:
    """Glow with three patients (two in the first week, one on day 0), Other with one."""
    await site.patient(site.glow, 1001, FIRST_WEEK)
    await site.patient(site.glow, 1002, FIRST_WEEK)
    await site.patient(site.glow, 1003, TODAY)
    await site.patient(site.other, 2001, FIRST_WEEK)
    return rewire(site)


async def broadcasts(site: Site) -> list[Broadcast]:
    async with site.database.session() as session:
        return list((await session.execute(select(Broadcast).order_by(Broadcast.id))).scalars())


async def recipient_chats(site: Site, broadcast_id: int) -> set[int]:
    async with site.database.session() as session:
        rows = await session.execute(
            select(OutboxMessage.chat_id).where(OutboxMessage.broadcast_id == broadcast_id)
        )
        return set(rows.scalars())


async def compose(
    site: Site, chat_id: int, text: str, **audience: str
) -> tuple[int, httpx.AsyncClient]:
    """Sign in, compose a broadcast; (its id, the browser) once the preview opens."""
    browser = await site.signed_in(site.glow if chat_id != 9002 else site.other, chat_id)
    csrf = await csrf_of(browser, "/dashboard/broadcasts")
    answer = await browser.post(
        "/dashboard/broadcasts", data={"csrf": csrf, "text": text, **audience}
    )
    assert answer.status_code == 303, answer.text
    found = DRAFT_URL.match(answer.headers["location"])
    assert found
    return int(found.group(1)), browser


async def test_a_broadcast_to_a_phase_is_previewed_sent_and_reported(
    wired: tuple[Site, Wakes],
) -> None:
    site, wakes = wired
    browser = await site.signed_in(site.glow, 9001)
    page = await browser.get("/dashboard/broadcasts")
    assert page.status_code == 200 and "No broadcasts yet" in page.text
    assert 'src="/dashboard/static/broadcasts.js"' in page.text
    count = await browser.get(
        "/dashboard/broadcasts/audience", params={"audience": "phase", "phase": "first_week"}
    )
    assert count.json() == {
        "count": 2,
        "audience": "phase:first_week",
        "words": "patients in phase: The first week",
    }
    everyone = await browser.get("/dashboard/broadcasts/audience", params={"audience": "all"})
    assert everyone.json()["count"] == 3, "only Glow's patients"

    csrf = await csrf_of(browser, "/dashboard/broadcasts")
    answer = await browser.post(
        "/dashboard/broadcasts",
        data={
            "csrf": csrf,
            "text": "Closed <Friday> & Saturday",
            "audience": "phase",
            "phase": "first_week",
            "days": "7",
            "lang": "en",
        },
    )
    assert answer.status_code == 303
    broadcast_id = int(answer.headers["location"].rsplit("/", 1)[1])
    preview = await browser.get(answer.headers["location"])
    assert preview.status_code == 200
    assert "Closed &lt;Friday&gt; &amp; Saturday" in preview.text, "the staff's words escaped"
    assert "Message from Glow" in preview.text
    assert '<strong class="count">2</strong>' in preview.text
    assert "Send now to 2 patients" in preview.text
    assert await recipient_chats(site, broadcast_id) == set(), "a draft has no recipients"

    sent = await browser.post(
        f"/dashboard/broadcasts/{broadcast_id}/send",
        data={
            "csrf": await csrf_of(browser, f"/dashboard/broadcasts/{broadcast_id}"),
            "when": "now",
        },
    )
    assert sent.status_code == 303 and wakes.count == 1
    assert await recipient_chats(site, broadcast_id) == {1001, 1002}
    (stored,) = await broadcasts(site)
    assert stored.status is BroadcastStatus.SCHEDULED and stored.report_chat_id == 9001

    progress = await browser.get(f"/dashboard/broadcasts/{broadcast_id}/progress")
    assert progress.status_code == 200 and 'data-final="0"' in progress.text
    assert '<dd class="remaining">2</dd>' in progress.text
    assert "<html" not in progress.text, "a fragment, not a page"
    page = await browser.get(f"/dashboard/broadcasts/{broadcast_id}")
    assert '<noscript><meta http-equiv="refresh"' in page.text, "reloads without JavaScript"

    transport = FakeTransport()
    sender = BroadcastCopies(
        database=site.database,
        transport=transport,
        clock=site.clock,
        plans=load_plan,
        **FAST,  # type: ignore[arg-type]
    )
    await sender.run_until_idle()
    assert sorted(transport.sends) == [1001, 1002]
    done = await browser.get(f"/dashboard/broadcasts/{broadcast_id}/progress")
    assert 'data-final="1"' in done.text and '<dd class="sent">2</dd>' in done.text
    assert "100 %" in done.text and "Cancel the broadcast" not in done.text
    report = await browser.get(f"/dashboard/broadcasts/{broadcast_id}")
    assert "<noscript><meta" not in report.text
    listing = await browser.get("/dashboard/broadcasts")
    assert f'href="/dashboard/broadcasts/{broadcast_id}"' in listing.text
    assert "patients in phase: The first week" in listing.text and "2 / 2" in listing.text


async def test_any_member_may_broadcast_and_the_first_admin_gets_no_chat_report(
    site: Site,
) -> None:
    site, _ = rewire(site)
    await site.patient(site.glow, 1001, FIRST_WEEK)
    await site.staff(site.glow, 9101)
    broadcast_id, browser = await compose(site, 9101, "Hello", audience="all")
    csrf = await csrf_of(browser, f"/dashboard/broadcasts/{broadcast_id}")
    sent = await browser.post(
        f"/dashboard/broadcasts/{broadcast_id}/send", data={"csrf": csrf, "when": "now"}
    )
    assert sent.status_code == 303
    (stored,) = await broadcasts(site)
    assert stored.report_chat_id == 9101 and stored.created_by is not None


async def test_refusals_change_nothing(wired: tuple[Site, Wakes]) -> None:
    """An empty text, a text too long with the clinic's name, an unknown phase or a bad
    number of days: the form again with the reason, and no broadcast."""
    site, _ = wired
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/broadcasts")
    limit = 4096 - 40 - len("Glow")
    cases = [
        ({"text": "  ", "audience": "all"}, "Write the message first"),
        ({"text": "x" * (limit + 1), "audience": "all"}, f"at most {limit} fit"),
        ({"text": "Hi", "audience": "phase", "phase": "no_such"}, "no phase"),
        ({"text": "Hi", "audience": "silent", "days": "0"}, "from 1 to 366"),
        ({"text": "Hi", "audience": "lang", "lang": "Urdu!"}, "give a language code"),
    ]
    for data, reason in cases:
        answer = await browser.post("/dashboard/broadcasts", data={"csrf": csrf, **data})
        assert answer.status_code == 400 and reason in answer.text, (data, answer.text[-800:])
        assert 'name="text"' in answer.text
    bad = await browser.get(
        "/dashboard/broadcasts/audience", params={"audience": "due", "days": "x"}
    )
    assert bad.status_code == 400 and "error" in bad.json()
    assert await broadcasts(site) == []


async def test_scheduling_keeps_the_chat_rules(wired: tuple[Site, Wakes]) -> None:
    """A time in the quiet hours is refused with the next allowed time offered; a past time
    is refused; a good time schedules it (recipients chosen when it starts); cancel stops it."""
    site, wakes = wired
    broadcast_id, browser = await compose(site, 9001, "See you", audience="all")
    url = f"/dashboard/broadcasts/{broadcast_id}"
    csrf = await csrf_of(browser, url)
    quiet = await browser.post(
        f"{url}/send", data={"csrf": csrf, "when": "at", "local": "2026-11-20T23:30"}
    )
    assert quiet.status_code == 400 and "quiet hours (21:00-08:00)" in quiet.text
    assert "Send at Sat 21 Nov, 08:00 instead" in quiet.text
    past = await browser.post(
        f"{url}/send", data={"csrf": csrf, "when": "at", "local": "2026-11-20T08:00"}
    )
    assert past.status_code == 400 and "That time has passed" in past.text
    far = await browser.post(
        f"{url}/send", data={"csrf": csrf, "when": "at", "local": "2027-01-20T10:00"}
    )
    assert far.status_code == 400 and "at most 30 days ahead" in far.text
    unreadable = await browser.post(
        f"{url}/send", data={"csrf": csrf, "when": "at", "local": "tomorrow"}
    )
    assert unreadable.status_code == 400
    (stored,) = await broadcasts(site)
    assert stored.status is BroadcastStatus.DRAFT and wakes.count == 0

    offered = re.search(r'name="at" value="(\d+)"', quiet.text)
    assert offered
    scheduled = await browser.post(
        f"{url}/send", data={"csrf": csrf, "when": "at", "at": offered.group(1)}
    )
    assert scheduled.status_code == 303
    (stored,) = await broadcasts(site)
    assert stored.status is BroadcastStatus.SCHEDULED
    assert stored.scheduled_at is not None
    assert stored.scheduled_at.timestamp() == int(offered.group(1))
    assert await recipient_chats(site, broadcast_id) == set(), "chosen when it starts"
    page = await browser.get(url)
    assert "Scheduled" in page.text and "Cancel the broadcast" in page.text

    again = await browser.post(f"{url}/send", data={"csrf": csrf, "when": "now"})
    assert again.status_code == 409 and "no longer a draft" in again.text
    cancelled = await browser.post(f"{url}/cancel", data={"csrf": csrf})
    assert cancelled.status_code == 303
    (stored,) = await broadcasts(site)
    assert stored.status is BroadcastStatus.CANCELLED


async def test_cancel_stops_a_broadcast_being_sent(wired: tuple[Site, Wakes]) -> None:
    site, _ = wired
    broadcast_id, browser = await compose(site, 9001, "Hello", audience="all")
    url = f"/dashboard/broadcasts/{broadcast_id}"
    csrf = await csrf_of(browser, url)
    await browser.post(f"{url}/send", data={"csrf": csrf, "when": "now"})
    await browser.post(f"{url}/cancel", data={"csrf": csrf})
    transport = FakeTransport()
    sender = BroadcastCopies(
        database=site.database,
        transport=transport,
        clock=site.clock,
        plans=load_plan,
        **FAST,  # type: ignore[arg-type]
    )
    await sender.run_until_idle()
    assert transport.sends == []
    async with site.database.session() as session:
        statuses = (
            await session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.broadcast_id.is_not(None))
                .group_by(OutboxMessage.status)
            )
        ).all()
    assert dict(statuses) == {RecipientStatus.CANCELLED: 3}
    page = await browser.get(url)
    assert "Cancelled" in page.text and "Not sent (cancelled)" in page.text


async def test_another_clinics_broadcast_is_not_found_and_untouched(
    wired: tuple[Site, Wakes],
) -> None:
    site, wakes = wired
    theirs, _ = await compose(site, 9002, "Other's news", audience="all")
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/broadcasts")
    url = f"/dashboard/broadcasts/{theirs}"
    for path in (url, f"{url}/progress"):
        assert (await browser.get(path)).status_code == 404
    for action, data in (
        ("audience", {"audience": "all"}),
        ("send", {"when": "now"}),
        ("cancel", {}),
    ):
        answer = await browser.post(f"{url}/{action}", data={"csrf": csrf, **data})
        assert answer.status_code == 404, action
    listing = await browser.get("/dashboard/broadcasts")
    assert "Other&#39;s news" not in listing.text and "Other's news" not in listing.text
    (stored,) = await broadcasts(site)
    assert stored.status is BroadcastStatus.DRAFT and wakes.count == 0
    assert await recipient_chats(site, theirs) == set()


async def test_forms_without_the_csrf_token_are_refused(wired: tuple[Site, Wakes]) -> None:
    site, wakes = wired
    broadcast_id, browser = await compose(site, 9001, "Hello", audience="all")
    url = f"/dashboard/broadcasts/{broadcast_id}"
    for token in (None, "0" * 64):
        data = {} if token is None else {"csrf": token}
        for path, extra in (
            ("/dashboard/broadcasts", {"text": "Another", "audience": "all"}),
            (f"{url}/audience", {"audience": "lang", "lang": "ur"}),
            (f"{url}/send", {"when": "now"}),
            (f"{url}/cancel", {}),
        ):
            answer = await browser.post(path, data={**data, **extra})
            assert answer.status_code == 403, path
    (stored,) = await broadcasts(site)
    assert stored.status is BroadcastStatus.DRAFT and stored.audience == "all"
    assert wakes.count == 0


async def test_a_drafts_audience_can_change_before_sending(wired: tuple[Site, Wakes]) -> None:
    site, _ = wired
    broadcast_id, browser = await compose(site, 9001, "Hello", audience="all")
    url = f"/dashboard/broadcasts/{broadcast_id}"
    csrf = await csrf_of(browser, url)
    changed = await browser.post(
        f"{url}/audience", data={"csrf": csrf, "audience": "phase", "phase": "first_48h"}
    )
    assert changed.status_code == 303
    page = await browser.get(url)
    assert "patients in phase: The first 48 hours" in page.text
    assert '<strong class="count">1</strong>' in page.text
    refused = await browser.post(
        f"{url}/audience", data={"csrf": csrf, "audience": "phase", "phase": "nope"}
    )
    assert refused.status_code == 400
    await browser.post(f"{url}/send", data={"csrf": csrf, "when": "now"})
    assert await recipient_chats(site, broadcast_id) == {1003}
    late = await browser.post(f"{url}/audience", data={"csrf": csrf, "audience": "all"})
    assert late.status_code == 409


async def test_nobody_in_the_audience_offers_no_send(wired: tuple[Site, Wakes]) -> None:
    site, _ = wired
    _, browser = await compose(site, 9001, "Hello", audience="lang", lang="ur")
    page = await browser.get(f"/dashboard/broadcasts/{(await broadcasts(site))[0].id}")
    assert "Nobody is in this audience now" in page.text and "Send now" not in page.text


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # a PNG's signature is what the page checks


async def test_a_photo_goes_to_the_members_chat_first_and_the_broadcast_sends_its_id(
    site: Site,
) -> None:
    """The upload reaches the composing member's own chat as the preview; the broadcast keeps
    Telegram's file id (never the bytes), its text the caption. A file that is not a JPEG or
    PNG, one over 10 MB, a caption too long, the operator's link (no chat): refused, nothing
    written."""
    messenger = FakeMessenger(sent=[], blocked=set())
    site, _ = rewire(site, messenger=messenger)
    await site.patient(site.glow, 1001, FIRST_WEEK)
    browser = await site.signed_in(site.glow, 9001)
    csrf = await csrf_of(browser, "/dashboard/broadcasts")

    answer = await browser.post(
        "/dashboard/broadcasts",
        data={"csrf": csrf, "text": "Our new clinic", "audience": "all"},
        files={"photo": ("clinic.png", PNG, "image/png")},
    )
    assert answer.status_code == 303, answer.text
    (stored,) = await broadcasts(site)
    assert stored.photo == "photo-1" and stored.text == "Our new clinic"
    ((chat, preview),) = messenger.sent
    assert chat == 9001 and preview.startswith(f"<photo {len(PNG)} bytes>")

    caption_limit = 1024 - 40 - len("Glow")
    refusals = [
        (("notes.txt", b"hello, not a photo", "text/plain"), "Our clinic", "not a JPEG or PNG"),
        (("big.png", PNG + b"\x00" * (10 * 1024 * 1024), "image/png"), "Hi", "larger than 10 MB"),
        (("clinic.png", PNG, "image/png"), "x" * (caption_limit + 1), f"at most {caption_limit}"),
    ]
    for upload, text, reason in refusals:
        refused = await browser.post(
            "/dashboard/broadcasts",
            data={"csrf": csrf, "text": text, "audience": "all"},
            files={"photo": upload},
        )
        assert refused.status_code == 400 and reason in refused.text, refused.text[-600:]
    two_files = await browser.post(
        "/dashboard/broadcasts",
        data={"csrf": csrf, "text": "Hi", "audience": "all"},
        files=[("photo", ("a.png", PNG, "image/png")), ("photo", ("b.png", PNG, "image/png"))],
    )
    assert two_files.status_code == 400
    assert len(await broadcasts(site)) == 1

    fresh, _ = await site.clinics.create_clinic(
        name="New", timezone="Asia/Karachi", plan_id="microneedling",
        quiet_hours=site.care.default_quiet_hours,
    )  # fmt: skip
    operator = await site.signed_in(fresh, None)
    token = await csrf_of(operator, "/dashboard/broadcasts")
    refused = await operator.post(
        "/dashboard/broadcasts",
        data={"csrf": token, "text": "Hi", "audience": "all"},
        files={"photo": ("clinic.png", PNG, "image/png")},
    )
    assert refused.status_code == 400 and "sign in from Telegram" in refused.text
    assert len(await broadcasts(site)) == 1
