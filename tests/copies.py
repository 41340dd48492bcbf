"""Broadcast copies written straight into the outbox, for tests that need them in a state."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.models import MessageStatus, OutboxMessage


def copy_row(
    *,
    broadcast_id: int,
    patient_id: int,
    chat_id: int,
    now: datetime,
    status: MessageStatus = MessageStatus.PENDING,
    due_at: datetime | None = None,
    claimed_by: str | None = None,
) -> OutboxMessage:
    """A patient's copy of a broadcast as the product writes it (due ``now`` unless held)."""
    return OutboxMessage(
        kind="broadcast",
        priority=3,
        broadcast_id=broadcast_id,
        patient_id=patient_id,
        chat_id=chat_id,
        status=status,
        created_at=now,
        due_at=due_at or now,
        expires_at=now + timedelta(hours=24),
        attempts=0,
        claimed_by=claimed_by,
    )
