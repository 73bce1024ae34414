"""storable ids: columns wide enough for every reference composed from API ids

An API id is at most 128 characters (api/ids.py). A refund's ledger entries refer to
`<order id>/<refund id>` (up to 257), and external idempotency keys prefix an id
(`redemption:<idempotency key>`, `redemption:<id>:refund:<refund id>`).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

WIDENED = [  # table, column, old length, new length
    ('ledger_entries', 'source_ref', 200, 300),
    ('external_debits', 'idempotency_key', 128, 200),
    ('external_transfers', 'idempotency_key', 128, 200),
]


def upgrade() -> None:
    for table, column, old, new in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(length=old),
                               type_=sa.String(length=new), existing_nullable=False)


def downgrade() -> None:
    for table, column, old, new in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(length=new),
                               type_=sa.String(length=old), existing_nullable=False)
