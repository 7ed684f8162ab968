"""run leases: clearing rounds carry a lease renewed by the worker's heartbeat

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import flexplatform.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: the one ALTER SQLite does without rebuilding the table.
    op.add_column('clearing_rounds', sa.Column(
        'lease_expires_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('clearing_rounds') as batch_op:
        batch_op.drop_column('lease_expires_at')
