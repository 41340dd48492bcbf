"""``ClinicService``: every use case of a clinic, its staff, its patients and its alerts."""

from __future__ import annotations

from scheduler.care.planning import QuietHours, load_zone
from scheduler.clinics.alerts import AlertUseCases
from scheduler.clinics.errors import ClinicDetailsError
from scheduler.clinics.invites import InviteUseCases
from scheduler.clinics.limits import MAX_NAME
from scheduler.clinics.patients import PatientUseCases
from scheduler.clinics.staff import StaffUseCases
from scheduler.clinics.views import ClinicView, NewInvite
from scheduler.clock import Clock
from scheduler.outbox.reminders import PlanSource
from storage.clinics import ClinicRepository
from storage.database import Database
from storage.models import InviteKind, StaffRole


class ClinicService(InviteUseCases, StaffUseCases, PatientUseCases, AlertUseCases):
    """Use cases of clinics and their staff; each method is one unit of work."""

    def __init__(self, *, database: Database, clock: Clock, plans: PlanSource) -> None:
        """Work on ``database``, with time from ``clock`` and care plans from ``plans``."""
        self.database = database
        self.clock = clock
        self.plans = plans

    # Clinics

    async def create_clinic(
        self,
        *,
        name: str,
        timezone: str,
        plan_id: str,
        quiet_hours: QuietHours,
        phone: str | None = None,
        whatsapp: str | None = None,
        address: str | None = None,
        booking_url: str | None = None,
        language: str = "en",
    ) -> tuple[ClinicView, NewInvite]:
        """Create a clinic and the one-time invite of its first admin."""
        load_zone(timezone)
        self.plans(plan_id)
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise ClinicDetailsError(f"a clinic needs a name of 1 to {MAX_NAME} characters")
        for label, value, limit in (
            ("phone", phone, 40),
            ("WhatsApp", whatsapp, 40),
            ("booking link", booking_url, 300),
            ("language", language, 16),
        ):
            if value is not None and len(value) > limit:
                raise ClinicDetailsError(f"the {label} is longer than {limit} characters")
        now = self.clock.now()
        async with self.database.session() as session:
            clinic = await ClinicRepository(session).add(
                name=name,
                timezone=timezone,
                plan_id=plan_id,
                quiet_start=quiet_hours.start,
                quiet_end=quiet_hours.end,
                phone=phone,
                whatsapp=whatsapp,
                address=address,
                booking_url=booking_url,
                language=language,
                now=now,
            )
            invite = await self._invite(
                ClinicRepository(session), clinic.id, InviteKind.STAFF, role=StaffRole.ADMIN
            )
            view = ClinicView.of(clinic)
            await session.commit()
        return view, invite

    async def clinics(self) -> list[tuple[ClinicView, int, int]]:
        """Every clinic with its number of staff and of patients."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            counts = await repo.counts()
            return [(ClinicView.of(c), *counts.get(c.id, (0, 0))) for c in await repo.all()]

    async def clinic(self, *, clinic_id: int) -> ClinicView | None:
        """One clinic."""
        async with self.database.session() as session:
            clinic = await ClinicRepository(session).get(clinic_id=clinic_id)
            return None if clinic is None else ClinicView.of(clinic)
