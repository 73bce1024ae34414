"""member books: the lifecycle core's state on the member row, order and redemption
records, ledger entries naming their lots

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('members') as batch:
        batch.add_column(sa.Column('book', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('due_at', store.types.UTCDateTime(), nullable=True))
        batch.create_index('ix_members_due', ['program', 'due_at'])
    with op.batch_alter_table('ledger_entries') as batch:
        batch.add_column(sa.Column('lot', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('draws', sa.JSON(), nullable=True))
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('record', sa.JSON(), nullable=True))
    with op.batch_alter_table('redemptions') as batch:
        batch.add_column(sa.Column('record', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('redemptions') as batch:
        batch.drop_column('record')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('record')
    with op.batch_alter_table('ledger_entries') as batch:
        batch.drop_column('draws')
        batch.drop_column('lot')
    with op.batch_alter_table('members') as batch:
        batch.drop_index('ix_members_due')
        batch.drop_column('due_at')
        batch.drop_column('book')
