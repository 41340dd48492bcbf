"""The dashboard's cookie, CSRF tokens and response headers.

The session cookie carries the session's random token and an HMAC of it under the
dashboard's secret; it is HttpOnly, SameSite=Lax, Secure over https, and expires with the
session. Every form carries a CSRF token derived from the session (``csrf_token``), checked
on every POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "aftercare_dashboard"

HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
        "frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def _mac(secret: bytes, token: str) -> str:
    digest = hmac.new(secret, f"session:{token}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(secret: bytes, token: str) -> str:
    """The cookie value for a session token."""
    return f"{token}.{_mac(secret, token)}"


def unsign(secret: bytes, value: str | None) -> str | None:
    """The session token of a cookie value, or None if it is missing or forged."""
    if not value or "." not in value:
        return None
    token, _, mac = value.rpartition(".")
    if not token or not hmac.compare_digest(mac.encode(), _mac(secret, token).encode()):
        return None
    return token


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted token."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class SecurityHeaders:
    """Adds the security headers to every dashboard response; pages are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers as the response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
