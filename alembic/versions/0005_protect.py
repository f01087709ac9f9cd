"""protect: victims register hashes of their own photos

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Registrations made on /protect (a case number, a PIN hash, a category, sealed contact) and
each registration's claims on entries of the victim-submitted bank (issue 15).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import models.base


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('protect_registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('pin_hash', sa.String(length=255), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('consented_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('contact_ciphertext', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protect_registrations')),
    sa.UniqueConstraint('number', name=op.f('uq_protect_registrations_number'))
    )
    op.create_table('protect_hashes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('bank_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('signal_type', sa.String(length=16), nullable=False),
    sa.Column('image_index', sa.Integer(), nullable=False),
    sa.Column('added_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bank_entry_id'], ['bank_entries.id'], name=op.f('fk_protect_hashes_bank_entry_id_bank_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['protect_registrations.id'], name=op.f('fk_protect_hashes_registration_id_protect_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protect_hashes')),
    sa.UniqueConstraint('registration_id', 'bank_entry_id', name=op.f('uq_protect_hashes_registration_id_bank_entry_id'))
    )
    with op.batch_alter_table('protect_hashes', schema=None) as batch_op:
        batch_op.create_index('ix_protect_hashes_entry_active', ['bank_entry_id', 'withdrawn_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_protect_hashes_registration_id'), ['registration_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('protect_hashes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_protect_hashes_registration_id'))
        batch_op.drop_index('ix_protect_hashes_entry_active')

    op.drop_table('protect_hashes')
    op.drop_table('protect_registrations')
