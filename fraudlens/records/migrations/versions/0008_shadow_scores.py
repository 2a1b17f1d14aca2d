"""Challenger scores in PostgreSQL: the ``shadow_scores`` table.

Shadow scoring (the challenger scoring the champion's traffic) wrote Parquet
files on each scoring pod's disk, lost with the pod and split across
replicas. With ``records.decision_sink=kafka`` the scorers publish them to the
shadow-scores topic and the records sink stores them here, the same way as
decisions: keyed by (transaction_id, challenger_version), inserted with ``ON
CONFLICT DO NOTHING``, so a redelivery stores nothing twice.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_scores",
        sa.Column("transaction_id", sa.String(length=128), nullable=False),
        sa.Column("challenger_version", sa.String(length=64), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("champion_version", sa.String(length=64), nullable=False),
        sa.Column("champion_score", sa.Float(), nullable=True),
        sa.Column("champion_decision", sa.String(length=16), nullable=False),
        sa.Column("challenger_score", sa.Float(), nullable=False),
        sa.Column("challenger_decision", sa.String(length=16), nullable=False),
        sa.Column("agree", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "champion_decision IN ('approve', 'review', 'decline')",
            name=op.f("ck_shadow_scores_champion_decision"),
        ),
        sa.CheckConstraint(
            "challenger_decision IN ('approve', 'review', 'decline')",
            name=op.f("ck_shadow_scores_challenger_decision"),
        ),
        sa.PrimaryKeyConstraint(
            "transaction_id", "challenger_version", name=op.f("pk_shadow_scores")
        ),
    )
    op.create_index(op.f("ix_shadow_scores_event_time"), "shadow_scores", ["event_time"])


def downgrade() -> None:
    op.drop_index(op.f("ix_shadow_scores_event_time"), table_name="shadow_scores")
    op.drop_table("shadow_scores")
