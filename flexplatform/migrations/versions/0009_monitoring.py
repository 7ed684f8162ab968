"""monitoring: flags with evidence, their runs, failed authentications (hashed key
prefix only) and performance ratings per asset and FSP

Revision ID: 0009
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import flexplatform.db

revision = '0009'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auth_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('prefix_hash', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_failures'))
    )
    with op.batch_alter_table('auth_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_failures_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_failures_prefix_hash'), ['prefix_hash'], unique=False)

    op.create_table('monitoring_flags',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('subject_kind', sa.String(length=12), nullable=False),
    sa.Column('subject_id', sa.String(length=80), nullable=False),
    sa.Column('fsp_id', sa.Uuid(), nullable=True),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('window_start', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('detected_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_flags')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_monitoring_flags_fingerprint'))
    )
    with op.batch_alter_table('monitoring_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_flags_fsp_id'), ['fsp_id'], unique=False)
        batch_op.create_index('ix_monitoring_flags_rule_detected', ['rule', 'detected_at'], unique=False)

    op.create_table('monitoring_runs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('trigger', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('requested_by', sa.Uuid(), nullable=True),
    sa.Column('window_start', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('flags_raised', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=2000), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', flexplatform.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['requested_by'], ['participants.id'], name=op.f('fk_monitoring_runs_requested_by_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_runs'))
    )
    with op.batch_alter_table('monitoring_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_runs_status'), ['status'], unique=False)

    op.create_table('ratings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subject_kind', sa.String(length=8), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('fsp_id', sa.Uuid(), nullable=False),
    sa.Column('window_start', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('availability', sa.Float(), nullable=True),
    sa.Column('delivery', sa.Float(), nullable=True),
    sa.Column('response', sa.Float(), nullable=True),
    sa.Column('median_ack_s', sa.Float(), nullable=True),
    sa.Column('disputes', sa.Integer(), nullable=False),
    sa.Column('contracted_periods', sa.Integer(), nullable=False),
    sa.Column('instructed_periods', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('reliability', sa.Float(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('computed_at', flexplatform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['fsp_id'], ['participants.id'], name=op.f('fk_ratings_fsp_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
    sa.UniqueConstraint('subject_kind', 'subject_id', name=op.f('uq_ratings_subject_kind'))
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_fsp_id'), ['fsp_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_fsp_id'))

    op.drop_table('ratings')
    with op.batch_alter_table('monitoring_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitoring_runs_status'))

    op.drop_table('monitoring_runs')
    with op.batch_alter_table('monitoring_flags', schema=None) as batch_op:
        batch_op.drop_index('ix_monitoring_flags_rule_detected')
        batch_op.drop_index(batch_op.f('ix_monitoring_flags_fsp_id'))

    op.drop_table('monitoring_flags')
    with op.batch_alter_table('auth_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_failures_prefix_hash'))
        batch_op.drop_index(batch_op.f('ix_auth_failures_at'))

    op.drop_table('auth_failures')
