"""The retraining loop's state in PostgreSQL; the version a retraining job produced.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 01:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift_loop_state",
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("state", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model_name", name=op.f("pk_drift_loop_state")),
    )
    op.add_column("retrain_jobs", sa.Column("model_version", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("retrain_jobs", "model_version")
    op.drop_table("drift_loop_state")
