"""reminders are rows of the outbox: one delivery queue for everything the bot sends

Revision ID: 0013_reminders_in_outbox
Revises: 0012_copies_in_outbox
Create Date: 2026-11-30

The outbox gains a reminder's own columns (its session, milestone, "done" and snoozes) and
every row of ``reminders`` becomes an outbox row of kind ``reminder`` with the same id: the
buttons of reminders already sent carry that id, so it must not change. The outbox's own
rows are renumbered above every reminder first (nothing refers to their ids). The patient
and chat are the session's patient's; ``sent_at`` becomes the finish, ``last_error`` the
error. The delivery log then refers to the outbox, and ``reminders`` goes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0013_reminders_in_outbox"
down_revision: str | None = "0012_copies_in_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REMINDER_PRIORITY = 2  # the Telegram budget's priority of a reminder, as the product writes it
REMINDER_STATUSES = ("pending", "sent", "expired", "cancelled", "failed")


def _delivery_log_refers_to(table: str, old: str) -> None:
    """Point the delivery log's ``reminder_id`` at ``table`` (it referred to ``old``)."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("delivery_log", recreate="always") as batch_op:
            batch_op.drop_constraint(f"fk_delivery_log_reminder_id_{old}", type_="foreignkey")
            batch_op.create_foreign_key(f"fk_delivery_log_reminder_id_{table}", table,
                                        ["reminder_id"], ["id"], ondelete="CASCADE")  # fmt: skip
    else:
        op.drop_constraint(f"fk_delivery_log_reminder_id_{old}", "delivery_log", type_="foreignkey")
        op.create_foreign_key(f"fk_delivery_log_reminder_id_{table}", "delivery_log", table,
                              ["reminder_id"], ["id"], ondelete="CASCADE")  # fmt: skip


def _restart_ids(table: str) -> None:
    """On PostgreSQL, the next id of ``table`` follows the highest one written by hand."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            " HAVING max(id) IS NOT NULL"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE outbox ADD COLUMN session_id INTEGER CONSTRAINT"
            " fk_outbox_session_id_treatment_sessions REFERENCES treatment_sessions (id)"
            " ON DELETE CASCADE"
        )
    else:
        op.add_column("outbox", sa.Column("session_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_outbox_session_id_treatment_sessions"), "outbox",
                              "treatment_sessions", ["session_id"], ["id"],
                              ondelete="CASCADE")  # fmt: skip
    op.add_column("outbox", sa.Column("milestone_id", sa.String(length=64), nullable=True))
    op.add_column("outbox", sa.Column("acknowledged_at", sa.DateTime(timezone=True),
                                      nullable=True))  # fmt: skip
    op.add_column("outbox", sa.Column("snoozes", sa.Integer(), server_default="0",
                                      nullable=False))  # fmt: skip

    # Make room: the outbox's rows move above the highest reminder (and above themselves,
    # so no two ids ever meet on the way).
    bind = op.get_bind()
    offset = bind.execute(
        sa.text(
            "SELECT max(top) FROM (SELECT coalesce(max(id), 0) AS top FROM reminders"
            " UNION ALL SELECT coalesce(max(id), 0) FROM outbox) AS tops"
        )
    ).scalar_one()
    if offset:
        bind.execute(sa.text("UPDATE outbox SET id = id + :offset"), {"offset": offset})
    op.execute(
        "INSERT INTO outbox (id, kind, priority, chat_id, patient_id, session_id, milestone_id,"
        " status, created_at, due_at, expires_at, attempts, claimed_by, lease_until,"
        " finished_at, error, acknowledged_at, snoozes)"
        f" SELECT r.id, 'reminder', {REMINDER_PRIORITY}, p.chat_id, p.id, r.session_id,"
        " r.milestone_id, r.status, t.created_at, r.due_at, r.expires_at, r.attempts,"
        " r.claimed_by, r.lease_until, r.sent_at, r.last_error, r.acknowledged_at, r.snoozes"
        " FROM reminders r JOIN treatment_sessions t ON t.id = r.session_id"
        " JOIN patients p ON p.id = t.patient_id ORDER BY r.id"
    )
    _restart_ids("outbox")
    op.create_index(op.f("ix_outbox_session_id"), "outbox", ["session_id"])
    op.create_index("ix_outbox_session_id_milestone_id", "outbox",
                    ["session_id", "milestone_id"], unique=True)  # fmt: skip
    op.create_index("ix_outbox_status_expires_at", "outbox", ["status", "expires_at"])

    _delivery_log_refers_to("outbox", old="reminders")
    op.drop_index("ix_reminders_status_expires_at", table_name="reminders")
    op.drop_index("ix_reminders_status_due_at", table_name="reminders")
    op.drop_index(op.f("ix_reminders_session_id"), table_name="reminders")
    op.drop_table("reminders")


def downgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Enum(*REMINDER_STATUSES, name="reminder_status",
                                    native_enum=False, create_constraint=True, length=16),
                  nullable=False),  # fmt: skip
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snoozes", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["treatment_sessions.id"],
                                name=op.f("fk_reminders_session_id_treatment_sessions"),
                                ondelete="CASCADE"),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint("session_id", "milestone_id",
                            name=op.f("uq_reminders_session_id_milestone_id")),  # fmt: skip
    )
    op.create_index(op.f("ix_reminders_session_id"), "reminders", ["session_id"])
    op.create_index("ix_reminders_status_due_at", "reminders", ["status", "due_at"])
    op.create_index("ix_reminders_status_expires_at", "reminders", ["status", "expires_at"])
    op.execute(
        "INSERT INTO reminders (id, session_id, milestone_id, due_at, expires_at, status,"
        " attempts, last_error, sent_at, claimed_by, lease_until, acknowledged_at, snoozes)"
        " SELECT id, session_id, milestone_id, due_at, expires_at,"
        " CASE WHEN status = 'skipped' THEN 'cancelled' ELSE status END, attempts, error,"
        " CASE WHEN status = 'sent' THEN finished_at END, claimed_by, lease_until,"
        " acknowledged_at, snoozes FROM outbox WHERE kind = 'reminder' ORDER BY id"
    )
    _restart_ids("reminders")
    _delivery_log_refers_to("reminders", old="outbox")
    op.execute("DELETE FROM outbox WHERE kind = 'reminder'")
    op.drop_index("ix_outbox_status_expires_at", table_name="outbox")
    op.drop_index("ix_outbox_session_id_milestone_id", table_name="outbox")
    op.drop_index(op.f("ix_outbox_session_id"), table_name="outbox")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("outbox", recreate="always") as batch_op:
            for column in ("snoozes", "acknowledged_at", "milestone_id", "session_id"):
                batch_op.drop_column(column)
    else:
        op.drop_constraint(op.f("fk_outbox_session_id_treatment_sessions"), "outbox",
                           type_="foreignkey")  # fmt: skip
        for column in ("snoozes", "acknowledged_at", "milestone_id", "session_id"):
            op.drop_column("outbox", column)
