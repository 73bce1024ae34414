"""cashback entries; member status and erasure

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('cashback_entries',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('member_pk', BIG_ID, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', store.db.types.Money(), nullable=False),
    sa.Column('source_type', sa.String(length=16), nullable=False),
    sa.Column('source_ref', sa.String(length=300), nullable=False),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('occurred_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('recorded_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('paid_at', store.db.types.UTCDateTime(), nullable=True),
    sa.Column('payout_ref', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['member_pk'], ['members.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_cashback_member_id', 'cashback_entries', ['member_pk', 'id'])
    op.create_index('ix_cashback_unpaid', 'cashback_entries', ['program', 'paid_at'])
    with op.batch_alter_table('members') as batch:
        batch.add_column(sa.Column('status', sa.String(length=16), nullable=False,
                                   server_default='active'))
        batch.add_column(sa.Column('erased_at', store.db.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    # Dropped in place (ALTER TABLE … DROP COLUMN, SQLite 3.35+): recreating the table, as a
    # batch would on SQLite, trips the foreign keys that point at it.
    with op.batch_alter_table('members', recreate='never') as batch:
        batch.drop_column('erased_at')
        batch.drop_column('status')
    op.drop_index('ix_cashback_unpaid', table_name='cashback_entries')
    op.drop_index('ix_cashback_member_id', table_name='cashback_entries')
    op.drop_table('cashback_entries')
