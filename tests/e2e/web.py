"""The running bot's dashboard for end-to-end tests: a browser (httpx, in process) signed in
with the link a member of staff gets from /web."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette

from bot.standin import ChatHandle
from tests.e2e.harness import BotHarness, say

URL = re.compile(r"(http://127\.0\.0\.1:\d+)(/dashboard/login\?t=([A-Za-z0-9_-]+))")
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@asynccontextmanager
async def dashboard(bot: BotHarness, staff: ChatHandle) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in to the running bot's dashboard with a link from /web."""
    assert bot.runtime is not None
    (message,) = await say(staff, "/web")
    found = URL.search(message.text or "")
    assert found, message.text
    app = Starlette(routes=[bot.runtime.dashboard.mount()])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=found.group(1)
    ) as browser:
        signed = await browser.post("/dashboard/login", data={"t": found.group(3)})
        assert signed.status_code == 303
        yield browser


async def csrf(browser: httpx.AsyncClient, path: str) -> str:
    """The CSRF token of the forms on ``path``."""
    found = CSRF.search((await browser.get(path)).text)
    assert found, f"no form on {path}"
    return found.group(1)
