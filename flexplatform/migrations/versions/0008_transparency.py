"""transparency: carbon intensities per region and half-hour, zone to carbon region map,
stored regulator reports

Revision ID: 0008
Revises: 0010 (chained after the merged operations 0006 and settlement 0010)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import flexplatform.db

revision = '0008'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'carbon_intensities',
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('period_start', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('forecast', sa.Float(), nullable=True),
        sa.Column('actual', sa.Float(), nullable=True),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('imported_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('region_id', 'period_start', name=op.f('pk_carbon_intensities')),
    )
    op.create_table(
        'zone_carbon_regions',
        sa.Column('zone_code', sa.String(length=60), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('updated_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['zone_code'], ['zones.code'],
                                name=op.f('fk_zone_carbon_regions_zone_code_zones')),
        sa.PrimaryKeyConstraint('zone_code', name=op.f('pk_zone_carbon_regions')),
    )
    op.create_table(
        'transparency_reports',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('requested_by', sa.Uuid(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('started_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('lease_expires_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_transparency_reports')),
    )


def downgrade() -> None:
    op.drop_table('transparency_reports')
    op.drop_table('zone_carbon_regions')
    op.drop_table('carbon_intensities')
