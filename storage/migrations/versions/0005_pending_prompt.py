"""a patient's pending prompt carries a token and an expiry

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch rebuild of patients (see 0004: a rebuild with foreign
    # keys on would cascade-delete every session and reminder).
    op.add_column('patients', sa.Column('prompt_token', sa.String(length=16), nullable=True))
    op.add_column(
        'patients', sa.Column('prompt_expires_at', sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('prompt_expires_at')
        batch_op.drop_column('prompt_token')
