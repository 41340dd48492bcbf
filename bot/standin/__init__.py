"""A strict local stand-in of the Telegram Bot API, for the offline demo and the tests."""

from bot.standin.html import EntityParseError, parse_html
from bot.standin.server import (
    Button,
    CallbackAnswer,
    CallRecord,
    ChatHandle,
    SentMessage,
    StandIn,
    running,
)

__all__ = [
    "Button",
    "CallRecord",
    "CallbackAnswer",
    "ChatHandle",
    "EntityParseError",
    "SentMessage",
    "StandIn",
    "parse_html",
    "running",
]
