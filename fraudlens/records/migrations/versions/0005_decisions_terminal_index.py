"""Index the decisions by terminal and time, for the case page's terminal history.

The terminal is a key of the ``transaction`` JSON (0003), so without this
index ``fraudlens.workspace.queue.terminal_history`` reads every decision.
The index is on the very expression the query filters on
(``transaction ->> 'terminal_id'``), then ``event_time`` (its order).

Built inside the upgrade's transaction, so it blocks writes to ``decisions``
while it builds. On a large table an operator may build it first without
blocking (``CREATE INDEX CONCURRENTLY ix_decisions_terminal_id_event_time ON
decisions ((transaction ->> 'terminal_id'), event_time)``): the upgrade then
finds it and builds nothing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 12:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME = "ix_decisions_terminal_id_event_time"


def upgrade() -> None:
    op.create_index(
        NAME,
        "decisions",
        [sa.text("(transaction ->> 'terminal_id')"), "event_time"],
        unique=False,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="decisions")
