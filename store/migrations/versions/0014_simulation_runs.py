"""simulation runs started from the console

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('simulation_runs',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('members', sa.Integer(), nullable=True),
    sa.Column('events', sa.Integer(), nullable=True),
    sa.Column('seed', sa.BigInteger(), nullable=True),
    sa.Column('started_by', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('totals', sa.JSON(), nullable=True),
    sa.Column('report_html', sa.Text(), nullable=True),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', store.db.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('simulation_runs')
