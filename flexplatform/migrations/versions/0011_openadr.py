"""openadr: VEN registrations (per FSP), their resources (assets), events sent, telemetry

Revision ID: 0011
Revises: 0012
Create Date: 2026-12-02 01:33:26.099843
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import flexplatform.db

revision = '0011'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ven_registrations',
    sa.Column('ven_id', sa.String(length=64), nullable=False),
    sa.Column('ven_name', sa.String(length=120), nullable=False),
    sa.Column('fsp_id', sa.Uuid(), nullable=False),
    sa.Column('fingerprint', sa.String(length=40), nullable=False),
    sa.Column('registration_id', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('registered_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['fsp_id'], ['participants.id'], name=op.f('fk_ven_registrations_fsp_id_participants')),
    sa.PrimaryKeyConstraint('ven_id', name=op.f('pk_ven_registrations')),
    sa.UniqueConstraint('ven_name', name=op.f('uq_ven_registrations_ven_name'))
    )
    with op.batch_alter_table('ven_registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ven_registrations_fsp_id'), ['fsp_id'], unique=False)

    op.create_table('openadr_events',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('instruction_id', sa.Uuid(), nullable=False),
    sa.Column('ven_id', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=120), nullable=False),
    sa.Column('modification_number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('opt_type', sa.String(length=8), nullable=True),
    sa.Column('outcome', sa.String(length=200), nullable=True),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('responded_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instruction_id'], ['instructions.id'], name=op.f('fk_openadr_events_instruction_id_instructions')),
    sa.ForeignKeyConstraint(['ven_id'], ['ven_registrations.ven_id'], name=op.f('fk_openadr_events_ven_id_ven_registrations')),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_openadr_events')),
    sa.UniqueConstraint('instruction_id', name=op.f('uq_openadr_events_instruction_id'))
    )
    with op.batch_alter_table('openadr_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_openadr_events_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_openadr_events_ven_id'), ['ven_id'], unique=False)

    op.create_table('ven_resources',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ven_id', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=120), nullable=False),
    sa.Column('asset_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_ven_resources_asset_id_assets')),
    sa.ForeignKeyConstraint(['ven_id'], ['ven_registrations.ven_id'], name=op.f('fk_ven_resources_ven_id_ven_registrations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ven_resources')),
    sa.UniqueConstraint('asset_id', name=op.f('uq_ven_resources_asset_id')),
    sa.UniqueConstraint('ven_id', 'resource_id', name=op.f('uq_ven_resources_ven_id'))
    )
    with op.batch_alter_table('ven_resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ven_resources_ven_id'), ['ven_id'], unique=False)

    op.create_table('ven_telemetry',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ven_id', sa.String(length=64), nullable=False),
    sa.Column('asset_id', sa.Uuid(), nullable=False),
    sa.Column('measured_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mw', sa.Float(precision=53), nullable=False),
    sa.Column('received_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_ven_telemetry_asset_id_assets')),
    sa.ForeignKeyConstraint(['ven_id'], ['ven_registrations.ven_id'], name=op.f('fk_ven_telemetry_ven_id_ven_registrations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ven_telemetry'))
    )
    with op.batch_alter_table('ven_telemetry', schema=None) as batch_op:
        batch_op.create_index('ix_ven_telemetry_asset_at', ['asset_id', 'measured_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ven_telemetry', schema=None) as batch_op:
        batch_op.drop_index('ix_ven_telemetry_asset_at')

    op.drop_table('ven_telemetry')
    with op.batch_alter_table('ven_resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ven_resources_ven_id'))

    op.drop_table('ven_resources')
    with op.batch_alter_table('openadr_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_openadr_events_ven_id'))
        batch_op.drop_index(batch_op.f('ix_openadr_events_status'))

    op.drop_table('openadr_events')
    with op.batch_alter_table('ven_registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ven_registrations_fsp_id'))

    op.drop_table('ven_registrations')
