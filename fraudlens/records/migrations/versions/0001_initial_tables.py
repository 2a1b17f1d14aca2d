"""Initial tables of the system of record: decisions, labels, audit, rules, jobs, cases.

Revision ID: 0001
Revises:
Create Date: 2026-12-06 00:14:56.397805
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prev", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_hash")),
    )
    op.create_index(op.f("ix_audit_action"), "audit", ["action"], unique=False)
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=128), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("card_token", sa.String(length=128), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rule_hits", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "decision IN ('approve', 'review', 'decline')", name=op.f("ck_decisions_decision")
        ),
        sa.CheckConstraint("source IN ('api', 'stream')", name=op.f("ck_decisions_source")),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_decisions")),
    )
    op.create_index(
        op.f("ix_decisions_card_token_event_time"),
        "decisions",
        ["card_token", "event_time"],
        unique=False,
    )
    op.create_index(op.f("ix_decisions_event_time"), "decisions", ["event_time"], unique=False)
    op.create_index(
        op.f("ix_decisions_transaction_id"), "decisions", ["transaction_id"], unique=False
    )
    op.create_table(
        "drift_checks",
        sa.Column("check_id", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("check_id", name=op.f("pk_drift_checks")),
    )
    op.create_index(
        op.f("ix_drift_checks_checked_at"), "drift_checks", ["checked_at"], unique=False
    )
    op.create_table(
        "labels",
        sa.Column("label_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.String(length=128), nullable=False),
        sa.Column("is_fraud", sa.Boolean(), nullable=False),
        sa.Column("label_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("author", sa.String(length=128), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source IN ('chargeback', 'customer_report', 'analyst', 'api', 'import')",
            name=op.f("ck_labels_source"),
        ),
        sa.PrimaryKeyConstraint("label_id", name=op.f("pk_labels")),
        sa.UniqueConstraint(
            "transaction_id",
            "label_time",
            "source",
            "is_fraud",
            name=op.f("uq_labels_transaction_id_label_time_source_is_fraud"),
        ),
    )
    op.create_index(op.f("ix_labels_label_time"), "labels", ["label_time"], unique=False)
    op.create_index(
        op.f("ix_labels_transaction_id_label_time_label_id"),
        "labels",
        ["transaction_id", "label_time", "label_id"],
        unique=False,
    )
    op.create_table(
        "promotions",
        sa.Column("promotion_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("alias", sa.String(length=32), nullable=False),
        sa.Column("previous_version", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column(
            "metrics", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("promotion_id", name=op.f("pk_promotions")),
    )
    op.create_index(
        op.f("ix_promotions_model_name_alias_created_at"),
        "promotions",
        ["model_name", "alias", "created_at"],
        unique=False,
    )
    op.create_table(
        "retrain_jobs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column(
            "reasons", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'running', 'succeeded', 'failed')",
            name=op.f("ck_retrain_jobs_state"),
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_retrain_jobs")),
    )
    op.create_index(op.f("ix_retrain_jobs_state"), "retrain_jobs", ["state"], unique=False)
    op.create_table(
        "rules",
        sa.Column("version", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("rule_set", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rules")),
    )
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=True),
        sa.Column("card_token", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("group_key", sa.String(length=128), nullable=True),
        sa.Column("assignee", sa.String(length=128), nullable=True),
        sa.Column(
            "opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'closed', 'escalated')", name=op.f("ck_cases_status")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.decision_id"], name=op.f("fk_cases_decision_id_decisions")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_card_token"), "cases", ["card_token"], unique=False)
    op.create_index(op.f("ix_cases_decision_id"), "cases", ["decision_id"], unique=False)
    op.create_index(op.f("ix_cases_group_key"), "cases", ["group_key"], unique=False)
    op.create_index(
        op.f("ix_cases_status_opened_at"), "cases", ["status", "opened_at"], unique=False
    )
    op.create_table(
        "case_events",
        sa.Column("event_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_case_events")),
    )
    op.create_index(
        op.f("ix_case_events_case_id_at"), "case_events", ["case_id", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_case_events_case_id_at"), table_name="case_events")
    op.drop_table("case_events")
    op.drop_index(op.f("ix_cases_status_opened_at"), table_name="cases")
    op.drop_index(op.f("ix_cases_group_key"), table_name="cases")
    op.drop_index(op.f("ix_cases_decision_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_card_token"), table_name="cases")
    op.drop_table("cases")
    op.drop_table("rules")
    op.drop_index(op.f("ix_retrain_jobs_state"), table_name="retrain_jobs")
    op.drop_table("retrain_jobs")
    op.drop_index(op.f("ix_promotions_model_name_alias_created_at"), table_name="promotions")
    op.drop_table("promotions")
    op.drop_index(op.f("ix_labels_transaction_id_label_time_label_id"), table_name="labels")
    op.drop_index(op.f("ix_labels_label_time"), table_name="labels")
    op.drop_table("labels")
    op.drop_index(op.f("ix_drift_checks_checked_at"), table_name="drift_checks")
    op.drop_table("drift_checks")
    op.drop_index(op.f("ix_decisions_transaction_id"), table_name="decisions")
    op.drop_index(op.f("ix_decisions_event_time"), table_name="decisions")
    op.drop_index(op.f("ix_decisions_card_token_event_time"), table_name="decisions")
    op.drop_table("decisions")
    op.drop_index(op.f("ix_audit_action"), table_name="audit")
    op.drop_table("audit")
