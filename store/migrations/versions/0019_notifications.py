"""notifications: members' preferences, message records and the dispatcher's cursors

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('member_preferences',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.String(length=128), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('marketing_opt_out', sa.Boolean(), nullable=False),
    sa.Column('opt_out_source', sa.String(length=16), nullable=True),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'member_id', name='uq_member_preferences')
    )
    op.create_table('messages',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.String(length=128), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('template', sa.String(length=200), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('marketing', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('occurred_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('planned_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('next_attempt_at', store.db.types.UTCDateTime(), nullable=True),
    sa.Column('sent_at', store.db.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'template', 'channel', name='uq_message_event')
    )
    op.create_index('ix_messages_member', 'messages', ['program', 'member_id', 'id'])
    op.create_index('ix_messages_due', 'messages', ['status', 'next_attempt_at'])
    op.create_table('notify_cursors',
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('program')
    )


def downgrade() -> None:
    op.drop_table('notify_cursors')
    op.drop_index('ix_messages_due', table_name='messages')
    op.drop_index('ix_messages_member', table_name='messages')
    op.drop_table('messages')
    op.drop_table('member_preferences')
