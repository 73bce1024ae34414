"""automatic redemption settings per member

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('auto_redemptions',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('member_pk', BIG_ID, nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('unit', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('frequency_count', sa.Integer(), nullable=True),
    sa.Column('frequency_per', sa.String(length=16), nullable=True),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_pk'], ['members.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_pk', name='uq_auto_redemption_member')
    )


def downgrade() -> None:
    op.drop_table('auto_redemptions')
