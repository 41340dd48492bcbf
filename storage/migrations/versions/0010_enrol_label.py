"""an enrolment link carries the clinic's label for its patient

Revision ID: 0010_enrol_label
Revises: 0009_alerts
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0010_enrol_label"
down_revision: str | None = "0009_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: no table rebuild on SQLite (see 0004 on why rebuilds are risky).
    op.add_column("invites", sa.Column("label", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_column("label")
