"""Clinic broadcasts: choosing the audience, and delivering in the background, paced.

``BroadcastService`` is what the clinic's staff use (every method is scoped to their clinic);
``BroadcastSender`` delivers due broadcasts: it claims recipient rows atomically (safe with
several processes on one database), sends through a ``BroadcastTransport`` at no more than
``rate`` messages a second overall and one per ``per_chat_interval`` to a chat, and records
each outcome, so a restart resumes where delivery stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from content.loader import load_plan
from content.plan import CarePlan, day_of_healing
from scheduler.clinics import due_for_next_session
from scheduler.clock import Clock, MonotonicClock, SystemMonotonic
from scheduler.delivery import stop_recipient
from scheduler.metrics import Kind, Metrics, SendOutcome
from scheduler.notifier import MessageRejectedError, RecipientGoneError, TransientDeliveryError
from scheduler.planning import QuietHours, load_zone
from storage.batching import GroupCommit
from storage.broadcasts import (
    EXPIRED,
    BroadcastLine,
    BroadcastRepository,
    Candidate,
    ClaimedRecipient,
    LatestSession,
    NewRecipient,
    ReadyRecipient,
    RecipientCheck,
)
from storage.database import Database
from storage.models import (
    Broadcast,
    BroadcastStatus,
    Clinic,
    RecipientStatus,
    Staff,
)

log = logging.getLogger(__name__)

PlanSource = Callable[[str], CarePlan]

MAX_DAYS = 366
MAX_TEXT = 4096
MAX_CAPTION = 1024
# Each copy opens with the clinic's name ("Message from North Clinic:"): room for those words.
LABEL_ROOM = 40
# A copy held for the patient's quiet hours goes out at most this long after the broadcast
# was due; after that it is news no more, and is skipped (counted in the report).
LIFETIME = timedelta(hours=24)
# How far ahead a broadcast may be scheduled.
MAX_AHEAD = timedelta(days=30)

AudienceKind = Literal["all", "phase", "due", "silent", "lang"]
_PHASE_ID = re.compile(r"^[a-z0-9_]{1,48}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
AUDIENCE_HELP = (
    "choose one of: all, phase:<phase id> (e.g. phase:first_week), due:<days> (next session"
    " due within that many days), silent:<days> (not heard from for that many days),"
    " lang:<language code> (e.g. lang:en)"
)


class BroadcastNotFound(LookupError):
    """No such broadcast in this clinic (another clinic's broadcast is not found either)."""


class BroadcastStateError(ValueError):
    """The broadcast is not in a state that allows this (e.g. confirming it twice)."""


class BroadcastTooLong(ValueError):
    """The text does not fit in one message (or caption) with the clinic's label."""

    def __init__(self, length: int, limit: int) -> None:
        """``length`` characters given, ``limit`` allowed."""
        super().__init__(f"the text is {length} characters; at most {limit} fit")
        self.length = length
        self.limit = limit


class AudienceError(ValueError):
    """An audience that names nobody we know how to choose; the message is fit for a person."""


class EmptyBroadcast(ValueError):
    """A broadcast with neither a text nor a photo."""


class UnknownPhase(ValueError):
    """A phase audience naming a phase the clinic's care plan does not have."""

    def __init__(self, phase: str | None, known: list[str]) -> None:
        """The phase asked for and the ones the plan has."""
        super().__init__(f"no phase {phase!r} in the care plan; try: " + ", ".join(known))
        self.phase = phase
        self.known = known


class TimeProblem(StrEnum):
    """Why a broadcast cannot be scheduled for a time."""

    PAST = "past"
    TOO_FAR = "too_far"
    QUIET = "quiet"


class BroadcastTimeError(ValueError):
    """A send time that is refused; ``next_allowed`` is the first good time after it (for a
    time in the clinic's quiet hours: when they end), if there is one."""

    def __init__(self, problem: TimeProblem, next_allowed: datetime | None = None) -> None:
        """The problem, and the time to offer instead."""
        super().__init__(problem.value)
        self.problem = problem
        self.next_allowed = next_allowed


def text_limit(clinic_name: str, *, photo: bool) -> int:
    """How many characters a broadcast's text may have, leaving room for the label."""
    return (MAX_CAPTION if photo else MAX_TEXT) - LABEL_ROOM - len(clinic_name)


def schedule_problem(
    at: datetime, *, now: datetime, quiet_hours: QuietHours, zone: ZoneInfo
) -> BroadcastTimeError | None:
    """Why ``at`` is no time to schedule a clinic's broadcast for, or None if it is fine:
    in the past, more than ``MAX_AHEAD`` ahead, or in the clinic's quiet hours."""
    if at <= now:
        return BroadcastTimeError(TimeProblem.PAST)
    if at - now > MAX_AHEAD:
        return BroadcastTimeError(TimeProblem.TOO_FAR)
    moved = quiet_hours.defer(at, zone)
    if moved != at:
        allowed = moved if moved - now <= MAX_AHEAD else None
        return BroadcastTimeError(TimeProblem.QUIET, allowed)
    return None


def hold_until(
    ready: ReadyRecipient, *, now: datetime, lifetime: timedelta = LIFETIME
) -> datetime | None | Literal["expired"]:
    """When a ready copy may go: None (now), the end of the patient's quiet hours, or
    ``"expired"`` when that is past the broadcast's expiry (or the expiry has passed)."""
    expires_at = (ready.scheduled_at or now) + lifetime
    if now >= expires_at:
        return "expired"
    try:
        zone = load_zone(ready.timezone)
    except Exception:
        zone = ZoneInfo("UTC")
    until = QuietHours(ready.quiet_start, ready.quiet_end).defer(now, zone)
    if until <= now:
        return None
    return "expired" if until >= expires_at else until.astimezone(UTC)


@dataclass(frozen=True)
class Audience:
    """Who a broadcast goes to; always only the clinic's active patients who want its news.

    ``all``: everyone; ``phase:<id>``: the latest session's day of healing is in that phase of
    its care plan; ``due:<days>``: the next session (latest + 28 days, not booked yet) is due
    within the coming ``days``; ``silent:<days>``: not heard from for ``days`` (last seen, or
    enrolled when never seen); ``lang:<code>``: the patient's language.
    """

    kind: AudienceKind = "all"
    phase: str | None = None
    days: int | None = None
    language: str | None = None

    @classmethod
    def parse(cls, text: str) -> Audience:
        """The audience a ``Broadcast.audience`` string names; AudienceError with a friendly
        message when it names none."""
        raw = text.strip().lower()
        if raw == "all":
            return cls()
        kind, sep, value = raw.partition(":")
        value = value.strip()
        if not sep or kind not in ("phase", "due", "silent", "lang"):
            raise AudienceError(f"unknown audience {text.strip()[:40]!r}: {AUDIENCE_HELP}")
        if kind == "phase":
            if not _PHASE_ID.match(value):
                raise AudienceError("phase: give a phase id, e.g. phase:first_week")
            return cls("phase", phase=value)
        if kind == "lang":
            if not _LANGUAGE.match(value):
                raise AudienceError("lang: give a language code, e.g. lang:en")
            return cls("lang", language=value)
        if not value.isdigit() or not 1 <= int(value) <= MAX_DAYS:
            raise AudienceError(
                f"{kind}: give a number of days from 1 to {MAX_DAYS}, e.g. {kind}:14"
            )
        return cls("due" if kind == "due" else "silent", days=int(value))

    def __str__(self) -> str:
        """The ``Broadcast.audience`` string of this audience."""
        if self.kind == "phase":
            return f"phase:{self.phase}"
        if self.kind == "lang":
            return f"lang:{self.language}"
        if self.kind in ("due", "silent"):
            return f"{self.kind}:{self.days}"
        return "all"


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
    """Sends one broadcast message, or raises the errors of ``scheduler.notifier``:
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


async def _report(
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


class AudienceSelector:
    """Turns an audience into the patients it names, inside a session."""

    def __init__(self, plans: PlanSource) -> None:
        """Find care plans (for phases) with ``plans``."""
        self.plans = plans

    async def select(
        self, repo: BroadcastRepository, *, clinic_id: int, audience: Audience, now: datetime
    ) -> list[Candidate]:
        """The clinic's active, not-opted-out patients in ``audience``, by patient id."""
        candidates = await repo.candidates(
            clinic_id=clinic_id, language=audience.language if audience.kind == "lang" else None
        )
        if audience.kind in ("all", "lang"):
            return candidates
        if audience.kind == "silent":
            assert audience.days is not None
            cutoff = now - timedelta(days=audience.days)
            return [c for c in candidates if (c.last_seen_at or c.created_at) < cutoff]
        latest = await repo.latest_sessions(clinic_id=clinic_id)
        chosen: list[Candidate] = []
        for candidate in candidates:
            session = latest.get(candidate.patient_id)
            if session is not None and self._matches(candidate, session, audience, now):
                chosen.append(candidate)
        return chosen

    def _matches(
        self, candidate: Candidate, session: LatestSession, audience: Audience, now: datetime
    ) -> bool:
        today = self._today(candidate, now)
        if audience.kind == "due":
            assert audience.days is not None
            return due_for_next_session(
                session.session_date, session.booked_at, today, timedelta(audience.days)
            )
        try:
            plan = self.plans(session.plan_id)
        except Exception:
            log.warning("plan %r of patient %s unavailable", session.plan_id, candidate.patient_id)
            return False
        day = day_of_healing(session.session_date, today)
        return plan.phase_for_day(day).id == audience.phase

    @staticmethod
    def _today(candidate: Candidate, now: datetime) -> date:
        try:
            return now.astimezone(load_zone(candidate.timezone)).date()
        except Exception:
            return now.date()


class BroadcastService:
    """What clinic staff do with broadcasts. Every method acts only on the given clinic's
    broadcasts: another clinic's broadcast id is not found (``BroadcastNotFound``/False)."""

    def __init__(self, *, database: Database, clock: Clock, plans: PlanSource = load_plan) -> None:
        """Work on ``database``; ``plans`` finds care plans for phase audiences."""
        self.database = database
        self.clock = clock
        self.selector = AudienceSelector(plans)
        self.plans = plans

    async def create(
        self, clinic_id: int, staff_id: int | None, text: str, photo: str | None = None
    ) -> int:
        """A draft broadcast to every patient; returns its id. ``staff_id`` must be of the
        clinic (LookupError otherwise)."""
        text = text.strip()
        if not text and not photo:
            raise EmptyBroadcast("a broadcast needs a text or a photo")
        async with self.database.session() as session:
            if staff_id is not None:
                staff = await session.get(Staff, staff_id)
                if staff is None or staff.clinic_id != clinic_id:
                    raise LookupError("no such member of this clinic's staff")
            clinic = await session.get(Clinic, clinic_id)
            if clinic is None:
                raise LookupError("no such clinic")
            limit = text_limit(clinic.name, photo=bool(photo))
            if len(text) > limit:
                raise BroadcastTooLong(len(text), limit)
            broadcast = await BroadcastRepository(session).add(
                clinic_id=clinic_id,
                created_by=staff_id,
                text=text,
                photo=photo,
                audience="all",
                now=self.clock.now(),
            )
            await session.commit()
            return broadcast.id

    async def set_audience(
        self, broadcast_id: int, clinic_id: int, audience: Audience | str
    ) -> Audience:
        """Choose who a draft goes to; returns the parsed audience (ValueError if invalid)."""
        chosen = Audience.parse(audience) if isinstance(audience, str) else audience
        async with self.database.session() as session:
            clinic = await session.get(Clinic, clinic_id)
            await self._check_phase(session_clinic=clinic, audience=chosen)
            repo = BroadcastRepository(session)
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=clinic_id)
            if broadcast is None:
                raise BroadcastNotFound(broadcast_id)
            if broadcast.status is not BroadcastStatus.DRAFT:
                raise BroadcastStateError("only a draft's audience can change")
            broadcast.audience = str(chosen)
            await session.commit()
        return chosen

    async def count(self, clinic_id: int, audience: Audience | str) -> int:
        """How many patients the audience names now (the preview before confirming)."""
        chosen = Audience.parse(audience) if isinstance(audience, str) else audience
        async with self.database.session() as session:
            clinic = await session.get(Clinic, clinic_id)
            if clinic is None:
                return 0
            await self._check_phase(session_clinic=clinic, audience=chosen)
            selected = await self.selector.select(
                BroadcastRepository(session),
                clinic_id=clinic_id,
                audience=chosen,
                now=self.clock.now(),
            )
        return len(selected)

    async def confirm(
        self,
        broadcast_id: int,
        clinic_id: int,
        report_chat_id: int | None,
        at: datetime | None = None,
    ) -> int:
        """Schedule a draft for ``at`` (None: now); ``report_chat_id`` gets the final report
        in Telegram (None: nobody, e.g. the dashboard's first admin, who has no chat yet).

        ``at`` must be ahead, within ``MAX_AHEAD``, and outside the clinic's quiet hours
        (``BroadcastTimeError`` otherwise, with the next allowed time where there is one).
        Sent now: the recipients are chosen at once and their count is returned. Scheduled
        for later: they are chosen when sending starts (so patients enrolled meanwhile are
        included), and the count returned is the preview of now.
        """
        now = self.clock.now()
        if at is not None and at.tzinfo is None:
            raise ValueError("a naive datetime given for the broadcast time")
        immediate = at is None
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=clinic_id)
            if broadcast is None:
                raise BroadcastNotFound(broadcast_id)
            if broadcast.status is not BroadcastStatus.DRAFT:
                raise BroadcastStateError(f"the broadcast is {broadcast.status.value} already")
            if at is not None:
                clinic = await session.get(Clinic, clinic_id)
                assert clinic is not None  # the broadcast is the clinic's
                problem = schedule_problem(
                    at,
                    now=now,
                    quiet_hours=QuietHours(clinic.quiet_start, clinic.quiet_end),
                    zone=load_zone(clinic.timezone),
                )
                if problem is not None:
                    raise problem
            audience = Audience.parse(broadcast.audience)
            selected = await self.selector.select(
                repo, clinic_id=clinic_id, audience=audience, now=now
            )
            broadcast.status = BroadcastStatus.SCHEDULED
            broadcast.scheduled_at = now if immediate else at
            broadcast.report_chat_id = report_chat_id
            if immediate:
                await repo.add_recipients(
                    broadcast_id=broadcast.id,
                    recipients=[NewRecipient(c.patient_id, c.chat_id) for c in selected],
                )
            await session.commit()
        log.info(
            "broadcast %s of clinic %s confirmed for %s recipients (%s)",
            broadcast_id,
            clinic_id,
            len(selected),
            "now" if immediate else "scheduled",
        )
        return len(selected)

    async def cancel(self, broadcast_id: int, clinic_id: int) -> bool:
        """Cancel a draft, scheduled or sending broadcast of the clinic; False if there is
        none such (done, cancelled already, or not the clinic's)."""
        async with self.database.session() as session:
            cancelled = await BroadcastRepository(session).cancel(
                broadcast_id=broadcast_id, clinic_id=clinic_id, now=self.clock.now()
            )
            await session.commit()
        if cancelled:
            log.info("broadcast %s of clinic %s cancelled", broadcast_id, clinic_id)
        return cancelled

    async def report(self, broadcast_id: int, clinic_id: int) -> BroadcastReport:
        """Where the clinic's broadcast stands (``BroadcastNotFound`` if not the clinic's)."""
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=clinic_id)
            if broadcast is None:
                raise BroadcastNotFound(broadcast_id)
            return await _report(repo, broadcast, self.clock.now())

    async def history(self, clinic_id: int, limit: int = 50) -> list[BroadcastLine]:
        """The clinic's latest broadcasts, newest first, with their copies counted by state."""
        async with self.database.session() as session:
            return await BroadcastRepository(session).history(clinic_id=clinic_id, limit=limit)

    async def set_progress_message(
        self, broadcast_id: int, clinic_id: int, message_id: int
    ) -> bool:
        """Remember the message that shows the broadcast's progress; False if not found."""
        async with self.database.session() as session:
            changed = await BroadcastRepository(session).update(
                broadcast_id=broadcast_id,
                clinic_id=clinic_id,
                values={"progress_message_id": message_id},
            )
            await session.commit()
        return changed

    async def _check_phase(self, *, session_clinic: Clinic | None, audience: Audience) -> None:
        """A phase audience must name a phase of the clinic's care plan."""
        if audience.kind != "phase" or session_clinic is None:
            return
        try:
            plan = self.plans(session_clinic.plan_id)
        except Exception:
            return  # the plan file is broken: the selection finds nobody, logged there
        known = [p.id for p in plan.phases]
        if audience.phase not in known:
            raise UnknownPhase(audience.phase, known)


# How long a stop lets the sends under way finish (the HTTP request of one takes a few
# seconds at most; a copy waiting for the budget at a peak could wait minutes).
STOP_GRACE = 5.0


class Pacer:
    """The global send pace: at most ``rate`` sends a second, with no burst.

    Slots are ``1/rate`` apart (a token bucket holding at most one token, kept as the
    theoretical time of the next slot, so a late wake-up does not slow the pace). Telegram
    (and the stand-in) count sends in a sliding one-second window, and a send can reach them
    a little earlier or later than it left: so the actual departures are also kept at most
    ``floor(rate)`` in any ``(1 + margin)`` seconds. ``pause`` stops every send for a while
    (a 429's ``retry_after``). Time is read from, and waited for on, ``clock``: tests give it
    a fake one and check the pace without waiting for it.
    """

    def __init__(
        self, rate: float, *, margin: float = 0.03, clock: MonotonicClock | None = None
    ) -> None:
        """Pace at ``rate`` sends a second; ``margin`` widens the one-second window;
        ``clock`` is the real monotonic clock unless given."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        count = max(1, int(rate))
        self.span = count / rate * (1.0 + margin)
        self._recent: deque[float] = deque(maxlen=count)
        self._next = 0.0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.clock = clock or SystemMonotonic()

    def pause(self, seconds: float) -> None:
        """No send starts for ``seconds`` from now."""
        self._paused_until = max(self._paused_until, self.clock.monotonic() + seconds)

    async def acquire(self) -> None:
        """Wait for this send's turn (callers are served in order)."""
        async with self._lock:
            while True:
                now = self.clock.monotonic()
                at = max(self._next, self._paused_until, now)
                if len(self._recent) == self._recent.maxlen:
                    at = max(at, self._recent[0] + self.span)
                if at <= now:
                    break
                await self.clock.sleep(at - now)
            # Keep the cadence when this turn came a little late (an event loop wakes up to a
            # millisecond late); the window above still bounds every second.
            self._next = max(self._next, now - self.interval / 2) + self.interval
            self._recent.append(now)


@dataclass
class _Run:
    """One broadcast being delivered by this sender: its claimed rows and progress."""

    broadcast: Broadcast
    clinic: str
    buffer: deque[ClaimedRecipient]
    exhausted: bool = False
    held: int = 0  # copies this run gave back until their patient's quiet hours end
    last_progress: float = 0.0
    progress_task: asyncio.Task[None] | None = None


class BroadcastSender:
    """Delivers due broadcasts in the background; safe to run in several processes."""

    def __init__(
        self,
        *,
        database: Database,
        transport: BroadcastTransport,
        clock: Clock,
        reporter: BroadcastReporter | None = None,
        rate: float = 30.0,
        per_chat_interval: float = 1.0,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 50,
        concurrency: int = 16,
        poll_interval: float = 5.0,
        progress_interval: float = 2.0,
        max_attempts: int = 3,
        backoff: float = 1.0,
        send_timeout: float = 600.0,
        plans: PlanSource = load_plan,
        margin: float = 0.03,
        metrics: Metrics | None = None,
        monotonic: MonotonicClock | None = None,
    ) -> None:
        """Wire the sender. ``rate``: messages a second overall; ``per_chat_interval``:
        seconds between two messages to one chat; ``backoff``: the first retry's wait after
        a timeout or network error (doubling); ``send_timeout``: how long one send may take
        in all, its wait for the Telegram budget included (a copy is the lowest priority: at a
        morning peak it waits minutes behind reminders, which is not a failure; the HTTP
        request itself has its own timeouts); ``worker_id`` names this process's claims
        (by default a new unique name); ``margin``: see ``Pacer``; each attempt is counted in
        ``metrics`` (its own when not given); ``monotonic``: the clock the pacing (overall and
        per chat) reads and waits on, the real one unless given."""
        self.database = database
        self.transport = transport
        self.clock = clock
        self.reporter = reporter
        self.monotonic = monotonic or SystemMonotonic()
        self.pacer = Pacer(rate, margin=margin, clock=self.monotonic)
        self.per_chat_interval = per_chat_interval
        self.worker_id = (
            worker_id or f"broadcasts-{socket.gethostname()[:30]}:{uuid.uuid4().hex[:8]}"
        )
        self.lease = lease
        self.batch = max(1, batch)
        self.concurrency = max(1, concurrency)
        self.poll_interval = poll_interval
        self.progress_interval = progress_interval
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.send_timeout = send_timeout
        self.selector = AudienceSelector(plans)
        self.metrics = metrics or Metrics()
        self.sent = 0
        self._in_flight: set[int] = set()
        self._last_to_chat: dict[int, float] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._pass_lock = asyncio.Lock()
        # The check before each send and the record after it, written together for the sends
        # that queue up behind each other (one transaction each way instead of one per send).
        self._prepares: GroupCommit[int, str] = GroupCommit(database, self._write_prepares)
        self._sent_marks: GroupCommit[int, bool] = GroupCommit(database, self._write_sent)

    async def _write_prepares(
        self, session: AsyncSession, recipient_ids: Sequence[int]
    ) -> list[str | Exception]:
        """The pre-send checks: still the clinic's active patient who wants news (else
        skipped), and not in their quiet hours (else held until they end, or skipped as
        expired when they end after the broadcast's expiry)."""
        repo = BroadcastRepository(session)
        now = self.clock.now()
        checks, ready = await repo.prepare_many(
            recipient_ids=recipient_ids, owner=self.worker_id, lease_until=now + self.lease
        )
        expired: list[int] = []
        for rid, facts in ready.items():
            until = hold_until(facts, now=now)
            if until == "expired":
                expired.append(rid)
                checks[rid] = RecipientCheck.INACTIVE
            elif until is not None:
                await repo.hold(recipient_id=rid, owner=self.worker_id, until=until)
                checks[rid] = RecipientCheck.HELD
        await repo.skip_many(recipient_ids=expired, owner=self.worker_id, reason=EXPIRED)
        return [checks[rid] for rid in recipient_ids]

    async def _write_sent(
        self, session: AsyncSession, recipient_ids: Sequence[int]
    ) -> list[bool | Exception]:
        recorded = await BroadcastRepository(session).mark_sent_many(
            recipient_ids=recipient_ids, owner=self.worker_id, now=self.clock.now()
        )
        return [rid in recorded for rid in recipient_ids]

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start polling for due broadcasts in the background."""
        if self._task is not None and not self._task.done():
            return
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="broadcasts")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop claiming at once; sends under way have ``grace`` seconds to finish, then
        are cancelled (a copy still waiting its turn in the Telegram budget was not sent:
        its row keeps its claim until the lease runs out, then any worker takes it again;
        rows claimed and not started are given back at once)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                async with asyncio.timeout(grace):
                    await asyncio.shield(task)
            except TimeoutError:
                log.warning("broadcast sends still waiting after %.0f s: cancelled", grace)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Look for due broadcasts now (e.g. right after one was confirmed)."""
        self._wake.set()

    async def run_until_idle(self) -> None:
        """Deliver everything due now, then return (for tests and the demo)."""
        await self._pass()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self._pass()
            except Exception:  # a database hiccup must not end the loop
                log.exception("broadcast pass failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            self._wake.clear()

    # -- delivery -----------------------------------------------------------------------

    async def _pass(self) -> None:
        """One look at the due broadcasts, delivering each as far as this worker can."""
        async with self._pass_lock:
            async with self.database.session() as session:
                due = await BroadcastRepository(session).due(now=self.clock.now())
            for broadcast_id in due:
                if self._stopping:
                    return
                try:
                    await self._deliver(broadcast_id)
                except Exception:
                    log.exception("delivery of broadcast %s failed", broadcast_id)

    async def _begin(self, broadcast_id: int) -> tuple[Broadcast, str] | None:
        """Take the broadcast to sending (choosing its recipients if none were chosen yet);
        the broadcast and its clinic's name if it is sending, else None."""
        now = self.clock.now()
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            if await repo.start(broadcast_id=broadcast_id, now=now):
                if not await repo.has_recipients(broadcast_id=broadcast_id):
                    broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=None)
                    assert broadcast is not None
                    try:
                        audience = Audience.parse(broadcast.audience)
                    except ValueError:
                        log.error("broadcast %s has an invalid audience", broadcast_id)
                        audience = Audience("lang", language="-")  # nobody
                    selected = await self.selector.select(
                        repo, clinic_id=broadcast.clinic_id, audience=audience, now=now
                    )
                    await repo.add_recipients(
                        broadcast_id=broadcast_id,
                        recipients=[NewRecipient(c.patient_id, c.chat_id) for c in selected],
                    )
                log.info("broadcast %s: sending started", broadcast_id)
            await session.commit()
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=None)
            if broadcast is None or broadcast.status is not BroadcastStatus.SENDING:
                return None
            clinic = await session.get(Clinic, broadcast.clinic_id)
        return broadcast, clinic.name if clinic is not None else ""

    async def _deliver(self, broadcast_id: int) -> None:
        begun = await self._begin(broadcast_id)
        if begun is None:
            return
        broadcast, clinic = begun
        run = _Run(
            broadcast=broadcast, clinic=clinic, buffer=deque(), last_progress=time.monotonic()
        )
        claim_lock = asyncio.Lock()
        workers = [
            asyncio.create_task(self._worker(run, claim_lock), name=f"broadcast-{broadcast_id}")
            for _ in range(self.concurrency)
        ]
        keeper = asyncio.create_task(self._keep_leases(), name=f"broadcast-{broadcast_id}-leases")
        try:
            await asyncio.gather(*workers)
        finally:
            keeper.cancel()
            for task in workers:
                task.cancel()
            if run.progress_task is not None:
                with contextlib.suppress(Exception):
                    await run.progress_task
            if run.buffer:  # claimed but never started (stopping): free them for the next run
                await self._release([r.id for r in run.buffer])
                run.buffer.clear()
        if not self._stopping:
            await self._finish(run)

    async def _release(self, recipient_ids: list[int]) -> None:
        """Give claimed rows back at once, so a restart resumes them without waiting for the
        lease (a row whose send was under way keeps its claim: only its lease decides)."""
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            for recipient_id in recipient_ids:
                await repo.release(recipient_id=recipient_id, owner=self.worker_id)
            await session.commit()

    async def _next(self, run: _Run, claim_lock: asyncio.Lock) -> ClaimedRecipient | None:
        """The next claimed recipient for a worker, claiming a batch when none is left."""
        async with claim_lock:
            if self._stopping:
                return None
            if not run.buffer and not run.exhausted:
                now = self.clock.now()
                async with self.database.session() as session:
                    claimed = await BroadcastRepository(session).claim(
                        broadcast_id=run.broadcast.id,
                        owner=self.worker_id,
                        now=now,
                        lease_until=now + self.lease,
                        limit=self.batch,
                        skip_locked=self.database.is_postgresql,
                    )
                    await session.commit()
                run.buffer.extend(claimed)
                run.exhausted = not claimed
            return run.buffer.popleft() if run.buffer else None

    async def _worker(self, run: _Run, claim_lock: asyncio.Lock) -> None:
        while not self._stopping:
            recipient = await self._next(run, claim_lock)
            if recipient is None:
                return
            self._in_flight.add(recipient.id)
            try:
                await self._send_one(run, recipient)
            except Exception:  # the lease frees the row for a later try
                log.exception("broadcast recipient %s failed", recipient.id)
            finally:
                self._in_flight.discard(recipient.id)
            self._maybe_progress(run)

    async def renew_leases(self) -> int:
        """Extend the claims of the copies being sent now. A copy may wait minutes for its
        turn in the Telegram budget at a peak; were its lease to run out meanwhile, another
        worker would claim and send it too. Returns how many claims were renewed."""
        ids = sorted(self._in_flight)
        if not ids:
            return 0
        async with self.database.session() as session:
            renewed = await BroadcastRepository(session).renew(
                recipient_ids=ids, owner=self.worker_id, lease_until=self.clock.now() + self.lease
            )
            await session.commit()
        return renewed

    async def _keep_leases(self) -> None:
        """``renew_leases`` four times a lease, for as long as a broadcast is being sent."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 4)
            try:
                await self.renew_leases()
            except Exception:  # a database hiccup: the next round tries again
                log.exception("broadcast claims could not be renewed")

    async def _send_one(self, run: _Run, recipient: ClaimedRecipient) -> None:
        broadcast = run.broadcast
        attempts = recipient.attempts
        while True:
            check = await self._prepares.submit(recipient.id)
            if check == RecipientCheck.HELD:
                run.held += 1
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.DEFERRED)
            elif check == RecipientCheck.INACTIVE:
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.SKIPPED)
            if check != RecipientCheck.READY:
                return
            await self._chat_turn(recipient.chat_id)
            await self.pacer.acquire()
            self._last_to_chat[recipient.chat_id] = self.monotonic.monotonic()
            try:
                async with asyncio.timeout(self.send_timeout):
                    await self.transport.send(
                        chat_id=recipient.chat_id,
                        text=broadcast.text,
                        photo=broadcast.photo,
                        clinic=run.clinic,
                        language=recipient.language,
                    )
            except RecipientGoneError as exc:
                await self._gone(recipient, exc.reason)
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.GONE)
                return
            except MessageRejectedError as exc:
                log.warning("broadcast recipient %s rejected: %s", recipient.id, exc.reason)
                await self._settle_failed(recipient, exc.reason)
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.REJECTED)
                return
            except TransientDeliveryError as exc:
                if exc.retry_after is not None:
                    self.metrics.record_send(Kind.BROADCAST, SendOutcome.RETRY)
                    log.warning("broadcast %s: 429, pausing %.1f s", broadcast.id, exc.retry_after)
                    self.pacer.pause(max(exc.retry_after, 0.0))
                    continue
                reason = exc.reason
            except TimeoutError:
                reason = "timeout"
            except Exception as exc:  # a transport bug: retried like a network error
                log.exception("transport failed on broadcast recipient %s", recipient.id)
                reason = type(exc).__name__
            else:
                recorded = await self._sent_marks.submit(recipient.id)
                self.sent += 1
                # Late against the broadcast's time; a copy held for quiet hours counts that.
                due = broadcast.scheduled_at or broadcast.started_at
                late_by = (self.clock.now() - due).total_seconds() if due else None
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.SENT, late_by=late_by)
                if not recorded:
                    log.warning(
                        "broadcast recipient %s sent after its claim was lost", recipient.id
                    )
                return
            attempts += 1
            log.warning(
                "broadcast recipient %s attempt %s failed: %s", recipient.id, attempts, reason
            )
            if attempts >= self.max_attempts:
                await self._settle_failed(recipient, reason)
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.FAILED)
                return
            async with self.database.session() as session:
                counted = await BroadcastRepository(session).record_attempt(
                    recipient_id=recipient.id, owner=self.worker_id, error=reason
                )
                await session.commit()
            if counted is None:
                return
            attempts = counted
            if attempts >= self.max_attempts:  # counted by an earlier claim too
                await self._settle_failed(recipient, reason, attempted=False)
                self.metrics.record_send(Kind.BROADCAST, SendOutcome.FAILED)
                return
            self.metrics.record_send(Kind.BROADCAST, SendOutcome.RETRY)
            await asyncio.sleep(self.backoff * 2 ** (attempts - 1))

    async def _chat_turn(self, chat_id: int) -> None:
        """Wait until the chat's last message from us is ``per_chat_interval`` old."""
        last = self._last_to_chat.get(chat_id)
        if last is not None:
            wait = last + self.per_chat_interval - self.monotonic.monotonic()
            if wait > 0:
                await self.monotonic.sleep(wait)
        if len(self._last_to_chat) > 100_000:  # forget chats last written long ago
            horizon = self.monotonic.monotonic() - self.per_chat_interval
            self._last_to_chat = {c: t for c, t in self._last_to_chat.items() if t > horizon}

    async def _settle_failed(
        self, recipient: ClaimedRecipient, reason: str, *, attempted: bool = True
    ) -> None:
        async with self.database.session() as session:
            await BroadcastRepository(session).mark_failed(
                recipient_id=recipient.id, owner=self.worker_id, error=reason, attempted=attempted
            )
            await session.commit()

    async def _gone(self, recipient: ClaimedRecipient, reason: str) -> None:
        """The patient blocked the bot: fail the copy, stop the patient, cancel reminders."""
        now = self.clock.now()
        async with self.database.session() as session:
            await BroadcastRepository(session).mark_failed(
                recipient_id=recipient.id, owner=self.worker_id, error=reason
            )
            await stop_recipient(
                session, chat_id=recipient.chat_id, now=now, patient_id=recipient.patient_id
            )
            await session.commit()
        log.info("chat %s is gone (broadcast recipient %s): patient stopped",
                 recipient.chat_id, recipient.id)  # fmt: skip

    # -- reporting ----------------------------------------------------------------------

    def _maybe_progress(self, run: _Run) -> None:
        if self.reporter is None:
            return
        now = time.monotonic()
        busy = run.progress_task is not None and not run.progress_task.done()
        if busy or now - run.last_progress < self.progress_interval:
            return
        run.last_progress = now
        run.progress_task = asyncio.get_running_loop().create_task(self._progress(run))

    async def _progress(self, run: _Run) -> None:
        assert self.reporter is not None
        try:
            report = await self._current_report(run.broadcast.id)
            if report is not None and report.status is BroadcastStatus.SENDING:
                run.last_progress = time.monotonic()
                await self.reporter.progress(report)
        except Exception:
            log.exception("progress report of broadcast %s failed", run.broadcast.id)

    async def _current_report(self, broadcast_id: int) -> BroadcastReport | None:
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            broadcast = await repo.get(broadcast_id=broadcast_id, clinic_id=None)
            if broadcast is None:
                return None
            return await _report(repo, broadcast, self.clock.now())

    async def _finish(self, run: _Run) -> None:
        """Mark the broadcast done when nothing is pending; the one worker that does sends
        the final report (a cancelled broadcast gets its final report too)."""
        now = self.clock.now()
        async with self.database.session() as session:
            repo = BroadcastRepository(session)
            done = await repo.finish(broadcast_id=run.broadcast.id, now=now)
            await session.commit()
        if not done:
            async with self.database.session() as session:
                status = await BroadcastRepository(session).status(broadcast_id=run.broadcast.id)
            if status is not BroadcastStatus.CANCELLED:
                # Copies wait for quiet hours, or other workers still hold claims: a later
                # pass finishes it. Staff see at once how many wait.
                if run.held and self.reporter is not None:
                    await self._progress(run)
                return
        report = await self._current_report(run.broadcast.id)
        if done:
            log.info("broadcast %s done", run.broadcast.id)
        if report is None or self.reporter is None:
            return
        try:
            await self.reporter.finished(report)
        except Exception:
            log.exception("final report of broadcast %s failed", run.broadcast.id)
