"""enrolments (POST …/members) and the progress of `loyalty import`

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('enrolments',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('member_pk', BIG_ID, nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('occurred_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_pk'], ['members.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'event_id', name='uq_enrolment_event'),
    sa.UniqueConstraint('member_pk', name='uq_enrolment_member')
    )
    op.create_table('imports',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('key_prefix', sa.String(length=64), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('started_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', store.db.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'key_prefix', name='uq_import_prefix')
    )
    op.create_table('import_refusals',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('import_pk', BIG_ID, nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('part', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('codes', sa.JSON(), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['import_pk'], ['imports.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('import_pk', 'line', 'part', name='uq_import_refusal')
    )


def downgrade() -> None:
    op.drop_table('import_refusals')
    op.drop_table('imports')
    op.drop_table('enrolments')
