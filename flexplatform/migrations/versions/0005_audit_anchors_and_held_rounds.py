"""audit anchors and held rounds: TRUNCATE refused on the audit trail; signed checkpoints of
its head (append-only too); clearing rounds carry the time limit of their next solve and
the reason they are held for an admin

Revision ID: 0005
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import flexplatform.db

revision = '0005'
down_revision = '0007'
branch_labels = None
depends_on = None

# Row triggers do not fire on TRUNCATE: it needs a statement trigger of its own.
GUARD_PG = """
CREATE OR REPLACE FUNCTION flex_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION flex_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION flex_append_only();
"""


def upgrade() -> None:
    # Plain ADD COLUMNs: the one ALTER SQLite does without rebuilding the table.
    op.add_column('clearing_rounds', sa.Column('time_limit_s', sa.Float(), nullable=True))
    op.add_column('clearing_rounds', sa.Column('hold_reason', sa.Text(), nullable=True))
    op.create_table(
        'audit_checkpoints',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('head_hash', sa.String(length=64), nullable=False),
        sa.Column('at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('mac', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    )
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(GUARD_PG)
    elif dialect == 'sqlite':  # SQLite has no TRUNCATE; DELETE is already refused
        for event in ('UPDATE', 'DELETE'):
            op.execute(f"CREATE TRIGGER audit_checkpoints_no_{event.lower()} BEFORE {event} "
                       "ON audit_checkpoints BEGIN "
                       "SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    op.drop_table('audit_checkpoints')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS flex_append_only()")
    with op.batch_alter_table('clearing_rounds') as batch_op:
        batch_op.drop_column('hold_reason')
        batch_op.drop_column('time_limit_s')
