"""delivery windows found over-full ahead of time, each announced once

Revision ID: 0007_capacity
Revises: 0006_h2
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0007_capacity"
down_revision: str | None = "0006_h2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "capacity_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capacity_warnings")),
        sa.UniqueConstraint(
            "window_start", "window_end", name=op.f("uq_capacity_warnings_window_start_window_end")
        ),
    )


def downgrade() -> None:
    op.drop_table("capacity_warnings")
