"""the dashboard's alerts inbox: alerts assigned to a member of staff; the clinic's thread
with a patient keeps its text (staff messages, and the patient's answers to the clinic)

Revision ID: 0009_alerts
Revises: 0008_web
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009_alerts"
down_revision: str | None = "0008_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, constraint name): a nullable reference to a member of staff.
STAFF_REFERENCES = (
    ("escalations", "assigned_to", "fk_escalations_assigned_to_staff"),
    ("clinic_messages", "sent_by", "fk_clinic_messages_sent_by_staff"),
)


def upgrade() -> None:
    # SQLite's own ADD COLUMN takes an inline REFERENCES clause: no table rebuild (as 0006_h2).
    for table, column, name in STAFF_REFERENCES:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
                f"CONSTRAINT {name} REFERENCES staff (id) ON DELETE SET NULL"
            )
        else:
            op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(name, table, "staff", [column], ["id"], ondelete="SET NULL")
    op.add_column("clinic_messages", sa.Column("text", sa.Text(), nullable=True))
    op.add_column(
        "clinic_messages",
        sa.Column("from_patient", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("clinic_messages", schema=None) as batch_op:
        batch_op.drop_column("from_patient")
        batch_op.drop_column("text")
    for table, column, name in STAFF_REFERENCES:
        if op.get_bind().dialect.name != "sqlite":
            op.drop_constraint(name, table, type_="foreignkey")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
