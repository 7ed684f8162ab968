"""operations: availability declarations (versioned), utilisation requests, dispatch runs,
instructions, dispatch-stage conflicts; products carry their operations rules as data

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import flexplatform.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conflicts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('detected_by', sa.String(length=6), nullable=False),
    sa.Column('asset_id', sa.Uuid(), nullable=True),
    sa.Column('zone_code', sa.String(length=60), nullable=True),
    sa.Column('period_start', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('parties', sa.JSON(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('resolution', sa.String(length=60), nullable=True),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conflicts')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_conflicts_dedupe_key'))
    )
    with op.batch_alter_table('conflicts', schema=None) as batch_op:
        batch_op.create_index('ix_conflicts_period', ['period_start'], unique=False)

    op.create_table('dispatch_runs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('trigger', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('request_ids', sa.JSON(), nullable=False),
    sa.Column('excluded_asset_ids', sa.JSON(), nullable=False),
    sa.Column('window_start', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('window_end', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('snapshot', sa.JSON(), nullable=True),
    sa.Column('snapshot_sha256', sa.String(length=64), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('result_sha256', sa.String(length=64), nullable=True),
    sa.Column('solver_status', sa.String(length=20), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_expires_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_runs'))
    )
    with op.batch_alter_table('dispatch_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatch_runs_status'), ['status'], unique=False)

    op.create_table('availability_declarations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('asset_id', sa.Uuid(), nullable=False),
    sa.Column('fsp_id', sa.Uuid(), nullable=False),
    sa.Column('direction', sa.String(length=6), nullable=False),
    sa.Column('period_start', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mw', sa.Float(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('after_lock', sa.Boolean(), nullable=False),
    sa.Column('declared_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_availability_declarations_asset_id_assets')),
    sa.ForeignKeyConstraint(['fsp_id'], ['participants.id'], name=op.f('fk_availability_declarations_fsp_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_availability_declarations')),
    sa.UniqueConstraint('asset_id', 'direction', 'period_start', 'version', name=op.f('uq_availability_declarations_asset_id'))
    )
    with op.batch_alter_table('availability_declarations', schema=None) as batch_op:
        batch_op.create_index('ix_availability_declarations_fsp_period', ['fsp_id', 'period_start'], unique=False)
        batch_op.create_index('ix_availability_declarations_period', ['period_start'], unique=False)

    op.create_table('utilisation_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('mo_id', sa.Uuid(), nullable=False),
    sa.Column('market_id', sa.Uuid(), nullable=False),
    sa.Column('need_id', sa.Uuid(), nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('zone_code', sa.String(length=60), nullable=False),
    sa.Column('direction', sa.String(length=6), nullable=False),
    sa.Column('period_start', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mw', sa.Float(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('last_run_id', sa.Uuid(), nullable=True),
    sa.Column('covered_mw', sa.JSON(), nullable=False),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['market_id'], ['markets.id'], name=op.f('fk_utilisation_requests_market_id_markets')),
    sa.ForeignKeyConstraint(['mo_id'], ['participants.id'], name=op.f('fk_utilisation_requests_mo_id_participants')),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_utilisation_requests_need_id_needs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_utilisation_requests'))
    )
    with op.batch_alter_table('utilisation_requests', schema=None) as batch_op:
        batch_op.create_index('ix_utilisation_requests_mo_status', ['mo_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_utilisation_requests_need_id'), ['need_id'], unique=False)
        batch_op.create_index('ix_utilisation_requests_window', ['period_start', 'period_end'], unique=False)

    op.create_table('instructions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Uuid(), nullable=False),
    sa.Column('fsp_id', sa.Uuid(), nullable=False),
    sa.Column('mo_id', sa.Uuid(), nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('direction', sa.String(length=6), nullable=False),
    sa.Column('period_start', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mw', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('ack_deadline', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acked_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.String(length=300), nullable=True),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_instructions_asset_id_assets')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_instructions_contract_id_contracts')),
    sa.ForeignKeyConstraint(['fsp_id'], ['participants.id'], name=op.f('fk_instructions_fsp_id_participants')),
    sa.ForeignKeyConstraint(['mo_id'], ['participants.id'], name=op.f('fk_instructions_mo_id_participants')),
    sa.ForeignKeyConstraint(['request_id'], ['utilisation_requests.id'], name=op.f('fk_instructions_request_id_utilisation_requests')),
    sa.ForeignKeyConstraint(['run_id'], ['dispatch_runs.id'], name=op.f('fk_instructions_run_id_dispatch_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instructions')),
    sa.UniqueConstraint('run_id', 'contract_id', 'request_id', name=op.f('uq_instructions_run_id'))
    )
    with op.batch_alter_table('instructions', schema=None) as batch_op:
        batch_op.create_index('ix_instructions_asset_period', ['asset_id', 'period_start'], unique=False)
        batch_op.create_index('ix_instructions_fsp_period', ['fsp_id', 'period_start'], unique=False)
        batch_op.create_index('ix_instructions_mo_period', ['mo_id', 'period_start'], unique=False)
        batch_op.create_index(batch_op.f('ix_instructions_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_instructions_status_deadline', ['status', 'ack_deadline'], unique=False)

    # Plain ADD COLUMN (SQLite does it without rebuilding products); existing rows get {}.
    op.add_column('products', sa.Column('operations_rules', sa.JSON(), nullable=False,
                                        server_default='{}'))



def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('operations_rules')

    with op.batch_alter_table('instructions', schema=None) as batch_op:
        batch_op.drop_index('ix_instructions_status_deadline')
        batch_op.drop_index(batch_op.f('ix_instructions_request_id'))
        batch_op.drop_index('ix_instructions_mo_period')
        batch_op.drop_index('ix_instructions_fsp_period')
        batch_op.drop_index('ix_instructions_asset_period')

    op.drop_table('instructions')
    with op.batch_alter_table('utilisation_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_utilisation_requests_window')
        batch_op.drop_index(batch_op.f('ix_utilisation_requests_need_id'))
        batch_op.drop_index('ix_utilisation_requests_mo_status')

    op.drop_table('utilisation_requests')
    with op.batch_alter_table('availability_declarations', schema=None) as batch_op:
        batch_op.drop_index('ix_availability_declarations_period')
        batch_op.drop_index('ix_availability_declarations_fsp_period')

    op.drop_table('availability_declarations')
    with op.batch_alter_table('dispatch_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispatch_runs_status'))

    op.drop_table('dispatch_runs')
    with op.batch_alter_table('conflicts', schema=None) as batch_op:
        batch_op.drop_index('ix_conflicts_period')

    op.drop_table('conflicts')
