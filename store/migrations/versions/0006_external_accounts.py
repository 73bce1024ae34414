"""external points accounts: redemptions paid by an external API, transfer outbox

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('redemptions') as batch:
        batch.add_column(sa.Column('external_service', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('external_account', sa.String(length=128), nullable=True))
    op.create_table('external_transfers',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=128), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('ledger_entry_id', sa.BigInteger(), nullable=True),
    sa.Column('redemption_pk', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('next_attempt_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'idempotency_key', name='uq_external_transfer_key'),
    sa.UniqueConstraint('ledger_entry_id', name='uq_external_transfer_entry')
    )
    op.create_index('ix_external_transfers_due', 'external_transfers',
                    ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_external_transfers_due', table_name='external_transfers')
    op.drop_table('external_transfers')
    with op.batch_alter_table('redemptions') as batch:
        batch.drop_column('external_account')
        batch.drop_column('external_service')
