"""Chats on the stand-in, and the users in them as a test or the demo drives them."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.standin.records import Button, CallbackAnswer, SentMessage

if TYPE_CHECKING:
    from bot.standin.control import TestControl

_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


@dataclass
class Chat:
    """The stand-in's state of one chat."""

    chat_id: int
    kind: str
    title: str | None = None
    first_name: str = "Amina"
    username: str | None = None
    language_code: str = "en"
    member_id: int = 0
    blocked: bool = False
    messages: list[SentMessage] = field(default_factory=list)
    callback_answers: list[CallbackAnswer] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    user_messages: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def private(self) -> bool:
        """True for a one-to-one chat with a user."""
        return self.kind == "private"

    def chat_json(self) -> dict[str, Any]:
        """The Chat object of updates and messages."""
        if self.private:
            data: dict[str, Any] = {
                "id": self.chat_id,
                "type": "private",
                "first_name": self.first_name,
            }
            if self.username:
                data["username"] = self.username
            return data
        return {"id": self.chat_id, "type": self.kind, "title": self.title or "Group"}

    def user_json(self) -> dict[str, Any]:
        """The User who acts in this chat (the chat's user, or the group's member)."""
        data: dict[str, Any] = {
            "id": self.chat_id if self.private else self.member_id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }
        if self.username:
            data["username"] = self.username
        return data


class ChatHandle:
    """A user in one chat, as a test or the demo drives them.

    Every action queues an update the way Telegram would deliver it (to getUpdates, or to
    the webhook if one is set) and returns at once; ``wait_for`` then waits for the bot.
    """

    def __init__(self, standin: TestControl, chat: Chat) -> None:
        self._standin = standin
        self._chat = chat
        self._mark = len(chat.messages)

    def __repr__(self) -> str:
        return f"ChatHandle({self._chat.kind} chat {self.chat_id})"

    @property
    def chat_id(self) -> int:
        """The chat's id."""
        return self._chat.chat_id

    @property
    def messages(self) -> list[SentMessage]:
        """Every message the bot sent to this chat, in order, edits applied (deleted ones
        stay, flagged ``deleted``)."""
        return self._chat.messages

    @property
    def last(self) -> SentMessage:
        """The latest message the bot sent here."""
        if not self._chat.messages:
            raise LookupError(f"the bot has sent nothing to chat {self.chat_id}")
        return self._chat.messages[-1]

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """The bot's answers to this chat's button presses, in order."""
        return self._chat.callback_answers

    @property
    def actions(self) -> list[str]:
        """The chat actions ("typing"...) the bot sent here, in order."""
        return self._chat.actions

    # -- acting as the user ---------------------------------------------------------------

    def send(self, text: str) -> int:
        """The user sends ``text``; a leading /command gets its bot_command entity, as
        Telegram computes it. Returns the new message's id."""
        extra: dict[str, Any] = {"text": text}
        command = _COMMAND.match(text)
        if command is not None and (command.end() == len(text) or text[command.end()].isspace()):
            extra["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_length(command.group())}
            ]
        return self._message(extra)

    def start(self, payload: str | None = None) -> int:
        """/start, or /start with a deep-link payload."""
        return self.send("/start" if payload is None else f"/start {payload}")

    def send_sticker(self) -> int:
        """The user sends a sticker."""
        sticker = {
            **self._standin._user_file("sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ", "sticker.webp"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "😊",
            "set_name": "HappyFaces",
        }
        return self._message({"sticker": sticker})

    def send_photo(self, caption: str | None = None) -> int:
        """The user sends a photo (Telegram's three sizes), optionally with a caption."""
        sizes = []
        for width, height in ((90, 67), (320, 240), (1280, 960)):
            stored = self._standin._user_file(
                "photo", b"\xff\xd8\xff\xe0" + bytes(width), f"photo_{width}.jpg"
            )
            sizes.append({**stored, "width": width, "height": height})
        extra: dict[str, Any] = {"photo": sizes}
        if caption:
            extra["caption"] = caption
        return self._message(extra)

    def send_voice(self) -> int:
        """The user sends a four-second voice message."""
        voice = {
            **self._standin._user_file("voice", b"OggS" + bytes(64), "voice.ogg"),
            "duration": 4,
            "mime_type": "audio/ogg",
        }
        return self._message({"voice": voice})

    def send_document(self) -> int:
        """The user sends a PDF."""
        document = {
            **self._standin._user_file("document", b"%PDF-1.4\n" + bytes(64), "photo.pdf"),
            "file_name": "photo.pdf",
            "mime_type": "application/pdf",
        }
        return self._message({"document": document})

    def edit(self, message_id: int, text: str) -> None:
        """The user edits one of their text messages (an edited_message update)."""
        original = self._chat.user_messages.get(message_id)
        if original is None or "text" not in original:
            raise LookupError(f"chat {self.chat_id} has no text message {message_id} by the user")
        payload = {**original, "edit_date": int(time.time())}
        payload.pop("entities", None)
        payload.update(_text_fields(text))
        self._chat.user_messages[message_id] = payload
        self._acted()
        self._standin._push("edited_message", payload)

    def press(self, button: str | int, message: SentMessage | None = None) -> str:
        """Press an inline button by its text, or by its 0-based index in reading order
        (row by row), on ``message`` (default: the latest message here that has buttons).
        Queues a callback_query with a fresh id and returns that id."""
        if message is None:
            with_buttons = [m for m in self._chat.messages if m.buttons and not m.deleted]
            if not with_buttons:
                raise LookupError(f"no message with buttons in chat {self.chat_id}")
            message = with_buttons[-1]
        if message.chat_id != self.chat_id:
            raise LookupError(f"message {message.message_id} is in chat {message.chat_id}")
        if message.deleted:
            raise LookupError(f"message {message.message_id} was deleted")
        chosen = _find_button(message, button)
        if chosen.callback_data is None:
            raise ValueError(f"button {chosen.text!r} opens a link; it has no callback_data")
        return self._query(chosen.callback_data, message)

    def press_data(self, data: str, message: SentMessage | None = None) -> str:
        """Send a callback query with any ``data``, as a modified client can: forged or stale
        buttons. Attached to ``message`` (default: the latest message of this chat)."""
        if message is None:
            if not self._chat.messages:
                raise LookupError(f"no message in chat {self.chat_id}")
            message = self._chat.messages[-1]
        return self._query(data, message)

    def _query(self, data: str, message: SentMessage) -> str:
        """Queue a callback_query with ``data`` on ``message``; returns its fresh id."""
        query_id = self._standin._new_query(self.chat_id)
        self._acted()
        self._standin._push(
            "callback_query",
            {
                "id": query_id,
                "from": self._chat.user_json(),
                "message": self._standin._message_json(message),
                "chat_instance": str(abs(self.chat_id) * 7919),
                "data": data,
            },
        )
        return query_id

    def block(self) -> None:
        """The user blocks the bot."""
        self._standin.block(self.chat_id)

    def unblock(self) -> None:
        """The user unblocks the bot."""
        self._standin.unblock(self.chat_id)

    # -- waiting for the bot --------------------------------------------------------------

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[SentMessage]:
        """Wait until the bot has sent ``count`` new messages here, and return them.

        "New" is counted from a mark: the user's latest action (send, press, edit...)
        moves the mark to the end of the chat, and each wait_for moves it past the
        messages it returned. So ``chat.send("hi"); await chat.wait_for(2)`` returns the
        two replies to "hi", and a second ``wait_for(1)`` the message after those. Edits
        of earlier messages are not new messages (read ``messages``, or use
        ``StandIn.wait_until``). Raises TimeoutError listing what did arrive.
        """
        start = self._mark
        what = f"{count} new message(s) in chat {self.chat_id} after the user's latest action"
        await self._standin.wait_until(
            lambda: len(self._chat.messages) >= start + count,
            timeout=timeout,
            what=what,
            detail=lambda: self._standin._chat_report(self.chat_id, start),
        )
        self._mark = start + count
        return self._chat.messages[start : start + count]

    # -- internals --------------------------------------------------------------------------

    def _acted(self) -> None:
        self._mark = len(self._chat.messages)

    def _message(self, extra: dict[str, Any]) -> int:
        message_id = self._standin._next_message_id()
        payload = {
            "message_id": message_id,
            "from": self._chat.user_json(),
            "chat": self._chat.chat_json(),
            "date": int(time.time()),
            **extra,
        }
        self._chat.user_messages[message_id] = payload
        self._acted()
        self._standin._push("message", payload)
        return message_id


def _find_button(message: SentMessage, button: str | int) -> Button:
    flat = message.flat_buttons
    labels = ", ".join(f"{index}: {b.text!r}" for index, b in enumerate(flat)) or "none"
    if isinstance(button, int):
        if not 0 <= button < len(flat):
            raise LookupError(
                f"no button {button} on message {message.message_id}; its buttons: {labels}"
            )
        return flat[button]
    for candidate in flat:
        if candidate.text == button:
            return candidate
    raise LookupError(
        f"no button {button!r} on message {message.message_id}; its buttons: {labels}"
    )


def _text_fields(text: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"text": text}
    command = _COMMAND.match(text)
    if command is not None and (command.end() == len(text) or text[command.end()].isspace()):
        length = _utf16_length(command.group())
        fields["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return fields


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
