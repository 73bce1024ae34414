"""fulfilment of reward redemptions (manual queue, webhook deliveries)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('fulfilments',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('redemption_pk', BIG_ID, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('route', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('next_attempt_at', store.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['redemption_pk'], ['redemptions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('redemption_pk', name='uq_fulfilment_redemption')
    )
    op.create_index('ix_fulfilments_queue', 'fulfilments',
                    ['program', 'route', 'status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_fulfilments_queue', table_name='fulfilments')
    op.drop_table('fulfilments')
