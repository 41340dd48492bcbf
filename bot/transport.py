"""The HTTP client under python-telegram-bot: aiohttp instead of httpx.

python-telegram-bot talks to the Bot API through ``telegram.request.BaseRequest``, by default
its httpx implementation. httpcore's connection pool looks at every open connection (each a
``getpeername`` and a ``poll``) for every request it queues and every response it ends, so
with 32 updates in flight each Bot API call cost the bot 1.5-2 ms of CPU, three times what
one call alone costs, and with three calls an update that was most of the bot's CPU
(``bench.bot_registration``). aiohttp keeps its idle connections per host in a list and
takes the last one: the same call costs about a fifth of that at any concurrency.

What the Bot API receives is what ``HTTPXRequest`` sends: the parameters form-encoded (each
a JSON value as python-telegram-bot encodes it), files as multipart. Errors map onto
python-telegram-bot's as there: a timeout is ``TimedOut``, any other client error
``NetworkError``; the status and body go back to python-telegram-bot, which raises the
Bot API's errors from them.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """``BaseRequest`` over one ``aiohttp.ClientSession`` (a connection pool of its own)."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        wait_before: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Timeouts in seconds as ``HTTPXRequest`` takes them (None: wait forever). aiohttp
        has no write timeout: a request as a whole may take the four together (with
        ``media_write`` for uploads), and waiting for an answer ``read``. ``wait_before``
        is awaited before each request (polling's: until the bot has room for more
        updates); its wait counts against no timeout."""
        self._wait_before = wait_before
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (python-telegram-bot adds it to ``getUpdates``'s)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (again after a shutdown)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0),
                headers={"User-Agent": self.USER_AGENT},
                # With trust_env aiohttp reads ~/.netrc and the proxy variables in a thread
                # for every request (0.6 ms of CPU an update in bench.bot_registration): the
                # proxy variables are read once per host instead (``proxy_for``), and the Bot
                # API needs no netrc.
                trust_env=False,
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make the request; its status code and body."""
        if self._wait_before is not None:
            await self._wait_before()
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read = _chosen(read_timeout, self._read_timeout)
        write = _chosen(write_timeout, self._media_write_timeout if files else self._write_timeout)
        connect = _chosen(connect_timeout, self._connect_timeout)
        pool = _chosen(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            # a stalled upload has no write timeout of its own in aiohttp: the phases
            # together bound the whole request
            total=_sum(pool, connect, write, read),
            connect=_sum(pool, connect),  # aiohttp's includes waiting for a free connection
            sock_connect=connect,
            sock_read=read,
        )
        body: Any = None
        if request_data is not None:
            body = (
                _form(request_data.json_parameters, files)
                if files
                else (request_data.json_parameters or None)
            )
        try:
            async with session.request(
                method, url, data=body, timeout=timeout, proxy=self.proxy_for(url)
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error

    def proxy_for(self, url: str) -> str | None:
        """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``ALL_PROXY``,
        minus ``NO_PROXY``), as httpx honoured them; read once per scheme and host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            proxies = urllib.request.getproxies()
            chosen = proxies.get(parts.scheme) or proxies.get("all")
            if chosen and urllib.request.proxy_bypass(key[1]):
                chosen = None
            self._proxies[key] = chosen
        return self._proxies[key]


def _chosen(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _sum(*seconds: float | None) -> float | None:
    return None if any(s is None for s in seconds) else sum(s or 0.0 for s in seconds)


def _form(parameters: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    for name, value in parameters.items():
        form.add_field(name, value)
    for name, part in files.items():
        if isinstance(part, tuple):
            filename, content, *rest = part
            form.add_field(name, content, filename=filename, content_type=rest[0] if rest else None)
        else:
            form.add_field(name, part)
    return form
