"""The command menus: what every chat sees, and what a clinic's staff see in their chats."""

from __future__ import annotations

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


def patient_commands(texts: Texts) -> list[BotCommand]:
    """The menu of every chat, described in the patient's language."""
    return [BotCommand(name, texts.plain(f"commands.{name}")) for name in PATIENT_COMMANDS]


def staff_commands(texts: Texts) -> list[BotCommand]:
    """The menu of a member of staff's chat: the clinic's commands first, then the rest."""
    return [
        BotCommand(name, texts.plain(f"staff_commands.{name}")) for name in STAFF_COMMANDS
    ] + patient_commands(texts)
