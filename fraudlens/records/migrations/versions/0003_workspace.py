"""The analyst workspace: transaction facts on decisions, case verdicts, sign-in sessions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "decisions",
        sa.Column("transaction", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column("cases", sa.Column("resolution", sa.String(length=16), nullable=True))
    op.add_column("cases", sa.Column("resolved_by", sa.String(length=128), nullable=True))
    op.create_check_constraint(
        op.f("ck_cases_resolution"), "cases", "resolution IN ('fraud', 'legitimate')"
    )
    op.create_table(
        "sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("roles", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("session_hash", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_expires_at"), "sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sessions_expires_at"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_constraint(op.f("ck_cases_resolution"), "cases", type_="check")
    op.drop_column("cases", "resolved_by")
    op.drop_column("cases", "resolution")
    op.drop_column("decisions", "transaction")
