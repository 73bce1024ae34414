"""approvals of ruleset versions (four eyes), the approvals each version declares, and
indexes for reading the audit log by program or actor

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

import store.db.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('ruleset_versions', sa.Column('approvals_required', sa.Integer(),
                                                server_default='0', nullable=False))
    op.create_table('approvals',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('at', store.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['program'], ['programs.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program', 'version', 'actor', name='uq_approval_actor')
    )
    op.create_index('ix_audit_program_id', 'audit_log', ['program', 'id'])
    op.create_index('ix_audit_actor_id', 'audit_log', ['actor', 'id'])


def downgrade() -> None:
    op.drop_index('ix_audit_actor_id', table_name='audit_log')
    op.drop_index('ix_audit_program_id', table_name='audit_log')
    op.drop_table('approvals')
    with op.batch_alter_table('ruleset_versions') as batch:
        batch.drop_column('approvals_required')
