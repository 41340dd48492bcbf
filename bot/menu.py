"""The command menus: what every chat sees, and what a clinic's staff see in their chats."""

from __future__ import annotations

import functools

from telegram import BotCommand

from content.texts import Texts

PATIENT_COMMANDS = (
    "start",
    "help",
    "status",
    "plan",
    "newsession",
    "change",
    "timezone",
    "quiet",
    "pause",
    "resume",
    "stop",
    "delete",
    "export",
    "news",
    "language",
    "cancel",
)
STAFF_COMMANDS = ("patients", "alerts", "broadcast", "invite", "enrol", "staff", "web")


# Built once per catalogue (each language's ``Texts`` is loaded once and never changes): the
# menu is set at every consent and language change, and rendering its 16 descriptions cost
# 0.3 ms of CPU each time.
@functools.lru_cache(maxsize=16)
def patient_commands(texts: Texts) -> tuple[BotCommand, ...]:
    """The menu of every chat, described in the patient's language."""
    return tuple(BotCommand(name, texts.plain(f"commands.{name}")) for name in PATIENT_COMMANDS)


@functools.lru_cache(maxsize=16)
def staff_commands(texts: Texts) -> tuple[BotCommand, ...]:
    """The menu of a member of staff's chat: the clinic's commands first, then the rest."""
    return tuple(
        BotCommand(name, texts.plain(f"staff_commands.{name}")) for name in STAFF_COMMANDS
    ) + patient_commands(texts)
