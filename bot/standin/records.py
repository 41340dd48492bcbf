"""What the stand-in records: the bot's messages as the user sees them, its calls, and its
answers to button presses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Button:
    """An inline keyboard button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass
class SentMessage:
    """A message the bot sent, in its current state (edits applied, deletion flagged).

    ``text`` is what the user reads (tags stripped, entities decoded, trimmed as Telegram
    trims); ``html`` is the text exactly as the bot sent it. For a photo or a document
    ``text`` is empty and ``caption``/``caption_html`` hold the caption.
    """

    message_id: int
    chat_id: int
    text: str
    html: str | None
    parse_mode: str | None
    kind: str = "text"
    buttons: list[list[Button]] = field(default_factory=list)
    caption: str | None = None
    file_bytes: bytes | None = None
    file_name: str | None = None
    edits: int = 0
    deleted: bool = False
    date: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption_html: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    markup_json: dict[str, Any] | None = None
    file_id: str | None = None
    edit_date: int | None = None
    reply_to: int | None = None

    @property
    def flat_buttons(self) -> list[Button]:
        """The buttons in reading order (row by row)."""
        return [button for row in self.buttons for button in row]


@dataclass
class CallRecord:
    """One Bot API call the bot made, with Telegram's answer.

    ``method`` is Telegram's spelling (``sendMessage``) whatever case the bot used;
    ``params`` are the request's parameters as they arrived (strings; an uploaded file
    as ``(filename, bytes)``); ``status`` is the HTTP status (0: the connection was
    dropped on purpose); ``at`` is the arrival time on the monotonic clock; ``scope``, for
    a 429, is the limit that refused it (``overall``, ``chat`` or ``group``).
    """

    method: str
    params: dict[str, Any]
    status: int
    at: float
    description: str | None = None
    scope: str | None = None


@dataclass
class CallbackAnswer:
    """The bot's answer to a button press (answerCallbackQuery)."""

    query_id: str
    text: str
    show_alert: bool
    url: str | None = None
    cache_time: int = 0
