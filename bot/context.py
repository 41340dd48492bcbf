"""The typed context every handler receives: services reached by attribute, not by loose keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.flood import FloodGuard
from content.plan import CarePlan
from content.texts import DEFAULT_LANGUAGE, Texts, available_languages, load_texts
from scheduler.broadcasts.service import BroadcastService
from scheduler.care.questions import QuestionService
from scheduler.care.sessions import CareService
from scheduler.care.views import PatientView
from scheduler.care.visits import Visit, VisitService
from scheduler.clinics.service import ClinicService
from scheduler.clinics.views import StaffView
from scheduler.clinics.web_access import WebAccess
from scheduler.clock import Clock, SystemClock
from scheduler.outbox.messages import Outbox

LANGUAGE_KEY = "language"
STAFF_LANGUAGE = DEFAULT_LANGUAGE  # staff-facing texts stay English (issue 13)


@dataclass(frozen=True)
class CachedLanguage:
    """A chat's language as this process last read it: ``chosen`` once the patient picked it
    (or it came from their record), else a guess from their first words; ``read_at`` is a
    monotonic time, so another process's change is picked up within a minute."""

    code: str
    chosen: bool
    read_at: float

    @classmethod
    def of(cls, code: str, *, chosen: bool, read_at: float) -> CachedLanguage:
        """A cache entry; a code we have no catalogue for reads as English."""
        return cls(code if code in available_languages() else DEFAULT_LANGUAGE, chosen, read_at)


@dataclass
class BotData:
    """What the Application shares with every handler; filled in by ``build_application``."""

    care: CareService | None = None
    questions: QuestionService | None = None
    clinics: ClinicService | None = None
    broadcasts: BroadcastService | None = None
    visits: VisitService | None = None
    outbox: Outbox | None = None
    wake_broadcasts: Callable[[], None] = field(default=lambda: None)
    settings: Settings | None = None
    clock: Clock = field(default_factory=SystemClock)
    texts: Texts = field(default_factory=load_texts)
    catalogues: Callable[[str], Texts] = load_texts
    plans: Any = None
    flood: FloodGuard = field(default_factory=FloodGuard)
    web_access: WebAccess | None = None


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """CallbackContext with our services."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        """Standard construction; see python-telegram-bot's contexttypesbot example."""
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._visit: Visit | None = None

    async def visit(self, *, end_prompt: bool = False) -> Visit:
        """The chat as this update found it (its patient and member of staff), read once per
        update: python-telegram-bot hands every handler of one update the same context.
        ``bot.handlers.visit.open_visit`` reads it before any other handler runs."""
        if self._visit is None:
            visits = self.bot_data.visits
            assert visits is not None, "build_application wires the visit service"
            assert self._chat_id is not None, "a visit needs a chat"
            self._visit = await visits.open(chat_id=self._chat_id, end_prompt=end_prompt)
        return self._visit

    async def patient(self) -> PatientView | None:
        """This chat's patient as this update found them (or as a write of this update left
        them, see ``revisit``); None for a stranger."""
        return (await self.visit()).patient

    async def staff(self) -> StaffView | None:
        """This chat's member of staff (with their clinic) as this update found them."""
        return (await self.visit()).staff

    def revisit(self, patient: PatientView | None) -> None:
        """A use case of this update changed the patient and returned them: later handlers
        read that instead of the state the update started with."""
        if self._visit is not None:
            self._visit = self._visit.with_patient(patient)

    @property
    def care(self) -> CareService:
        """The patient's care: sessions and reminders."""
        care = self.bot_data.care
        assert care is not None, "build_application wires the care service"
        return care

    @property
    def questions(self) -> QuestionService:
        """Triage outcomes, helpfulness and escalations."""
        questions = self.bot_data.questions
        assert questions is not None, "build_application wires the question service"
        return questions

    @property
    def clinics(self) -> ClinicService:
        """Clinics, their staff, invites and alerts."""
        clinics = self.bot_data.clinics
        assert clinics is not None, "build_application wires the clinic service"
        return clinics

    @property
    def outbox(self) -> Outbox:
        """Messages to staff, kept until delivered."""
        outbox = self.bot_data.outbox
        assert outbox is not None, "build_application wires the outbox"
        return outbox

    @property
    def broadcasts(self) -> BroadcastService:
        """Clinic broadcasts: compose, audience, schedule, cancel."""
        broadcasts = self.bot_data.broadcasts
        assert broadcasts is not None, "build_application wires the broadcast service"
        return broadcasts

    @property
    def web_access(self) -> WebAccess:
        """Sign-in links to the clinic's web dashboard."""
        access = self.bot_data.web_access
        assert access is not None, "build_application wires the dashboard's access"
        return access

    @property
    def language(self) -> str:
        """The language of this chat: the patient's choice (cached per chat by
        ``bot.handlers.language.remember``), a guess before they chose, or English."""
        data = self.chat_data
        cached = data.get(LANGUAGE_KEY) if data is not None else None
        return cached.code if isinstance(cached, CachedLanguage) else DEFAULT_LANGUAGE

    @property
    def texts(self) -> Texts:
        """The texts of this chat's language."""
        return self.texts_for(self.language)

    @property
    def staff_texts(self) -> Texts:
        """The texts a clinic's staff read (English), whichever chat is being answered: an
        alert raised by an Urdu-speaking patient reaches the staff in their words."""
        return self.bot_data.catalogues(STAFF_LANGUAGE)

    def texts_for(self, language: str) -> Texts:
        """The texts of ``language`` (another chat's, for a message sent there)."""
        return self.bot_data.catalogues(language)

    @property
    def settings(self) -> Settings:
        """The validated settings."""
        settings = self.bot_data.settings
        assert settings is not None
        return settings

    def now(self) -> datetime:
        """The current instant from the product's clock."""
        return self.bot_data.clock.now()

    def plan(self, plan_id: str | None, language: str | None = None) -> CarePlan:
        """A care plan by id (the default one when None), worded in ``language`` (this
        chat's when None)."""
        plan: CarePlan = self.bot_data.plans(
            plan_id or self.settings.default_plan, language or self.language
        )
        return plan

    def local_now(self, zone: str) -> datetime:
        """The current local time in ``zone``."""
        return self.now().astimezone(ZoneInfo(zone))
