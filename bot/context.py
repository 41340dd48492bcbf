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
from content.texts import Texts, load_texts
from scheduler.broadcasts import BroadcastService
from scheduler.clinics import ClinicService
from scheduler.clock import Clock, SystemClock
from scheduler.questions import QuestionService
from scheduler.sessions import CareService


@dataclass
class BotData:
    """What the Application shares with every handler; filled in by ``build_application``."""

    care: CareService | None = None
    questions: QuestionService | None = None
    clinics: ClinicService | None = None
    broadcasts: BroadcastService | None = None
    wake_broadcasts: Callable[[], None] = field(default=lambda: None)
    settings: Settings | None = None
    clock: Clock = field(default_factory=SystemClock)
    texts: Texts = field(default_factory=load_texts)
    plans: Any = None
    flood: FloodGuard = field(default_factory=FloodGuard)


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
    def broadcasts(self) -> BroadcastService:
        """Clinic broadcasts: compose, audience, schedule, cancel."""
        broadcasts = self.bot_data.broadcasts
        assert broadcasts is not None, "build_application wires the broadcast service"
        return broadcasts

    @property
    def texts(self) -> Texts:
        """The patient-facing texts."""
        return self.bot_data.texts

    @property
    def settings(self) -> Settings:
        """The validated settings."""
        settings = self.bot_data.settings
        assert settings is not None
        return settings

    def now(self) -> datetime:
        """The current instant from the product's clock."""
        return self.bot_data.clock.now()

    def plan(self, plan_id: str | None) -> CarePlan:
        """A care plan by id (the default one when None)."""
        plan: CarePlan = self.bot_data.plans(plan_id or self.settings.default_plan)
        return plan

    def local_now(self, zone: str) -> datetime:
        """The current local time in ``zone``."""
        return self.now().astimezone(ZoneInfo(zone))
