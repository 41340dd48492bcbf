"""The stand-in's state, and what every group of Bot API methods shares: waking waiters,
queueing updates, storing messages and files, the chat and text checks of every call.

The method groups (``sending``, ``editing``, ``updates``, ``account``, ``control``) are
mixins of ``Core``; ``server.StandIn`` combines them and serves them over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.standin.chats import Chat, ChatHandle
from bot.standin.errors import BLOCKED, ApiError, bad_request
from bot.standin.faults import Fault, Outage
from bot.standin.html import Entity, EntityParseError, FormattedText, parse_formatted, trim
from bot.standin.limits import SlidingWindow, TokenBucket
from bot.standin.params import Params
from bot.standin.records import CallRecord, SentMessage

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_RAW_TEXT_BYTES = 1 << 15
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
# Telegram's default when allowed_updates was never given (or given as []).
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class StoredFile:
    """A file the bot sent or a user uploaded, as getFile and the file URL serve it."""

    file_id: str
    unique_id: str
    data: bytes
    path: str
    name: str | None
    kind: str  # photo, document, sticker...: a file id is only sent again as its kind


class Core:
    """The stand-in's state and the helpers its method groups share."""

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
        """See ``StandIn``: its limits, its identity and where it listens."""
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
        self._files: dict[str, StoredFile] = {}
        self._paths: dict[str, StoredFile] = {}
        self._faults: list[Fault] = []
        self._outage: Outage | None = None
        self._limits_key: tuple[Any, ...] = ()
        self._global: SlidingWindow | None = None
        self._buckets: dict[int, TokenBucket] = {}
        self._groups: dict[int, SlidingWindow] = {}
        self._changed = asyncio.Event()
        self._poll_generation = 0
        self._stopping = False

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

    # -- updates, messages, files ----------------------------------------------------------

    def _next_message_id(self) -> int:
        return next(self._message_ids)

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
            width, height = image_size(message.file_bytes or b"") or (800, 600)
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

    def _replied_json(self, chat: Chat, message_id: int) -> dict[str, Any] | None:
        if message_id in chat.user_messages:
            return chat.user_messages[message_id]
        for message in chat.messages:
            if message.message_id == message_id and not message.deleted:
                return self._message_json(message, nested=True)
        return None

    def _store(self, chat: Chat, message: SentMessage) -> dict[str, Any]:
        chat.messages.append(message)
        self.messages.append(message)
        self._notify()
        return self._message_json(message)

    def _new_file(self, kind: str, data: bytes, name: str | None) -> StoredFile:
        number = next(self._file_numbers)
        folder = {"photo": "photos", "document": "documents", "sticker": "stickers"}.get(kind, kind)
        extension = (name or "").rsplit(".", 1)[-1] if name and "." in name else "bin"
        stored = StoredFile(
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

    # -- shared checks ------------------------------------------------------------------

    def _known_chat(self, p: Params) -> Chat:
        raw = p.text("chat_id").strip()
        if not raw:
            raise bad_request("chat_id is empty")
        chat_id = p.integer("chat_id")
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _writable_chat(self, p: Params) -> Chat:
        chat = self._known_chat(p)
        if chat.blocked:
            raise ApiError(403, BLOCKED)
        return chat

    def _formatted(
        self, raw: str, p: Params, *, entities_key: str, limit: int, too_long: str
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

    def _caption(self, raw: str, p: Params) -> FormattedText:
        """A caption read and checked as Telegram does (entities, parse mode, 1,024 chars)."""
        return self._formatted(
            raw,
            p,
            entities_key="caption_entities",
            limit=MAX_CAPTION,
            too_long="message caption is too long",
        )


def entity_json(entity: Entity) -> dict[str, Any]:
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


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG (others: a plausible size), None if not an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith((b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")) or (
        data.startswith(b"RIFF") and data[8:12] == b"WEBP"
    ):
        return 800, 600
    return None
