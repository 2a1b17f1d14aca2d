from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudlens.errors import DataError, ValidationError
from fraudlens.kafka.topics import topic_configs
from fraudlens.security.audit import verify
from fraudlens.security.encryption import field_context, keyring_from_settings
from fraudlens.security.inventory import INVENTORY, asset, inventory_markdown, retention_for
from fraudlens.security.privacy import (
    ErasureSubject,
    StoreErasure,
    default_erasers,
    erase_customer,
    parquet_erasers,
)
from fraudlens.security.retention import apply_retention
from fraudlens.settings import KafkaSettings, Settings

NOW = datetime(2026, 9, 1, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def _ts(values: list[datetime], tz: str | None = "UTC") -> pa.Array:
    return pa.array(values, pa.timestamp("us", tz))


@pytest.fixture
def stores(tmp_path: Path) -> Settings:
    """Three customers' data spread over the raw history, offline store, labels, decisions."""
    settings = Settings(data_dir=tmp_path)
    ring = keyring_from_settings(settings)
    rows = [  # (transaction, customer, card, days ago)
        ("t1", "C1", "tok_k1_" + "a" * 32, 10),
        ("t2", "C1", "tok_k1_" + "b" * 32, 500),
        ("t3", "C2", "tok_k1_" + "c" * 32, 10),
        ("t4", "C3", "tok_k1_" + "d" * 32, 600),
        ("t5", "C2", "tok_k1_" + "c" * 32, 1),
    ]
    times = [NOW - timedelta(days=r[3]) for r in rows]
    for folder in ("sim", "labels", "decisions", "feast/offline"):
        (tmp_path / folder).mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "transaction_id": [r[0] for r in rows],
                "customer_id": [r[1] for r in rows],
                "card_token": [r[2] for r in rows],
                "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
                "event_time": _ts(times),
            }
        ),
        tmp_path / "sim" / "transactions.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "transaction_id": ["t1", "t4"],
                "is_fraud": [True, True],
                "label_time": _ts([times[0], times[3]]),
            }
        ),
        tmp_path / "sim" / "labels.parquet",
    )
    emails = {"t1": "c1@example.org", "t3": "c2@example.org"}
    pq.write_table(
        pa.table(
            {
                "transaction_id": list(emails),
                "label_time": _ts([times[0], times[2]]),
                "customer_email": [
                    ring.encrypt(e, field_context("label_store", "customer_email", t))
                    for t, e in emails.items()
                ],
            }
        ),
        tmp_path / "labels" / "part-0.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "transaction_id": [r[0] for r in rows],
                "card_token": [r[2] for r in rows],
                "score": [0.9, 0.1, 0.2, 0.3, 0.4],
                "decision_time": _ts([t.replace(tzinfo=None) for t in times], None),  # naive = UTC
            }
        ),
        tmp_path / "decisions" / "2026-06-01.parquet",
    )
    pq.write_table(  # card-level features: no customer id, found through the card tokens
        pa.table({"card_token": sorted({r[2] for r in rows}), "tx_count_7d": [1, 2, 3, 4]}),
        tmp_path / "feast" / "offline" / "card_features.parquet",
    )
    return settings


def _col(path: Path, name: str) -> list[object]:
    return pq.read_table(path).column(name).to_pylist()


def test_erase_customer_everywhere(stores: Settings) -> None:
    d = stores.data_dir
    report = erase_customer(stores, "C1", actor="api_key:admin01")
    assert report.card_tokens == 2 and report.transactions == 2
    assert _col(d / "sim" / "transactions.parquet", "transaction_id") == ["t3", "t4", "t5"]
    assert _col(d / "sim" / "transactions.parquet", "amount") == [3.0, 4.0, 5.0]  # others intact
    assert _col(d / "sim" / "labels.parquet", "transaction_id") == ["t4"]  # found via t1
    assert _col(d / "labels" / "part-0.parquet", "transaction_id") == ["t3"]
    assert _col(d / "decisions" / "2026-06-01.parquet", "transaction_id") == ["t3", "t4", "t5"]
    assert len(_col(d / "feast" / "offline" / "card_features.parquet", "card_token")) == 2
    assert report.rows_removed == 2 + 1 + 1 + 2 + 2
    assert default_erasers(stores)[-1].name == "online_store"
    # No feature repo applied here: the online store is checked and has nothing.
    assert report.pending == [] and report.complete
    assert next(r for r in report.stores if r.store == "online_store").rows_removed == 0
    for path in d.rglob("*.parquet"):  # no trace of the card tokens or the customer id
        data = path.read_bytes()
        assert b"a" * 32 not in data and b"b" * 32 not in data
        # A two-byte id can turn up by chance in compressed bytes: look for it as a value.
        values = pq.read_table(path).to_pylist()
        assert not [row for row in values if "C1" in row.values()], path

    audit_path = d / "audit" / "audit.jsonl"
    assert verify(audit_path).ok
    entry = json.loads(audit_path.read_text().splitlines()[-1])
    assert entry["action"] == "privacy.erased" and entry["actor"] == "api_key:admin01"
    assert entry["target"] == report.subject_ref and "C1" not in audit_path.read_text()
    assert entry["hash"] == report.audit_hash

    again = erase_customer(stores, "C1")
    assert again.rows_removed == 0 and again.subject_ref == report.subject_ref
    left_out = erase_customer(stores, "C2", erasers=parquet_erasers(stores))
    assert left_out.pending == ["online_store"] and not left_out.complete


def test_erasers_are_pluggable(stores: Settings) -> None:
    seen: list[ErasureSubject] = []

    class OnlineStoreEraser:
        name = "online_store"

        def discover(self, subject: ErasureSubject) -> None:
            subject.card_tokens.add("tok_k1_" + "e" * 32)

        def erase(self, subject: ErasureSubject) -> StoreErasure:
            seen.append(subject)
            return StoreErasure(self.name, rows_removed=len(subject.card_tokens))

    report = erase_customer(stores, "C2", erasers=[*parquet_erasers(stores), OnlineStoreEraser()])
    assert report.pending == []  # the online store now has its eraser
    online = next(r for r in report.stores if r.store == "online_store")
    assert online.rows_removed == 2  # C2's card (found in Parquet) + the one it discovered
    assert seen[0].customer_id == "C2" and seen[0].transaction_ids == {"t3", "t5"}


def test_a_failing_store_is_recorded_and_a_rerun_finishes(stores: Settings) -> None:
    class BrokenStore:
        name = "online_store"
        broken = True

        def discover(self, subject: ErasureSubject) -> None:
            pass

        def erase(self, subject: ErasureSubject) -> StoreErasure:
            if self.broken:
                raise DataError("redis unreachable")
            return StoreErasure(self.name, rows_removed=len(subject.card_tokens))

    broken = BrokenStore()
    report = erase_customer(stores, "C1", erasers=[*parquet_erasers(stores), broken])
    assert not report.complete and report.failed == {"online_store": "DataError: redis unreachable"}
    # The raw history linked C1 to its cards and transactions: kept for the rerun.
    assert report.deferred == ["raw_history"]
    assert {s.store: s.rows_removed for s in report.stores} == {
        "offline_store": 2,
        "label_store": 1,
        "decision_log": 2,
        "shadow_log": 0,
    }
    entry = json.loads((stores.data_dir / "audit" / "audit.jsonl").read_text().splitlines()[-1])
    assert entry["details"]["failed"] == ["online_store"]
    assert entry["details"]["deferred"] == ["raw_history"]

    broken.broken = False
    again = erase_customer(stores, "C1", erasers=[*parquet_erasers(stores), broken])
    assert again.complete and again.card_tokens == 2  # the links were still there
    online = next(s for s in again.stores if s.store == "online_store")
    assert online.rows_removed == 2
    assert _col(stores.data_dir / "sim" / "transactions.parquet", "customer_id") == [
        "C2",
        "C3",
        "C2",
    ]


@pytest.mark.parametrize("bad", ["", "../etc", "a b", "x" * 65])
def test_bad_customer_ids_are_refused(stores: Settings, bad: str) -> None:
    with pytest.raises(ValidationError):
        erase_customer(stores, bad)


def test_retention(stores: Settings) -> None:
    d = stores.data_dir
    settings = stores.model_copy(
        update={
            "security": stores.security.model_copy(update={"retention_days": {"decision_log": 5}})
        }
    )
    report = apply_retention(settings, now=NOW)
    # raw history keeps 425 days: t2 (500 days) and t4 (600 days) go; so does t4's label.
    assert _col(d / "sim" / "transactions.parquet", "transaction_id") == ["t1", "t3", "t5"]
    assert _col(d / "sim" / "labels.parquet", "transaction_id") == ["t1"]
    assert _col(d / "decisions" / "2026-06-01.parquet", "transaction_id") == ["t5"]  # 5 days
    assert report.rows_removed == {
        "raw_history": 3,
        "offline_store": 0,
        "label_store": 0,
        "decision_log": 4,
        "shadow_log": 0,
    }
    assert any("card_features.parquet" in s for s in report.skipped)  # no timestamp column
    entry = json.loads((d / "audit" / "audit.jsonl").read_text().splitlines()[-1])
    assert (
        entry["action"] == "privacy.retention"
        and entry["details"]["rows_removed"]["decision_log"] == 4
    )
    assert apply_retention(settings, now=NOW).rows_removed["decision_log"] == 0


def test_inventory_is_complete_and_in_the_docs() -> None:
    names = [a.name for a in INVENTORY]
    assert len(names) == len(set(names))
    for item in INVENTORY:
        assert item.personal_data and item.purpose and item.legal_basis and item.erasure
        if item.paths is not None:
            assert item.time_columns, item.name
    assert inventory_markdown() in DOCS.read_text(), (
        "run: python -c 'from fraudlens.security.inventory import inventory_markdown as m; print(m())'"
    )


def test_topic_retention_is_one_setting_read_by_topics_and_inventory() -> None:
    kafka = KafkaSettings(labels_retention_days=3, dead_letter_topic="dlq")
    assert topic_configs(kafka) == {
        "transactions": {"retention.ms": str(7 * 86_400_000)},
        "labels": {"retention.ms": str(3 * 86_400_000)},
        "decisions": {"retention.ms": str(7 * 86_400_000)},
        "dlq": {"retention.ms": str(7 * 86_400_000)},
        "shadow-scores": {"retention.ms": str(7 * 86_400_000)},
    }
    topics = asset("kafka_topics")
    assert topics.retention_days == KafkaSettings().transactions_retention_days == 7
    assert retention_for(Settings(), topics) == 7
    longer = Settings(kafka=KafkaSettings(decisions_retention_days=9))
    assert retention_for(longer, topics) == 9  # the inventory reports the longest topic
