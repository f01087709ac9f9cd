"""cases, preservation holds, retention, police requests

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

Cases for law-enforcement liaisons (issue 11): cases, their reports and notes, preservation
holds on media, what retention shredded, and police requests on the clock.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import models.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('case_type', sa.String(length=32), nullable=False),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('assigned_liaison_id', sa.Integer(), nullable=True),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('referral_due_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('referred_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('referred_by_id', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_reason', sa.Text(), nullable=True),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_cases_acknowledged_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['assigned_liaison_id'], ['users.id'], name=op.f('fk_cases_assigned_liaison_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_cases_closed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_cases_opened_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['referred_by_id'], ['users.id'], name=op.f('fk_cases_referred_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('number', name=op.f('uq_cases_number')),
    sa.UniqueConstraint('year', 'sequence', name=op.f('uq_cases_year_sequence'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_assigned_liaison_id'), ['assigned_liaison_id'], unique=False)
        batch_op.create_index('ix_cases_status_opened', ['status', 'opened_at'], unique=False)

    op.create_table('case_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_case_notes_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_notes_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notes'))
    )
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_notes_case_id'), ['case_id'], unique=False)

    op.create_table('case_reports',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('added_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_case_reports_added_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_reports_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_case_reports_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'report_id', name=op.f('pk_case_reports'))
    )
    with op.batch_alter_table('case_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_reports_report_id'), ['report_id'], unique=False)

    op.create_table('police_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('agency', sa.String(length=255), nullable=False),
    sa.Column('officer', sa.String(length=255), nullable=True),
    sa.Column('their_reference', sa.String(length=255), nullable=True),
    sa.Column('legal_basis', sa.String(length=255), nullable=True),
    sa.Column('received_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('logged_by_id', sa.Integer(), nullable=True),
    sa.Column('logged_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_police_requests_answered_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_police_requests_case_id_cases'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['logged_by_id'], ['users.id'], name=op.f('fk_police_requests_logged_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_police_requests'))
    )
    with op.batch_alter_table('police_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_police_requests_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_police_requests_status_due', ['status', 'due_at'], unique=False)

    op.create_table('media_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('media_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('placed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('extended_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_media_holds_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['media_id'], ['media.id'], name=op.f('fk_media_holds_media_id_media'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['placed_by_id'], ['users.id'], name=op.f('fk_media_holds_placed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['released_by_id'], ['users.id'], name=op.f('fk_media_holds_released_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_media_holds_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_holds'))
    )
    with op.batch_alter_table('media_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_holds_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_media_holds_media_active', ['media_id', 'released_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_holds_report_id'), ['report_id'], unique=False)

    op.create_table('media_shreds',
    sa.Column('media_id', sa.Integer(), nullable=False),
    sa.Column('storage_key', sa.String(length=128), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('shredded_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('object_destroyed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['media_id'], ['media.id'], name=op.f('fk_media_shreds_media_id_media'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('media_id', name=op.f('pk_media_shreds'))
    )
    with op.batch_alter_table('media_shreds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_shreds_object_destroyed_at'), ['object_destroyed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_shreds_storage_key'), ['storage_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('media_shreds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_shreds_storage_key'))
        batch_op.drop_index(batch_op.f('ix_media_shreds_object_destroyed_at'))

    op.drop_table('media_shreds')
    with op.batch_alter_table('media_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_holds_report_id'))
        batch_op.drop_index('ix_media_holds_media_active')
        batch_op.drop_index(batch_op.f('ix_media_holds_case_id'))

    op.drop_table('media_holds')
    with op.batch_alter_table('police_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_police_requests_status_due')
        batch_op.drop_index(batch_op.f('ix_police_requests_case_id'))

    op.drop_table('police_requests')
    with op.batch_alter_table('case_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_reports_report_id'))

    op.drop_table('case_reports')
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_notes_case_id'))

    op.drop_table('case_notes')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_status_opened')
        batch_op.drop_index(batch_op.f('ix_cases_assigned_liaison_id'))

    op.drop_table('cases')
