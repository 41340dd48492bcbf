"""Webhook mode: the Starlette app behind uvicorn, fed by the stand-in as Telegram feeds it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from bot.application import build_runtime
from bot.standin import StandIn
from bot.webhook import SECRET_HEADER, create_web_app, derived_secret, webhook_endpoint
from scheduler.clock import FakeClock
from storage.database import Database
from tests.e2e.harness import WAIT, BotHarness, make_settings

SECRET = "s3cret_token-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], url: str) -> None:
        self.server, self.task, self.url = server, task, url

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 30)


@pytest.fixture
async def served(
    standin: StandIn, database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Served]:
    harness = BotHarness(standin, database, clock, make_settings(tmp_path))
    runtime = build_runtime(
        harness.settings, clock=clock, connection=harness.connection(), database=database
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    app = create_web_app(runtime, public_url=url, secret=SECRET)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        assert not task.done(), task
        await asyncio.sleep(0.01)
    served = Served(server, task, url)
    try:
        yield served
    finally:
        if not task.done():
            await served.stop()


async def test_updates_arrive_through_the_webhook_with_the_secret(
    served: Served, standin: StandIn
) -> None:
    assert standin.webhook_url == served.url
    assert standin.webhook_secret == SECRET
    chat = standin.private_chat(5005)
    chat.start()
    (greeting,) = await chat.wait_for(1, timeout=WAIT)
    assert "not a diagnosis" in greeting.text
    assert [c["command"] for c in standin.commands][:2] == ["start", "help"]


async def test_a_wrong_or_missing_secret_is_refused(served: Served) -> None:
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "/start",
              "chat": {"id": 9, "type": "private"}}}  # fmt: skip
    async with httpx.AsyncClient() as client:
        missing = await client.post(served.url, json=update)
        wrong = await client.post(served.url, json=update, headers={SECRET_HEADER: "nope"})
        garbage = await client.post(served.url, content=b"{", headers={SECRET_HEADER: SECRET})
    assert (missing.status_code, wrong.status_code, garbage.status_code) == (403, 403, 400)


async def test_healthz_reports_the_database(served: Served) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(served.url.replace("/telegram", "/healthz"))
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


async def test_shutdown_finishes_updates_already_accepted(served: Served, standin: StandIn) -> None:
    chat = standin.private_chat(6006)
    chat.start()
    await standin.wait_until(lambda: not standin._updates, timeout=WAIT)
    await served.stop()
    assert len(chat.messages) == 1, "the update accepted before shutdown was answered"


def test_the_endpoint_and_the_derived_secret() -> None:
    assert webhook_endpoint("https://bot.example.com") == (
        "https://bot.example.com/telegram",
        "/telegram",
    )
    assert webhook_endpoint("https://bot.example.com/hook/") == (
        "https://bot.example.com/hook",
        "/hook",
    )
    with pytest.raises(ValueError):
        webhook_endpoint("bot.example.com")
    secret = derived_secret("123:abc")
    assert secret == derived_secret("123:abc") != derived_secret("123:abd")
    assert len(secret) == 64 and secret.isalnum()
