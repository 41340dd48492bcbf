"""Patients: who receives reminders, in which chat, language and time zone.

Repositories add, flush and select; they never commit: the use case owning the work does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import case, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Patient, PatientStatus
from storage.tables import core_table


@dataclass(frozen=True)
class NewPatient:
    """A patient row to insert, active from ``now``."""

    chat_id: int
    timezone: str
    quiet_start: time
    quiet_end: time
    language: str = "en"


class PatientRepository:
    """Patients by chat."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``."""
        self.session = session

    async def get_by_chat(self, *, chat_id: int) -> Patient | None:
        """The patient of a chat, or None."""
        result = await self.session.execute(select(Patient).where(Patient.chat_id == chat_id))
        return result.scalar_one_or_none()

    async def language_of(self, *, chat_id: int) -> str | None:
        """The language of a chat's patient, or None when there is no patient."""
        result = await self.session.execute(
            select(Patient.language).where(Patient.chat_id == chat_id)
        )
        return result.scalar_one_or_none()

    async def clear_prompt(self, *, chat_id: int, token: str | None = None) -> bool:
        """Forget the chat's pending prompt (only the one carrying ``token``, when given);
        whether there was one."""
        condition = [Patient.chat_id == chat_id, Patient.step.is_not(None)]
        if token is not None:
            condition.append(Patient.prompt_token == token)
        result = await self.session.execute(
            update(Patient)
            .where(*condition)
            .values(step=None, prompt_token=None, prompt_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def by_chats(self, *, chat_ids: Iterable[int]) -> dict[int, Patient]:
        """The patients of several chats in one query, by chat id (absent chats left out)."""
        wanted = sorted(set(chat_ids))
        if not wanted:
            return {}
        result = await self.session.execute(select(Patient).where(Patient.chat_id.in_(wanted)))
        return {patient.chat_id: patient for patient in result.scalars()}

    async def add_many(self, *, patients: Sequence[NewPatient], now: datetime) -> dict[int, int]:
        """Insert several active patients in one statement; returns their ids by chat id."""
        if not patients:
            return {}
        table = core_table(Patient)
        result = await self.session.execute(
            insert(table).returning(table.c.chat_id, table.c.id),
            [
                {
                    "chat_id": p.chat_id,
                    "timezone": p.timezone,
                    "quiet_start": p.quiet_start,
                    "quiet_end": p.quiet_end,
                    "language": p.language,
                    "status": PatientStatus.ACTIVE,
                    "created_at": now,
                    "updated_at": now,
                }
                for p in patients
            ],
        )
        return {row.chat_id: row.id for row in result}

    async def add(
        self,
        *,
        chat_id: int,
        timezone: str,
        quiet_start: time,
        quiet_end: time,
        now: datetime,
        language: str = "en",
        consented: bool = False,
        start_payload: str | None = None,
        prompt: tuple[str, str, datetime] | None = None,
    ) -> Patient:
        """Add a new active patient (``consented``: at ``now``; ``prompt``: the kind, token
        and expiry of the question pending), in one INSERT."""
        patient = Patient(
            chat_id=chat_id,
            timezone=timezone,
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            language=language,
            status=PatientStatus.ACTIVE,
            consented_at=now if consented else None,
            start_payload=start_payload,
            step=prompt[0] if prompt else None,
            prompt_token=prompt[1] if prompt else None,
            prompt_expires_at=prompt[2] if prompt else None,
            created_at=now,
            updated_at=now,
        )
        self.session.add(patient)
        await self.session.flush()
        return patient

    async def set_status(self, *, patient: Patient, status: PatientStatus, now: datetime) -> None:
        """Change whether the patient receives reminders (a chosen change: forget any block)."""
        patient.status = status
        patient.blocked_from = None
        patient.updated_at = now
        await self.session.flush()

    async def touch(self, *, chat_id: int, now: datetime, every: timedelta) -> None:
        """Set the patient's last-seen time, unless it was set less than ``every`` ago."""
        await self.session.execute(
            update(Patient)
            .where(
                Patient.chat_id == chat_id,
                or_(Patient.last_seen_at.is_(None), Patient.last_seen_at < now - every),
            )
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )

    async def stop_by_chat(self, *, chat_id: int, now: datetime) -> int | None:
        """The chat blocked the bot: mark its patient stopped, remembering the status the
        block took from them (unless they had already stopped: an unblock will not undo a
        /stop). Returns their id, or None if there is none."""
        was_held = Patient.status == PatientStatus.STOPPED
        result = await self.session.execute(
            update(Patient)
            .where(Patient.chat_id == chat_id)
            .values(
                status=PatientStatus.STOPPED,
                blocked_from=case((was_held, Patient.blocked_from), else_=Patient.status),
                updated_at=now,
            )
            .returning(Patient.id)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()


async def delete_patient(session: AsyncSession, *, patient_id: int) -> None:
    """Erase a patient and, through the cascades, every row about them."""
    await session.execute(delete(Patient).where(Patient.id == patient_id))
