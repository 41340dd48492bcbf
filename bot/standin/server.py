"""A strict local stand-in of the Telegram Bot API, served over HTTP on 127.0.0.1.

The real python-telegram-bot talks to it as to Telegram: ``/bot<token>/<method>`` with
form, multipart or JSON parameters, answered with Telegram's result shapes and error
shapes (400 for bad parameters or unparseable HTML, 403 for a chat that blocked the bot,
429 with ``retry_after`` above the flood limits, 409, 401 and 404 like Telegram). It keeps
each chat's messages as the user sees them and lets a test or the demo act as users: send
text, stickers and photos, press buttons, edit, block. Updates go to getUpdates (long
polling, offsets confirm) or, once a webhook is set, are POSTed to it.

Everything runs on the one asyncio loop that runs the server; the test-side methods are
synchronous and are meant to be called from that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import secrets
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.standin.chats import Chat, ChatHandle
from bot.standin.errors import (
    BLOCKED,
    NOT_MODIFIED,
    QUERY_INVALID,
    ApiError,
    bad_request,
    too_many_requests,
)
from bot.standin.html import Entity, EntityParseError, FormattedText, parse_formatted, trim
from bot.standin.limits import SlidingWindow, TokenBucket
from bot.standin.markup import parse_reply_markup
from bot.standin.records import CallbackAnswer, CallRecord, SentMessage

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_RAW_TEXT_BYTES = 1 << 15
MAX_ANSWER_TEXT = 200
MAX_POLL_TIMEOUT = 50
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_COMMANDS = 100
WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
# MessageEntity types of the Bot API, with the fields each one carries besides its position.
ENTITY_FIELDS: dict[str, frozenset[str]] = {
    **{
        kind: frozenset()
        for kind in (
            "mention",
            "hashtag",
            "cashtag",
            "bot_command",
            "url",
            "email",
            "phone_number",
            "bold",
            "italic",
            "underline",
            "strikethrough",
            "spoiler",
            "blockquote",
            "expandable_blockquote",
            "code",
        )
    },  # fmt: skip
    "pre": frozenset({"language"}),
    "text_link": frozenset({"url"}),
    "text_mention": frozenset({"user"}),
    "custom_emoji": frozenset({"custom_emoji_id"}),
    "date_time": frozenset({"unix_time", "date_time_format"}),
}
SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})
# Telegram's default when allowed_updates was never given (or given as []).
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
METHODS = (
    "getMe", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo", "sendMessage",
    "sendPhoto", "sendDocument", "editMessageText", "editMessageCaption",
    "editMessageReplyMarkup", "deleteMessage", "answerCallbackQuery", "setMyCommands",
    "getMyCommands", "deleteMyCommands", "sendChatAction", "getChat", "getFile", "close",
    "logOut",
)  # fmt: skip
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

Handler = Callable[["_Params"], Awaitable[Any]]


class _Params:
    """A request's parameters, read as the Bot API reads them: everything is a string on
    the wire (PTB JSON-encodes non-strings: ``true``, ``123``, reply_markup as JSON), an
    uploaded file is ``(filename, bytes)``."""

    def __init__(self, values: dict[str, Any], request: Request | None = None) -> None:
        self.values = values
        self.request = request

    def text(self, key: str) -> str:
        value = self.values.get(key)
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return json.dumps(value)
        return str(value)

    def integer(self, key: str) -> int | None:
        try:
            return int(self.text(key).strip())
        except ValueError:
            return None

    def seconds(self, key: str) -> float:
        try:
            return float(self.text(key) or 0)
        except ValueError:
            return 0.0

    def flag(self, key: str) -> bool:
        return self.text(key).strip().lower() in ("true", "1")

    def decoded(self, key: str, error: str) -> Any:
        value = self.values.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(error) from None


@dataclass
class _Fault:
    method: str
    chat_id: int | None
    count: int
    error: ApiError | None = None
    delay: float = 0.0
    drop: bool = False
    applied: bool = False


@dataclass
class _Outage:
    until: float  # monotonic
    status: int | None
    hang: bool


OUTAGE_WORDS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class _File:
    file_id: str
    unique_id: str
    data: bytes
    path: str
    name: str | None
    kind: str  # photo, document, sticker...: a file id is only sent again as its kind


class _DroppedResponse(Response):
    """Headers promising a body that never comes: the client sees the connection drop."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"512")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # Returning now makes uvicorn close the connection mid-answer.


class _DropNoise(logging.Filter):
    """Hide uvicorn's complaint about the answers drop_connection_next cuts on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


_DROP_NOISE = _DropNoise()


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers (the process that embeds the stand-in owns them)
    and stopping at once when asked, not at its next 0.1 s tick: tests stop it often."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.exit_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield

    async def main_loop(self) -> None:
        # on_tick(0) refreshes the Date header and reports should_exit.
        while not await self.on_tick(0):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self.exit_requested.wait()

    def request_exit(self) -> None:
        self.should_exit = True
        self.exit_requested.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's graceful shutdown without its fixed 0.1 s pauses: idle connections
        close at once, a request still being answered gets up to the graceful timeout."""
        state = getattr(self, "server_state", None)
        if state is None or not hasattr(state, "connections"):  # another uvicorn: its own
            await super().shutdown(sockets)
            return
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(state.connections):
            connection.shutdown()
        running = set(state.tasks)
        if running:
            await asyncio.wait(running, timeout=self.config.timeout_graceful_shutdown)
        for task in list(state.tasks):
            task.cancel()
        await asyncio.sleep(0)  # let the closed connections go
        for server in self.servers:
            await server.wait_closed()


class StandIn:
    """The Bot API stand-in. ``async with StandIn() as api:`` serves it on a free port.

    Rate limits (None disables one): ``global_rate`` sends a second over all chats,
    ``per_chat_rate`` a second to one private chat after a burst of ``per_chat_burst``,
    ``group_rate_per_minute`` to one group. They may be changed while running.
    """

    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "aftercare_demo_bot",
        global_rate: float | None = 30,
        per_chat_rate: float | None = 1.0,
        per_chat_burst: int = 3,
        group_rate_per_minute: int | None = 20,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 123456
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.per_chat_burst = per_chat_burst
        self.group_rate_per_minute = group_rate_per_minute
        self.host = host
        self.port = port
        # Refuse "&nbsp;" and other unknown named entities (Telegram shows them as text).
        self.strict_entities = True
        self.webhook_attempts = 5
        self.webhook_retry_delay = 0.05
        self.messages: list[SentMessage] = []
        self.calls: list[CallRecord] = []
        self.rejected = 0
        self.throttled = 0
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_last_error: tuple[int, str] | None = None
        self._webhook_routes: dict[str, str] = {}
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._chats: dict[int, Chat] = {}
        self._handles: dict[int, ChatHandle] = {}
        self._updates: deque[dict[str, Any]] = deque()
        self._allowed: frozenset[str] | None = None
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(4_200_000_000_000)
        self._file_numbers = itertools.count(1)
        self._queries: dict[str, tuple[int, bool]] = {}
        self._files: dict[str, _File] = {}
        self._paths: dict[str, _File] = {}
        self._faults: list[_Fault] = []
        self._outage: _Outage | None = None
        self._limits_key: tuple[Any, ...] = ()
        self._global: SlidingWindow | None = None
        self._buckets: dict[int, TokenBucket] = {}
        self._groups: dict[int, SlidingWindow] = {}
        self._changed = asyncio.Event()
        self._poll_generation = 0
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._handlers: dict[str, Handler] = {
            name.lower(): getattr(self, f"_m_{name.lower()}") for name in METHODS
        }
        self._names = {name.lower(): name for name in METHODS}

    # -- life cycle ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token."""
        return f"{self._origin}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self._origin}/file/bot"

    @property
    def _origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0: a free one, then stored in ``port``)."""
        if self._task is not None:
            raise RuntimeError("the stand-in is already running")
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file_endpoint, methods=["GET"]),
                Route("/_standin/{chat_id:int}/{action}", self._control, methods=["GET", "POST"]),
            ]
        )
        # Bound here, not by uvicorn, so that a busy port is an OSError now and port 0
        # is resolved at once. The IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on
        # such sockets, and without it every answer waits 40 ms for a delayed ACK.
        family, kind, proto, _, address = socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._stopping = False
        logging.getLogger("uvicorn.error").addFilter(_DROP_NOISE)
        self._server = _QuietServer(config)
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._server.serve(sockets=[sock]))
        self._webhook_task = loop.create_task(self._deliver_webhooks())
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the Telegram stand-in did not start")
            await asyncio.sleep(0.005)
        log.info("Telegram stand-in on %s", self.base_url)

    async def stop(self) -> None:
        """Answer waiting long polls, stop webhook delivery and the server."""
        self._stopping = True
        self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._server is not None and self._task is not None:
            self._server.request_exit()
            await self._task
        self._server = None
        self._task = None

    async def __aenter__(self) -> StandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the test side ------------------------------------------------------------------

    def private_chat(
        self,
        chat_id: int,
        *,
        first_name: str = "Amina",
        username: str | None = None,
        language_code: str = "en",
    ) -> ChatHandle:
        """A user who has started the bot (the same handle again for a known chat)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = Chat(
                chat_id,
                "private",
                first_name=first_name,
                username=username,
                language_code=language_code,
            )
            self._chats[chat_id] = chat
        return self._handle(chat)

    def group_chat(self, chat_id: int, *, title: str = "Group", member_id: int = 7) -> ChatHandle:
        """A supergroup the bot is in; the handle acts as its member ``member_id``."""
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = Chat(chat_id, "supergroup", title=title, member_id=member_id)
            self._chats[chat_id] = chat
        return self._handle(chat)

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: sends get 403 and a my_chat_member update arrives
        (member -> kicked)."""
        self._set_blocked(chat_id, True)

    def unblock(self, chat_id: int) -> None:
        """The user unblocks the bot: a my_chat_member update (kicked -> member)."""
        self._set_blocked(chat_id, False)

    @property
    def commands(self) -> list[dict[str, str]]:
        """The commands set by setMyCommands for the default scope and all languages."""
        return list(self._commands.get(('{"type": "default"}', ""), []))

    def menu(self, scope: dict[str, Any] | None = None, language: str = "") -> list[str]:
        """The command names set for ``scope`` (the default one when None) and
        ``language`` ("" for all languages), in their order."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language)
        return [command["command"] for command in self._commands.get(key, [])]

    def menu_descriptions(
        self, scope: dict[str, Any] | None = None, language: str = ""
    ) -> dict[str, str]:
        """The descriptions of the commands set for ``scope`` and ``language``, by name."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language)
        return {c["command"]: c["description"] for c in self._commands.get(key, [])}

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed (getUpdates) or delivered (webhook)."""
        return len(self._updates)

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` (to ``chat_id``, if given) fail with
        ``error_code`` and Telegram's wording unless ``description`` is given; nothing is
        sent."""
        defaults = {
            400: "Bad Request: injected failure",
            401: "Unauthorized",
            403: BLOCKED,
            409: POLL_CONFLICT,
            500: "Internal Server Error",
            502: "Bad Gateway",
        }
        if error_code == 429:
            retry_after = max(1, retry_after or 1)
            description = description or f"Too Many Requests: retry after {retry_after}"
        error = ApiError(error_code, description or defaults.get(error_code, "Error"), retry_after)
        self._faults.append(_Fault(method.lower(), chat_id, count, error=error))

    def delay_next(
        self, method: str, seconds: float, count: int = 1, chat_id: int | None = None
    ) -> None:
        """The next ``count`` calls of ``method`` answer only after ``seconds``. They do
        take effect, as Telegram's do when the client has given up waiting."""
        self._faults.append(_Fault(method.lower(), chat_id, count, delay=seconds))

    def drop_connection_next(
        self, method: str, *, count: int = 1, chat_id: int | None = None, applied: bool = False
    ) -> None:
        """The next ``count`` calls of ``method`` lose their connection before the answer
        (PTB raises NetworkError); with ``applied`` the call took effect first."""
        self._faults.append(_Fault(method.lower(), chat_id, count, drop=True, applied=applied))

    def outage(self, *, seconds: float, status: int | None = 502, hang: bool = False) -> None:
        """For ``seconds`` the Bot API is down: every call (getUpdates too) fails and takes
        no effect. It answers ``status`` (a 5xx) at once, or with ``hang`` only when the
        outage ends, so a client whose read timeout is shorter times out first; a ``status``
        of None drops the connection instead of answering. A new outage replaces the old."""
        if status is not None and not 500 <= status < 600:
            raise ValueError("an outage answers a 5xx status (or None: the connection drops)")
        self._outage = _Outage(time.monotonic() + seconds, status, hang)
        self._notify()

    def end_outage(self) -> None:
        """The Bot API is back: calls hanging in the outage get its answer now."""
        self._outage = None
        self._notify()

    @property
    def in_outage(self) -> bool:
        """Whether an outage is under way."""
        return self._outage is not None and time.monotonic() < self._outage.until

    async def _outage_answer(self, outage: _Outage) -> Response:
        """What a call gets in ``outage`` (after hanging until it ends, if it hangs)."""
        if outage.hang:
            await self._wait(
                lambda: (
                    self._stopping or self._outage is not outage or time.monotonic() >= outage.until
                ),
                max(0.0, outage.until - time.monotonic()),
            )
        if outage.status is None:
            return _DroppedResponse()
        raise ApiError(outage.status, OUTAGE_WORDS.get(outage.status, "Server Error"))

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,
        what: str = "condition",
        detail: Callable[[], str] | None = None,
    ) -> None:
        """Wait until ``predicate()`` holds; it is checked now and after every change
        (update queued, call answered, message stored or edited). TimeoutError says what
        was awaited and what went wrong recently. A predicate over other state (a
        database) is also re-checked every 0.1 s."""
        if await self._wait(predicate, timeout, recheck=0.1):
            return
        report = detail() if detail is not None else self._failures_report()
        raise TimeoutError(f"stand-in: waited {timeout:g}s for {what} in vain. {report}".rstrip())

    # -- internals used by ChatHandle ---------------------------------------------------------

    def _handle(self, chat: Chat) -> ChatHandle:
        if chat.chat_id not in self._handles:
            self._handles[chat.chat_id] = ChatHandle(self, chat)
        return self._handles[chat.chat_id]

    def _next_message_id(self) -> int:
        return next(self._message_ids)

    def _new_query(self, chat_id: int) -> str:
        query_id = str(next(self._query_ids))
        self._queries[query_id] = (chat_id, False)
        return query_id

    def _push(self, kind: str, payload: dict[str, Any]) -> int | None:
        """Queue an update, unless allowed_updates excludes its kind (Telegram then never
        creates it). Returns its update_id."""
        allowed = self._allowed
        if (kind not in allowed) if allowed is not None else (kind in NOT_BY_DEFAULT):
            return None
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, kind: payload})
        self._notify()
        return update_id

    def _user_file(self, kind: str, data: bytes, name: str) -> dict[str, Any]:
        stored = self._new_file(kind, data, name)
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(data),
        }

    def _chat_report(self, chat_id: int, start: int) -> str:
        chat = self._chats[chat_id]
        arrived = chat.messages[start:]
        lines = [f"{len(arrived)} arrived"]
        lines += [f"  [{m.message_id}] {_preview(m)}" for m in arrived]
        failed = [
            c
            for c in self.calls
            if c.status != 200 and _Params(c.params).integer("chat_id") == chat_id
        ]
        lines += [f"  failed call: {c.method} -> {c.status} {c.description}" for c in failed[-5:]]
        if self._updates:
            lines.append(f"  {len(self._updates)} update(s) still unconfirmed by the bot")
        return "\n".join(lines)

    def _failures_report(self) -> str:
        failed = [c for c in self.calls if c.status != 200][-5:]
        return "\n".join(f"  failed call: {c.method} -> {c.status} {c.description}" for c in failed)

    # -- change notification --------------------------------------------------------------

    def _notify(self) -> None:
        """Wake every waiter: they re-check their conditions."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(
        self, predicate: Callable[[], bool], timeout: float | None, recheck: float | None = None
    ) -> bool:
        """Wait for ``predicate`` at every change (and every ``recheck`` seconds, for
        predicates that also read state the stand-in does not own)."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    changed = self._changed.wait()
                    if recheck is None:
                        await changed
                    else:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(changed, recheck)
        except TimeoutError:
            return predicate()
        return True

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up when the stand-in stops."""
        await self._wait(lambda: self._stopping, seconds)

    # -- chats, blocking, messages ----------------------------------------------------------

    def _set_blocked(self, chat_id: int, blocked: bool) -> None:
        chat = self._chats.get(chat_id)
        if chat is None or not chat.private:
            raise LookupError(f"no private chat {chat_id}; create it with private_chat()")
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        bot = self._bot_user()

        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"user": bot, "status": status}
            if status == "kicked":
                data["until_date"] = 0
            return data

        self._push(
            "my_chat_member",
            {
                "chat": chat.chat_json(),
                "from": chat.user_json(),
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Aftercare Bot",
            "username": self.bot_username,
        }

    def _message_json(self, message: SentMessage, *, nested: bool = False) -> dict[str, Any]:
        chat = self._chats[message.chat_id]
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self._bot_user(),
            "chat": chat.chat_json(),
            "date": message.date,
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        stored = self._files.get(message.file_id or "")
        file_fields: dict[str, Any] = {}
        if stored is not None:
            file_fields = {
                "file_id": stored.file_id,
                "file_unique_id": stored.unique_id,
                "file_size": len(stored.data),
            }
        if message.kind == "text":
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        elif message.kind == "photo":
            width, height = _image_size(message.file_bytes or b"") or (800, 600)
            data["photo"] = [{**file_fields, "width": width, "height": height}]
        else:
            data["document"] = {**file_fields, "file_name": message.file_name or "file"}
        if message.caption:
            data["caption"] = message.caption
            if message.caption_entities:
                data["caption_entities"] = message.caption_entities
        if message.markup_json:
            data["reply_markup"] = message.markup_json
        if message.reply_to is not None and not nested:
            replied = self._replied_json(chat, message.reply_to)
            if replied is not None:
                data["reply_to_message"] = replied
        return data

    def _store(self, chat: Chat, message: SentMessage) -> dict[str, Any]:
        chat.messages.append(message)
        self.messages.append(message)
        self._notify()
        return self._message_json(message)

    def _new_file(self, kind: str, data: bytes, name: str | None) -> _File:
        number = next(self._file_numbers)
        folder = {"photo": "photos", "document": "documents", "sticker": "stickers"}.get(kind, kind)
        extension = (name or "").rsplit(".", 1)[-1] if name and "." in name else "bin"
        stored = _File(
            file_id=f"{kind[:2].upper()}AC{secrets.token_urlsafe(24)}",
            unique_id=f"AQAD{secrets.token_urlsafe(6)}",
            data=data,
            path=f"{folder}/file_{number}.{extension}",
            name=name,
            kind=kind,
        )
        self._files[stored.file_id] = stored
        self._paths[stored.path] = stored
        return stored

    # -- HTTP ---------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        requested = request.path_params["method"]
        key = requested.lower()
        name = self._names.get(key, requested)
        at = time.monotonic()
        values: dict[str, Any] = {}
        status, description = 200, None
        scope: str | None = None
        response: Response
        try:
            outage = self._outage
            if outage is not None and at < outage.until:
                values = await self._read(request)
                response = await self._outage_answer(outage)
                status, description = 0, "connection dropped (outage)"
                self.calls.append(CallRecord(name, values, status, at, description))
                self._notify()
                return response
            if request.path_params["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            handler = self._handlers.get(key)
            if handler is None:
                log.warning("stand-in: %s is not a method it implements: 404", requested)
                raise ApiError(404, "Not Found")
            values = await self._read(request)
            params = _Params(values, request)
            fault = self._take_fault(key, params.integer("chat_id"))
            if fault is not None and fault.delay:
                await self._pause(fault.delay)
            if fault is not None and fault.drop:
                if fault.applied:
                    with contextlib.suppress(ApiError):
                        await handler(params)
                status, description = 0, "connection dropped (drop_connection_next)"
                response = _DroppedResponse()
            elif fault is not None and fault.error is not None:
                raise fault.error
            else:
                result = await handler(params)
                response = JSONResponse({"ok": True, "result": result})
        except Exception as exc:
            error = exc if isinstance(exc, ApiError) else _internal_error(name, exc)
            status, description, scope = error.code, error.description, error.scope
            if status == 429:
                self.throttled += 1
            elif 400 <= status < 500:
                self.rejected += 1
            response = error.response()
        self.calls.append(CallRecord(name, values, status, at, description, scope))
        # DEBUG, for message texts are private: python -m bot.standin shows them.
        log.debug("%s %s -> %s %s", name, _summary(values), status, description or "")
        self._notify()
        return response

    async def _read(self, request: Request) -> dict[str, Any]:
        values: dict[str, Any] = dict(request.query_params)
        if request.method != "POST":
            return values
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            body = await request.body()
            if body:
                try:
                    decoded = json.loads(body)
                except ValueError:
                    raise bad_request("can't parse JSON object") from None
                if isinstance(decoded, dict):
                    values.update(decoded)
            return values
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            try:
                form = await request.form(max_files=50, max_fields=1000)
            except Exception:
                raise bad_request("can't parse the request body") from None
            try:
                for field_name, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        data = await value.read()
                        values[field_name] = (value.filename or field_name, data)
                    else:
                        values[field_name] = value
            finally:
                await form.close()
        return values

    def _take_fault(self, method: str, chat_id: int | None) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.chat_id in (None, chat_id):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _file_endpoint(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        stored = self._paths.get(request.path_params["path"])
        if stored is None:
            return ApiError(404, "Not Found").response()
        return Response(stored.data, media_type="application/octet-stream")

    async def _control(self, request: Request) -> Response:
        """A small HTTP API for driving the stand-in by hand (``python -m bot.standin``):
        ``/_standin/<chat>/send?text=...``, ``/press?button=...``, ``/messages``."""
        chat = self.private_chat(request.path_params["chat_id"])
        params = _Params(await self._read(request))
        action = request.path_params["action"]
        try:
            if action == "send":
                return JSONResponse({"message_id": chat.send(params.text("text"))})
            if action == "press":
                button = params.text("button")
                pressed = chat.press(int(button) if button.isdigit() else button)
                return JSONResponse({"callback_query_id": pressed})
            if action == "block":
                chat.block()
                return JSONResponse({"blocked": True})
            if action == "unblock":
                chat.unblock()
                return JSONResponse({"blocked": False})
            if action == "messages":
                return JSONResponse([self._message_json(m) for m in chat.messages])
        except (LookupError, ValueError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse({"error": f"unknown action {action!r}"}, status_code=404)

    # -- rate limits --------------------------------------------------------------------

    def _throttle(self, chat: Chat) -> None:
        """429 above a limit; otherwise count the send against every limit that applies."""
        key = (
            self.global_rate,
            self.per_chat_rate,
            self.per_chat_burst,
            self.group_rate_per_minute,
        )
        if key != self._limits_key:
            self._limits_key = key
            self._global = None
            if self.global_rate:
                rate = float(self.global_rate)
                count, span = (int(rate), 1.0) if rate >= 1 else (1, 1 / rate)
                self._global = SlidingWindow(count, span)
            self._buckets.clear()
            self._groups.clear()
        now = time.monotonic()
        rules: list[TokenBucket | SlidingWindow] = []
        scopes: list[str] = []
        if self._global is not None:
            rules.append(self._global)
            scopes.append("overall")
        if chat.private and self.per_chat_rate:
            bucket = self._buckets.get(chat.chat_id)
            if bucket is None:
                bucket = TokenBucket(self.per_chat_rate, self.per_chat_burst, now)
                self._buckets[chat.chat_id] = bucket
            rules.append(bucket)
            scopes.append("chat")
        elif not chat.private and self.group_rate_per_minute:
            window = self._groups.get(chat.chat_id)
            if window is None:
                window = SlidingWindow(self.group_rate_per_minute, 60.0)
                self._groups[chat.chat_id] = window
            rules.append(window)
            scopes.append("group")
        waits = [rule.wait(now) for rule in rules]
        wait = max(waits, default=0.0)
        if wait > 0:
            refused = "+".join(s for s, w in zip(scopes, waits, strict=True) if w > 0)
            raise too_many_requests(max(1, math.ceil(wait)), scope=refused)
        for rule in rules:
            rule.take(now)

    # -- shared checks ------------------------------------------------------------------

    def _known_chat(self, p: _Params) -> Chat:
        raw = p.text("chat_id").strip()
        if not raw:
            raise bad_request("chat_id is empty")
        chat_id = p.integer("chat_id")
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _writable_chat(self, p: _Params) -> Chat:
        chat = self._known_chat(p)
        if chat.blocked:
            raise ApiError(403, BLOCKED)
        return chat

    def _formatted(
        self, raw: str, p: _Params, *, entities_key: str, limit: int, too_long: str
    ) -> FormattedText:
        """``raw`` parsed per ``parse_mode`` and trimmed as Telegram does; 400 otherwise."""
        if len(raw.encode("utf-8", "surrogatepass")) > MAX_RAW_TEXT_BYTES:
            raise bad_request("text is too long")
        mode = p.text("parse_mode").strip().lower()
        if mode == "html":
            try:
                formatted = parse_formatted(raw, strict_entities=self.strict_entities)
            except EntityParseError as error:
                raise bad_request(f"can't parse entities: {error}") from None
        elif mode in ("markdown", "markdownv2"):
            raise bad_request(f"unsupported parse_mode {mode!r}: the stand-in parses HTML only")
        elif mode not in ("", "none"):
            raise bad_request("unsupported parse_mode")
        else:
            given = p.decoded(entities_key, f"can't parse {entities_key} JSON object")
            formatted = FormattedText(raw, _given_entities(given))
        formatted = trim(formatted)
        if len(formatted.text) > limit:
            raise bad_request(too_long)
        return formatted

    def _find(self, p: _Params, what: str) -> tuple[Chat, SentMessage]:
        if p.values.get("inline_message_id"):
            raise bad_request("the stand-in has no inline messages")
        chat = self._writable_chat(p)
        message_id = p.integer("message_id")
        if not message_id:
            raise bad_request("message identifier is not specified")
        for message in chat.messages:
            if message.message_id == message_id and not message.deleted:
                return chat, message
        raise bad_request(f"{what} not found")

    def _input_file(self, p: _Params, field_name: str) -> tuple[bytes, str | None, _File | None]:
        value = p.values.get(field_name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.values.get(value[len("attach://") :])
        if value is None or value == "":
            raise bad_request(f"there is no {field_name} in the request")
        if isinstance(value, tuple):
            name, data = value
            if not data:
                raise bad_request("file must be non-empty")
            if len(data) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            return data, name, None
        reference = str(value)
        known = self._files.get(reference)
        if known is not None:
            if known.kind != field_name:  # a document's file id is not a photo, nor back
                raise bad_request("type of file mismatch")
            return known.data, known.name, known
        if reference.startswith(("http://", "https://")):
            return b"", reference.rsplit("/", 1)[-1] or None, None
        raise bad_request("wrong file identifier/HTTP URL specified")

    # -- methods ------------------------------------------------------------------------

    async def _m_getme(self, p: _Params) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_getupdates(self, p: _Params) -> Any:
        if self.webhook_url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = p.integer("offset") or 0
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = min(max(p.seconds("timeout"), 0.0), MAX_POLL_TIMEOUT)
        self._set_allowed(p)
        if offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()
        if timeout > 0 and not self._updates and not self._stopping:
            self._poll_generation += 1
            generation = self._poll_generation
            self._notify()  # an older long poll now answers 409, as Telegram's does
            gone: list[bool] = []
            watcher = asyncio.get_running_loop().create_task(self._watch_disconnect(p, gone))
            try:
                await self._wait(
                    lambda: (
                        bool(self._updates)
                        or self._stopping
                        or bool(gone)
                        or generation != self._poll_generation
                    ),
                    timeout,
                )
            finally:
                watcher.cancel()
            if generation != self._poll_generation and not gone and not self._stopping:
                if self.webhook_url:
                    raise ApiError(409, "Conflict: terminated by setWebhook request")
                raise ApiError(409, POLL_CONFLICT)
        return list(itertools.islice(self._updates, limit))

    async def _watch_disconnect(self, p: _Params, gone: list[bool]) -> None:
        """Notice a client that gave up (PTB cancels its poll on stop): the orphaned long
        poll then ends at once instead of competing with the next one."""
        if p.request is None:
            return
        with contextlib.suppress(Exception):
            while True:
                message = await p.request.receive()
                if message["type"] == "http.disconnect":
                    gone.append(True)
                    self._notify()
                    return

    def _set_allowed(self, p: _Params) -> None:
        if "allowed_updates" not in p.values:
            return
        with contextlib.suppress(ApiError):
            kinds = p.decoded("allowed_updates", "")
            if isinstance(kinds, list):
                self._allowed = frozenset(str(k) for k in kinds) if kinds else None

    async def _m_setwebhook(self, p: _Params) -> Any:
        url = p.text("url").strip()
        if not url:
            return await self._m_deletewebhook(p)
        try:
            parts = urlsplit(url)
            valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
            port = parts.port
        except ValueError:
            valid = False
        if not valid:
            raise bad_request("invalid webhook URL specified")
        if parts.scheme.lower() != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if port is not None and port not in WEBHOOK_PORTS:
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = p.text("secret_token")
        if len(secret) > 256:
            raise bad_request("secret token is too long")
        if not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret):
            raise bad_request("secret token contains unallowed characters")
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        self._set_allowed(p)
        self.webhook_url = url
        self.webhook_secret = secret or None
        self.webhook_last_error = None
        self._poll_generation += 1
        self._notify()
        return True

    async def _m_deletewebhook(self, p: _Params) -> Any:
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        self.webhook_url = ""
        self.webhook_secret = None
        self._notify()
        return True

    async def _m_getwebhookinfo(self, p: _Params) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            if self._allowed is not None:
                info["allowed_updates"] = sorted(self._allowed)
            if self.webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    async def _deliver_webhooks(self) -> None:
        """POST queued updates, in order, to the webhook; retry a failed one a few times
        with a growing pause, then drop it and record the error, as Telegram does."""
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            attempts = 0
            while True:
                await self._wait(lambda: bool(self.webhook_url and self._updates), None)
                update = self._updates[0]
                headers = {"Content-Type": "application/json"}
                if self.webhook_secret:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
                try:
                    answer = await client.post(
                        self._webhook_target(self.webhook_url),
                        content=json.dumps(update),
                        headers=headers,
                    )
                    error = (
                        None
                        if 200 <= answer.status_code < 300
                        else (
                            f"Wrong response from the webhook: {answer.status_code} "
                            f"{answer.reason_phrase}"
                        )
                    )
                except httpx.HTTPError as exc:
                    error = f"Connection failed: {exc.__class__.__name__}"
                if error is None or attempts + 1 >= self.webhook_attempts:
                    if error is not None:
                        log.warning(
                            "stand-in: webhook gave up on update %s: %s", update["update_id"], error
                        )
                        self.webhook_last_error = (int(time.time()), error)
                    if self._updates and self._updates[0] is update:
                        self._updates.popleft()
                    attempts = 0
                    self._notify()
                    continue
                attempts += 1
                self.webhook_last_error = (int(time.time()), error)
                await self._pause(min(self.webhook_retry_delay * 2 ** (attempts - 1), 2.0))

    def route_webhook(self, public_origin: str, local_origin: str) -> None:
        """Test facility: deliver webhooks set on ``public_origin`` (an https origin Telegram
        accepts, like https://bot.example.com:8443) to ``local_origin`` (http://127.0.0.1:N),
        as a reverse proxy would. Telegram itself only ever calls the public URL."""
        self._webhook_routes[public_origin.rstrip("/")] = local_origin.rstrip("/")

    def _webhook_target(self, url: str) -> str:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        local = self._webhook_routes.get(origin)
        return url if local is None else local + url[len(origin) :]

    async def _m_sendmessage(self, p: _Params) -> Any:
        raw = p.text("text")
        if not raw:
            raise bad_request("message text is empty")
        formatted = self._formatted(
            raw, p, entities_key="entities", limit=MAX_TEXT, too_long="message is too long"
        )
        buttons, markup = parse_reply_markup(p.values.get("reply_markup"))
        chat = self._writable_chat(p)
        if not formatted.text:
            raise bad_request("text must be non-empty")
        reply_to = self._reply_to(chat, p)
        self._throttle(chat)
        mode = p.text("parse_mode") or None
        message = SentMessage(
            self._next_message_id(),
            chat.chat_id,
            formatted.text,
            raw,
            mode,
            buttons=buttons,
            date=int(time.time()),
            entities=[_entity_json(e) for e in formatted.entities],
            markup_json=markup,
            reply_to=reply_to,
        )
        return self._store(chat, message)

    def _reply_to(self, chat: Chat, p: _Params) -> int | None:
        """The message replied to (reply_parameters or the older reply_to_message_id);
        400 if it does not exist, unless sending without the reply is allowed."""
        target = p.integer("reply_to_message_id")
        allow = p.flag("allow_sending_without_reply")
        given = p.decoded("reply_parameters", "can't parse reply parameters JSON object")
        if isinstance(given, dict):
            target = _Params(given).integer("message_id")
            allow = _Params(given).flag("allow_sending_without_reply")
        if not target:
            return None
        if self._replied_json(chat, target) is not None:
            return target
        if allow:
            return None
        raise bad_request("message to be replied not found")

    def _replied_json(self, chat: Chat, message_id: int) -> dict[str, Any] | None:
        if message_id in chat.user_messages:
            return chat.user_messages[message_id]
        for message in chat.messages:
            if message.message_id == message_id and not message.deleted:
                return self._message_json(message, nested=True)
        return None

    def _caption(self, raw: str, p: _Params) -> FormattedText:
        """A caption read and checked as Telegram does (entities, parse mode, 1,024 chars)."""
        return self._formatted(
            raw,
            p,
            entities_key="caption_entities",
            limit=MAX_CAPTION,
            too_long="message caption is too long",
        )

    async def _send_file(self, p: _Params, kind: str) -> Any:
        data, name, known = self._input_file(p, kind)
        raw_caption = p.text("caption")
        caption = self._caption(raw_caption, p)
        buttons, markup = parse_reply_markup(p.values.get("reply_markup"))
        chat = self._writable_chat(p)
        if kind == "photo" and data and _image_size(data) is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        reply_to = self._reply_to(chat, p)
        self._throttle(chat)
        stored = known if known is not None else self._new_file(kind, data, name)
        message = SentMessage(
            self._next_message_id(),
            chat.chat_id,
            "",
            None,
            p.text("parse_mode") or None,
            kind=kind,
            buttons=buttons,
            caption=caption.text or None,
            file_bytes=data,
            file_name=name,
            date=int(time.time()),
            caption_html=raw_caption or None,
            caption_entities=[_entity_json(e) for e in caption.entities],
            markup_json=markup,
            file_id=stored.file_id,
            reply_to=reply_to,
        )
        return self._store(chat, message)

    async def _m_sendphoto(self, p: _Params) -> Any:
        return await self._send_file(p, "photo")

    async def _m_senddocument(self, p: _Params) -> Any:
        return await self._send_file(p, "document")

    async def _m_editmessagetext(self, p: _Params) -> Any:
        raw = p.text("text")
        if not raw:
            raise bad_request("message text is empty")
        formatted = self._formatted(
            raw, p, entities_key="entities", limit=MAX_TEXT, too_long="message is too long"
        )
        buttons, markup = parse_reply_markup(p.values.get("reply_markup"))
        _, message = self._find(p, "message to edit")
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        if not formatted.text:
            raise bad_request("text must be non-empty")
        entities = [_entity_json(e) for e in formatted.entities]
        if (formatted.text, entities, markup) == (
            message.text,
            message.entities,
            message.markup_json,
        ):
            raise bad_request(NOT_MODIFIED)
        message.text, message.html, message.entities = formatted.text, raw, entities
        message.parse_mode = p.text("parse_mode") or None
        message.buttons, message.markup_json = buttons, markup
        return self._edited(message)

    async def _m_editmessagecaption(self, p: _Params) -> Any:
        raw = p.text("caption")
        caption = self._caption(raw, p)
        buttons, markup = parse_reply_markup(p.values.get("reply_markup"))
        _, message = self._find(p, "message to edit")
        if message.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        entities = [_entity_json(e) for e in caption.entities]
        if (caption.text or None, entities, markup) == (
            message.caption,
            message.caption_entities,
            message.markup_json,
        ):
            raise bad_request(NOT_MODIFIED)
        message.caption, message.caption_html = caption.text or None, raw or None
        message.caption_entities, message.parse_mode = entities, p.text("parse_mode") or None
        message.buttons, message.markup_json = buttons, markup
        return self._edited(message)

    async def _m_editmessagereplymarkup(self, p: _Params) -> Any:
        buttons, markup = parse_reply_markup(p.values.get("reply_markup"))
        _, message = self._find(p, "message to edit")
        if markup == message.markup_json:
            raise bad_request(NOT_MODIFIED)
        message.buttons, message.markup_json = buttons, markup
        return self._edited(message)

    def _edited(self, message: SentMessage) -> dict[str, Any]:
        message.edits += 1
        message.edit_date = int(time.time())
        self._notify()
        return self._message_json(message)

    async def _m_deletemessage(self, p: _Params) -> Any:
        chat = self._known_chat(p)
        message_id = p.integer("message_id")
        if not message_id:
            raise bad_request("message identifier is not specified")
        for message in chat.messages:
            if message.message_id == message_id and not message.deleted:
                message.deleted = True
                self._notify()
                return True
        raise bad_request("message to delete not found")

    async def _m_answercallbackquery(self, p: _Params) -> Any:
        query_id = p.text("callback_query_id")
        known = self._queries.get(query_id)
        if known is None or known[1]:
            raise bad_request(QUERY_INVALID)
        text = p.text("text")
        if len(text) > MAX_ANSWER_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        self._queries[query_id] = (known[0], True)
        answer = CallbackAnswer(
            query_id,
            text,
            p.flag("show_alert"),
            url=p.text("url") or None,
            cache_time=p.integer("cache_time") or 0,
        )
        self._chats[known[0]].callback_answers.append(answer)
        self._notify()
        return True

    def _commands_key(self, p: _Params) -> tuple[str, str]:
        scope = p.decoded("scope", "can't parse BotCommandScope JSON object") or {"type": "default"}
        if not isinstance(scope, dict) or not scope.get("type"):
            raise bad_request("can't parse BotCommandScope: Can't find field \"type\"")
        language = p.text("language_code")
        if language and not (len(language) == 2 and language.isascii() and language.isalpha()):
            raise bad_request("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    async def _m_setmycommands(self, p: _Params) -> Any:
        raw = p.decoded("commands", "can't parse commands JSON object") or []
        if not isinstance(raw, list):
            raise bad_request("expected an Array of BotCommand")
        if len(raw) > MAX_COMMANDS:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        commands = [_bot_command(item) for item in raw]
        key = self._commands_key(p)
        if commands:
            self._commands[key] = commands
        else:
            self._commands.pop(key, None)
        self._notify()
        return True

    async def _m_getmycommands(self, p: _Params) -> Any:
        return self._commands.get(self._commands_key(p), [])

    async def _m_deletemycommands(self, p: _Params) -> Any:
        self._commands.pop(self._commands_key(p), None)
        self._notify()
        return True

    async def _m_sendchataction(self, p: _Params) -> Any:
        action = p.text("action")
        if not action:
            raise bad_request("action is empty")
        chat = self._writable_chat(p)
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.actions.append(action)
        return True

    async def _m_getchat(self, p: _Params) -> Any:
        chat = self._known_chat(p)
        return {
            **chat.chat_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _m_getfile(self, p: _Params) -> Any:
        stored = self._files.get(p.text("file_id"))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }

    async def _m_close(self, p: _Params) -> Any:
        return True

    async def _m_logout(self, p: _Params) -> Any:
        return True


def _internal_error(method: str, exc: Exception) -> ApiError:
    """A bug in the stand-in: logged, and answered as Telegram answers its own failures."""
    log.error("stand-in: %s failed", method, exc_info=exc)
    return ApiError(500, f"Internal Server Error: stand-in bug in {method}: {exc!r}")


def _bot_command(item: Any) -> dict[str, str]:
    """One BotCommand checked as Telegram checks it (trimmed, a leading "/" dropped)."""
    if not isinstance(item, dict):
        raise bad_request("can't parse BotCommand: expected an Object")
    for name in ("command", "description"):
        if not isinstance(item.get(name), str):
            raise bad_request(f"can't parse BotCommand: Can't find field \"{name}\"")
    command = item["command"].strip().removeprefix("/")
    description = item["description"].strip()
    if not command:
        raise bad_request("command must be non-empty")
    if len(command) > 32:
        raise bad_request("command length must not exceed 32")
    if not description:
        raise bad_request("command description must be non-empty")
    if len(description) > 256:
        raise bad_request("command description length must not exceed 256")
    if not all(c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in command):
        raise bad_request("BOT_COMMAND_INVALID")
    return {"command": command, "description": description}


def _entity_json(entity: Entity) -> dict[str, Any]:
    return entity.to_json()


def _given_entities(given: Any) -> tuple[Entity, ...]:
    """Entities the bot passed explicitly (no parse_mode), kept as given."""
    if not isinstance(given, list):
        return ()
    entities = []
    for item in given:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise bad_request("can't parse MessageEntity: Type is not specified")
        try:
            offset, length = int(item["offset"]), int(item["length"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("can't parse MessageEntity: offset and length expected") from None
        kind = item["type"]
        if kind not in ENTITY_FIELDS:
            raise bad_request("can't parse MessageEntity: Unsupported type specified")
        # Telegram keeps only the fields of the entity's type; the others never come back.
        extra = tuple((k, v) for k, v in item.items() if k in ENTITY_FIELDS[kind])
        entities.append(Entity(kind, offset, length, extra))
    return tuple(entities)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG (others: a plausible size), None if not an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith((b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")) or (
        data.startswith(b"RIFF") and data[8:12] == b"WEBP"
    ):
        return 800, 600
    return None


def _preview(message: SentMessage) -> str:
    body = message.text or f"<{message.kind}> {message.caption or ''}"
    buttons = [b.text for b in message.flat_buttons]
    return f"{body[:80]!r}" + (f" buttons={buttons}" if buttons else "")


def _summary(values: dict[str, Any]) -> str:
    shown = []
    for key in ("chat_id", "text", "caption", "callback_query_id", "offset", "timeout"):
        if key in values:
            shown.append(f"{key}={str(values[key])[:60]!r}")
    return " ".join(shown)


@contextlib.asynccontextmanager
async def running(**options: Any) -> AsyncIterator[StandIn]:
    """``async with running() as api:`` — a started stand-in, stopped afterwards."""
    standin = StandIn(**options)
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()
