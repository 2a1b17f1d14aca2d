"""The drift check's HTML report with its row: a nullable text column on ``drift_checks``.

With a records database configured, the drift monitor keeps the page it
renders for a check (verdict, tests table, distribution plots as embedded
PNGs) in the check's row instead of under ``DATA_DIR``, an ``emptyDir`` on
Kubernetes that goes with the pod of the scheduled job. ``fraudlens drift
report`` reads it back.

A column rather than a table: one page per check, written in the same
statement as the check and never alone. PostgreSQL compresses a long text
value and moves it out of the row (TOAST), so the queries on the check's
figures do not read the pages. Null: a check stored before this revision,
or one whose page stayed a file (no configured database).

Adding a nullable column without a default changes only the catalog: no
table rewrite.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("drift_checks", sa.Column("report_html", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("drift_checks", "report_html")
