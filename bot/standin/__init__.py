"""A strict local stand-in of the Telegram Bot API, for the offline demo and the tests."""

from bot.standin.chats import ChatHandle
from bot.standin.errors import ApiError
from bot.standin.html import EntityParseError, FormattedText, parse_formatted, parse_html
from bot.standin.records import Button, CallbackAnswer, CallRecord, SentMessage
from bot.standin.server import StandIn, running

__all__ = [
    "ApiError",
    "Button",
    "CallRecord",
    "CallbackAnswer",
    "ChatHandle",
    "EntityParseError",
    "FormattedText",
    "SentMessage",
    "StandIn",
    "parse_formatted",
    "parse_html",
    "running",
]
