"""referrals: who referred whom (a friend is referred once per program)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('referrals',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('friend_id', sa.String(length=128), nullable=False),
    sa.Column('referrer_id', sa.String(length=128), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('occurred_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'friend_id', name='uq_referral_friend')
    )


def downgrade() -> None:
    op.drop_table('referrals')
