"""Webhook mode: a small Starlette app that hands Telegram's updates to the Application,
and serves the clinic's dashboard under ``/dashboard``.

Telegram retries a delivery on any answer but 2xx, so the endpoint only checks the secret
header, parses the update and queues it: handlers run after the answer. ``/healthz`` says
whether the database answers; ``/metrics`` is the Prometheus scrape (counts only, no text).
On shutdown uvicorn stops accepting, finishes the requests under way, then the runtime
finishes queued updates and sends under way before closing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.application import BotRuntime
from bot.config import webhook_url_problem

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_PATH = "/telegram"
MAX_BODY = 1_000_000


def derived_secret(token: str) -> str:
    """A secret token derived from the bot token, for when WEBHOOK_SECRET is not set.

    64 hex characters, within Telegram's alphabet; stable across restarts, unknown to anyone
    without the bot token.
    """
    return hmac.new(token.encode(), b"aftercare-webhook", hashlib.sha256).hexdigest()


def webhook_endpoint(public_url: str) -> tuple[str, str]:
    """The URL to register with Telegram and the local path it maps to; ValueError (one line)
    for a URL Telegram would refuse."""
    problem = webhook_url_problem(public_url)
    if problem:
        raise ValueError(f"WEBHOOK_URL: {problem}")
    parts = urlsplit(public_url)
    path = parts.path.rstrip("/")
    public_url = public_url.rstrip("/")
    if not path:
        path = DEFAULT_PATH
        public_url += DEFAULT_PATH
    return public_url, path


def create_web_app(
    runtime: BotRuntime, *, public_url: str, secret: str, register_webhook: bool = True
) -> Starlette:
    """The ASGI app: POST <path> for updates, GET /healthz and /metrics; the runtime lives in
    its lifespan."""
    url, path = webhook_endpoint(public_url)
    expected = secret.encode()
    application = runtime.application

    async def receive_update(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("webhook call with a missing or wrong secret token refused")
            return Response(status_code=403)
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response(status_code=413)
        try:
            data = json.loads(body)
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError):
            log.warning("webhook body is not an update; ignored")
            return Response(status_code=400)
        await application.update_queue.put(update)
        return Response(status_code=200)

    async def health(request: Request) -> Response:
        try:
            async with runtime.services.database.session() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure is "unhealthy", with its type
            return JSONResponse({"status": "error", "database": type(exc).__name__}, 503)
        return JSONResponse(
            {"status": "ok", "queued_reminders": runtime.services.runner.queued}, 200
        )

    async def metrics(request: Request) -> Response:
        # In a thread: the queue-depth collector waits there for its query on this loop.
        body = await asyncio.to_thread(generate_latest, runtime.services.metrics.registry)
        return Response(body, 200, media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start(polling=False)
        try:
            if register_webhook:
                await application.bot.set_webhook(
                    url=url, secret_token=secret, allowed_updates=Update.ALL_TYPES
                )
                log.info("webhook registered at %s", urlsplit(url).netloc)
            yield
        finally:
            await runtime.stop()

    return Starlette(
        routes=[
            Route(path, receive_update, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            runtime.dashboard.mount(),
        ],
        lifespan=lifespan,
    )


def create_dashboard_app(runtime: BotRuntime) -> Starlette:
    """``aftercare web``: the dashboard alone (the same paths under ``/dashboard``), with the
    runtime started without polling, so a clinic on polling mode gets the dashboard too
    (replies and broadcasts it starts go out through Telegram from this process)."""

    async def root(request: Request) -> Response:
        return RedirectResponse("/dashboard/patients", status_code=303)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start(polling=False)
        try:
            yield
        finally:
            await runtime.stop()

    return Starlette(
        routes=[Route("/", root, methods=["GET"]), runtime.dashboard.mount()], lifespan=lifespan
    )
