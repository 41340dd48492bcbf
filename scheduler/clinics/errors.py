"""What can go wrong with a clinic's details, its invites and its staff, as typed errors."""

from __future__ import annotations

from enum import StrEnum


class ClinicDetailsError(ValueError):
    """A clinic's name or contact detail that does not fit; the message says which."""


class InviteProblem(StrEnum):
    """Why an invite code does not work."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED = "used"
    WRONG_KIND = "wrong_kind"
    OTHER_CLINIC = "other_clinic"


class StaffProblem(StrEnum):
    """Why a member of staff cannot be removed (or have their role changed)."""

    NOT_FOUND = "not_found"
    LAST_ADMIN = "last_admin"
    SELF = "self"


class StaffError(Exception):
    """A member of staff who cannot be removed (or have their role changed), and why."""

    def __init__(self, problem: StaffProblem) -> None:
        """Carry the reason."""
        super().__init__(problem.value)
        self.problem = problem


class InviteError(Exception):
    """An invite code that cannot be used, and why."""

    def __init__(self, problem: InviteProblem) -> None:
        """Carry the reason."""
        super().__init__(problem.value)
        self.problem = problem
