"""What the bot is waiting for in a patient's chat, as a typed value.

A pending prompt says what it asks (its kind), carries a short random token that every
button drawn for it repeats (so a button from an earlier prompt can be refused), and expires
(an answer that comes too late is told so, never applied to a state it was not asked for).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

PROMPT_TTL = timedelta(minutes=30)
TOKEN_BYTES = 3  # 4 URL-safe characters: buttons stay far below Telegram's 64 bytes


class PromptKind(StrEnum):
    """What a prompt asks for."""

    DATE = "date"
    CHANGE = "change"
    NEXT = "next"
    TIMEZONE = "timezone"
    QUIET = "quiet"
    DELETE = "delete"  # "delete everything?": answered only by its buttons


DATE_KINDS = frozenset({PromptKind.DATE, PromptKind.CHANGE, PromptKind.NEXT})
TYPED_KINDS = DATE_KINDS | {PromptKind.TIMEZONE, PromptKind.QUIET}


@dataclass(frozen=True)
class Prompt:
    """A pending prompt: what it asks, the token its buttons carry, when it lapses."""

    kind: PromptKind
    token: str
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        """Whether an answer given at ``now`` comes too late."""
        return now >= self.expires_at

    @property
    def typed(self) -> bool:
        """Whether words typed in chat can answer it (else only its buttons can)."""
        return self.kind in TYPED_KINDS

    @property
    def asks_date(self) -> bool:
        """Whether the prompt waits for a session date."""
        return self.kind in DATE_KINDS


def new_prompt(kind: PromptKind, now: datetime, ttl: timedelta = PROMPT_TTL) -> Prompt:
    """A fresh prompt of ``kind`` with a new token."""
    return Prompt(kind=kind, token=secrets.token_urlsafe(TOKEN_BYTES), expires_at=now + ttl)


def stored_prompt(
    kind: str | None, token: str | None, expires_at: datetime | None
) -> Prompt | None:
    """The prompt as stored on the patient, or None (an unknown kind reads as none)."""
    if kind is None or token is None or expires_at is None:
        return None
    try:
        return Prompt(kind=PromptKind(kind), token=token, expires_at=expires_at)
    except ValueError:
        return None
