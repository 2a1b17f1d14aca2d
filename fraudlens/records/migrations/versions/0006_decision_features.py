"""A place for the sampled feature vectors: a nullable JSONB column on ``decisions``.

The decisions topic carries the feature vector of a deterministic sample of
decisions (``records.feature_sample_rate``); the sink stores it with the
decision, so the drift monitor reading PostgreSQL tests features, not only
the score.

A column rather than a ``decision_features`` table: there is at most one
vector per decision, written in the same idempotent ``INSERT ... ON CONFLICT
DO NOTHING`` as the decision (no second statement to keep in step on
redelivery), erased and pruned with its row by the existing card token and
retention rules, and read by the drift query without a join. A null costs one
bit of the row's null bitmap, so unsampled decisions cost nothing.

Adding a nullable column without a default changes only the catalog: no
table rewrite, and the lock is held for an instant on a large table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("features", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("decisions", "features")
