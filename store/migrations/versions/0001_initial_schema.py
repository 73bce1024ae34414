"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('program', sa.String(length=64), nullable=True),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', store.db.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('program', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('campaign_budgets',
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.String(length=200), nullable=False),
    sa.Column('points_used', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('program', 'campaign_id')
    )
    op.create_table('members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.String(length=128), nullable=False),
    sa.Column('tier', sa.String(length=64), nullable=True),
    sa.Column('tier_since', store.db.types.UTCDateTime(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('orders_count', sa.Integer(), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'member_id', name='uq_member')
    )
    op.create_table('programs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('registry_generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('reward_stock',
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('reward_id', sa.String(length=200), nullable=False),
    sa.Column('issued', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('program', 'reward_id')
    )
    op.create_table('activations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('effective_from', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('activated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['program'], ['programs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activations_program'), ['program'], unique=False)

    op.create_table('activity_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('member_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('activity', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('occurred_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_pk'], ['members.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'event_id', name='uq_activity_event')
    )
    op.create_table('holds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('expires_at', store.db.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['member_pk'], ['members.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holds_member_pk'), ['member_pk'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=True),
    sa.Column('expires_at', store.db.types.UTCDateTime(), nullable=True),
    sa.Column('ruleset_version', sa.Integer(), nullable=True),
    sa.Column('rule', sa.String(length=200), nullable=True),
    sa.Column('source_type', sa.String(length=16), nullable=False),
    sa.Column('source_ref', sa.String(length=200), nullable=False),
    sa.Column('lot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('occurred_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('recorded_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['lot_id'], ['ledger_entries.id'], ),
    sa.ForeignKeyConstraint(['member_pk'], ['members.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_member_expiry', ['member_pk', 'expires_at'], unique=False)
        batch_op.create_index('ix_ledger_member_id', ['member_pk', 'id'], unique=False)
        batch_op.create_index('ix_ledger_source', ['program', 'source_type', 'source_ref'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=128), nullable=False),
    sa.Column('member_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('placed_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('qualifying_spend', store.db.types.Money(), nullable=False),
    sa.Column('original_spend', store.db.types.Money(), nullable=False),
    sa.Column('refunded_fraction', store.db.types.Money(), nullable=False),
    sa.Column('counted', sa.Boolean(), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_pk'], ['members.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'order_id', name='uq_order')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_member_placed', ['member_pk', 'placed_at'], unique=False)

    op.create_table('ruleset_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=80), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('effective_from', store.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['program'], ['programs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'version', name='uq_ruleset_version')
    )
    with op.batch_alter_table('ruleset_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ruleset_versions_program'), ['program'], unique=False)

    op.create_table('usage_counters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('period', sa.String(length=64), nullable=False),
    sa.Column('amount', store.db.types.Money(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('started_at', store.db.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['member_pk'], ['members.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_pk', 'kind', 'key', 'period', name='uq_usage_counter')
    )
    op.create_table('lot_allocations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('debit_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lot_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['debit_entry_id'], ['ledger_entries.id'], ),
    sa.ForeignKeyConstraint(['lot_entry_id'], ['ledger_entries.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lot_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lot_allocations_debit_entry_id'), ['debit_entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lot_allocations_lot_entry_id'), ['lot_entry_id'], unique=False)

    op.create_table('refunds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('refund_id', sa.String(length=128), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_pk', 'refund_id', name='uq_refund')
    )
    op.execute("INSERT INTO registry_generation (id, generation) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table('refunds')
    with op.batch_alter_table('lot_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lot_allocations_lot_entry_id'))
        batch_op.drop_index(batch_op.f('ix_lot_allocations_debit_entry_id'))

    op.drop_table('lot_allocations')
    op.drop_table('usage_counters')
    with op.batch_alter_table('ruleset_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ruleset_versions_program'))

    op.drop_table('ruleset_versions')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_member_placed')

    op.drop_table('orders')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_source')
        batch_op.drop_index('ix_ledger_member_id')
        batch_op.drop_index('ix_ledger_member_expiry')

    op.drop_table('ledger_entries')
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holds_member_pk'))

    op.drop_table('holds')
    op.drop_table('activity_events')
    with op.batch_alter_table('activations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activations_program'))

    op.drop_table('activations')
    op.drop_table('reward_stock')
    op.drop_table('registry_generation')
    op.drop_table('programs')
    op.drop_table('members')
    op.drop_table('campaign_budgets')
    op.drop_table('audit_log')
    op.drop_table('api_keys')
