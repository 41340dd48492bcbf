"""The read that opens every update: a chat's patient, their latest session and whether the
chat is a member of staff's, in one statement.

Three ORM queries (the patient, their latest session, the staff row) cost an update three
round trips to SQLite's thread and three ORM loads; this is one statement, read as plain
columns (no identity map: nothing here is written back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Select, and_, bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Patient, PatientStatus, Staff, TreatmentSession
from storage.tables import core_table


@dataclass(frozen=True)
class PatientRecord:
    """A patient's columns the chat layer reads, and their latest session's."""

    id: int
    chat_id: int
    status: PatientStatus
    timezone: str
    quiet_start: time
    quiet_end: time
    step: str | None
    consented_at: datetime | None
    start_payload: str | None
    clinic_id: int | None
    news_opt_out: bool
    prompt_token: str | None
    prompt_expires_at: datetime | None
    language: str
    session_date: date | None
    session_number: int | None
    plan_id: str | None


@dataclass(frozen=True)
class ChatRecord:
    """What the statement found about a chat."""

    patient: PatientRecord | None
    is_staff: bool


_PATIENT_COLUMNS = (
    Patient.id,
    Patient.chat_id,
    Patient.status,
    Patient.timezone,
    Patient.quiet_start,
    Patient.quiet_end,
    Patient.step,
    Patient.consented_at,
    Patient.start_payload,
    Patient.clinic_id,
    Patient.news_opt_out,
    Patient.prompt_token,
    Patient.prompt_expires_at,
    Patient.language,
)


@cache
def _chat_statement() -> Select[Any]:
    """The statement of ``read_chat``, built once: a Core select (no ORM entity to load) whose
    cache key SQLAlchemy computes once, the chat id a bound parameter."""
    patients = core_table(Patient)
    sessions = core_table(TreatmentSession)
    staff = core_table(Staff)
    chat = select(bindparam("chat_id", type_=BigInteger).label("chat_id")).subquery("chat")
    latest_number = (
        select(func.max(sessions.c.number))
        .where(sessions.c.patient_id == patients.c.id)
        .correlate(patients)
        .scalar_subquery()
    )
    return (
        select(
            *(patients.c[column.key] for column in _PATIENT_COLUMNS),
            sessions.c.session_date,
            sessions.c.number.label("session_number"),
            sessions.c.plan_id,
            exists().where(staff.c.chat_id == chat.c.chat_id).label("is_staff"),
        )
        .select_from(chat)
        .outerjoin(patients, patients.c.chat_id == chat.c.chat_id)
        .outerjoin(
            sessions,
            and_(sessions.c.patient_id == patients.c.id, sessions.c.number == latest_number),
        )
    )


async def read_chat(session: AsyncSession, *, chat_id: int) -> ChatRecord:
    """The chat's patient (with their latest session) and whether it is staff's, in
    ``session`` (a unit of work the caller owns)."""
    statement = _chat_statement()
    row = (await session.execute(statement, {"chat_id": chat_id})).one()
    if row.id is None:
        return ChatRecord(patient=None, is_staff=bool(row.is_staff))
    patient = PatientRecord(
        id=row.id,
        chat_id=row.chat_id,
        status=row.status,
        timezone=row.timezone,
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        step=row.step,
        consented_at=row.consented_at,
        start_payload=row.start_payload,
        clinic_id=row.clinic_id,
        news_opt_out=row.news_opt_out,
        prompt_token=row.prompt_token,
        prompt_expires_at=row.prompt_expires_at,
        language=row.language,
        session_date=row.session_date,
        session_number=row.session_number,
        plan_id=row.plan_id,
    )
    return ChatRecord(patient=patient, is_staff=bool(row.is_staff))
