"""triage heartbeat

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

A heartbeat column on reports, stamped while a worker triages one, so the sweeper rescues a
report whose worker died within a minute instead of after the fixed stale limit (issue 16).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("triage_heartbeat_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("triage_heartbeat_at")
