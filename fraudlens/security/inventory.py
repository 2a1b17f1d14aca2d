"""Data inventory as code: what personal data FraudLens keeps, where, why and how long.

The erasure and retention commands and the key rotation walk this list, and
``docs/security.md`` embeds the table rendered by ``inventory_markdown`` (a
unit test keeps the two in step). Paths are resolved from Settings, never at
import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fraudlens.settings import TOPIC_RETENTION_DAYS

if TYPE_CHECKING:
    from fraudlens.settings import Settings

DEFAULT_RETENTION_DAYS = 425
"""13 months of history (a full year of seasonality) plus a month for late labels."""

ENCRYPTED_FIELDS = ("customer_name", "customer_email", "ip_address", "device_id")
"""Columns that hold AES-GCM ciphertexts wherever a store lists them as encrypted."""

SUBJECT_COLUMNS = {
    "customer_id": "customer_ids",
    "card_token": "card_tokens",
    "transaction_id": "transaction_ids",
}
"""Columns that identify a data subject's rows, and the subject attribute they match."""


@dataclass(frozen=True)
class DataAsset:
    """One place personal data lives.

    Attributes:
        name: stable id, also the key in ``security.retention_days``.
        location: where it is, for people.
        personal_data: which personal (or pseudonymous) fields it holds.
        purpose: why it is kept (GDPR Art. 5(1)(b)).
        legal_basis: GDPR Art. 6 basis.
        protection: how it is protected at rest.
        erasure: how a person's data leaves it.
        retention_days: default age limit (None: governed elsewhere, see erasure).
        paths: Parquet roots this module can rewrite (None: another eraser's job).
        time_columns: candidate event-time columns for retention, in order.
        encrypted_columns: columns holding ciphertexts (rotated by ``keys rotate``).
        record_id_column: record id bound into each ciphertext's context.
        configured: reads the limit from other settings than
            ``security.retention_days`` (Kafka topics: ``kafka.*_retention_days``).
        table: the records database (PostgreSQL) table this asset is, pruned
            and erased by ``fraudlens.records.privacy`` (None: not a table).
    """

    name: str
    location: str
    personal_data: str
    purpose: str
    legal_basis: str
    protection: str
    erasure: str
    retention_days: int | None = DEFAULT_RETENTION_DAYS
    paths: Callable[[Settings], list[Path]] | None = None
    time_columns: tuple[str, ...] = ()
    encrypted_columns: tuple[str, ...] = field(default=())
    record_id_column: str = "transaction_id"
    configured: Callable[[Settings], int | None] | None = None
    table: str | None = None


def _topic_retention(settings: Settings) -> int:
    return max(settings.kafka.topic_retention_days().values())


def _offline(settings: Settings) -> list[Path]:
    return [settings.feast.offline_path or settings.data_dir / "feast" / "offline"]


_LEGIT = "legitimate interest in fraud prevention (Art. 6(1)(f), recital 47)"
_DEVICE_CODES = (
    "device and IP-network codes (unkeyed SHA-256 pseudonyms, never the values: "
    "see 'Device and IP codes')"
)

INVENTORY: tuple[DataAsset, ...] = (
    DataAsset(
        name="raw_history",
        location="DATA_DIR/sim, DATA_DIR/import (transactions.parquet, labels.parquet)",
        personal_data="customer_id, card_token, card_last4, device_id, ip_address, "
        "terminal location",
        purpose="training data and feature backfill",
        legal_basis=_LEGIT,
        protection="PAN tokenized at import; device/IP AES-GCM encrypted by the importer "
        "(simulated history is synthetic, in clear)",
        erasure="rows rewritten out (customer_id / card_token / transaction_id)",
        paths=lambda s: [s.data_dir / "sim", s.data_dir / "import"],
        time_columns=("event_time", "label_time"),
        encrypted_columns=ENCRYPTED_FIELDS,
    ),
    DataAsset(
        name="offline_store",
        location="Feast offline store (FEAST__OFFLINE_PATH, Parquet)",
        personal_data="card_token, per-card behaviour state (amounts, times, places, "
        f"{_DEVICE_CODES}), per-transaction feature rows (by transaction_id)",
        purpose="point-in-time training sets, drift references",
        legal_basis=_LEGIT,
        protection="no direct identifiers (card tokens); volume encryption",
        erasure="rows rewritten out (customer_id / card_token / transaction_id)",
        paths=_offline,
        time_columns=("state_ts", "txn_ts", "event_timestamp", "event_time"),
        encrypted_columns=ENCRYPTED_FIELDS,
    ),
    DataAsset(
        name="online_store",
        location="Feast online store (SQLite file or Redis)",
        personal_data="latest state per card_token (as in offline_store, with "
        f"{_DEVICE_CODES}) / customer_id",
        purpose="real-time scoring",
        legal_basis=_LEGIT,
        protection="Redis TLS + password; SQLite on an encrypted volume",
        erasure="the subject's card_token entity keys deleted (SQLite rows with secure_delete, "
        "Redis keys)",
        retention_days=None,
    ),
    DataAsset(
        name="feature_snapshots",
        location="stream feature job state snapshots (CHECKPOINT__URL, default "
        "DATA_DIR/checkpoints; a bucket on Kubernetes)",
        personal_data="card_token, per-card behaviour state of the last 31 days (amounts, "
        f"times, places, {_DEVICE_CODES}), transaction ids of the last max label delay",
        purpose="restart of the stream feature job from the topic tail (topics keep 7 days)",
        legal_basis=_LEGIT,
        protection="card tokens only, never the PAN (PAN-scanned in tests); volume or "
        "bucket encryption",
        erasure="replaced: the job keeps its CHECKPOINT__KEEP newest snapshots, written every "
        "CHECKPOINT__EVERY_SECONDS, and deletes older ones; the erasure command does not rewrite them yet: "
        "an erased card stays in them and in the running job's memory (restart with "
        "--no-snapshot after deleting them to drop it)",
        retention_days=None,
    ),
    DataAsset(
        name="label_store",
        location="DATA_DIR/labels (Parquet)",
        personal_data="transaction_id, outcome, encrypted customer name/e-mail",
        purpose="delayed-label features, monitoring, retraining",
        legal_basis=_LEGIT,
        protection="AES-GCM on ENCRYPTED_FIELDS; volume encryption",
        erasure="rows rewritten out by the subject's transaction ids",
        paths=lambda s: [s.data_dir / "labels"],
        time_columns=("label_time",),
        encrypted_columns=ENCRYPTED_FIELDS,
    ),
    DataAsset(
        name="decision_log",
        location="DATA_DIR/decisions/date=YYYY-MM-DD (Parquet)",
        personal_data="transaction_id, card_token, score, decision, reasons, feature values",
        purpose="audit of automated decisions (GDPR Art. 22), monitoring, drift",
        legal_basis=_LEGIT,
        protection="no direct identifiers (card tokens); volume encryption",
        erasure="rows rewritten out (customer_id / card_token / transaction_id)",
        paths=lambda s: [s.data_dir / "decisions"],
        time_columns=("event_time", "scored_at", "decision_time"),
        encrypted_columns=ENCRYPTED_FIELDS,
    ),
    DataAsset(
        name="shadow_log",
        location="DATA_DIR/shadow/date=YYYY-MM-DD (Parquet; not written with "
        "records.decision_sink=kafka, as in production)",
        personal_data="transaction_id, champion and challenger scores and decisions",
        purpose="champion/challenger comparison before promotion",
        legal_basis=_LEGIT,
        protection="no direct identifiers; volume encryption",
        erasure="rows rewritten out (card_token / transaction_id)",
        retention_days=90,
        paths=lambda s: [s.data_dir / "shadow"],
        time_columns=("event_time", "scored_at"),
    ),
    DataAsset(
        name="kafka_topics",
        location="topics transactions, labels, decisions, dead-letter, shadow-scores",
        personal_data="the events above in transit (card_token and card_last4, never the PAN)",
        purpose="decoupling ingest, features and scoring",
        legal_basis=_LEGIT,
        protection="SASL_SSL; broker disk encryption",
        erasure=f"expiry: retention.ms of {TOPIC_RETENTION_DAYS} days at most, set on each "
        "topic by `ensure_topics` from KAFKA__*_RETENTION_DAYS (Kafka cannot delete in place)",
        retention_days=TOPIC_RETENTION_DAYS,
        configured=_topic_retention,
    ),
    DataAsset(
        name="decision_records",
        location="PostgreSQL table decisions (records.database_url, or the embedded server "
        "under DATA_DIR/postgres)",
        personal_data="decision_id, transaction_id, card_token, card_last4, score, decision, "
        "reasons, feature values of sampled decisions (column features: derived numbers, "
        "no card data)",
        purpose="audit of automated decisions (GDPR Art. 22), drift and label monitoring "
        "shared by every replica",
        legal_basis=_LEGIT,
        protection="no direct identifiers (card tokens); TLS to the database; disk encryption",
        erasure="rows deleted by card_token / transaction_id (with their cases; the "
        "feature vector is a column of the row and goes with it)",
        time_columns=("event_time",),
        table="decisions",
    ),
    DataAsset(
        name="shadow_records",
        location="PostgreSQL table shadow_scores (from the shadow-scores topic)",
        personal_data="transaction_id, champion and challenger scores and decisions",
        purpose="champion/challenger comparison before promotion, across every replica",
        legal_basis=_LEGIT,
        protection="no direct identifiers; TLS to the database; disk encryption",
        erasure="rows deleted by transaction_id (the subject's, and those of the "
        "decisions on their cards)",
        retention_days=90,
        time_columns=("event_time",),
        table="shadow_scores",
    ),
    DataAsset(
        name="label_records",
        location="PostgreSQL table labels",
        personal_data="transaction_id, outcome, label source and author",
        purpose="matured-label monitoring, retraining, analyst corrections",
        legal_basis=_LEGIT,
        protection="no direct identifiers; TLS to the database; disk encryption",
        erasure="rows deleted by the subject's transaction ids",
        time_columns=("label_time",),
        table="labels",
    ),
    DataAsset(
        name="case_records",
        location="PostgreSQL tables cases, case_events",
        personal_data="card_token, decision_id, analyst notes and actions",
        purpose="analyst case work on suspicious decisions",
        legal_basis=_LEGIT,
        protection="no direct identifiers (card tokens); TLS to the database; disk encryption",
        erasure="cases of the subject's cards or decisions deleted with their events "
        "(retention: closed cases only, by closed_at)",
        time_columns=("closed_at",),
        table="cases",
    ),
    DataAsset(
        name="rule_records",
        location="PostgreSQL table rules (serve.rules_store=postgres), every version",
        personal_data="card tokens on block and allow lists, author ids",
        purpose="live decision rules, and the history of rule changes",
        legal_basis=_LEGIT,
        protection="no direct identifiers (card tokens); TLS to the database; disk encryption",
        erasure="not rewritten: a token leaves the live lists by a new version "
        "(PUT /v1/rules); older versions are the record of rule changes",
        retention_days=None,
    ),
    DataAsset(
        name="mlflow_artifacts",
        location="MLflow runs: evaluation reports, drift reference samples",
        personal_data="feature values only: no customer_id, no device/IP (data minimisation)",
        purpose="model lineage and drift reference",
        legal_basis=_LEGIT,
        protection="no direct identifiers by construction; artifact store encryption",
        erasure="none needed while they hold no identifiers (confirm with the PAN scan)",
        retention_days=None,
    ),
    DataAsset(
        name="audit_log",
        location="SECURITY__AUDIT_LOG_PATH (JSON lines, hash-chained), or the PostgreSQL "
        "table audit when records.database_url is set",
        personal_data="actor ids (API key id / token subject); keyed subject refs, no names",
        purpose="accountability (GDPR Art. 5(2), PCI DSS 10)",
        legal_basis="legal obligation (Art. 6(1)(c)); kept under Art. 17(3)(b)",
        protection="append-only, HMAC chain, file lock",
        erasure="not erased: holds keyed references only, never the customer id",
        retention_days=None,
    ),
    DataAsset(
        name="staff_access",
        location="PostgreSQL tables api_keys and sessions (the workspace's keys and sign-ins)",
        personal_data="staff names given to keys, key ids, actor ids, sign-in and last-use "
        "times; keys and session ids only as SHA-256",
        purpose="who may score, review and administer; accountability of staff actions",
        legal_basis=_LEGIT,
        protection="hashes only, never a key or session id; TLS to the database",
        erasure="an admin revokes the key in the workspace; expired sessions can be deleted; "
        "rows are kept while the audit chain names their actor",
        retention_days=None,
    ),
)


def asset(name: str) -> DataAsset:
    """Return the inventory entry called ``name``."""
    for item in INVENTORY:
        if item.name == name:
            return item
    raise KeyError(name)


def retention_for(settings: Settings, item: DataAsset) -> int | None:
    """Days ``item`` is kept.

    Its own settings if it has some (Kafka topics), else the
    ``security.retention_days`` override, else the inventory default.
    """
    if item.configured is not None:
        return item.configured(settings)
    return settings.security.retention_days.get(item.name, item.retention_days)


def inventory_markdown() -> str:
    """The inventory as a Markdown table (embedded in docs/security.md)."""
    rows = [
        "| store | where | personal data | purpose | legal basis | kept (days) "
        "| protection | erasure |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in INVENTORY:
        days = str(a.retention_days) if a.retention_days is not None else "see erasure"
        cells = (a.name, a.location, a.personal_data, a.purpose, a.legal_basis, days)
        rows.append("| " + " | ".join((*cells, a.protection, a.erasure)) + " |")
    return "\n".join(rows) + "\n"
