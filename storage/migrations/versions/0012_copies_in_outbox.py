"""broadcast copies are rows of the outbox: one delivery queue

Revision ID: 0012_copies_in_outbox
Revises: 0011_outbox
Create Date: 2026-11-30

Every copy of ``broadcast_recipients`` becomes an outbox row of kind ``broadcast`` (its
broadcast, patient, chat, status, attempts, claim and last error kept; ``not_before``
becomes the due time; ``sent_at`` the finish), and the table goes. The outbox's status gains
``skipped`` (a copy its patient could no longer receive).
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op


revision: str = "0012_copies_in_outbox"
down_revision: str | None = "0011_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("pending", "sent", "expired", "cancelled", "failed")
NEW_STATUSES = (*OLD_STATUSES, "skipped")
RECIPIENT_STATUSES = ("pending", "sent", "failed", "skipped", "cancelled")
BROADCAST_PRIORITY = 3  # the Telegram budget's lowest priority, as the product writes it
LIFETIME = timedelta(hours=24)  # a copy is news this long after the broadcast was due


def _status(values: Sequence[str]) -> sa.Enum:
    return sa.Enum(*values, name="message_status", native_enum=False, create_constraint=True,
                   length=16)  # fmt: skip


def _aware(value: object) -> datetime | None:
    """An instant as read back by a plain query: SQLite gives text or naive UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _set_statuses(values: Sequence[str], old: Sequence[str]) -> None:
    """Change the set of statuses the database accepts for the outbox."""
    if op.get_bind().dialect.name == "sqlite":
        # The outbox is referenced by no table, so its rebuild cascades nowhere.
        with op.batch_alter_table("outbox", recreate="always") as batch_op:
            batch_op.alter_column("status", existing_type=_status(old), type_=_status(values),
                                  existing_nullable=False)  # fmt: skip
    else:
        op.drop_constraint(op.f("ck_outbox_message_status"), "outbox", type_="check")
        listed = ", ".join(f"'{value}'" for value in values)
        op.create_check_constraint(
            op.f("ck_outbox_message_status"), "outbox", sa.text(f"status IN ({listed})")
        )


def upgrade() -> None:
    _set_statuses(NEW_STATUSES, OLD_STATUSES)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE outbox ADD COLUMN broadcast_id INTEGER CONSTRAINT"
            " fk_outbox_broadcast_id_broadcasts REFERENCES broadcasts (id) ON DELETE CASCADE"
        )
    else:
        op.add_column("outbox", sa.Column("broadcast_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_outbox_broadcast_id_broadcasts"), "outbox", "broadcasts",
                              ["broadcast_id"], ["id"], ondelete="CASCADE")  # fmt: skip
    op.create_index("ix_outbox_broadcast_id_patient_id", "outbox",
                    ["broadcast_id", "patient_id"], unique=True)  # fmt: skip
    # A round claims a broadcast's pending copies: found without reading the ones done.
    op.create_index("ix_outbox_broadcast_id_status", "outbox", ["broadcast_id", "status"])

    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT r.broadcast_id, r.patient_id, r.chat_id, r.status, r.attempts,"
            " r.last_error, r.claimed_by, r.lease_until, r.not_before, r.sent_at,"
            " b.clinic_id, b.created_at, b.scheduled_at, b.started_at, b.finished_at"
            " FROM broadcast_recipients r JOIN broadcasts b ON b.id = r.broadcast_id"
            " ORDER BY r.id"
        )
    ).all()
    instant = sa.DateTime(timezone=True)
    outbox = sa.table(
        "outbox",
        *(sa.column(name) for name in (
            "kind", "priority", "chat_id", "clinic_id", "patient_id", "broadcast_id", "status",
            "attempts", "claimed_by", "error",
        )),
        *(sa.column(name, instant) for name in (
            "created_at", "due_at", "expires_at", "lease_until", "finished_at",
        )),
    )  # fmt: skip
    naive = bind.dialect.name == "sqlite"  # SQLite keeps instants naive, in UTC

    def stored(value: datetime | None) -> datetime | None:
        if value is None or not naive:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    copies = []
    for row in rows:
        started = _aware(row.started_at) or _aware(row.created_at)
        due = _aware(row.scheduled_at) or started
        assert started is not None and due is not None
        finished = _aware(row.sent_at) or _aware(row.finished_at)
        copies.append(
            {
                "kind": "broadcast",
                "priority": BROADCAST_PRIORITY,
                "chat_id": row.chat_id,
                "clinic_id": row.clinic_id,
                "patient_id": row.patient_id,
                "broadcast_id": row.broadcast_id,
                "status": row.status,
                "created_at": stored(started),
                "due_at": stored(_aware(row.not_before) or started),
                "expires_at": stored(due + LIFETIME),
                "attempts": row.attempts,
                "claimed_by": row.claimed_by,
                "lease_until": stored(_aware(row.lease_until)),
                "finished_at": None if row.status == "pending" else stored(finished),
                "error": row.last_error,
            }
        )
    for start in range(0, len(copies), 1000):
        op.bulk_insert(outbox, copies[start : start + 1000])  # type: ignore[arg-type]

    op.drop_index("ix_broadcast_recipients_broadcast_id_status", table_name="broadcast_recipients")
    op.drop_index(op.f("ix_broadcast_recipients_patient_id"), table_name="broadcast_recipients")
    op.drop_table("broadcast_recipients")


def downgrade() -> None:
    op.create_table(
        "broadcast_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Enum(*RECIPIENT_STATUSES, name="recipient_status",
                                    native_enum=False, create_constraint=True, length=16),
                  nullable=False),  # fmt: skip
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"],
                                name=op.f("fk_broadcast_recipients_broadcast_id_broadcasts"),
                                ondelete="CASCADE"),  # fmt: skip
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_broadcast_recipients_patient_id_patients"),
                                ondelete="CASCADE"),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_recipients")),
        sa.UniqueConstraint("broadcast_id", "patient_id",
                            name=op.f("uq_broadcast_recipients_broadcast_id_patient_id")),  # fmt: skip
    )
    op.create_index("ix_broadcast_recipients_broadcast_id_status", "broadcast_recipients",
                    ["broadcast_id", "status"])  # fmt: skip
    op.create_index(op.f("ix_broadcast_recipients_patient_id"), "broadcast_recipients",
                    ["patient_id"])  # fmt: skip
    op.execute(
        "INSERT INTO broadcast_recipients (broadcast_id, patient_id, chat_id, status, attempts,"
        " last_error, claimed_by, lease_until, sent_at, not_before)"
        " SELECT broadcast_id, patient_id, chat_id,"
        " CASE WHEN status = 'expired' THEN 'skipped' ELSE status END, attempts, error,"
        " claimed_by, lease_until, CASE WHEN status = 'sent' THEN finished_at END, due_at"
        " FROM outbox WHERE broadcast_id IS NOT NULL ORDER BY id"
    )
    op.execute("DELETE FROM outbox WHERE broadcast_id IS NOT NULL")
    op.drop_index("ix_outbox_broadcast_id_status", table_name="outbox")
    op.drop_index("ix_outbox_broadcast_id_patient_id", table_name="outbox")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("outbox", recreate="always") as batch_op:
            batch_op.drop_column("broadcast_id")
    else:
        op.drop_constraint(op.f("fk_outbox_broadcast_id_broadcasts"), "outbox", type_="foreignkey")
        op.drop_column("outbox", "broadcast_id")
    _set_statuses(OLD_STATUSES, NEW_STATUSES)
