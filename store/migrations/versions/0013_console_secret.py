"""the web console's cookie-signing secret, made once when LOYALTY_CONSOLE_SECRET is unset

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_secret',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('console_secret')
