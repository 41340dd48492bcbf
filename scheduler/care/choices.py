"""What a patient chooses about their care: time zone, quiet hours, language, pause, resume and
stop, a block and an unblock, and what the chat is waiting for."""

from __future__ import annotations

from scheduler.care.base import CareBase
from scheduler.care.planning import QuietHours, load_zone
from scheduler.care.prompts import Prompt, PromptKind, new_prompt
from scheduler.care.views import SEEN_CACHE, SEEN_EVERY, PatientView, Replan, load_view
from storage.models import PatientStatus, ReminderStatus
from storage.patients import PatientRepository
from storage.reminders import ReminderRepository


class ChoiceUseCases(CareBase):
    """A patient's choices about their care, and the chat's pending prompt."""

    async def set_timezone(self, *, chat_id: int, timezone: str) -> Replan | None:
        """Change the patient's time zone and replan their session's fresh reminders, which
        keep their local times (None when there is no session yet)."""
        load_zone(timezone)
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            moved_from = load_zone(patient.timezone)
            patient.timezone = timezone
            result = await self._replan_latest(session, patient, moved_from=moved_from)
            await session.commit()
        await self._changed()
        return result

    async def set_quiet_hours(self, *, chat_id: int, quiet_hours: QuietHours) -> Replan | None:
        """Change the patient's quiet hours and replan their session's fresh reminders.

        Raises QuietHoursTooLong (and changes nothing) for a span that leaves fewer than
        8 waking hours. Reminders that the old span swallowed come back if still fresh.
        """
        quiet_hours.check()
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            patient.quiet_start, patient.quiet_end = quiet_hours.start, quiet_hours.end
            result = await self._replan_latest(session, patient)
            await session.commit()
        await self._changed()
        return result

    async def pause(self, *, chat_id: int) -> None:
        """Hold delivery; pending reminders wait, and those that go stale meanwhile expire."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            if patient.status is PatientStatus.ACTIVE:
                await PatientRepository(session).set_status(
                    patient=patient, status=PatientStatus.PAUSED, now=now
                )
            await session.commit()

    async def resume(self, *, chat_id: int) -> Replan:
        """Deliver again after a pause, a /stop or a block: every reminder of the current
        session that is still fresh is planned again; what went stale meanwhile stays expired
        (``stale`` counts those). Nothing sent is sent again."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            held_since = patient.updated_at if patient.status is not PatientStatus.ACTIVE else now
            await ReminderRepository(session).settle_pending(
                status=ReminderStatus.EXPIRED,
                reason="stale after pause",
                patient_id=patient.id,
                expired_by=now,
            )
            await PatientRepository(session).set_status(
                patient=patient, status=PatientStatus.ACTIVE, now=now
            )
            result = await self._replan_latest(session, patient, held_since=held_since)
            await session.commit()
        await self._changed()
        return result or Replan(pending=0, restored=0, stale=0)

    async def stop(self, *, chat_id: int) -> int:
        """No more messages: cancel every pending reminder. Returns how many were cancelled."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            cancelled = await ReminderRepository(session).settle_pending(
                status=ReminderStatus.CANCELLED, reason="stopped", patient_id=patient.id
            )
            await PatientRepository(session).set_status(
                patient=patient, status=PatientStatus.STOPPED, now=now
            )
            await session.commit()
        return cancelled

    async def view(self, *, chat_id: int) -> PatientView | None:
        """The patient of a chat and their latest session, or None if there is no patient."""
        async with self.database.session() as session:
            return await load_view(session, chat_id=chat_id)

    async def language_of(self, *, chat_id: int) -> str | None:
        """The language a patient chose; None when the chat has no patient."""
        async with self.database.session() as session:
            return await PatientRepository(session).language_of(chat_id=chat_id)

    async def set_language(self, *, chat_id: int, language: str) -> None:
        """The patient chose another language: every later message is in it, reminders
        included (they are worded when they are sent).

        Raises:
            NoSessionError: the chat has no patient.
        """
        async with self.database.session() as session:
            patient = await self._patient(session, chat_id)
            patient.language = language
            patient.updated_at = self.clock.now()
            await session.commit()

    async def seen(self, *, chat_id: int) -> None:
        """The patient wrote to us: note it (at most once an hour, so a chat is not a write per
        message) for the clinic's "not heard from for N days"."""
        now = self.clock.now()
        noted = self._seen.get(chat_id)
        if noted is not None and noted <= now < noted + SEEN_EVERY:
            return  # written less than an hour ago by this process: no write transaction
        async with self.database.session() as session:
            await PatientRepository(session).touch(chat_id=chat_id, now=now, every=SEEN_EVERY)
            await session.commit()
        if len(self._seen) >= SEEN_CACHE:
            self._seen.clear()
        self._seen[chat_id] = now

    async def open_prompt(self, *, chat_id: int, kind: PromptKind) -> Prompt | None:
        """Remember what the bot now asks in this chat (it survives restarts); any earlier
        prompt ends, so its buttons no longer work. None when there is no patient."""
        prompt = new_prompt(kind, self.clock.now())
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if patient is None:
                return None
            patient.step = prompt.kind.value
            patient.prompt_token = prompt.token
            patient.prompt_expires_at = prompt.expires_at
            await session.commit()
        return prompt

    async def close_prompt(self, *, chat_id: int, token: str | None = None) -> bool:
        """Stop waiting in this chat (only if the pending prompt carries ``token``, when given);
        whether a prompt was pending. One conditional UPDATE, no read."""
        async with self.database.session() as session:
            closed = await PatientRepository(session).clear_prompt(chat_id=chat_id, token=token)
            await session.commit()
        return closed

    async def mark_blocked(self, *, chat_id: int) -> bool:
        """The user blocked the bot: stop them and cancel what was pending (an unblock gives
        back the status the block took, see ``mark_unblocked``)."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient_id = await PatientRepository(session).stop_by_chat(chat_id=chat_id, now=now)
            if patient_id is None:
                return False
            await ReminderRepository(session).settle_pending(
                status=ReminderStatus.CANCELLED, reason="recipient gone", patient_id=patient_id
            )
            await session.commit()
        return True

    async def mark_unblocked(self, *, chat_id: int) -> PatientStatus | None:
        """The user unblocked the bot: a patient stopped only by the block gets back the
        status it took (active: the fresh reminders are replanned; paused: they wait for
        /resume). Returns that status, or None when there is nothing to give back (no
        patient, no block on record, or a /stop before the block: they stay stopped)."""
        now = self.clock.now()
        async with self.database.session() as session:
            patient = await PatientRepository(session).get_by_chat(chat_id=chat_id)
            if (
                patient is None
                or patient.status is not PatientStatus.STOPPED
                or patient.blocked_from is None
            ):
                return None
            restored = PatientStatus(patient.blocked_from)
            if restored is PatientStatus.STOPPED:  # never stored so; a /stop stays a /stop
                return None
            await PatientRepository(session).set_status(patient=patient, status=restored, now=now)
            await self._replan_latest(session, patient)
            await session.commit()
        await self._changed()
        return restored
