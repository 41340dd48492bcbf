"""The bot's own account and lookups: getMe, the command menu, getChat, getFile, chat
actions, close and logOut."""

from __future__ import annotations

import json
from typing import Any

from bot.standin.core import Core
from bot.standin.errors import bad_request
from bot.standin.params import Params

MAX_COMMANDS = 100
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip


class AccountMethods(Core):
    """getMe, set/get/deleteMyCommands, getChat, getFile, sendChatAction, close, logOut."""

    async def _m_getme(self, p: Params) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _commands_key(self, p: Params) -> tuple[str, str]:
        scope = p.decoded("scope", "can't parse BotCommandScope JSON object") or {"type": "default"}
        if not isinstance(scope, dict) or not scope.get("type"):
            raise bad_request("can't parse BotCommandScope: Can't find field \"type\"")
        language = p.text("language_code")
        if language and not (len(language) == 2 and language.isascii() and language.isalpha()):
            raise bad_request("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    async def _m_setmycommands(self, p: Params) -> Any:
        raw = p.decoded("commands", "can't parse commands JSON object") or []
        if not isinstance(raw, list):
            raise bad_request("expected an Array of BotCommand")
        if len(raw) > MAX_COMMANDS:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        commands = [_bot_command(item) for item in raw]
        key = self._commands_key(p)
        if commands:
            self._commands[key] = commands
        else:
            self._commands.pop(key, None)
        self._notify()
        return True

    async def _m_getmycommands(self, p: Params) -> Any:
        return self._commands.get(self._commands_key(p), [])

    async def _m_deletemycommands(self, p: Params) -> Any:
        self._commands.pop(self._commands_key(p), None)
        self._notify()
        return True

    async def _m_getchat(self, p: Params) -> Any:
        chat = self._known_chat(p)
        return {
            **chat.chat_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _m_getfile(self, p: Params) -> Any:
        stored = self._files.get(p.text("file_id"))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }

    async def _m_sendchataction(self, p: Params) -> Any:
        action = p.text("action")
        if not action:
            raise bad_request("action is empty")
        chat = self._writable_chat(p)
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.actions.append(action)
        return True

    async def _m_close(self, p: Params) -> Any:
        return True

    async def _m_logout(self, p: Params) -> Any:
        return True


def _bot_command(item: Any) -> dict[str, str]:
    """One BotCommand checked as Telegram checks it (trimmed, a leading "/" dropped)."""
    if not isinstance(item, dict):
        raise bad_request("can't parse BotCommand: expected an Object")
    for name in ("command", "description"):
        if not isinstance(item.get(name), str):
            raise bad_request(f"can't parse BotCommand: Can't find field \"{name}\"")
    command = item["command"].strip().removeprefix("/")
    description = item["description"].strip()
    if not command:
        raise bad_request("command must be non-empty")
    if len(command) > 32:
        raise bad_request("command length must not exceed 32")
    if not description:
        raise bad_request("command description must be non-empty")
    if len(description) > 256:
        raise bad_request("command description length must not exceed 256")
    if not all(c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in command):
        raise bad_request("BOT_COMMAND_INVALID")
    return {"command": command, "description": description}
