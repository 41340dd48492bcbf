"""Webhook mode: the Starlette app behind uvicorn, fed by the stand-in as Telegram feeds it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.application import BotRuntime, build_runtime
from bot.config import ConfigurationError
from bot.standin import StandIn
from bot.webhook import SECRET_HEADER, create_web_app, derived_secret, webhook_endpoint
from scheduler.care.timetravel import travel
from scheduler.clock import FakeClock
from scheduler.outbox.metrics import Kind, SendOutcome
from storage.database import Database
from storage.models import Reminder, ReminderStatus
from tests.e2e.harness import WAIT, BotHarness, begin, make_settings, register

SECRET = "s3cret_token-for-tests"
PUBLIC = "https://bot.example.com:8443"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(
        self, server: uvicorn.Server, task: asyncio.Task[None], url: str, runtime: BotRuntime
    ) -> None:
        self.server, self.task, self.url, self.runtime = server, task, url, runtime

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
    local = f"http://127.0.0.1:{port}"
    # Telegram is told an https URL on a port it accepts; the stand-in delivers to the
    # local server behind it, as a reverse proxy in front of the bot would.
    standin.route_webhook(PUBLIC, local)
    app = create_web_app(runtime, public_url=f"{PUBLIC}/telegram", secret=SECRET)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        assert not task.done(), task
        await asyncio.sleep(0.01)
    served = Served(server, task, f"{local}/telegram", runtime)
    try:
        yield served
    finally:
        if not task.done():
            await served.stop()


async def test_updates_arrive_through_the_webhook_with_the_secret(
    served: Served, standin: StandIn
) -> None:
    assert standin.webhook_url == f"{PUBLIC}/telegram"
    assert standin.webhook_secret == SECRET
    chat = standin.private_chat(5005)
    (greeting,) = await begin(chat)
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


async def test_the_webhook_server_serves_the_dashboard(served: Served) -> None:
    """The dashboard is mounted under /dashboard: without a session a page sends the browser
    to the sign-in explanation, with the dashboard's security headers."""
    base = served.url.replace("/telegram", "")
    async with httpx.AsyncClient() as client:
        page = await client.get(f"{base}/dashboard/patients")
        explained = await client.get(f"{base}/dashboard/signed-out")
    assert page.status_code == 303 and page.headers["location"] == "/dashboard/signed-out"
    assert explained.status_code == 200 and "/web" in explained.text
    assert "frame-ancestors 'none'" in explained.headers["content-security-policy"]


async def test_metrics_count_a_delivered_reminder_and_the_queue_without_patient_text(
    served: Served, standin: StandIn, database: Database, clock: FakeClock
) -> None:
    """Registered through the webhook, then 10 hours later the day-0 evening reminder (and
    whatever else fell due) arrives; the scrape counts exactly what the database holds."""
    chat = standin.private_chat(7007)
    await register(chat, "press:Today")
    await travel(served.runtime.services.runner, clock, timedelta(hours=10))
    async with database.session() as session:
        rows = list((await session.execute(select(Reminder))).scalars())
    sent = [r for r in rows if r.status is ReminderStatus.SENT]
    pending = [r for r in rows if r.status is ReminderStatus.PENDING]
    assert sent and pending
    assert any(m.text and "evening" in m.text.lower() for m in chat.messages)

    async with httpx.AsyncClient() as client:
        answer = await client.get(served.url.replace("/telegram", "/metrics"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }

    def sample(name: str, **labels: str) -> float | None:
        return samples.get((name, frozenset(labels.items())))

    by_kind = Counter("catch_up" if r.milestone_id.startswith("catch_up_") else "reminder"
                      for r in sent)  # fmt: skip
    for kind, count in by_kind.items():
        labels = {"kind": kind, "priority": "reminder"}
        assert sample("aftercare_sends_total", outcome="sent", **labels) == count
        # The fake clock stops at each due instant: every one went out on the dot.
        assert sample("aftercare_send_lateness_seconds_count", **labels) == count
        assert sample("aftercare_send_lateness_seconds_sum", **labels) == 0.0
        assert sample("aftercare_send_lateness_seconds_bucket", le="1.0", **labels) == count
    assert sample("aftercare_sends_total", kind="reminder", priority="reminder",
                  outcome="retry") is None  # fmt: skip
    for kind in ("reminder", "catch_up"):
        assert sample("aftercare_queue_depth", kind=kind, priority="reminder") == 0.0
    assert sample("aftercare_queue_scheduled", priority="reminder") == len(pending)
    # Every message went through the budget: the conversation's replies and the reminders.
    reply_waits = sample("aftercare_budget_wait_seconds_count", priority="reply")
    reminder_waits = sample("aftercare_budget_wait_seconds_count", priority="reminder")
    assert reply_waits is not None and reply_waits >= 3
    assert reminder_waits == len(sent)
    assert sample("aftercare_telegram_429_total") == 0.0

    allowed = {*Kind, *SendOutcome, "reply", "alert", "reminder", "broadcast"}
    for (_name, labels), _value in samples.items():
        for label, value in labels:
            assert label == "le" or value in allowed, (label, value)
    for message in chat.messages:  # nothing the patient was told, nor their chat id
        assert not message.text or message.text[:40] not in answer.text
    assert "7007" not in answer.text


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
    assert webhook_endpoint("https://bot.example.com:8443/") == (
        "https://bot.example.com:8443/telegram",
        "/telegram",
    )
    secret = derived_secret("123:abc")
    assert secret == derived_secret("123:abc") != derived_secret("123:abd")
    assert len(secret) == 64 and secret.isalnum()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://bot.example.com/telegram", "An HTTPS URL must be provided for webhook"),
        ("http://127.0.0.1:8080", "An HTTPS URL must be provided for webhook"),
        ("https://bot.example.com:8080/hook", "only on ports 80, 88, 443 or 8443"),
        ("https://bot.example.com:444", "only on ports 80, 88, 443 or 8443"),
    ],
)
def test_a_url_telegram_would_refuse_is_refused_at_start(
    url: str, says: str, tmp_path: Path
) -> None:
    """Telegram answers such a setWebhook with 400 "bad webhook: ..."; the bot refuses to
    start with one line instead of failing after start."""
    with pytest.raises(ValueError, match=says):
        webhook_endpoint(url)
    with pytest.raises(ConfigurationError, match=f"^WEBHOOK_URL: .*{says}") as refused:
        make_settings(tmp_path, webhook_url=url)
    assert "\n" not in str(refused.value)
    assert make_settings(tmp_path, webhook_url="https://bot.example.com:88/h").webhook_url


def test_aftercare_run_with_an_http_webhook_url_exits_with_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TELEGRAM_BOT_TOKEN": "123456789:AAH" + "x" * 32,
        "WEBHOOK_URL": "http://bot.example.com/telegram",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--webhook"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "WEBHOOK_URL" in done.stderr and "An HTTPS URL must be provided" in done.stderr
    assert not (tmp_path / "data").exists()
