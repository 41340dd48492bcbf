"""Failures a test asks for: single calls that fail, hang or lose their connection, and
outages of the whole Bot API."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from bot.standin.errors import ApiError


@dataclass
class Fault:
    """A failure of the next ``count`` calls of ``method`` (fail_next, delay_next,
    drop_connection_next)."""

    method: str
    chat_id: int | None
    count: int
    error: ApiError | None = None
    delay: float = 0.0
    drop: bool = False
    applied: bool = False


@dataclass
class Outage:
    """The whole Bot API down until ``until``, answering ``status`` (None: dropping)."""

    until: float  # monotonic
    status: int | None
    hang: bool


OUTAGE_WORDS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class DroppedResponse(Response):
    """Headers promising a body that never comes: the client sees the connection drop."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"512")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # Returning now makes uvicorn close the connection mid-answer.
