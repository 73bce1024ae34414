"""b2b orders: reward inventory apart from versions, companies' orders of several items,
their fulfilment, and signed fulfilment callbacks

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
AT = store.db.types.UTCDateTime


def upgrade() -> None:
    op.create_table('inventory',
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('reward_id', sa.String(length=200), nullable=False),
    sa.Column('available', sa.BigInteger(), nullable=False),
    sa.Column('reserved', sa.BigInteger(), nullable=False),
    sa.Column('low_stock', sa.Integer(), nullable=True),
    sa.Column('created_at', AT(), nullable=False),
    sa.Column('updated_at', AT(), nullable=False),
    sa.PrimaryKeyConstraint('program', 'reward_id')
    )
    op.create_table('inventory_changes',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('reward_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('available_delta', sa.BigInteger(), nullable=False),
    sa.Column('reserved_delta', sa.BigInteger(), nullable=False),
    sa.Column('available_after', sa.BigInteger(), nullable=False),
    sa.Column('reserved_after', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('order_number', sa.String(length=32), nullable=True),
    sa.Column('at', AT(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_inventory_changes_reward', 'inventory_changes',
                    ['program', 'reward_id', 'id'])
    op.create_table('b2b_order_numbers',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_table('b2b_orders',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('company_id', sa.String(length=128), nullable=False),
    sa.Column('account', sa.String(length=128), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('total_points', sa.BigInteger(), nullable=False),
    sa.Column('points_credited', sa.BigInteger(), nullable=False),
    sa.Column('debited', sa.Boolean(), nullable=False),
    sa.Column('approval_threshold', sa.BigInteger(), nullable=True),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('approved_by', sa.String(length=200), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('approval_expires_at', AT(), nullable=True),
    sa.Column('created_at', AT(), nullable=False),
    sa.Column('updated_at', AT(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number', name='uq_b2b_order_number'),
    sa.UniqueConstraint('program', 'company_id', 'idempotency_key', name='uq_b2b_order_key')
    )
    op.create_index('ix_b2b_orders_company', 'b2b_orders', ['program', 'company_id', 'id'])
    op.create_index('ix_b2b_orders_status', 'b2b_orders', ['status', 'created_at'])
    op.create_table('b2b_order_items',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('order_pk', BIG_ID, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('route', sa.String(length=16), nullable=False),
    sa.Column('stocked', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('carrier', sa.String(length=200), nullable=True),
    sa.Column('tracking', sa.String(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('next_attempt_at', AT(), nullable=True),
    sa.Column('updated_at', AT(), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['b2b_orders.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_pk', 'line', name='uq_b2b_order_item_line')
    )
    op.create_index('ix_b2b_order_items_queue', 'b2b_order_items',
                    ['program', 'route', 'status', 'id'])
    op.create_table('b2b_order_events',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('order_pk', BIG_ID, nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', AT(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['b2b_orders.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_b2b_order_events_order_pk'), 'b2b_order_events', ['order_pk'])
    op.create_table('fulfilment_callbacks',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('webhook_id', sa.String(length=128), nullable=False),
    sa.Column('body_hash', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=False),
    sa.Column('received_at', AT(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('webhook_id', name='uq_fulfilment_callback')
    )


def downgrade() -> None:
    op.drop_table('fulfilment_callbacks')
    op.drop_index(op.f('ix_b2b_order_events_order_pk'), table_name='b2b_order_events')
    op.drop_table('b2b_order_events')
    op.drop_index('ix_b2b_order_items_queue', table_name='b2b_order_items')
    op.drop_table('b2b_order_items')
    op.drop_index('ix_b2b_orders_status', table_name='b2b_orders')
    op.drop_index('ix_b2b_orders_company', table_name='b2b_orders')
    op.drop_table('b2b_orders')
    op.drop_table('b2b_order_numbers')
    op.drop_index('ix_inventory_changes_reward', table_name='inventory_changes')
    op.drop_table('inventory_changes')
    op.drop_table('inventory')
