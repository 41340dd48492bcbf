"""the clinic's web dashboard: one-time sign-in links, browser sessions, patient labels

Revision ID: 0008_web
Revises: 0007_capacity
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0008_web"
down_revision: str | None = "0007_capacity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _access_table(name: str, ended: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(ended, sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f(f"fk_{name}_clinic_id_clinics"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f(f"fk_{name}_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{name}_token_hash")),
    )
    op.create_index(op.f(f"ix_{name}_clinic_id"), name, ["clinic_id"], unique=False)


def upgrade() -> None:
    # Plain ADD COLUMNs: no table rebuild on SQLite (see 0004 on why rebuilds are risky).
    op.add_column("patients", sa.Column("clinic_label", sa.String(length=80), nullable=True))
    op.add_column("patients", sa.Column("shared_name", sa.String(length=64), nullable=True))
    _access_table("web_logins", "used_at")
    _access_table("web_sessions", "ended_at")
    op.create_index(op.f("ix_web_sessions_staff_id"), "web_sessions", ["staff_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_staff_id"), table_name="web_sessions")
    for name in ("web_sessions", "web_logins"):
        op.drop_index(op.f(f"ix_{name}_clinic_id"), table_name=name)
        op.drop_table(name)
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("shared_name")
        batch_op.drop_column("clinic_label")
