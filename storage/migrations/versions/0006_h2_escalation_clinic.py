"""escalations belong to the clinic they were raised with; relayed clinic messages

Revision ID: 0006_h2
Revises: 0006_h1_replan
Create Date: 2026-11-30 00:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006_h2'
down_revision: str | None = "0006_h1_replan"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite's own ADD COLUMN takes an inline REFERENCES clause: no table rebuild (a rebuild
    # of escalations would be harmless, but this keeps both backends on one shape).
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            'ALTER TABLE escalations ADD COLUMN clinic_id INTEGER '
            'CONSTRAINT fk_escalations_clinic_id_clinics REFERENCES clinics (id) '
            'ON DELETE CASCADE'
        )
    else:
        op.add_column('escalations', sa.Column('clinic_id', sa.Integer(), nullable=True))
        op.create_foreign_key(
            'fk_escalations_clinic_id_clinics', 'escalations', 'clinics',
            ['clinic_id'], ['id'], ondelete='CASCADE',
        )
    op.add_column('escalations', sa.Column('moved_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_escalations_clinic_id'), 'escalations', ['clinic_id'], unique=False)
    # Until now an escalation followed its patient: it belongs to the patient's clinic of today.
    op.execute(
        'UPDATE escalations SET clinic_id = '
        '(SELECT patients.clinic_id FROM patients WHERE patients.id = escalations.patient_id)'
    )
    op.create_table('clinic_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('escalation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['escalation_id'], ['escalations.id'], name=op.f('fk_clinic_messages_escalation_id_escalations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_messages'))
    )
    with op.batch_alter_table('clinic_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinic_messages_escalation_id'), ['escalation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('clinic_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinic_messages_escalation_id'))
    op.drop_table('clinic_messages')
    op.drop_index(op.f('ix_escalations_clinic_id'), table_name='escalations')
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_column('moved_at')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint('fk_escalations_clinic_id_clinics', 'escalations', type_='foreignkey')
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_column('clinic_id')
