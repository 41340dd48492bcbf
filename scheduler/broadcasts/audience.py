"""A broadcast's audience: parsed from staff's words, and chosen among the clinic's patients."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from content.plan import CarePlan, day_of_healing
from scheduler.broadcasts.errors import AudienceError
from scheduler.broadcasts.rules import MAX_DAYS
from scheduler.care.planning import load_zone
from scheduler.clinics.series import due_for_next_session
from storage.broadcasts import BroadcastRepository, Candidate, LatestSession

log = logging.getLogger(__name__)


PlanSource = Callable[[str], CarePlan]
AudienceKind = Literal["all", "phase", "due", "silent", "lang"]
_PHASE_ID = re.compile(r"^[a-z0-9_]{1,48}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
AUDIENCE_HELP = (
    "choose one of: all, phase:<phase id> (e.g. phase:first_week), due:<days> (next session"
    " due within that many days), silent:<days> (not heard from for that many days),"
    " lang:<language code> (e.g. lang:en)"
)


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
