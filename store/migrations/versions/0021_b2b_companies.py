"""b2b companies: companies of a program, their account managers and personal keys

Revision ID: 0021
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0021'
down_revision = '0019'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('companies',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('company_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('loyalty_account_id', sa.String(length=128), nullable=False),
    sa.Column('tier', sa.String(length=64), nullable=False),
    sa.Column('approval_threshold', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['program'], ['programs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'company_id', name='uq_company_id'),
    sa.UniqueConstraint('program', 'loyalty_account_id', name='uq_company_account')
    )
    op.create_table('account_managers',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('company_pk', BIG_ID, nullable=False),
    sa.Column('manager_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_pk'], ['companies.id'], ),
    sa.ForeignKeyConstraint(['program'], ['programs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'manager_id', name='uq_account_manager_id')
    )
    op.create_index('ix_account_managers_company', 'account_managers', ['company_pk', 'id'],
                    unique=False)
    op.create_table('manager_keys',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('manager_pk', BIG_ID, nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', store.db.types.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', store.db.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['manager_pk'], ['account_managers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    sa.UniqueConstraint('prefix')
    )
    op.create_index('ix_manager_keys_manager', 'manager_keys', ['manager_pk', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_manager_keys_manager', table_name='manager_keys')
    op.drop_table('manager_keys')
    op.drop_index('ix_account_managers_company', table_name='account_managers')
    op.drop_table('account_managers')
    op.drop_table('companies')
