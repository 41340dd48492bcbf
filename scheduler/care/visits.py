"""One read per update: the chat's patient and member of staff, loaded together at its start.

Every update a chat sends used to cost a transaction for each thing a handler wanted to know
(is this staff, the patient's language, the patient and their session, then again after the
first write). A visit reads all of it in one transaction, the way a web app resolves its
current user once per request, and in one statement (``storage.visits``; a member of
staff's row and clinic follow only for staff); handlers read it from there, and the use
cases that write return what they changed, so nothing is read twice.

A command ends the prompt that was pending (the command may open its own): that conditional
UPDATE runs in the same transaction as the read, so the visit never shows a prompt that the
command has just ended.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scheduler.care.views import PatientView, view_of_record
from scheduler.clinics.views import StaffView, load_staff
from storage.database import Database
from storage.patients import PatientRepository
from storage.visits import ChatRecord, read_chat


@dataclass(frozen=True)
class Visit:
    """What one update found about its chat when it started."""

    chat_id: int
    patient: PatientView | None
    staff: StaffView | None
    prompt_closed: bool = False

    def with_patient(self, patient: PatientView | None) -> Visit:
        """The same visit after a write changed the patient (the use case returned them)."""
        return replace(self, patient=patient)


class VisitService:
    """Opens visits: one transaction per update."""

    def __init__(self, *, database: Database) -> None:
        """Read through ``database``."""
        self.database = database

    async def open(self, *, chat_id: int, end_prompt: bool = False) -> Visit:
        """The chat's patient and member of staff, in one transaction; with ``end_prompt``
        (a command arrived) the pending prompt ends first, in the same transaction.

        Most updates only read, and their read is one statement: it runs outside any
        transaction (``Database.reading``; on SQLite it then waits for no writer). A member of
        staff, whose row and clinic follow, is read again in one transaction."""
        if not end_prompt:
            async with self.database.reading() as session:
                found = await read_chat(session, chat_id=chat_id)
            if not found.is_staff:
                return _visit(chat_id, found, staff=None, closed=False)
        async with self.database.session() as session:
            closed = False
            if end_prompt:
                closed = await PatientRepository(session).clear_prompt(chat_id=chat_id)
            found = await read_chat(session, chat_id=chat_id)
            # staff are few: their row and clinic are read only for them
            staff = await load_staff(session, chat_id=chat_id) if found.is_staff else None
            if closed:
                await session.commit()
        return _visit(chat_id, found, staff=staff, closed=closed)


def _visit(chat_id: int, found: ChatRecord, *, staff: StaffView | None, closed: bool) -> Visit:
    patient = view_of_record(found.patient) if found.patient is not None else None
    return Visit(chat_id=chat_id, patient=patient, staff=staff, prompt_closed=closed)
