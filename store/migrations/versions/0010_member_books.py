"""member books: one lifecycle book per member, records on orders and redemptions

Adds `members.book` (the member's `engine.lifecycle.book` as JSON) and `due_at` (when
time alone next changes it), `orders.record` and `redemptions.record` (what a refund,
cancel or release needs), `ledger_entries.lot` and `draws` (the book's lot numbers),
then fills them from the tables as the store wrote them up to revision 0009
(`store/migrations/books/`): books, due times, order records, the records of held,
completed and captured redemptions, and the lot of each credit entry. The `draws` of
older debits stay NULL: what they drew is in `lot_allocations`, which stays, like
`remaining`, `holds` and `usage_counters`, as history.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import store.db.types
from store.migrations.books import fill

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('members') as batch:
        batch.add_column(sa.Column('book', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('due_at', store.db.types.UTCDateTime(), nullable=True))
    op.create_index('ix_members_due', 'members', ['program', 'due_at'])
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('record', sa.JSON(), nullable=True))
    with op.batch_alter_table('redemptions') as batch:
        batch.add_column(sa.Column('record', sa.JSON(), nullable=True))
    with op.batch_alter_table('ledger_entries') as batch:
        batch.add_column(sa.Column('lot', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('draws', sa.JSON(), nullable=True))
    fill(op.get_bind())


def downgrade() -> None:
    # Dropped in place (ALTER TABLE … DROP COLUMN, SQLite 3.35+): recreating these tables,
    # as a batch would on SQLite, trips the foreign keys that point at them.
    for table, column in (('ledger_entries', 'draws'), ('ledger_entries', 'lot'),
                          ('redemptions', 'record'), ('orders', 'record')):
        with op.batch_alter_table(table, recreate='never') as batch:
            batch.drop_column(column)
    op.drop_index('ix_members_due', table_name='members')
    with op.batch_alter_table('members', recreate='never') as batch:
        batch.drop_column('due_at')
        batch.drop_column('book')
