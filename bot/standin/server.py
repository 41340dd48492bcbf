"""A strict local stand-in of the Telegram Bot API, served over HTTP on 127.0.0.1.

It implements the methods the bot uses with Telegram's parameters, results and error
shapes (400 for bad parameters or unparseable HTML, 403 for a chat that blocked the bot,
429 with ``retry_after`` above its rate limits, 401/404 like Telegram), keeps each chat's
messages as the user would see them, and lets a test or the demo act as users: send text,
stickers and photos, press buttons, edit, block. Everything runs on one asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.standin.html import EntityParseError, parse_html

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_POLL_TIMEOUT = 50
SEND_METHODS = {"sendmessage", "sendphoto", "senddocument"}


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return JSONResponse(body, status_code=self.code)


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass
class Button:
    """An inline keyboard button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass
class SentMessage:
    """A message the bot sent, in its current state (edits applied)."""

    message_id: int
    chat_id: int
    text: str
    html: str | None
    parse_mode: str | None
    kind: str = "text"
    buttons: list[list[Button]] = field(default_factory=list)
    caption: str | None = None
    file_bytes: bytes | None = None
    file_name: str | None = None
    edits: int = 0
    deleted: bool = False
    date: int = 0
    markup_json: Any = None


@dataclass
class CallRecord:
    """One Bot API call the bot made."""

    method: str
    params: dict[str, Any]
    status: int
    at: float


@dataclass
class CallbackAnswer:
    """The bot's answer to a button press."""

    query_id: str
    text: str
    show_alert: bool


@dataclass
class _Fault:
    method: str
    chat_id: int | None
    count: int
    error: ApiError | None = None
    delay: float = 0.0


@dataclass
class _Chat:
    chat_id: int
    kind: str
    title: str | None = None
    first_name: str = "Amina"
    username: str | None = None
    language_code: str = "en"
    member_id: int = 0
    blocked: bool = False
    messages: list[SentMessage] = field(default_factory=list)
    callback_answers: list[CallbackAnswer] = field(default_factory=list)

    def chat_json(self) -> dict[str, Any]:
        if self.kind == "private":
            data: dict[str, Any] = {
                "id": self.chat_id,
                "type": "private",
                "first_name": self.first_name,
            }
            if self.username:
                data["username"] = self.username
            return data
        return {"id": self.chat_id, "type": self.kind, "title": self.title or "Group"}

    def user_json(self) -> dict[str, Any]:
        user_id = self.chat_id if self.kind == "private" else self.member_id
        data: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }
        if self.username:
            data["username"] = self.username
        return data


class ChatHandle:
    """A user in one chat, as a test or the demo drives them."""

    def __init__(self, standin: StandIn, chat: _Chat) -> None:
        self._standin = standin
        self._chat = chat
        self._mark = 0

    @property
    def chat_id(self) -> int:
        return self._chat.chat_id

    @property
    def messages(self) -> list[SentMessage]:
        """Every message the bot sent to this chat, in order, edits applied."""
        return self._chat.messages

    @property
    def last(self) -> SentMessage:
        """The latest message the bot sent here."""
        if not self._chat.messages:
            raise LookupError(f"the bot has sent nothing to chat {self.chat_id}")
        return self._chat.messages[-1]

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """The bot's answers to this chat's button presses."""
        return self._chat.callback_answers

    def _acted(self) -> None:
        # Replies are counted from the user's latest action: wait_for(n) waits for n
        # messages that arrive after it.
        self._mark = len(self._chat.messages)

    def _message(self, extra: dict[str, Any]) -> int:
        message_id = self._standin._next_message_id()
        payload = {
            "message_id": message_id,
            "from": self._chat.user_json(),
            "chat": self._chat.chat_json(),
            "date": int(time.time()),
            **extra,
        }
        self._acted()
        self._standin._push({"message": payload})
        return message_id

    def send(self, text: str) -> int:
        """The user sends ``text``; a leading /command gets its bot_command entity."""
        extra: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            extra["entities"] = [
                {
                    "type": "bot_command",
                    "offset": 0,
                    "length": len(command.encode("utf-16-le")) // 2,
                }
            ]
        return self._message(extra)

    def start(self, payload: str | None = None) -> int:
        """/start, or /start with a deep-link payload."""
        return self.send("/start" if payload is None else f"/start {payload}")

    def _file(self, prefix: str) -> dict[str, str]:
        return {
            "file_id": f"{prefix}{secrets.token_hex(8)}",
            "file_unique_id": secrets.token_hex(4),
        }

    def send_sticker(self) -> int:
        sticker = {
            **self._file("CAAC"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "😊",
        }
        return self._message({"sticker": sticker})

    def send_photo(self, caption: str | None = None) -> int:
        photo = [{**self._file("AgAC"), "width": 320, "height": 240, "file_size": 12000}]
        extra: dict[str, Any] = {"photo": photo}
        if caption:
            extra["caption"] = caption
        return self._message(extra)

    def send_voice(self) -> int:
        return self._message({"voice": {**self._file("AwAC"), "duration": 4}})

    def send_document(self) -> int:
        document = {**self._file("BQAC"), "file_name": "photo.pdf", "mime_type": "application/pdf"}
        return self._message({"document": document})

    def edit(self, message_id: int, text: str) -> None:
        """The user edits one of their messages."""
        now = int(time.time())
        payload = {
            "message_id": message_id,
            "from": self._chat.user_json(),
            "chat": self._chat.chat_json(),
            "date": now,
            "edit_date": now,
            "text": text,
        }
        self._acted()
        self._standin._push({"edited_message": payload})

    def press(self, button: str | int, message: SentMessage | None = None) -> str:
        """Press a button (by its text, or its 0-based index in reading order)."""
        if message is None:
            with_buttons = [m for m in self._chat.messages if m.buttons and not m.deleted]
            if not with_buttons:
                raise LookupError(f"no message with buttons in chat {self.chat_id}")
            message = with_buttons[-1]
        flat = [b for row in message.buttons for b in row]
        if isinstance(button, int):
            if not 0 <= button < len(flat):
                raise LookupError(f"no button {button}; there are {len(flat)}")
            chosen = flat[button]
        else:
            matches = [b for b in flat if b.text == button]
            if not matches:
                labels = ", ".join(repr(b.text) for b in flat)
                raise LookupError(f"no button {button!r}; the buttons are: {labels}")
            chosen = matches[0]
        if chosen.callback_data is None:
            raise ValueError(f"button {chosen.text!r} is a link, not a callback")
        query_id = str(next(self._standin._query_ids))
        self._standin._queries[query_id] = (self.chat_id, False)
        self._acted()
        self._standin._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._chat.user_json(),
                    "message": self._standin._message_json(message),
                    "chat_instance": str(self.chat_id),
                    "data": chosen.callback_data,
                }
            }
        )
        return query_id

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[SentMessage]:
        """Wait for ``count`` new messages after the user's latest action (or after the
        messages an earlier wait_for returned); returns them."""
        start = self._mark
        await self._standin.wait_until(
            lambda: len(self._chat.messages) >= start + count,
            timeout=timeout,
            what=f"{count} new message(s) in chat {self.chat_id}",
        )
        self._mark = start + count
        return self._chat.messages[start : start + count]


class _Bucket:
    """A token bucket: ``burst`` at once, refilled at ``rate`` a second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self) -> float:
        """0 if a token was taken, else the seconds until one is free."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class StandIn:
    """The Bot API stand-in. ``async with StandIn() as api:`` serves it on a free port."""

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
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.per_chat_burst = per_chat_burst
        self.group_rate_per_minute = group_rate_per_minute
        self.host = host
        self.port = port
        self.messages: list[SentMessage] = []
        self.calls: list[CallRecord] = []
        self.commands: list[dict[str, str]] = []
        self.rejected = 0
        self.throttled = 0
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self._chats: dict[int, _Chat] = {}
        self._handles: dict[int, ChatHandle] = {}
        self._updates: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(10_000)
        self._queries: dict[str, tuple[int, bool]] = {}
        self._faults: list[_Fault] = []
        self._global: deque[float] = deque()
        self._groups: dict[int, deque[float]] = {}
        self._buckets: dict[int, _Bucket] = {}
        self._changed = asyncio.Condition()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- life cycle ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    async def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the stand-in did not start")
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        log.info("Telegram stand-in on %s", self.base_url)

    async def stop(self) -> None:
        self._stopping = True
        await self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

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
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = _Chat(
                chat_id,
                "private",
                first_name=first_name,
                username=username,
                language_code=language_code,
            )
            self._chats[chat_id] = chat
        return self._handle(chat)

    def _handle(self, chat: _Chat) -> ChatHandle:
        if chat.chat_id not in self._handles:
            self._handles[chat.chat_id] = ChatHandle(self, chat)
        return self._handles[chat.chat_id]

    def group_chat(self, chat_id: int, *, title: str = "Group", member_id: int = 7) -> ChatHandle:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = _Chat(chat_id, "supergroup", title=title, member_id=member_id)
            self._chats[chat_id] = chat
        return self._handle(chat)

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: sends get 403 and a my_chat_member update arrives."""
        self._set_blocked(chat_id, True)

    def unblock(self, chat_id: int) -> None:
        self._set_blocked(chat_id, False)

    def _set_blocked(self, chat_id: int, blocked: bool) -> None:
        chat = self._chats[chat_id]
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        statuses = ("member", "kicked") if blocked else ("kicked", "member")
        bot = self._bot_user()

        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"user": bot, "status": status}
            if status == "kicked":
                data["until_date"] = 0
            return data

        self._push(
            {
                "my_chat_member": {
                    "chat": chat.chat_json(),
                    "from": chat.user_json(),
                    "date": int(time.time()),
                    "old_chat_member": member(statuses[0]),
                    "new_chat_member": member(statuses[1]),
                }
            }
        )

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
        """The next ``count`` calls of ``method`` (to ``chat_id``) fail as given."""
        if error_code == 429:
            retry_after = retry_after or 1
            description = description or f"Too Many Requests: retry after {retry_after}"
        default = {
            400: "Bad Request: injected",
            403: "Forbidden: bot was blocked by the user",
            500: "Internal Server Error",
            502: "Bad Gateway",
        }
        error = ApiError(error_code, description or default.get(error_code, "Error"), retry_after)
        self._faults.append(_Fault(method.lower(), chat_id, count, error=error))

    def delay_next(
        self, method: str, seconds: float, *, count: int = 1, chat_id: int | None = None
    ) -> None:
        """The next ``count`` calls of ``method`` answer only after ``seconds`` (and do
        take effect, as Telegram does when a client gave up waiting)."""
        self._faults.append(_Fault(method.lower(), chat_id, count, delay=seconds))

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait until ``predicate()`` holds; it is checked at every change."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            raise TimeoutError(f"stand-in: timed out after {timeout}s waiting for {what}") from None

    # -- internals ----------------------------------------------------------------------

    def _next_message_id(self) -> int:
        return next(self._message_ids)

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Aftercare Bot",
            "username": self.bot_username,
        }

    def _push(self, update: dict[str, Any]) -> None:
        update["update_id"] = next(self._update_ids)
        self._updates.append(update)
        self._schedule_notify()

    def _schedule_notify(self) -> None:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        chat = self._chats[message.chat_id]
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self._bot_user(),
            "chat": chat.chat_json(),
            "date": message.date,
        }
        if message.kind == "text":
            data["text"] = message.text
        elif message.kind == "photo":
            data["photo"] = [
                {
                    "file_id": f"photo{message.message_id}",
                    "file_unique_id": "p",
                    "width": 640,
                    "height": 640,
                    "file_size": len(message.file_bytes or b""),
                }
            ]
        else:
            data["document"] = {
                "file_id": f"doc{message.message_id}",
                "file_unique_id": "d",
                "file_name": message.file_name or "file",
                "file_size": len(message.file_bytes or b""),
            }
        if message.caption:
            data["caption"] = message.caption
        if message.markup_json:
            data["reply_markup"] = message.markup_json
        return data

    # -- HTTP ---------------------------------------------------------------------------

    async def _file(self, request: Request) -> Response:
        return Response(status_code=404)

    async def _endpoint(self, request: Request) -> Response:
        method = request.path_params["method"].lower()
        params: dict[str, Any] = {}
        status = 200
        try:
            if request.path_params["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params = await self._params(request)
            result = await self._dispatch(method, params)
            response: Response = JSONResponse({"ok": True, "result": result})
        except ApiError as error:
            status = error.code
            if status == 429:
                self.throttled += 1
            elif 400 <= status < 500:
                self.rejected += 1
            response = error.response()
        self.calls.append(CallRecord(method, params, status, time.monotonic()))
        await self._notify()
        return response

    async def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            body = await request.body()
            if body:
                params.update(json.loads(body))
            return params
        if request.method == "POST":
            form = await request.form(max_files=10, max_fields=100)
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    params[key] = (value.filename, await value.read())
                else:
                    params[key] = value
        return params

    def _fault(self, method: str, chat_id: int | None) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method and (fault.chat_id is None or fault.chat_id == chat_id):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        chat_id = _int_or_none(params.get("chat_id"))
        fault = self._fault(method, chat_id)
        if fault is not None:
            if fault.error is not None:
                raise fault.error
            await asyncio.sleep(fault.delay)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found")
        return await handler(params)

    # -- rate limits --------------------------------------------------------------------

    def _throttle(self, chat: _Chat) -> None:
        now = time.monotonic()
        waits: list[float] = []
        if self.global_rate:
            while self._global and now - self._global[0] >= 1.0:
                self._global.popleft()
            if len(self._global) >= self.global_rate:
                waits.append(1.0 - (now - self._global[0]))
        if chat.kind == "private" and self.per_chat_rate:
            bucket = self._buckets.get(chat.chat_id)
            if bucket is None:
                bucket = self._buckets[chat.chat_id] = _Bucket(
                    self.per_chat_rate, self.per_chat_burst
                )
            wait = bucket.take()
            if wait:
                waits.append(wait)
        elif chat.kind != "private" and self.group_rate_per_minute:
            window = self._groups.setdefault(chat.chat_id, deque())
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= self.group_rate_per_minute:
                waits.append(60.0 - (now - window[0]))
            else:
                window.append(now)
        if waits:
            retry = max(1, math.ceil(max(waits)))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        if self.global_rate:
            self._global.append(now)

    # -- shared checks ------------------------------------------------------------------

    def _chat(self, params: dict[str, Any]) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        chat_id = _int_or_none(raw)
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise bad_request("chat not found")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _formatted(self, text: str, params: dict[str, Any], limit: int, what: str) -> str:
        mode = params.get("parse_mode")
        if mode is not None and str(mode).upper() == "HTML":
            try:
                plain = parse_html(text)
            except EntityParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif mode is not None and mode not in ("", "None"):
            raise bad_request(f"unsupported parse_mode {mode!r} in the stand-in")
        else:
            plain = text
        if _utf16_length(plain) > limit:
            raise bad_request(f"{what} is too long")
        return plain

    def _keyboard(self, params: dict[str, Any]) -> tuple[list[list[Button]], Any]:
        raw = params.get("reply_markup")
        if raw is None or raw == "":
            return [], None
        markup = json.loads(raw) if isinstance(raw, str) else raw
        rows = markup.get("inline_keyboard")
        if rows is None:
            return [], markup
        if not isinstance(rows, list):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array'
            )
        buttons: list[list[Button]] = []
        for row in rows:
            line = []
            for button in row:
                text = button.get("text")
                if not text:
                    raise bad_request("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                url = button.get("url")
                if data is None and url is None:
                    raise bad_request('can\'t find field "callback_data"')
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")
                line.append(Button(text, data, url))
            buttons.append(line)
        return buttons, markup

    def _find(self, params: dict[str, Any]) -> SentMessage:
        chat = self._chat(params)
        message_id = _int_or_none(params.get("message_id"))
        for message in chat.messages:
            if message.message_id == message_id and not message.deleted:
                return message
        raise bad_request("message to edit not found")

    def _store(self, chat: _Chat, message: SentMessage) -> dict[str, Any]:
        chat.messages.append(message)
        self.messages.append(message)
        return self._message_json(message)

    # -- methods ------------------------------------------------------------------------

    async def _m_getme(self, params: dict[str, Any]) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getupdates(self, params: dict[str, Any]) -> Any:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int_or_none(params.get("offset")) or 0
        limit = min(max(_int_or_none(params.get("limit")) or 100, 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), MAX_POLL_TIMEOUT)
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()
        if not self._updates and timeout > 0 and not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout), self._changed:
                    await self._changed.wait_for(lambda: bool(self._updates) or self._stopping)
        return list(itertools.islice(self._updates, limit))

    async def _m_setwebhook(self, params: dict[str, Any]) -> Any:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not _valid_secret(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        self.webhook_url = url
        self.webhook_secret = str(secret) if secret else None
        if url and self._webhook_task is None:
            self._webhook_task = asyncio.get_running_loop().create_task(self._push_webhook())
        return True

    async def _m_deletewebhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = ""
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _push_webhook(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            while not self._stopping:
                async with self._changed:
                    await self._changed.wait_for(
                        lambda: (bool(self._updates) and bool(self.webhook_url)) or self._stopping
                    )
                if self._stopping:
                    return
                update = self._updates[0]
                headers = {}
                if self.webhook_secret:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
                try:
                    answer = await client.post(self.webhook_url, json=update, headers=headers)
                    delivered = 200 <= answer.status_code < 300
                except httpx.HTTPError:
                    delivered = False
                if delivered:
                    self._updates.popleft()
                else:
                    await asyncio.sleep(0.2)  # Telegram retries later

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise bad_request("message text is empty")
        plain = self._formatted(text, params, MAX_TEXT, "message")
        buttons, markup = self._keyboard(params)
        self._throttle(chat)
        mode = params.get("parse_mode") or None
        message = SentMessage(
            self._next_message_id(),
            chat.chat_id,
            plain,
            text if mode else None,
            mode,
            buttons=buttons,
            date=int(time.time()),
            markup_json=markup,
        )
        return self._store(chat, message)

    async def _send_file(self, params: dict[str, Any], kind: str) -> Any:
        chat = self._chat(params)
        upload = params.get(kind)
        if upload is None or upload == "":
            raise bad_request(f"there is no {kind} in the request")
        name, data = upload if isinstance(upload, tuple) else (str(upload), b"")
        caption_raw = params.get("caption")
        caption = (
            self._formatted(str(caption_raw), params, MAX_CAPTION, "message caption")
            if caption_raw
            else None
        )
        buttons, markup = self._keyboard(params)
        self._throttle(chat)
        message = SentMessage(
            self._next_message_id(),
            chat.chat_id,
            "",
            None,
            params.get("parse_mode") or None,
            kind=kind,
            buttons=buttons,
            caption=caption,
            file_bytes=data,
            file_name=name,
            date=int(time.time()),
            markup_json=markup,
        )
        return self._store(chat, message)

    async def _m_sendphoto(self, params: dict[str, Any]) -> Any:
        return await self._send_file(params, "photo")

    async def _m_senddocument(self, params: dict[str, Any]) -> Any:
        return await self._send_file(params, "document")

    async def _m_editmessagetext(self, params: dict[str, Any]) -> Any:
        message = self._find(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise bad_request("message text is empty")
        plain = self._formatted(text, params, MAX_TEXT, "message")
        buttons, markup = self._keyboard(params)
        mode = params.get("parse_mode") or None
        if plain == message.text and markup == message.markup_json and mode == message.parse_mode:
            raise bad_request(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        message.text, message.html, message.parse_mode = plain, text if mode else None, mode
        message.buttons, message.markup_json = buttons, markup
        message.edits += 1
        return self._message_json(message)

    async def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        message = self._find(params)
        buttons, markup = self._keyboard(params)
        if markup == message.markup_json or (not markup and not message.markup_json):
            raise bad_request(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        message.buttons, message.markup_json = buttons, markup
        message.edits += 1
        return self._message_json(message)

    async def _m_deletemessage(self, params: dict[str, Any]) -> Any:
        message = self._find(params)
        message.deleted = True
        return True

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        known = self._queries.get(query_id)
        if known is None or known[1]:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = str(params.get("text") or "")
        if len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._queries[query_id] = (known[0], True)
        chat = self._chats[known[0]]
        show_alert = str(params.get("show_alert")).lower() == "true"
        chat.callback_answers.append(CallbackAnswer(query_id, text, show_alert))
        return True

    async def _m_setmycommands(self, params: dict[str, Any]) -> Any:
        raw = params.get("commands")
        commands = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100")
        for command in commands:
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not (1 <= len(name) <= 32) or not all(
                c.isdigit() or c == "_" or "a" <= c <= "z" for c in name
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _m_getmycommands(self, params: dict[str, Any]) -> Any:
        return self.commands

    async def _m_deletemycommands(self, params: dict[str, Any]) -> Any:
        self.commands = []
        return True

    async def _m_sendchataction(self, params: dict[str, Any]) -> Any:
        self._chat(params)
        return True

    async def _m_getchat(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        return {
            **chat.chat_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
            },
        }

    async def _m_close(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_logout(self, params: dict[str, Any]) -> Any:
        return True


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the process that embeds the stand-in owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _valid_secret(secret: str) -> bool:
    return 1 <= len(secret) <= 256 and all(c.isalnum() or c in "_-" for c in secret)


@contextlib.asynccontextmanager
async def running(**options: Any) -> AsyncIterator[StandIn]:
    """``async with running() as api:`` — a started stand-in, stopped afterwards."""
    standin = StandIn(**options)
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()
