"""Invite codes: 192 random bits, shown once and stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from storage.models import InviteKind

CODE_BYTES = 24  # 192 bits; token_urlsafe gives 32 characters, within a deep link's 64
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}$")
INVITE_TTL = {
    InviteKind.STAFF: timedelta(days=7),
    InviteKind.PATIENT: timedelta(days=365),  # printed at the reception; revocable
    InviteKind.ENROL: timedelta(days=14),
}


def new_code() -> str:
    """A fresh invite code."""
    return secrets.token_urlsafe(CODE_BYTES)


def code_hash(code: str) -> str:
    """What is stored of a code."""
    return hashlib.sha256(code.encode()).hexdigest()


def looks_like_code(text: str) -> bool:
    """Whether a deep-link payload has the shape of one of our invite codes."""
    return bool(CODE_PATTERN.match(text))
