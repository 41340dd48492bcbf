"""Updates: long polling with offsets, the webhook with its secret header, the shapes PTB
de-serialises, a real Application polling, and the waiting helpers."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, Update
from telegram.error import BadRequest, Conflict
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.standin import StandIn
from tests.standin.conftest import CHAT

# The https origin Telegram is told (it refuses http:// and other ports); the stand-in
# delivers to the local receiver behind it, as a reverse proxy would.
PUBLIC = "https://hook.example.org:8443"


async def test_long_poll_returns_an_update_as_soon_as_it_is_queued(
    bot: Bot, standin: StandIn
) -> None:
    chat = standin.private_chat(CHAT)
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    message_id = chat.send("hello")
    (update,) = await poll
    assert time.monotonic() - started < 0.5
    assert update.message is not None
    assert (update.message.text, update.message.message_id) == ("hello", message_id)
    assert update.message.chat.id == CHAT and update.message.from_user is not None


async def test_an_empty_long_poll_ends_after_its_timeout(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=timedelta(seconds=0.3)) == ()
    assert 0.25 < time.monotonic() - started < 1


async def test_offsets_confirm_updates(bot: Bot, standin: StandIn) -> None:
    chat = standin.private_chat(CHAT)
    for text in ("one", "two", "three"):
        chat.send(text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    assert [u.update_id for u in first] == [1, 2]
    again = await bot.get_updates()
    assert len(again) == 3  # nothing confirmed yet
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert standin.pending_updates == 1
    assert await bot.get_updates(offset=rest[-1].update_id + 1) == ()
    assert standin.pending_updates == 0


async def test_allowed_updates_filters_new_updates(bot: Bot, standin: StandIn) -> None:
    chat = standin.private_chat(CHAT)
    await bot.get_updates(allowed_updates=["callback_query"])
    chat.send("ignored")
    assert standin.pending_updates == 0
    await bot.get_updates(allowed_updates=[])
    chat.send("seen")
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.text == "seen"


async def test_a_second_long_poll_ends_the_first_with_409(bot: Bot, standin: StandIn) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(Conflict, match="(?i)terminated by other getUpdates request"):
        await first
    standin.private_chat(CHAT).send("for the second poll")
    (update,) = await second
    assert update.message is not None


async def test_user_actions_have_telegrams_shapes(bot: Bot, standin: StandIn) -> None:
    chat = standin.private_chat(3003, username="amina_k", language_code="ur")
    chat.start("clinic42")
    chat.send_sticker()
    chat.send_photo(caption="my skin today")
    chat.send_voice()
    chat.send_document()
    said = chat.send("before")
    chat.edit(said, "/help me")
    start, sticker, photo, voice, document, _, edited = await bot.get_updates()
    assert start.message is not None and start.message.text == "/start clinic42"
    assert [(e.type, e.offset, e.length) for e in start.message.entities] == [("bot_command", 0, 6)]
    assert start.message.from_user is not None
    assert (start.message.from_user.username, start.message.from_user.language_code) == (
        "amina_k",
        "ur",
    )
    assert sticker.message is not None and sticker.message.sticker is not None
    assert photo.message is not None and len(photo.message.photo) == 3
    assert photo.message.caption == "my skin today"
    assert voice.message is not None and voice.message.voice is not None
    assert document.message is not None and document.message.document is not None
    assert edited.edited_message is not None
    assert edited.edited_message.text == "/help me"
    assert edited.edited_message.message_id == said
    assert edited.edited_message.edit_date is not None
    photo_file = await bot.get_file(photo.message.photo[-1].file_id)
    assert (await photo_file.download_as_bytearray()).startswith(b"\xff\xd8")


async def test_a_group_member_writes_in_the_group(bot: Bot, standin: StandIn) -> None:
    group = standin.group_chat(-100777, title="Staff", member_id=55)
    group.send("/start@aftercare_demo_bot")
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.from_user is not None
    assert (update.message.chat.type, update.message.chat.title) == ("supergroup", "Staff")
    assert update.message.from_user.id == 55
    assert update.message.entities[0].length == len("/start@aftercare_demo_bot")


async def test_application_polling_answers_start(standin: StandIn) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html(f"<b>Welcome</b>, {context.args}!")

    app = (
        Application.builder()
        .token(standin.token)
        .base_url(standin.base_url)
        .base_file_url(standin.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    chat = standin.private_chat(CHAT)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=5)
        chat.start("deep")
        (reply,) = await chat.wait_for(1)
        assert reply.text == "Welcome, ['deep']!"
        assert reply.html == "<b>Welcome</b>, ['deep']!"
        await app.updater.stop()
        await app.stop()
    await standin.wait_until(lambda: standin.pending_updates == 0, timeout=2)
    assert {c.method for c in standin.calls} >= {"getMe", "deleteWebhook", "getUpdates"}
    assert all(c.status == 200 for c in standin.calls), [
        (c.method, c.status) for c in standin.calls
    ]


class Receiver:
    """A small webhook receiver: records what Telegram POSTs, fails the first N times."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, object], str | None]] = []
        self.attempts = 0
        self.url = ""
        self.local = ""

    async def endpoint(self, request: Request) -> Response:
        self.attempts += 1
        if self.attempts <= self.failures:
            return Response(status_code=500)
        secret = request.headers.get("x-telegram-bot-api-secret-token")
        self.received.append((json.loads(await request.body()), secret))
        return Response()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver(failures=2)
    app = Starlette(routes=[Route("/hook", target.endpoint, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    target.local = f"http://127.0.0.1:{sock.getsockname()[1]}"
    target.url = f"{PUBLIC}/hook"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.install_signal_handlers = False  # type: ignore[attr-defined]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "the webhook receiver did not start"
        await asyncio.sleep(0.005)
    yield target
    server.should_exit = True
    await task


async def test_webhook_delivery_with_secret_and_retries(
    bot: Bot, standin: StandIn, receiver: Receiver
) -> None:
    standin.route_webhook(PUBLIC, receiver.local)
    assert await bot.set_webhook(receiver.url, secret_token="s3cr3t-token_1")
    with pytest.raises(Conflict, match="(?i)can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    chat = standin.private_chat(CHAT)
    chat.send("via webhook")
    chat.send("second")
    await standin.wait_until(lambda: len(receiver.received) == 2, timeout=3)
    (first, secret), (second, _) = receiver.received
    assert secret == "s3cr3t-token_1"
    assert receiver.attempts == 4  # two 500s, then both delivered in order
    update = Update.de_json(first, bot)
    assert update.message is not None and update.message.text == "via webhook"
    assert second["update_id"] == first["update_id"] + 1  # type: ignore[operator]
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (receiver.url, 0)
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert await bot.delete_webhook()
    chat.send("polling again")
    (polled,) = await bot.get_updates()
    assert polled.message is not None and polled.message.text == "polling again"


async def test_webhook_gives_up_after_a_few_attempts(
    bot: Bot, standin: StandIn, receiver: Receiver
) -> None:
    receiver.failures = 100
    standin.webhook_attempts, standin.webhook_retry_delay = 3, 0.01
    standin.route_webhook(PUBLIC, receiver.local)
    await bot.set_webhook(receiver.url)
    standin.private_chat(CHAT).send("lost")
    await standin.wait_until(lambda: standin.pending_updates == 0, timeout=3)
    assert receiver.attempts == 3 and receiver.received == []


async def test_set_webhook_validates_url_and_secret(bot: Bot, standin: StandIn) -> None:
    with pytest.raises(Exception, match="(?i)invalid webhook url"):
        await bot.set_webhook("ftp://example.org/hook")
    with pytest.raises(Exception, match="(?i)secret token contains unallowed characters"):
        await bot.set_webhook("https://example.org/hook", secret_token="no spaces")
    assert standin.webhook_url == ""


@pytest.mark.parametrize(
    ("url", "description"),
    [
        ("http://example.org/hook", "bad webhook: An HTTPS URL must be provided for webhook"),
        ("http://127.0.0.1:8080/hook", "bad webhook: An HTTPS URL must be provided for webhook"),
        (
            "https://example.org:8080/hook",
            "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
        (
            "https://example.org:444/hook",
            "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
    ],
)
async def test_set_webhook_refuses_what_telegram_refuses(
    bot: Bot, standin: StandIn, url: str, description: str
) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{standin.base_url}{standin.token}/setWebhook", data={"url": url}
        )
    assert answer.status_code == 400
    assert answer.json() == {
        "ok": False,
        "error_code": 400,
        "description": f"Bad Request: {description}",
    }
    with pytest.raises(BadRequest):
        await bot.set_webhook(url)
    assert standin.webhook_url == ""
    for allowed in ("https://example.org/hook", "https://example.org:88/h", "https://e.org:8443"):
        assert await bot.set_webhook(allowed)
        assert standin.webhook_url == allowed


async def test_wait_for_counts_messages_after_the_latest_action(bot: Bot, standin: StandIn) -> None:
    chat = standin.private_chat(CHAT)
    standin.per_chat_rate = None
    await bot.send_message(CHAT, "unprompted reminder")
    chat.send("hi")
    await bot.send_message(CHAT, "reply 1")
    await bot.send_message(CHAT, "reply 2")
    first = await chat.wait_for(1)
    second = await chat.wait_for(1)
    assert [m.text for m in first + second] == ["reply 1", "reply 2"]
    with pytest.raises(TimeoutError, match="0 arrived") as error:
        await chat.wait_for(1, timeout=0.05)
    assert "after the user's latest action" in str(error.value)
    assert chat.last.text == "reply 2"


async def test_wait_for_timeout_lists_what_arrived_and_what_failed(
    bot: Bot, standin: StandIn
) -> None:
    chat = standin.private_chat(CHAT)
    chat.send("hi")
    await bot.send_message(CHAT, "only one")
    standin.fail_next("sendMessage", error_code=400, description="Bad Request: nope")
    with pytest.raises(Exception, match="(?i)nope"):
        await bot.send_message(CHAT, "second")
    with pytest.raises(TimeoutError) as error:
        await chat.wait_for(2, timeout=0.05)
    report = str(error.value)
    assert "1 arrived" in report and "'only one'" in report
    assert "failed call: sendMessage -> 400 Bad Request: nope" in report


async def test_a_negative_offset_keeps_only_the_latest_updates(bot: Bot, standin: StandIn) -> None:
    chat = standin.private_chat(CHAT)
    for text in ("old", "older", "newest"):
        chat.send(text)
    (latest,) = await bot.get_updates(offset=-1)
    assert latest.message is not None and latest.message.text == "newest"
    assert standin.pending_updates == 1


async def test_wait_until_also_rechecks_state_it_does_not_own(standin: StandIn) -> None:
    flag: list[bool] = []
    asyncio.get_running_loop().call_later(0.05, flag.append, True)
    started = time.monotonic()
    await standin.wait_until(lambda: bool(flag), timeout=2)
    assert time.monotonic() - started < 0.5
