"""SQLAlchemy 2 typed models: patients, sessions, reminders and their delivery log, questions and
escalations, clinics with their staff, invites and broadcasts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, synonym

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every backend (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class PatientStatus(StrEnum):
    """Whether a patient receives reminders."""

    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class DeliveryOutcome(StrEnum):
    """What happened on one delivery attempt."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    BLOCKED = "blocked"
    EXPIRED = "expired"
    DEFERRED = "deferred"


class MessageStatus(StrEnum):
    """Life of a message in the outbox; only ``pending`` ones are ever sent."""

    PENDING = "pending"
    SENT = "sent"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"
    # a broadcast copy not sent: its patient paused, stopped, opted out or moved to another
    # clinic, or was quiet until the broadcast expired (the reason is the row's ``error``)
    SKIPPED = "skipped"


ReminderStatus = MessageStatus  # a reminder is a row of the outbox (it is never skipped)


def _enum(enum_cls: type[StrEnum], name: str) -> Enum:
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda cls: [member.value for member in cls],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints alike."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


class Patient(Base):
    """A person in a private chat with the bot."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    language: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64))
    quiet_start: Mapped[time] = mapped_column(Time)
    quiet_end: Mapped[time] = mapped_column(Time)
    status: Mapped[PatientStatus] = mapped_column(
        _enum(PatientStatus, "patient_status"), default=PatientStatus.ACTIVE
    )
    consented_at: Mapped[datetime | None] = mapped_column(default=None)
    step: Mapped[str | None] = mapped_column(
        String(32), default=None, doc="what the bot is waiting for in chat"
    )
    prompt_token: Mapped[str | None] = mapped_column(
        String(16), default=None, doc="carried by the buttons drawn for the pending prompt"
    )
    prompt_expires_at: Mapped[datetime | None] = mapped_column(
        default=None, doc="after this the pending prompt is answered as expired"
    )
    start_payload: Mapped[str | None] = mapped_column(
        String(64), default=None, doc="the deep-link payload the patient came with"
    )
    clinic_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinics.id", ondelete="SET NULL"), default=None, index=True
    )
    news_opt_out: Mapped[bool] = mapped_column(
        default=False, server_default=false(), doc="no clinic broadcasts; care reminders go on"
    )
    last_seen_at: Mapped[datetime | None] = mapped_column(
        default=None, doc="the patient's last message or button"
    )
    clinic_label: Mapped[str | None] = mapped_column(
        String(80), default=None, doc="the clinic's own name or file number for the patient"
    )
    shared_name: Mapped[str | None] = mapped_column(
        String(64),
        default=None,
        doc="the patient's Telegram first name, kept only if they agreed to share it",
    )
    blocked_from: Mapped[str | None] = mapped_column(
        String(16),
        default=None,
        doc="the status the patient had when they blocked the bot (an unblock restores it)",
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    sessions: Mapped[list[TreatmentSession]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )


class TreatmentSession(Base):
    """One microneedling session of a patient's series."""

    __tablename__ = "treatment_sessions"
    __table_args__ = (UniqueConstraint("patient_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    session_date: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer, default=1)
    plan_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    booked_at: Mapped[datetime | None] = mapped_column(
        default=None, doc="the patient said the next session is booked: no more nudges"
    )

    patient: Mapped[Patient] = relationship(back_populates="sessions")
    reminders: Mapped[list[Reminder]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )


class DeliveryLog(Base):
    """One delivery attempt of a reminder. Holds outcomes and error codes, never message text."""

    __tablename__ = "delivery_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reminder_id: Mapped[int] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[DeliveryOutcome] = mapped_column(_enum(DeliveryOutcome, "delivery_outcome"))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    at: Mapped[datetime]


class EscalationStatus(StrEnum):
    """Whether the clinic has dealt with an escalation."""

    OPEN = "open"
    RESOLVED = "resolved"


class Question(Base):
    """One "is this normal?" question: what the triage said, and whether it helped.

    The patient's words are not stored here: only the topic, level and day.
    """

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str | None] = mapped_column(String(32), default=None)
    level: Mapped[str] = mapped_column(String(16))
    helpful: Mapped[bool | None] = mapped_column(default=None)
    asked_at: Mapped[datetime]


class QuestionCount(Base):
    """Anonymous counts of questions by topic, level and day, for the clinic's statistics.

    No patient in it, so it survives /delete; a count says nothing about anyone.
    """

    __tablename__ = "question_counts"
    __table_args__ = (UniqueConstraint("topic", "level", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), doc="'unknown' when the triage had none")
    level: Mapped[str] = mapped_column(String(16))
    day: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)


# The level of a thread staff opened themselves (a message from the dashboard): it is kept
# like an escalation so the patient's answer finds it, but it is no alert.
STAFF_MESSAGE_LEVEL = "message"


class Escalation(Base):
    """A clinic or urgent verdict, for the clinic's staff to see and act on."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), default=None
    )
    day: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    message_text: Mapped[str | None] = mapped_column(
        Text, default=None, doc="only when the patient chose to share it with the clinic"
    )
    status: Mapped[EscalationStatus] = mapped_column(
        _enum(EscalationStatus, "escalation_status"), default=EscalationStatus.OPEN
    )
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    replies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    clinic_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinics.id", ondelete="CASCADE"),
        default=None,
        index=True,
        doc="the clinic it was raised with: only that clinic ever sees it",
    )
    moved_at: Mapped[datetime | None] = mapped_column(
        default=None, doc="when the patient switched to another clinic while it was open"
    )
    assigned_to: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"),
        default=None,
        doc="the member of the clinic's staff who looks after it (the dashboard's inbox)",
    )


class ClinicMessage(Base):
    """A message of a clinic's thread with a patient. A staff reply relayed to the patient
    (its Telegram message, so that the patient's reply to it finds its thread, and since the
    dashboard its text), or (``from_patient``) the patient's answer that was passed on to the
    clinic: only messages the patient addressed to the clinic are ever kept here."""

    __tablename__ = "clinic_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(
        ForeignKey("escalations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[datetime]
    text: Mapped[str | None] = mapped_column(
        Text, default=None, doc="what was said (None for staff replies relayed before 0009)"
    )
    from_patient: Mapped[bool] = mapped_column(
        default=False, server_default=false(), doc="the patient's answer, not the clinic's"
    )
    sent_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), default=None, doc="who of the staff wrote"
    )


class StaffRole(StrEnum):
    """What a member of a clinic's staff may do: admins also invite staff."""

    ADMIN = "admin"
    STAFF = "staff"


class Clinic(Base):
    """A clinic using the bot: its details for patients, and the defaults of its patients."""

    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    whatsapp: Mapped[str | None] = mapped_column(String(40), default=None)
    address: Mapped[str | None] = mapped_column(Text, default=None)
    booking_url: Mapped[str | None] = mapped_column(String(300), default=None)
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16), default="en")
    plan_id: Mapped[str] = mapped_column(String(64))
    quiet_start: Mapped[time] = mapped_column(Time)
    quiet_end: Mapped[time] = mapped_column(Time)
    created_at: Mapped[datetime]


class Staff(Base):
    """A member of a clinic's staff, by their private chat with the bot (one clinic each)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    name: Mapped[str | None] = mapped_column(String(120), default=None)
    step: Mapped[str | None] = mapped_column(
        String(64), default=None, doc="what the bot is waiting for from this member of staff"
    )
    created_at: Mapped[datetime]


class InviteKind(StrEnum):
    """What redeeming an invite code does."""

    STAFF = "staff"  # joins the clinic's staff with the invite's role (one use)
    PATIENT = "patient"  # the clinic's link for every patient (many uses, until it expires)
    ENROL = "enrol"  # one patient, with the session date filled in by staff (one use)


class Invite(Base):
    """An invite link's code, kept only as its SHA-256: the code itself is never stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    kind: Mapped[InviteKind] = mapped_column(_enum(InviteKind, "invite_kind"))
    role: Mapped[StaffRole | None] = mapped_column(_enum(StaffRole, "staff_role"), default=None)
    session_date: Mapped[date | None] = mapped_column(Date, default=None)
    label: Mapped[str | None] = mapped_column(
        String(80), default=None, doc="an enrolment link's label for its patient (/enrol)"
    )
    max_uses: Mapped[int | None] = mapped_column(Integer, default=None, doc="None: no limit")
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime]


class BroadcastStatus(StrEnum):
    """Life of a clinic broadcast."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


# Where one patient's copy of a broadcast is: a copy is a row of the outbox.
RecipientStatus = MessageStatus


class Broadcast(Base):
    """A message from a clinic to a chosen group of its patients."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_status_scheduled_at", "status", "scheduled_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    text: Mapped[str] = mapped_column(Text, default="")
    photo: Mapped[str | None] = mapped_column(String(256), default=None, doc="a Telegram file_id")
    audience: Mapped[str] = mapped_column(String(64), default="all")
    status: Mapped[BroadcastStatus] = mapped_column(
        _enum(BroadcastStatus, "broadcast_status"), default=BroadcastStatus.DRAFT
    )
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    report_chat_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    progress_message_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class CapacityWarning(Base):
    """A delivery window found over-full ahead of time; one row per window, so each is
    announced once however many processes look."""

    __tablename__ = "capacity_warnings"
    __table_args__ = (UniqueConstraint("window_start", "window_end"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    reminders: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    warned_at: Mapped[datetime]


class WebLogin(Base):
    """A one-time sign-in link to a clinic's dashboard, stored only as the hash of its token.
    ``staff_id`` is None for the operator's link of a clinic that has no staff yet."""

    __tablename__ = "web_logins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class WebSession(Base):
    """A signed-in browser: the cookie carries its token, the table only the token's hash.
    It ends at ``expires_at``, on sign-out, or when its member of staff is removed."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), default=None, index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class OutboxMessage(Base):
    """A message the bot sends on its own, kept until it is delivered: a 429, a timeout or a
    crash on the way retries it instead of losing it.

    To a member of staff (an alert, a patient's answer passed on, a notice): ``body`` is the
    rendered text and ``buttons`` its keyboard as JSON, both cleared once the message is done
    with, so the row keeps only what happened; ``patient_id`` is the patient it is about (its
    rows go with them on /delete), ``staff_id`` who receives it (a removed member gets nothing
    more).

    A patient's copy of a clinic broadcast (kind ``broadcast``): ``broadcast_id`` and
    ``patient_id`` name it (one per patient and broadcast), the text is the broadcast's;
    ``due_at`` moves to the end of the patient's quiet hours when it is held for them. Copies
    stay as the broadcast's record; they go with the broadcast or the patient.

    A care reminder (kind ``reminder``) is a row too, mapped as ``Reminder``: see there."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_due_at", "status", "due_at"),
        Index("ix_outbox_status_expires_at", "status", "expires_at"),
        Index("ix_outbox_broadcast_id_patient_id", "broadcast_id", "patient_id", unique=True),
        Index("ix_outbox_broadcast_id_status", "broadcast_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    clinic_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinics.id", ondelete="CASCADE"), default=None, index=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), default=None, index=True
    )
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), default=None, index=True
    )
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), default=None
    )
    body: Mapped[str | None] = mapped_column(Text, default=None)
    buttons: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[MessageStatus] = mapped_column(
        _enum(MessageStatus, "message_status"), default=MessageStatus.PENDING
    )
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(200), default=None)

    __mapper_args__ = {"polymorphic_on": kind}  # noqa: RUF012


# The kinds of message mapped as OutboxMessage itself (what goes to staff, and broadcast
# copies): loaded as such. A reminder loads as a Reminder.
for _kind in ("alert", "relay", "notice", "broadcast"):
    OutboxMessage.__mapper__.polymorphic_map[_kind] = OutboxMessage.__mapper__


REMINDER = "reminder"  # the outbox kind of a care reminder


class Reminder(OutboxMessage):
    """One milestone of one session, as a row of the outbox (kind ``reminder``): due and
    expiry instants in UTC, and delivery state.

    It is the patient's plan as well as a message to send: replanning, a snooze or "done"
    change it, the dashboard's timeline and /export read it, and sent reminders' buttons
    carry its id. ``patient_id`` and ``chat_id`` are its session's patient's; ``sent_at`` is
    the outbox's ``finished_at`` (set on a send only) and ``last_error`` its ``error``.
    Querying ``Reminder`` reads and writes only rows of its kind.
    """

    session_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_sessions.id", ondelete="CASCADE"),
        nullable=True,
        default=None,
        index=True,
    )
    milestone_id: Mapped[str] = mapped_column(String(64), nullable=True, default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    snoozes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    sent_at = synonym("finished_at")
    last_error = synonym("error")

    session: Mapped[TreatmentSession] = relationship(back_populates="reminders")

    __mapper_args__ = {"polymorphic_identity": REMINDER}  # noqa: RUF012


# One reminder per milestone of a session (the columns are the subclass's, hence out here).
Index(
    "ix_outbox_session_id_milestone_id",
    OutboxMessage.__table__.c.session_id,
    OutboxMessage.__table__.c.milestone_id,
    unique=True,
)
