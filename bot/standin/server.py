"""A strict local stand-in of the Telegram Bot API, served over HTTP on 127.0.0.1.

The real python-telegram-bot talks to it as to Telegram: ``/bot<token>/<method>`` with
form, multipart or JSON parameters, answered with Telegram's result shapes and error
shapes (400 for bad parameters or unparseable HTML, 403 for a chat that blocked the bot,
429 with ``retry_after`` above the flood limits, 409, 401 and 404 like Telegram). It keeps
each chat's messages as the user sees them and lets a test or the demo act as users: send
text, stickers and photos, press buttons, edit, block. Updates go to getUpdates (long
polling, offsets confirm) or, once a webhook is set, are POSTed to it.

``StandIn`` combines the method groups, each a mixin of ``core.Core`` (the shared state):
``sending``, ``editing`` (and button answers), ``updates`` (getUpdates and webhooks),
``account`` (getMe, commands, getChat, getFile) and ``control`` (the test side). This
module serves them: the HTTP endpoints, uvicorn, the life cycle.

Everything runs on the one asyncio loop that runs the server; the test-side methods are
synchronous and are meant to be called from that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.standin.account import AccountMethods
from bot.standin.control import TestControl
from bot.standin.editing import EditingMethods
from bot.standin.errors import ApiError
from bot.standin.faults import DroppedResponse
from bot.standin.params import Params, read_values
from bot.standin.records import CallRecord
from bot.standin.sending import SendingMethods
from bot.standin.updates import UpdateMethods

log = logging.getLogger(__name__)

METHODS = (
    "getMe", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo", "sendMessage",
    "sendPhoto", "sendDocument", "editMessageText", "editMessageCaption",
    "editMessageReplyMarkup", "deleteMessage", "answerCallbackQuery", "setMyCommands",
    "getMyCommands", "deleteMyCommands", "sendChatAction", "getChat", "getFile", "close",
    "logOut",
)  # fmt: skip

_NAMES = {name.lower(): name for name in METHODS}

Handler = Callable[[Params], Awaitable[Any]]


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


class StandIn(TestControl, SendingMethods, EditingMethods, UpdateMethods, AccountMethods):
    """The Bot API stand-in. ``async with StandIn() as api:`` serves it on a free port.

    Rate limits (None disables one): ``global_rate`` sends a second over all chats,
    ``per_chat_rate`` a second to one private chat after a burst of ``per_chat_burst``,
    ``group_rate_per_minute`` to one group. They may be changed while running.
    """

    # The server's own state (the method groups share only ``Core``'s).
    _server: _QuietServer | None = None
    _task: asyncio.Task[None] | None = None
    _webhook_task: asyncio.Task[None] | None = None

    @functools.cached_property
    def _handlers(self) -> dict[str, Handler]:
        """The method of each Bot API method the stand-in implements, by lower-case name."""
        return {name.lower(): getattr(self, f"_m_{name.lower()}") for name in METHODS}

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

    # -- HTTP ---------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        requested = request.path_params["method"]
        key = requested.lower()
        name = _NAMES.get(key, requested)
        at = time.monotonic()
        values: dict[str, Any] = {}
        status, description = 200, None
        scope: str | None = None
        response: Response
        try:
            outage = self._outage
            if outage is not None and at < outage.until:
                values = await read_values(request)
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
            values = await read_values(request)
            params = Params(values, request)
            fault = self._take_fault(key, params.integer("chat_id"))
            if fault is not None and fault.delay:
                await self._pause(fault.delay)
            if fault is not None and fault.drop:
                if fault.applied:
                    with contextlib.suppress(ApiError):
                        await handler(params)
                status, description = 0, "connection dropped (drop_connection_next)"
                response = DroppedResponse()
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

    async def _file_endpoint(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        stored = self._paths.get(request.path_params["path"])
        if stored is None:
            return ApiError(404, "Not Found").response()
        return Response(stored.data, media_type="application/octet-stream")


def _internal_error(method: str, exc: Exception) -> ApiError:
    """A bug in the stand-in: logged, and answered as Telegram answers its own failures."""
    log.error("stand-in: %s failed", method, exc_info=exc)
    return ApiError(500, f"Internal Server Error: stand-in bug in {method}: {exc!r}")


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
