"""shadow evaluation of a published version on live traffic

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('shadow_runs',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('started_by', sa.String(length=200), nullable=False),
    sa.Column('started_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('stopped_by', sa.String(length=200), nullable=True),
    sa.Column('stopped_at', store.db.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['program'], ['programs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_shadow_runs_program'), 'shadow_runs', ['program'], unique=False)
    op.create_table('shadow_counts',
    sa.Column('run_id', BIG_ID, nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['shadow_runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'side', 'kind', 'key')
    )
    op.create_table('shadow_members',
    sa.Column('run_id', BIG_ID, nullable=False),
    sa.Column('member_id', sa.String(length=200), nullable=False),
    sa.Column('requests', sa.BigInteger(), nullable=False),
    sa.Column('live_points', sa.BigInteger(), nullable=False),
    sa.Column('shadow_points', sa.BigInteger(), nullable=False),
    sa.Column('tier_differences', sa.BigInteger(), nullable=False),
    sa.Column('live_tier', sa.String(length=64), nullable=True),
    sa.Column('shadow_tier', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['shadow_runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'member_id')
    )
    op.create_table('shadow_samples',
    sa.Column('run_id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('operation', sa.String(length=16), nullable=False),
    sa.Column('member_id', sa.String(length=200), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('live', sa.JSON(), nullable=False),
    sa.Column('shadow', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['shadow_runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'kind', 'slot')
    )


def downgrade() -> None:
    op.drop_table('shadow_samples')
    op.drop_table('shadow_members')
    op.drop_table('shadow_counts')
    op.drop_index(op.f('ix_shadow_runs_program'), table_name='shadow_runs')
    op.drop_table('shadow_runs')
