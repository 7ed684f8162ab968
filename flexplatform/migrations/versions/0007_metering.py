"""metering: meter points, meter data agents' grants, submissions, readings (monthly
partitions on Postgres) and baseline methodologies as versioned data

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-01 22:24:48.314748
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import flexplatform.db

revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Postgres: a partitioned parent (RANGE on period_start); its monthly partitions are
    # created on demand by the uploads (flexplatform/reporting/partitions.py). SQLite: a
    # plain table with the same columns and key.
    partitioned = ({'postgresql_partition_by': 'RANGE (period_start)'}
                   if op.get_bind().dialect.name == 'postgresql' else {})
    op.create_table('meter_readings',
    sa.Column('period_start', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('import_kwh', sa.Float(precision=53), nullable=False),
    sa.Column('export_kwh', sa.Float(precision=53), nullable=False),
    sa.Column('meter_point_id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('meter_point_id', 'period_start', 'version', name=op.f('pk_meter_readings')),
    **partitioned
    )
    op.create_table('baseline_methodologies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('proposed', 'approved', 'rejected', name='changestatus', native_enum=False, length=12), nullable=False),
    sa.Column('effective_from', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('proposed_by', sa.Uuid(), nullable=False),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['participants.id'], name=op.f('fk_baseline_methodologies_decided_by_participants')),
    sa.ForeignKeyConstraint(['product_code'], ['products.code'], name=op.f('fk_baseline_methodologies_product_code_products')),
    sa.ForeignKeyConstraint(['proposed_by'], ['participants.id'], name=op.f('fk_baseline_methodologies_proposed_by_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_baseline_methodologies')),
    sa.UniqueConstraint('product_code', 'version', name=op.f('uq_baseline_methodologies_product_code'))
    )
    op.create_table('meter_submissions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('submitted_by', sa.Uuid(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=True),
    sa.Column('content_sha256', sa.String(length=64), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('stored', sa.Integer(), nullable=False),
    sa.Column('corrections', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('first_period', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_period', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['submitted_by'], ['participants.id'], name=op.f('fk_meter_submissions_submitted_by_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meter_submissions'))
    )
    with op.batch_alter_table('meter_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meter_submissions_submitted_by'), ['submitted_by'], unique=False)

    op.create_table('meter_points',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('mpan', sa.String(length=13), nullable=False),
    sa.Column('asset_id', sa.Uuid(), nullable=False),
    sa.Column('measures', sa.Enum('import', 'export', 'both', name='measures', native_enum=False, length=8), nullable=False),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_meter_points_asset_id_assets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meter_points')),
    sa.UniqueConstraint('mpan', name=op.f('uq_meter_points_mpan'))
    )
    with op.batch_alter_table('meter_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meter_points_asset_id'), ['asset_id'], unique=False)

    op.create_table('meter_data_grants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('fsp_id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('meter_point_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['participants.id'], name=op.f('fk_meter_data_grants_agent_id_participants')),
    sa.ForeignKeyConstraint(['fsp_id'], ['participants.id'], name=op.f('fk_meter_data_grants_fsp_id_participants')),
    sa.ForeignKeyConstraint(['meter_point_id'], ['meter_points.id'], name=op.f('fk_meter_data_grants_meter_point_id_meter_points')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meter_data_grants'))
    )
    with op.batch_alter_table('meter_data_grants', schema=None) as batch_op:
        batch_op.create_index('ix_meter_data_grants_agent_revoked', ['agent_id', 'revoked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_meter_data_grants_fsp_id'), ['fsp_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('meter_data_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meter_data_grants_fsp_id'))
        batch_op.drop_index('ix_meter_data_grants_agent_revoked')

    op.drop_table('meter_data_grants')
    with op.batch_alter_table('meter_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meter_points_asset_id'))

    op.drop_table('meter_points')
    with op.batch_alter_table('meter_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meter_submissions_submitted_by'))

    op.drop_table('meter_submissions')
    op.drop_table('baseline_methodologies')
    op.drop_table('meter_readings')
