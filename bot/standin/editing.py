"""Changing what was sent: editing and deleting messages, answering button presses."""

from __future__ import annotations

import time
from typing import Any

from bot.standin.chats import Chat
from bot.standin.core import MAX_TEXT, Core, entity_json
from bot.standin.errors import NOT_MODIFIED, QUERY_INVALID, bad_request
from bot.standin.markup import parse_reply_markup
from bot.standin.params import Params
from bot.standin.records import CallbackAnswer, SentMessage

MAX_ANSWER_TEXT = 200


class EditingMethods(Core):
    """editMessageText/Caption/ReplyMarkup, deleteMessage and answerCallbackQuery."""

    async def _m_editmessagetext(self, p: Params) -> Any:
        raw = p.text("text")
        if not raw:
            raise bad_request("message text is empty")
        formatted = self._formatted(
            raw, p, entities_key="entities", limit=MAX_TEXT, too_long="message is too long"
        )
        buttons, markup = parse_reply_markup(p.values.get("reply_markup"))
        _, message = self._find(p, "message to edit")
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        if not formatted.text:
            raise bad_request("text must be non-empty")
        entities = [entity_json(e) for e in formatted.entities]
        if (formatted.text, entities, markup) == (
            message.text,
            message.entities,
            message.markup_json,
        ):
            raise bad_request(NOT_MODIFIED)
        message.text, message.html, message.entities = formatted.text, raw, entities
        message.parse_mode = p.text("parse_mode") or None
        message.buttons, message.markup_json = buttons, markup
        return self._edited(message)

    async def _m_editmessagecaption(self, p: Params) -> Any:
        raw = p.text("caption")
        caption = self._caption(raw, p)
        buttons, markup = parse_reply_markup(p.values.get("reply_markup"))
        _, message = self._find(p, "message to edit")
        if message.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        entities = [entity_json(e) for e in caption.entities]
        if (caption.text or None, entities, markup) == (
            message.caption,
            message.caption_entities,
            message.markup_json,
        ):
            raise bad_request(NOT_MODIFIED)
        message.caption, message.caption_html = caption.text or None, raw or None
        message.caption_entities, message.parse_mode = entities, p.text("parse_mode") or None
        message.buttons, message.markup_json = buttons, markup
        return self._edited(message)

    async def _m_editmessagereplymarkup(self, p: Params) -> Any:
        buttons, markup = parse_reply_markup(p.values.get("reply_markup"))
        _, message = self._find(p, "message to edit")
        if markup == message.markup_json:
            raise bad_request(NOT_MODIFIED)
        message.buttons, message.markup_json = buttons, markup
        return self._edited(message)

    def _edited(self, message: SentMessage) -> dict[str, Any]:
        message.edits += 1
        message.edit_date = int(time.time())
        self._notify()
        return self._message_json(message)

    def _find(self, p: Params, what: str) -> tuple[Chat, SentMessage]:
        if p.values.get("inline_message_id"):
            raise bad_request("the stand-in has no inline messages")
        chat = self._writable_chat(p)
        message_id = p.integer("message_id")
        if not message_id:
            raise bad_request("message identifier is not specified")
        for message in chat.messages:
            if message.message_id == message_id and not message.deleted:
                return chat, message
        raise bad_request(f"{what} not found")

    async def _m_deletemessage(self, p: Params) -> Any:
        chat = self._known_chat(p)
        message_id = p.integer("message_id")
        if not message_id:
            raise bad_request("message identifier is not specified")
        for message in chat.messages:
            if message.message_id == message_id and not message.deleted:
                message.deleted = True
                self._notify()
                return True
        raise bad_request("message to delete not found")

    async def _m_answercallbackquery(self, p: Params) -> Any:
        query_id = p.text("callback_query_id")
        known = self._queries.get(query_id)
        if known is None or known[1]:
            raise bad_request(QUERY_INVALID)
        text = p.text("text")
        if len(text) > MAX_ANSWER_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        self._queries[query_id] = (known[0], True)
        answer = CallbackAnswer(
            query_id,
            text,
            p.flag("show_alert"),
            url=p.text("url") or None,
            cache_time=p.integer("cache_time") or 0,
        )
        self._chats[known[0]].callback_answers.append(answer)
        self._notify()
        return True
