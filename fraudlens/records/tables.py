"""The tables of the system of record (SQLAlchemy Core).

The Alembic migrations under ``migrations/versions`` create exactly these;
``tests/integration/records`` checks that the migrated database and this
metadata agree, so a column added here without a migration fails a test.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

# Stable constraint names, so later migrations can refer to them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


decisions = Table(
    "decisions",
    metadata,
    Column("decision_id", String(64), primary_key=True),
    Column("transaction_id", String(128), nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("card_token", String(128), nullable=False),
    Column("score", Float, nullable=True),  # None: degraded, no model score
    Column("decision", String(16), nullable=False),
    Column("reasons", JSONB, nullable=False),
    Column("rule_hits", JSONB, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("degraded", Boolean, nullable=False),
    Column("source", String(16), nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=True),
    _created_at(),
    # 0003: the transaction's non-card facts (amount, terminal, merchant, ...) for the case page.
    Column("transaction", JSONB, nullable=True),
    # 0006: the feature vector of a sampled decision (records.feature_sample_rate), for drift.
    Column("features", JSONB(none_as_null=True), nullable=True),
    CheckConstraint("decision IN ('approve', 'review', 'decline')", name="decision"),
    CheckConstraint("source IN ('api', 'stream')", name="source"),
    Index(None, "transaction_id"),
    Index(None, "card_token", "event_time"),
    Index(None, "event_time"),
)

# 0005: the case page's terminal history filters on a key of the transaction JSON.
Index(
    "ix_decisions_terminal_id_event_time",
    decisions.c.transaction["terminal_id"].astext,
    decisions.c.event_time,
)

# 0008: the challenger's score of each transaction scored in shadow, beside the
# champion's (one row per transaction and challenger version: a redelivery is a no-op).
shadow_scores = Table(
    "shadow_scores",
    metadata,
    Column("transaction_id", String(128), primary_key=True),
    Column("challenger_version", String(64), primary_key=True),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    Column("champion_version", String(64), nullable=False),
    Column("champion_score", Float, nullable=True),  # None: degraded, no model score
    Column("champion_decision", String(16), nullable=False),
    Column("challenger_score", Float, nullable=False),
    Column("challenger_decision", String(16), nullable=False),
    Column("agree", Boolean, nullable=False),
    _created_at(),
    CheckConstraint(
        "champion_decision IN ('approve', 'review', 'decline')", name="champion_decision"
    ),
    CheckConstraint(
        "challenger_decision IN ('approve', 'review', 'decline')", name="challenger_decision"
    ),
    Index(None, "event_time"),
)

labels = Table(
    "labels",
    metadata,
    Column("label_id", BigInteger, primary_key=True, autoincrement=True),
    Column("transaction_id", String(128), nullable=False),
    Column("is_fraud", Boolean, nullable=False),
    Column("label_time", DateTime(timezone=True), nullable=False),
    Column("source", String(32), nullable=False),
    Column("author", String(128), nullable=False, server_default=""),
    _created_at(),
    CheckConstraint(
        "source IN ('chargeback', 'customer_report', 'analyst', 'api', 'import')", name="source"
    ),
    # The same label delivered twice (at-least-once transport) is stored once.
    UniqueConstraint("transaction_id", "label_time", "source", "is_fraud"),
    # "Latest label wins" reads the newest label of each transaction through this index.
    Index(None, "transaction_id", "label_time", "label_id"),
    Index(None, "label_time"),
)

# Append-only hash chain: ``body`` is the canonical JSON that was hashed; the
# other columns repeat its fields so they can be queried (verify compares them).
audit = Table(
    "audit",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("details", JSONB, nullable=False),
    Column("prev", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Index(None, "action"),
)

rules = Table(
    "rules",
    metadata,
    Column("version", BigInteger, primary_key=True, autoincrement=True),
    Column("rule_set", JSONB, nullable=False),
    Column("author", String(128), nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    _created_at(),
)

drift_checks = Table(
    "drift_checks",
    metadata,
    Column("check_id", String(64), primary_key=True),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("drifted", Boolean, nullable=False),
    Column("report", JSONB, nullable=False),
    _created_at(),
    Index(None, "checked_at"),
    # 0007: the check's HTML page, when it is kept here rather than under DATA_DIR.
    Column("report_html", Text, nullable=True),
)

retrain_jobs = Table(
    "retrain_jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("outcome", String(32), nullable=True),
    Column("reasons", JSONB, nullable=False, server_default="[]"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("state IN ('pending', 'running', 'succeeded', 'failed')", name="state"),
    Index(None, "state"),
    Column("model_version", String(64), nullable=True),  # 0002: the version it trained
)

# 0002: the retraining loop's memory (drift count, last launch, running job,
# AP baselines, history), one row per registered model.
drift_loop_state = Table(
    "drift_loop_state",
    metadata,
    Column("model_name", String(128), primary_key=True),
    Column("state", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

promotions = Table(
    "promotions",
    metadata,
    Column("promotion_id", BigInteger, primary_key=True, autoincrement=True),
    Column("model_name", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("alias", String(32), nullable=False),
    Column("previous_version", String(64), nullable=True),
    Column("actor", String(128), nullable=False),
    Column("metrics", JSONB, nullable=False, server_default="{}"),
    _created_at(),
    Index(None, "model_name", "alias", "created_at"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("decision_id", String(64), ForeignKey("decisions.decision_id"), nullable=True),
    Column("card_token", String(128), nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("group_key", String(128), nullable=True),
    Column("assignee", String(128), nullable=True),
    Column("opened_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("status IN ('open', 'closed', 'escalated')", name="status"),
    Index(None, "status", "opened_at"),
    # 0003: the analyst's verdict (the latest one), and who gave it.
    Column("resolution", String(16), nullable=True),
    Column("resolved_by", String(128), nullable=True),
    CheckConstraint("resolution IN ('fraud', 'legitimate')", name="resolution"),
    Index(None, "card_token"),
    Index(None, "group_key"),
    Index(None, "decision_id"),
)

case_events = Table(
    "case_events",
    metadata,
    Column("event_id", BigInteger, primary_key=True, autoincrement=True),
    Column("case_id", String(64), ForeignKey("cases.case_id"), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "case_id", "at"),
)

# 0003: workspace sign-in sessions, shared by every API replica. Only the
# SHA-256 of the cookie's session id is stored.
sessions = Table(
    "sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("actor", String(128), nullable=False),
    Column("roles", JSONB, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    _created_at(),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("signed_out_at", DateTime(timezone=True), nullable=True),
    Index(None, "expires_at"),
)

# 0004: API keys created by admins in the workspace. Only the SHA-256 of each
# key is stored (as for ``security.api_keys``); revoked keys stay listed.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("sha256", String(64), nullable=False),
    _created_at(),
    Column("created_by", String(128), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_by", String(128), nullable=True),
    CheckConstraint("role IN ('scorer', 'analyst', 'admin')", name="role"),
)
