"""``reply_markup`` checked as the Bot API checks it; inline keyboards become Buttons."""

from __future__ import annotations

import json
from typing import Any

from bot.standin.errors import bad_request
from bot.standin.html import checked_link
from bot.standin.records import Button

MAX_CALLBACK_DATA = 64
# Any one of these makes an inline button valid (Telegram checks them in this order).
_OTHER_KINDS = (
    "callback_game", "pay", "switch_inline_query", "switch_inline_query_chosen_chat",
    "switch_inline_query_current_chat", "login_url", "web_app", "copy_text",
)  # fmt: skip
_ACTIONS = ("url", "callback_data", *_OTHER_KINDS)  # "Exactly one ... must be used"
_KNOWN = frozenset({"text", "style", "icon_custom_emoji_id", *_ACTIONS})


def parse_reply_markup(raw: Any) -> tuple[list[list[Button]], dict[str, Any] | None]:
    """The inline keyboard (rows of Buttons) and the markup to show on the message
    (None unless it is a non-empty inline keyboard), or ApiError like Telegram's."""
    if raw is None or raw == "":
        return [], None
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            raise bad_request("can't parse reply keyboard markup JSON object") from None
    else:
        value = raw
    if not isinstance(value, dict):
        raise bad_request("object expected as reply markup")
    keyboard = value.get("keyboard")
    if keyboard is not None and not (
        isinstance(keyboard, list) and all(isinstance(row, list) for row in keyboard)
    ):
        raise bad_request('field "keyboard" must be an Array of Arrays')
    rows = value.get("inline_keyboard")
    if rows is None:
        return [], None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    buttons = [[_button(button) for button in row] for row in rows]
    if keyboard or not any(buttons):
        return [], None
    # Telegram keeps only the fields it knows: unknown keys never come back on the message.
    shown = [[{k: v for k, v in button.items() if k in _KNOWN} for button in row] for row in rows]
    return buttons, {"inline_keyboard": shown}


def _button(raw: Any) -> Button:
    if not isinstance(raw, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = raw.get("text")
    if not isinstance(text, str):
        raise bad_request("can't parse inline keyboard button: Can't find field \"text\"")
    url = raw.get("url")
    data = raw.get("callback_data")
    actions = [kind for kind in _ACTIONS if kind in raw]
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be "
            f"used, not {' and '.join(actions)}"
        )
    if url:
        if not text:
            raise bad_request("inline keyboard button text must be non-empty")
        checked = checked_link(str(url))
        if checked is None:
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        return Button(text, url=str(url))
    if data:
        if not text:
            raise bad_request("inline keyboard button text must be non-empty")
        if len(str(data).encode()) > MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
        return Button(text, callback_data=str(data))
    if any(kind in raw for kind in _OTHER_KINDS):
        if not text:
            raise bad_request("inline keyboard button text must be non-empty")
        return Button(text)
    raise bad_request(
        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
    )
