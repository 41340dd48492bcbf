"""Bulk rows for race, crash and load tests: patients with reminders due at given instants."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from storage.database import Database
from storage.models import Reminder
from storage.patients import PatientRepository
from storage.reminders import NewReminder, Recipient, ReminderRepository
from storage.sessions import SessionRepository

SMALL_PLAN_MILESTONES = (
    "evening_before",
    "day0_evening",
    "day1_morning",
    "day3_peeling",
    "day28_book",
)


async def seed_due(
    database: Database,
    *,
    patients: int,
    per_patient: int,
    due_at: datetime,
    valid_for: timedelta,
    spacing: timedelta = timedelta(0),
    first_chat_id: int = 1000,
    quiet: tuple[time, time] = (time(0), time(0)),
    milestones: tuple[str, ...] = SMALL_PLAN_MILESTONES,
    plan_id: str = "small",
) -> list[int]:
    """Insert ``patients`` x ``per_patient`` pending reminders; returns their ids.

    ``per_patient`` is at most the number of ``milestones`` (one reminder per milestone).
    """
    assert per_patient <= len(milestones)
    async with database.session() as session:
        for p in range(patients):
            patient = await PatientRepository(session).add(
                chat_id=first_chat_id + p,
                timezone="UTC",
                quiet_start=quiet[0],
                quiet_end=quiet[1],
                now=due_at,
            )
            treatment = await SessionRepository(session).add(
                patient_id=patient.id,
                session_date=date(2026, 11, 20),
                number=1,
                plan_id=plan_id,
                now=due_at,
            )
            await ReminderRepository(session).add_many(
                recipient=Recipient(treatment.id, patient.id, patient.chat_id),
                now=due_at,
                reminders=[
                    NewReminder(
                        milestones[i % len(milestones)],
                        due_at + spacing * (p * per_patient + i),
                        due_at + spacing * (p * per_patient + i) + valid_for,
                    )
                    for i in range(per_patient)
                ],
            )
        await session.commit()
        return list((await session.execute(select(Reminder.id))).scalars().all())
