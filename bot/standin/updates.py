"""Updates reaching the bot: long polling with getUpdates, or a webhook that is POSTed to."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.standin.core import Core
from bot.standin.errors import ApiError, bad_request
from bot.standin.params import Params

log = logging.getLogger(__name__)

MAX_POLL_TIMEOUT = 50
WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


class UpdateMethods(Core):
    """getUpdates, setWebhook, deleteWebhook, getWebhookInfo, and webhook delivery."""

    async def _m_getupdates(self, p: Params) -> Any:
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

    async def _watch_disconnect(self, p: Params, gone: list[bool]) -> None:
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

    def _set_allowed(self, p: Params) -> None:
        if "allowed_updates" not in p.values:
            return
        with contextlib.suppress(ApiError):
            kinds = p.decoded("allowed_updates", "")
            if isinstance(kinds, list):
                self._allowed = frozenset(str(k) for k in kinds) if kinds else None

    async def _m_setwebhook(self, p: Params) -> Any:
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

    async def _m_deletewebhook(self, p: Params) -> Any:
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        self.webhook_url = ""
        self.webhook_secret = None
        self._notify()
        return True

    async def _m_getwebhookinfo(self, p: Params) -> Any:
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
