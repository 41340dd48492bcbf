"""``AiohttpRequest``: the real python-telegram-bot ``Bot`` over it, against the stand-in,
sends and reads what it does over httpx, and its failures reach the caller as
python-telegram-bot's errors."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.notifier import retry_after_seconds
from bot.standin import StandIn
from bot.transport import AiohttpRequest

CHAT = 1001
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def make_bot(base_url: str, token: str, *, read_timeout: float = 5.0) -> Bot:
    """The real Bot over ``AiohttpRequest``."""
    return Bot(
        token,
        base_url=f"{base_url}",
        base_file_url=base_url.removesuffix("/bot") + "/file/bot",
        request=AiohttpRequest(read_timeout=read_timeout),
        get_updates_request=AiohttpRequest(connection_pool_size=1, read_timeout=read_timeout),
    )


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    async with StandIn(per_chat_rate=None) as server:
        server.private_chat(CHAT)
        yield server


@pytest.fixture
async def bot(standin: StandIn) -> AsyncIterator[Bot]:
    async with make_bot(standin.base_url, standin.token) as client:
        yield client


async def test_html_buttons_and_updates_go_both_ways(bot: Bot, standin: StandIn) -> None:
    assert bot.username == standin.bot_username  # getMe, on initialize
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes, é ✓", callback_data="a:b:1")]])
    sent = await bot.send_message(
        CHAT, "<b>Hello</b> &amp; ✓ سلام", parse_mode="HTML", reply_markup=markup
    )
    shown = standin.private_chat(CHAT).last
    assert shown.text == "Hello & ✓ سلام" and sent.text == shown.text
    assert [[b.text for b in row] for row in shown.buttons] == [["Yes, é ✓"]]
    standin.private_chat(CHAT).press("Yes, é ✓")
    updates = await bot.get_updates(timeout=1)
    assert [u.callback_query.data for u in updates if u.callback_query] == ["a:b:1"]
    assert await bot.answer_callback_query(updates[0].callback_query.id) is True
    edited = await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=None)
    assert not isinstance(edited, bool) and standin.private_chat(CHAT).last.buttons == []


async def test_uploads_and_downloads_keep_their_bytes(bot: Bot, standin: StandIn) -> None:
    photo = await bot.send_photo(CHAT, PNG, caption="<b>Your QR</b>", parse_mode="HTML")
    document = await bot.send_document(CHAT, b"date,event\n", filename="export.csv")
    shown_photo, shown_document = standin.private_chat(CHAT).messages
    assert (shown_photo.kind, shown_photo.file_bytes, shown_photo.caption_html) == (
        "photo",
        PNG,
        "<b>Your QR</b>",
    )
    assert (shown_document.file_name, shown_document.file_bytes) == (
        "export.csv",
        b"date,event\n",
    )
    assert document.document is not None and photo.photo
    downloaded = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"date,event\n"


async def test_bot_api_errors_are_python_telegram_bots(bot: Bot, standin: StandIn) -> None:
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(424242, "hi")
    standin.fail_next("sendMessage", error_code=429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "hi")
    assert retry_after_seconds(caught.value) == 3


async def test_a_slow_answer_times_out(standin: StandIn) -> None:
    async with make_bot(standin.base_url, standin.token, read_timeout=0.3) as bot:
        standin.delay_next("sendMessage", 2.0)
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "slow")
        assert (await bot.send_message(CHAT, "next")).text == "next"  # the client recovers


async def test_a_dropped_or_refused_connection_is_a_network_error(
    bot: Bot, standin: StandIn
) -> None:
    standin.drop_connection_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "lost")
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"http://127.0.0.1:{port}/bot{standin.token}/getMe")
        assert not isinstance(caught.value, TimedOut)
    finally:
        await request.shutdown()


async def test_it_opens_again_after_a_shutdown(standin: StandIn) -> None:
    request = AiohttpRequest()
    with pytest.raises(NetworkError, match="not initialized"):  # PTB wraps it
        await request.post(f"{standin.base_url}{standin.token}/getMe")
    for _ in range(2):
        await request.initialize()
        me = await request.post(f"{standin.base_url}{standin.token}/getMe")
        assert isinstance(me, dict) and me["username"] == standin.bot_username
        await request.shutdown()


def test_the_proxy_variables_are_honoured_as_httpx_honoured_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert AiohttpRequest().proxy_for("https://api.telegram.org/bot1/getMe") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    request = AiohttpRequest()
    assert request.proxy_for("https://api.telegram.org/bot1/getMe") == "http://proxy.example:3128"
    assert request.proxy_for("https://127.0.0.1:8443/bot1/getMe") is None  # NO_PROXY
    monkeypatch.delenv("HTTPS_PROXY")  # read once per host: a running bot keeps its route
    assert request.proxy_for("https://api.telegram.org/bot1/x") == "http://proxy.example:3128"
