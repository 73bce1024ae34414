"""journal of debits on external loyalty points APIs

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('external_debits',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('account', sa.String(length=128), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'idempotency_key', name='uq_external_debit')
    )
    op.create_index('ix_external_debits_status', 'external_debits', ['status', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_external_debits_status', table_name='external_debits')
    op.drop_table('external_debits')
