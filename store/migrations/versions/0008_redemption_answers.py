"""redemption answers: the first answer to a redemption and to its cancel, replayed

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('redemptions') as batch:
        batch.add_column(sa.Column('result', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('cancel_result', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('redemptions') as batch:
        batch.drop_column('cancel_result')
        batch.drop_column('result')
