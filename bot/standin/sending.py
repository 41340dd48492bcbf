"""Sending messages: sendMessage, sendPhoto, sendDocument, and the flood limits they meet."""

from __future__ import annotations

import math
import time
from typing import Any

from bot.standin.chats import Chat
from bot.standin.core import MAX_TEXT, Core, StoredFile, entity_json, image_size
from bot.standin.errors import ApiError, bad_request, too_many_requests
from bot.standin.limits import SlidingWindow, TokenBucket
from bot.standin.markup import parse_reply_markup
from bot.standin.params import Params
from bot.standin.records import SentMessage

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})


class SendingMethods(Core):
    """sendMessage, sendPhoto and sendDocument, checked and rate-limited as Telegram does."""

    async def _m_sendmessage(self, p: Params) -> Any:
        raw = p.text("text")
        if not raw:
            raise bad_request("message text is empty")
        formatted = self._formatted(
            raw, p, entities_key="entities", limit=MAX_TEXT, too_long="message is too long"
        )
        buttons, markup = parse_reply_markup(p.values.get("reply_markup"))
        chat = self._writable_chat(p)
        if not formatted.text:
            raise bad_request("text must be non-empty")
        reply_to = self._reply_to(chat, p)
        self._throttle(chat)
        mode = p.text("parse_mode") or None
        message = SentMessage(
            self._next_message_id(),
            chat.chat_id,
            formatted.text,
            raw,
            mode,
            buttons=buttons,
            date=int(time.time()),
            entities=[entity_json(e) for e in formatted.entities],
            markup_json=markup,
            reply_to=reply_to,
        )
        return self._store(chat, message)

    def _reply_to(self, chat: Chat, p: Params) -> int | None:
        """The message replied to (reply_parameters or the older reply_to_message_id);
        400 if it does not exist, unless sending without the reply is allowed."""
        target = p.integer("reply_to_message_id")
        allow = p.flag("allow_sending_without_reply")
        given = p.decoded("reply_parameters", "can't parse reply parameters JSON object")
        if isinstance(given, dict):
            target = Params(given).integer("message_id")
            allow = Params(given).flag("allow_sending_without_reply")
        if not target:
            return None
        if self._replied_json(chat, target) is not None:
            return target
        if allow:
            return None
        raise bad_request("message to be replied not found")

    async def _send_file(self, p: Params, kind: str) -> Any:
        data, name, known = self._input_file(p, kind)
        raw_caption = p.text("caption")
        caption = self._caption(raw_caption, p)
        buttons, markup = parse_reply_markup(p.values.get("reply_markup"))
        chat = self._writable_chat(p)
        if kind == "photo" and data and image_size(data) is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        reply_to = self._reply_to(chat, p)
        self._throttle(chat)
        stored = known if known is not None else self._new_file(kind, data, name)
        message = SentMessage(
            self._next_message_id(),
            chat.chat_id,
            "",
            None,
            p.text("parse_mode") or None,
            kind=kind,
            buttons=buttons,
            caption=caption.text or None,
            file_bytes=data,
            file_name=name,
            date=int(time.time()),
            caption_html=raw_caption or None,
            caption_entities=[entity_json(e) for e in caption.entities],
            markup_json=markup,
            file_id=stored.file_id,
            reply_to=reply_to,
        )
        return self._store(chat, message)

    async def _m_sendphoto(self, p: Params) -> Any:
        return await self._send_file(p, "photo")

    async def _m_senddocument(self, p: Params) -> Any:
        return await self._send_file(p, "document")

    def _input_file(
        self, p: Params, field_name: str
    ) -> tuple[bytes, str | None, StoredFile | None]:
        value = p.values.get(field_name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.values.get(value[len("attach://") :])
        if value is None or value == "":
            raise bad_request(f"there is no {field_name} in the request")
        if isinstance(value, tuple):
            name, data = value
            if not data:
                raise bad_request("file must be non-empty")
            if len(data) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            return data, name, None
        reference = str(value)
        known = self._files.get(reference)
        if known is not None:
            if known.kind != field_name:  # a document's file id is not a photo, nor back
                raise bad_request("type of file mismatch")
            return known.data, known.name, known
        if reference.startswith(("http://", "https://")):
            return b"", reference.rsplit("/", 1)[-1] or None, None
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _throttle(self, chat: Chat) -> None:
        """429 above a limit; otherwise count the send against every limit that applies."""
        key = (
            self.global_rate,
            self.per_chat_rate,
            self.per_chat_burst,
            self.group_rate_per_minute,
        )
        if key != self._limits_key:
            self._limits_key = key
            self._global = None
            if self.global_rate:
                rate = float(self.global_rate)
                count, span = (int(rate), 1.0) if rate >= 1 else (1, 1 / rate)
                self._global = SlidingWindow(count, span)
            self._buckets.clear()
            self._groups.clear()
        now = time.monotonic()
        rules: list[TokenBucket | SlidingWindow] = []
        scopes: list[str] = []
        if self._global is not None:
            rules.append(self._global)
            scopes.append("overall")
        if chat.private and self.per_chat_rate:
            bucket = self._buckets.get(chat.chat_id)
            if bucket is None:
                bucket = TokenBucket(self.per_chat_rate, self.per_chat_burst, now)
                self._buckets[chat.chat_id] = bucket
            rules.append(bucket)
            scopes.append("chat")
        elif not chat.private and self.group_rate_per_minute:
            window = self._groups.get(chat.chat_id)
            if window is None:
                window = SlidingWindow(self.group_rate_per_minute, 60.0)
                self._groups[chat.chat_id] = window
            rules.append(window)
            scopes.append("group")
        waits = [rule.wait(now) for rule in rules]
        wait = max(waits, default=0.0)
        if wait > 0:
            refused = "+".join(s for s, w in zip(scopes, waits, strict=True) if w > 0)
            raise too_many_requests(max(1, math.ceil(wait)), scope=refused)
        for rule in rules:
            rule.take(now)
