"""Error answers in the Bot API's exact shape."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": N, "description": "..."}``, with
    ``"parameters": {"retry_after": N}`` for a 429 only. ``scope`` says which of the
    stand-in's limits a 429 is for (``overall``, ``chat``, ``group``); it is recorded, never
    sent: Telegram's answer does not say."""

    def __init__(
        self,
        code: int,
        description: str,
        retry_after: int | None = None,
        *,
        scope: str | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.scope = scope

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram sends."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.code == 429 and self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body

    def response(self) -> JSONResponse:
        """The HTTP answer."""
        return JSONResponse(self.body(), status_code=self.code)


def bad_request(detail: str) -> ApiError:
    """400 "Bad Request: <detail>"."""
    return ApiError(400, f"Bad Request: {detail}")


def too_many_requests(retry_after: int, *, scope: str | None = None) -> ApiError:
    """429 with ``retry_after`` whole seconds, as Telegram words it (``scope``: the limit
    that was hit, for the stand-in's record only)."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after, scope=scope)


BLOCKED = "Forbidden: bot was blocked by the user"
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
