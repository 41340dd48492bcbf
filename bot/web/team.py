"""Invites and staff on the dashboard: the clinic's patient link with its QR code, enrolment
links, one-time staff invites, revoking, and the team with its roles.

The same rules as in chat: any member makes patient and enrolment links and revokes the ones
they made; admins also invite staff, revoke any link, remove a member (never the last admin,
never themselves) and change roles. An invite's code exists only in the answer that made it
(only its hash is stored): the link and its QR code are shown once, and the PNG is made again
from the code the page sends back, only for a working invite of the member's clinic.
"""

from __future__ import annotations

import base64
import logging
from datetime import date

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.qr import qr_png
from bot.web.app import PREFIX, Dashboard
from content.texts import load_texts
from scheduler.care.planning import SessionDateError, check_session_date, load_zone
from scheduler.clinics.errors import InviteError, StaffError, StaffProblem
from scheduler.clinics.views import InviteLine, NewInvite, StaffView
from scheduler.clinics.web_access import WebUser
from storage.models import InviteKind, StaffRole

log = logging.getLogger(__name__)

STAFF_PROBLEMS = {
    StaffProblem.LAST_ADMIN: "A clinic keeps at least one admin: make someone else an admin first.",
    StaffProblem.SELF: "You cannot remove yourself or change your own role: ask another admin.",
}


def forbidden(site: Dashboard, request: Request, user: WebUser) -> Response:
    """403: an admin's action asked for by a member who is not one; nothing changes."""
    return site.render(request, "error.html", {"title": "Admins only", "user": user}, 403)


def not_found(site: Dashboard, request: Request, user: WebUser) -> Response:
    """404: not one of the clinic's."""
    return site.missing(request, user)


def may_revoke(user: WebUser, invite: InviteLine) -> bool:
    """Admins withdraw any of the clinic's links; other staff only the ones they made."""
    return user.is_admin or (user.staff is not None and invite.created_by == user.staff.id)


def member_name(member: StaffView) -> str:
    """How the team list names a member."""
    return member.name or f"member #{member.id}"


class InvitePages:
    """/invites: make links, see the ones that work, revoke them, download QR codes."""

    nav: tuple[str, str] | None = ("/invites", "Invites")

    def __init__(self, site: Dashboard) -> None:
        """Pages of ``site``."""
        self.site = site
        self.deps = site.deps

    def routes(self) -> list[BaseRoute]:
        """The routes of the invites page."""
        signed = self.site.signed
        return [
            Route("/invites", signed(self.invites), methods=["GET"]),
            Route("/invites/patient", signed(self.patient_link), methods=["POST"]),
            Route("/invites/enrol", signed(self.enrol_link), methods=["POST"]),
            Route("/invites/staff", signed(self.staff_link), methods=["POST"]),
            Route("/invites/qr", signed(self.qr), methods=["POST"]),
            Route("/invites/{invite_id:int}/revoke", signed(self.revoke), methods=["POST"]),
        ]

    async def invites(
        self,
        request: Request,
        user: WebUser,
        *,
        made: NewInvite | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        """The forms that make links, the link just made (once), and the links that work."""
        live = await self.deps.clinics.invites(clinic_id=user.clinic.id)
        members = await self.deps.clinics.team(clinic_id=user.clinic.id)
        team = {member.id: member_name(member) for member in members}
        shown = None
        if made is not None and self.deps.invite_link is not None:
            link = self.deps.invite_link(made.code)
            png = None
            if made.kind is not InviteKind.STAFF:
                png = base64.b64encode(self.png(user, link)).decode()
            shown = {"invite": made, "link": link, "code": made.code, "png": png}
        zone = load_zone(user.clinic.timezone)
        return self.site.render(
            request,
            "invites.html",
            {
                "title": "Invites",
                "user": user,
                "live": live,
                "team": team,
                "made": shown,
                "error": error,
                "may_revoke": lambda invite: may_revoke(user, invite),
                "links": self.deps.invite_link is not None,
                "today": self.deps.access.clock.now().astimezone(zone).date(),
            },
            status,
        )

    def png(self, user: WebUser, link: str) -> bytes:
        """The QR code of a patient link, captioned for the poster in the clinic's language."""
        caption = load_texts(user.clinic.language).plain(
            "staff.invite_caption", clinic=user.clinic.name
        )
        return qr_png(link, caption=caption)

    async def make(
        self,
        request: Request,
        user: WebUser,
        kind: InviteKind,
        *,
        role: StaffRole | None = None,
        session_date: date | None = None,
        label: str | None = None,
    ) -> Response:
        """Make an invite and show it once."""
        if self.deps.invite_link is None:
            return await self.invites(
                request, user, error="Links need the bot's username: none is set.", status=503
            )
        made = await self.deps.clinics.invite(
            clinic_id=user.clinic.id,
            kind=kind,
            role=role,
            session_date=session_date,
            created_by=user.staff.id if user.staff else None,
            label=label,
        )
        return await self.invites(request, user, made=made)

    async def patient_link(self, request: Request, user: WebUser) -> Response:
        """A new patient link of the clinic (for a year, any number of patients), as /invite."""
        return await self.make(request, user, InviteKind.PATIENT)

    async def enrol_link(self, request: Request, user: WebUser) -> Response:
        """A one-time link for one patient with the session date filled in, as /enrol."""
        form = await request.form()
        raw = form.get("session_date")
        try:
            session_date = date.fromisoformat(raw.strip()) if isinstance(raw, str) else None
        except ValueError:
            session_date = None
        if session_date is None:
            return await self.invites(
                request, user, error="Give the date of the session.", status=400
            )
        today = self.deps.access.clock.now().astimezone(load_zone(user.clinic.timezone)).date()
        try:
            check_session_date(session_date, today=today)
        except SessionDateError as exc:
            return await self.invites(request, user, error=f"Not that date: {exc}.", status=400)
        label = form.get("label")
        return await self.make(
            request,
            user,
            InviteKind.ENROL,
            session_date=session_date,
            label=label if isinstance(label, str) else None,
        )

    async def staff_link(self, request: Request, user: WebUser) -> Response:
        """A one-time invite for a colleague (admins only), as /staff invite."""
        if not user.is_admin:
            return forbidden(self.site, request, user)
        form = await request.form()
        role = StaffRole.ADMIN if form.get("role") == StaffRole.ADMIN.value else StaffRole.STAFF
        return await self.make(request, user, InviteKind.STAFF, role=role)

    async def qr(self, request: Request, user: WebUser) -> Response:
        """The PNG of a working patient or enrolment link of the clinic, as a download."""
        form = await request.form()
        code = form.get("code")
        if not isinstance(code, str) or len(code) > 64 or self.deps.invite_link is None:
            return not_found(self.site, request, user)
        try:
            invite = await self.deps.clinics.peek(code=code)
        except InviteError:
            return not_found(self.site, request, user)
        if invite.clinic.id != user.clinic.id or invite.kind is InviteKind.STAFF:
            return not_found(self.site, request, user)
        return Response(
            self.png(user, self.deps.invite_link(code)),
            media_type="image/png",
            headers={"content-disposition": 'attachment; filename="invite.png"'},
        )

    async def revoke(self, request: Request, user: WebUser) -> Response:
        """Withdraw a link: admins any of the clinic's, others only their own."""
        invite_id = int(request.path_params["invite_id"])
        live = await self.deps.clinics.invites(clinic_id=user.clinic.id)
        invite = next((i for i in live if i.id == invite_id), None)
        if invite is None:
            return not_found(self.site, request, user)
        if not may_revoke(user, invite):
            return forbidden(self.site, request, user)
        await self.deps.clinics.revoke(
            clinic_id=user.clinic.id,
            invite_id=invite_id,
            created_by=None if user.is_admin or user.staff is None else user.staff.id,
        )
        return RedirectResponse(f"{PREFIX}/invites?revoked=1", status_code=303)


class StaffPages:
    """/staff: the team and its roles; admins remove members and change roles."""

    nav: tuple[str, str] | None = ("/staff", "Staff")

    def __init__(self, site: Dashboard) -> None:
        """Pages of ``site``."""
        self.site = site
        self.deps = site.deps

    def routes(self) -> list[BaseRoute]:
        """The routes of the staff page."""
        signed = self.site.signed
        return [
            Route("/staff", signed(self.team), methods=["GET"]),
            Route("/staff/{staff_id:int}/remove", signed(self.remove), methods=["POST"]),
            Route("/staff/{staff_id:int}/role", signed(self.role), methods=["POST"]),
        ]

    async def team(
        self, request: Request, user: WebUser, *, error: str | None = None, status: int = 200
    ) -> Response:
        """Every member with their role; an admin sees Remove and the role buttons."""
        team = await self.deps.clinics.team(clinic_id=user.clinic.id)
        return self.site.render(
            request,
            "staff.html",
            {
                "title": "Staff",
                "user": user,
                "team": team,
                "name": member_name,
                "me": user.staff.id if user.staff else None,
                "error": error,
                "done": request.query_params.get("done", "")[:20],
            },
            status,
        )

    async def remove(self, request: Request, user: WebUser) -> Response:
        """Take a member off the team at once (admins only; the last admin stays)."""
        if not user.is_admin:
            return forbidden(self.site, request, user)
        try:
            removed = await self.deps.clinics.remove_staff(
                clinic_id=user.clinic.id,
                staff_id=int(request.path_params["staff_id"]),
                by_staff_id=user.staff.id if user.staff else None,
            )
        except StaffError as error:
            if error.problem is StaffProblem.NOT_FOUND:
                return not_found(self.site, request, user)
            return await self.team(request, user, error=STAFF_PROBLEMS[error.problem], status=400)
        await self.tell_removed(user, removed)
        return RedirectResponse(f"{PREFIX}/staff?done=removed", status_code=303)

    async def tell_removed(self, user: WebUser, removed: StaffView) -> None:
        """Best effort, as in chat: the removed member learns why their commands stop."""
        if self.deps.messenger is None:
            return
        html = str(load_texts("en").render("staff.you_were_removed", clinic=user.clinic.name))
        try:
            await self.deps.messenger.to_patient(removed.chat_id, html)
        except Exception as exc:  # their chat may be gone: the removal stands
            log.warning("could not tell a removed member of staff: %s", type(exc).__name__)

    async def role(self, request: Request, user: WebUser) -> Response:
        """Make a member an admin or plain staff (admins only; the last admin stays one)."""
        if not user.is_admin:
            return forbidden(self.site, request, user)
        form = await request.form()
        wanted = form.get("role")
        if wanted not in {r.value for r in StaffRole}:
            return await self.team(request, user, error="Choose admin or staff.", status=400)
        try:
            await self.deps.clinics.set_role(
                clinic_id=user.clinic.id,
                staff_id=int(request.path_params["staff_id"]),
                role=StaffRole(str(wanted)),
                by_staff_id=user.staff.id if user.staff else None,
            )
        except StaffError as error:
            if error.problem is StaffProblem.NOT_FOUND:
                return not_found(self.site, request, user)
            return await self.team(request, user, error=STAFF_PROBLEMS[error.problem], status=400)
        return RedirectResponse(f"{PREFIX}/staff?done=role", status_code=303)


__all__ = ["InvitePages", "StaffPages"]
