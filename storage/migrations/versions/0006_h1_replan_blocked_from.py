"""patients remember the status they had when they blocked the bot

Revision ID: 0006_h1_replan
Revises: 0006_h3
Create Date: 2026-11-30

An unblock gives back what the block took (reminders on, or paused); a patient who sent
/stop before blocking stays stopped. Only the block paths set this column; every other
status change clears it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0006_h1_replan"
down_revision: str | None = "0006_h3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blocked_from", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("blocked_from")
