"""PostgreSQL, the system of record: tables, migrations, engine and repositories.

Kafka stays the transport and files under DATA_DIR are caches; what must
survive a pod restart and be shared by replicas (decisions, labels, the audit
chain, rules, drift checks, jobs, promotions, cases, shadow scores) lives here. The
Kafka -> PostgreSQL decision sink is ``fraudlens.records.sink`` (not imported
here: it pulls in the scoring package).
"""

from __future__ import annotations

from fraudlens.records.audit import PgAuditLog, verify_chain
from fraudlens.records.cases import add_case_event, open_case, set_case_status
from fraudlens.records.decisions import (
    count_decisions,
    decision_ids,
    decision_row,
    decisions_for_card,
    upsert_decisions,
)
from fraudlens.records.engine import (
    database_url,
    engine_from_settings,
    make_engine,
    records_engine,
    sqlalchemy_url,
)
from fraudlens.records.labels import LabelRecord, add_labels, latest_labels
from fraudlens.records.migrate import (
    RecordsStatus,
    current_revision,
    head_revision,
    status,
    upgrade,
)
from fraudlens.records.operations import (
    add_rule_version,
    record_drift_check,
    record_promotion,
    upsert_retrain_job,
)

__all__ = [
    "LabelRecord",
    "PgAuditLog",
    "RecordsStatus",
    "add_case_event",
    "add_labels",
    "add_rule_version",
    "count_decisions",
    "current_revision",
    "database_url",
    "decision_ids",
    "decision_row",
    "decisions_for_card",
    "engine_from_settings",
    "head_revision",
    "latest_labels",
    "make_engine",
    "open_case",
    "records_engine",
    "record_drift_check",
    "record_promotion",
    "set_case_status",
    "sqlalchemy_url",
    "status",
    "upgrade",
    "upsert_decisions",
    "upsert_retrain_job",
    "verify_chain",
]
