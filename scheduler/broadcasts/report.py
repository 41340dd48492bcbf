"""A broadcast's report (sent, failed, waiting), and what delivery needs from the outside world: a
transport and a reporter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from storage.broadcasts import BroadcastRepository
from storage.models import Broadcast, BroadcastStatus, RecipientStatus


@dataclass(frozen=True)
class BroadcastReport:
    """Where a broadcast stands: its status and how many recipients are in each state."""

    broadcast_id: int
    clinic_id: int
    status: BroadcastStatus
    total: int
    sent: int
    failed: int
    skipped: int
    cancelled: int
    remaining: int
    report_chat_id: int | None
    progress_message_id: int | None
    scheduled_at: datetime | None
    text: str = ""
    photo: str | None = None
    held: int = 0  # pending, waiting for the patient's quiet hours to end
    expired: int = 0  # of the skipped: quiet hours lasted past the broadcast's expiry
    audience: str = "all"  # the ``Broadcast.audience`` string


class BroadcastTransport(Protocol):
    """Sends one broadcast message, or raises the errors of ``scheduler.outbox.notifier``:
    ``RecipientGoneError`` (403), ``TransientDeliveryError`` (429 with ``retry_after``; a
    timeout or network error without), ``MessageRejectedError`` (400)."""

    async def send(
        self, *, chat_id: int, text: str, photo: str | None, clinic: str, language: str
    ) -> None:
        """Deliver the text (or the photo with the text as its caption) to ``chat_id``,
        labelled as a message from ``clinic`` (its name) in the patient's ``language``."""
        ...


class BroadcastReporter(Protocol):
    """Tells the clinic how its broadcast is going (e.g. one message edited in place)."""

    async def progress(self, report: BroadcastReport) -> None:
        """Progress while sending, at most every couple of seconds."""
        ...

    async def finished(self, report: BroadcastReport) -> None:
        """The final report, once."""
        ...


async def build_report(
    repo: BroadcastRepository, broadcast: Broadcast, now: datetime
) -> BroadcastReport:
    counts = await repo.counts(broadcast_id=broadcast.id)
    held, expired = await repo.held_and_expired(broadcast_id=broadcast.id, now=now)
    return BroadcastReport(
        broadcast_id=broadcast.id,
        clinic_id=broadcast.clinic_id,
        status=broadcast.status,
        total=sum(counts.values()),
        sent=counts[RecipientStatus.SENT],
        failed=counts[RecipientStatus.FAILED],
        skipped=counts[RecipientStatus.SKIPPED],
        cancelled=counts[RecipientStatus.CANCELLED],
        remaining=counts[RecipientStatus.PENDING],
        report_chat_id=broadcast.report_chat_id,
        progress_message_id=broadcast.progress_message_id,
        scheduled_at=broadcast.scheduled_at,
        text=broadcast.text,
        photo=broadcast.photo,
        held=held,
        expired=expired,
        audience=broadcast.audience,
    )
