"""redemptions and their status history

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('redemptions',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('member_pk', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reward_id', sa.String(length=200), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('value', store.db.types.Money(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('order_id', sa.String(length=128), nullable=True),
    sa.Column('order_total', store.db.types.Money(), nullable=True),
    sa.Column('reward_code', sa.String(length=64), nullable=True),
    sa.Column('valid_until', store.db.types.UTCDateTime(), nullable=True),
    sa.Column('hold_expires_at', store.db.types.UTCDateTime(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('ledger_entry_id', BIG_ID, nullable=True),
    sa.Column('reversal_entry_id', BIG_ID, nullable=True),
    sa.Column('occurred_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_pk'], ['members.id'], ),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'], ),
    sa.ForeignKeyConstraint(['reversal_entry_id'], ['ledger_entries.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'idempotency_key', name='uq_redemption_key'),
    sa.UniqueConstraint('reward_code')
    )
    op.create_index('ix_redemptions_member', 'redemptions', ['member_pk', 'id'], unique=False)
    op.create_index('ix_redemptions_order', 'redemptions', ['program', 'order_id'], unique=False)
    op.create_table('redemption_events',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('redemption_pk', BIG_ID, nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['redemption_pk'], ['redemptions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_redemption_events_redemption_pk'), 'redemption_events',
                    ['redemption_pk'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_redemption_events_redemption_pk'), table_name='redemption_events')
    op.drop_table('redemption_events')
    op.drop_index('ix_redemptions_order', table_name='redemptions')
    op.drop_index('ix_redemptions_member', table_name='redemptions')
    op.drop_table('redemptions')
