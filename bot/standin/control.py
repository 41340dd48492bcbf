"""The test side: creating chats, blocking, injecting failures and outages, waiting for
what the bot does, and the small HTTP control API of ``python -m bot.standin``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.standin.chats import Chat, ChatHandle
from bot.standin.core import Core
from bot.standin.errors import BLOCKED, ApiError
from bot.standin.faults import OUTAGE_WORDS, DroppedResponse, Fault, Outage
from bot.standin.params import Params, read_values
from bot.standin.records import SentMessage
from bot.standin.updates import POLL_CONFLICT


class TestControl(Core):
    """What a test (or the demo, or a person over HTTP) does to the stand-in."""

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
        self._faults.append(Fault(method.lower(), chat_id, count, error=error))

    def delay_next(
        self, method: str, seconds: float, count: int = 1, chat_id: int | None = None
    ) -> None:
        """The next ``count`` calls of ``method`` answer only after ``seconds``. They do
        take effect, as Telegram's do when the client has given up waiting."""
        self._faults.append(Fault(method.lower(), chat_id, count, delay=seconds))

    def drop_connection_next(
        self, method: str, *, count: int = 1, chat_id: int | None = None, applied: bool = False
    ) -> None:
        """The next ``count`` calls of ``method`` lose their connection before the answer
        (PTB raises NetworkError); with ``applied`` the call took effect first."""
        self._faults.append(Fault(method.lower(), chat_id, count, drop=True, applied=applied))

    def _take_fault(self, method: str, chat_id: int | None) -> Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.chat_id in (None, chat_id):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def outage(self, *, seconds: float, status: int | None = 502, hang: bool = False) -> None:
        """For ``seconds`` the Bot API is down: every call (getUpdates too) fails and takes
        no effect. It answers ``status`` (a 5xx) at once, or with ``hang`` only when the
        outage ends, so a client whose read timeout is shorter times out first; a ``status``
        of None drops the connection instead of answering. A new outage replaces the old."""
        if status is not None and not 500 <= status < 600:
            raise ValueError("an outage answers a 5xx status (or None: the connection drops)")
        self._outage = Outage(time.monotonic() + seconds, status, hang)
        self._notify()

    def end_outage(self) -> None:
        """The Bot API is back: calls hanging in the outage get its answer now."""
        self._outage = None
        self._notify()

    @property
    def in_outage(self) -> bool:
        """Whether an outage is under way."""
        return self._outage is not None and time.monotonic() < self._outage.until

    async def _outage_answer(self, outage: Outage) -> Response:
        """What a call gets in ``outage`` (after hanging until it ends, if it hangs)."""
        if outage.hang:
            await self._wait(
                lambda: (
                    self._stopping or self._outage is not outage or time.monotonic() >= outage.until
                ),
                max(0.0, outage.until - time.monotonic()),
            )
        if outage.status is None:
            return DroppedResponse()
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

    def _handle(self, chat: Chat) -> ChatHandle:
        if chat.chat_id not in self._handles:
            self._handles[chat.chat_id] = ChatHandle(self, chat)
        return self._handles[chat.chat_id]

    def _new_query(self, chat_id: int) -> str:
        query_id = str(next(self._query_ids))
        self._queries[query_id] = (chat_id, False)
        return query_id

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
            if c.status != 200 and Params(c.params).integer("chat_id") == chat_id
        ]
        lines += [f"  failed call: {c.method} -> {c.status} {c.description}" for c in failed[-5:]]
        if self._updates:
            lines.append(f"  {len(self._updates)} update(s) still unconfirmed by the bot")
        return "\n".join(lines)

    def _failures_report(self) -> str:
        failed = [c for c in self.calls if c.status != 200][-5:]
        return "\n".join(f"  failed call: {c.method} -> {c.status} {c.description}" for c in failed)

    async def _control(self, request: Request) -> Response:
        """A small HTTP API for driving the stand-in by hand (``python -m bot.standin``):
        ``/_standin/<chat>/send?text=...``, ``/press?button=...``, ``/messages``."""
        chat = self.private_chat(request.path_params["chat_id"])
        params = Params(await read_values(request))
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


def _preview(message: SentMessage) -> str:
    body = message.text or f"<{message.kind}> {message.caption or ''}"
    buttons = [b.text for b in message.flat_buttons]
    return f"{body[:80]!r}" + (f" buttons={buttons}" if buttons else "")
