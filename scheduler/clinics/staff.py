"""A clinic's staff: who they are, their roles, their team, and how to reach them."""

from __future__ import annotations

from scheduler.clinics.base import ClinicBase
from scheduler.clinics.errors import StaffError, StaffProblem
from scheduler.clinics.views import ClinicView, StaffView, load_staff
from scheduler.outbox.messages import Recipient
from storage.clinics import ClinicRepository
from storage.models import StaffRole


class StaffUseCases(ClinicBase):
    """Staff: look a member up, their pending step, the team, roles, removal, recipients."""

    async def staff(self, *, chat_id: int) -> StaffView | None:
        """The member of staff of a chat (with their clinic), or None."""
        async with self.database.session() as session:
            return await load_staff(session, chat_id=chat_id)

    async def set_staff_step(self, *, chat_id: int, step: str | None) -> None:
        """Remember what the bot waits for from a member of staff (it survives restarts)."""
        async with self.database.session() as session:
            staff = await ClinicRepository(session).staff_by_chat(chat_id=chat_id)
            if staff is not None:
                staff.step = step
                await session.commit()

    async def team(self, *, clinic_id: int) -> list[StaffView]:
        """Every member of a clinic's staff, oldest first."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            clinic = await repo.get(clinic_id=clinic_id)
            if clinic is None:
                raise LookupError(f"no clinic {clinic_id}")
            view = ClinicView.of(clinic)
            return [StaffView.of(s, view) for s in await repo.staff_of(clinic_id=clinic_id)]

    async def remove_staff(
        self,
        *,
        clinic_id: int,
        staff_id: int | None = None,
        chat_id: int | None = None,
        by_staff_id: int | None = None,
    ) -> StaffView:
        """Take a member (by staff id or chat) off the clinic's staff, at once: their next
        command or button finds no member of staff. The last admin stays (a clinic always
        has someone who can invite); ``by_staff_id`` (a removal in chat) cannot remove
        itself. StaffError says why not."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            team = list(await repo.staff_of(clinic_id=clinic_id))
            target = next(
                (
                    s
                    for s in team
                    if (staff_id is not None and s.id == staff_id)
                    or (chat_id is not None and s.chat_id == chat_id)
                ),
                None,
            )
            if target is None:
                raise StaffError(StaffProblem.NOT_FOUND)
            if by_staff_id is not None and target.id == by_staff_id:
                raise StaffError(StaffProblem.SELF)
            admins = [s for s in team if s.role is StaffRole.ADMIN]
            if target.role is StaffRole.ADMIN and len(admins) <= 1:
                raise StaffError(StaffProblem.LAST_ADMIN)
            clinic = await repo.get(clinic_id=clinic_id)
            assert clinic is not None
            view = StaffView.of(target, ClinicView.of(clinic))
            if not await repo.remove_staff(clinic_id=clinic_id, staff_id=target.id):
                raise StaffError(StaffProblem.NOT_FOUND)  # removed meanwhile
            await session.commit()
            return view

    async def set_role(
        self, *, clinic_id: int, staff_id: int, role: StaffRole, by_staff_id: int | None = None
    ) -> StaffView:
        """Make a member of the clinic's staff an admin or plain staff, at once. The last
        admin stays an admin, and ``by_staff_id`` (the member asking) cannot change their own
        role; StaffError says why not."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            team = list(await repo.staff_of(clinic_id=clinic_id))
            target = next((s for s in team if s.id == staff_id), None)
            if target is None:
                raise StaffError(StaffProblem.NOT_FOUND)
            if by_staff_id is not None and target.id == by_staff_id:
                raise StaffError(StaffProblem.SELF)
            admins = [s for s in team if s.role is StaffRole.ADMIN]
            if target.role is StaffRole.ADMIN and role is not StaffRole.ADMIN and len(admins) <= 1:
                raise StaffError(StaffProblem.LAST_ADMIN)
            if not await repo.set_role(clinic_id=clinic_id, staff_id=target.id, role=role):
                raise StaffError(StaffProblem.NOT_FOUND)  # removed meanwhile
            clinic = await repo.get(clinic_id=clinic_id)
            assert clinic is not None
            view = ClinicView.of(clinic)
            await session.commit()
            return StaffView(target.id, target.chat_id, role, target.name, target.step, view)

    async def languages(self, *, clinic_id: int) -> list[str]:
        """The languages a clinic uses: its own first, then its patients' (most used first)."""
        async with self.database.session() as session:
            repo = ClinicRepository(session)
            clinic = await repo.get(clinic_id=clinic_id)
            if clinic is None:
                return []
            found = await repo.patient_languages(clinic_id=clinic_id)
        return list(dict.fromkeys([clinic.language, *found]))

    async def staff_recipients(self, *, clinic_id: int) -> list[Recipient]:
        """Every member of a clinic's staff, as the outbox addresses them."""
        async with self.database.session() as session:
            staff = await ClinicRepository(session).staff_of(clinic_id=clinic_id)
        return [Recipient(chat_id=s.chat_id, staff_id=s.id) for s in staff]
