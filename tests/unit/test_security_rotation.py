from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudlens.errors import DataError, EncryptionError
from fraudlens.security.audit import verify
from fraudlens.security.encryption import KeyRing, field_context, generate_key, key_id_of
from fraudlens.security.rotation import (
    EncryptedTable,
    rotate_keys,
    rotate_parquet_file,
    rotate_table,
    verify_rotation,
)
from fraudlens.settings import Settings

K1, K2 = b"\x01" * 32, b"\x02" * 32
SPEC = EncryptedTable("label_store", ("customer_email", "ip_address"))
N = 500


def _table(ring: KeyRing) -> tuple[pa.Table, list[str | None], list[str | None]]:
    ids = [f"t-{i}" for i in range(N)]
    emails: list[str | None] = [f"user{i}@example.org" if i % 7 else None for i in range(N)]
    ips: list[str | None] = [f"10.0.{i // 256}.{i % 256}" for i in range(N)]

    def enc(col: str, values: list[str | None]) -> list[str | None]:
        return [
            None if v is None else ring.encrypt(v, field_context("label_store", col, rid))
            for rid, v in zip(ids, values, strict=True)
        ]

    table = pa.table(
        {
            "transaction_id": ids,
            "is_fraud": [i % 3 == 0 for i in range(N)],
            "amount": [i * 1.5 for i in range(N)],
            "customer_email": enc("customer_email", emails),
            "ip_address": enc("ip_address", ips),
        }
    )
    return table, emails, ips


def _plain(ring: KeyRing, table: pa.Table, col: str) -> list[str | None]:
    ids = table.column("transaction_id").to_pylist()
    return [
        None if v is None else ring.decrypt(v, field_context("label_store", col, rid))
        for rid, v in zip(ids, table.column(col).to_pylist(), strict=True)
    ]


def test_rotation_keeps_every_row(tmp_path: Path) -> None:
    old_ring = KeyRing("k1", {"k1": K1})
    table, emails, ips = _table(old_ring)
    path = tmp_path / "labels.parquet"
    pq.write_table(table, path)

    ring = KeyRing("k2", {"k1": K1, "k2": K2})
    result = rotate_parquet_file(path, ring, SPEC)
    assert result.verified and result.rows == N
    assert result.reencrypted == sum(e is not None for e in emails) + N

    rotated = pq.read_table(path)
    assert rotated.num_rows == N
    assert rotated.select(["transaction_id", "is_fraud", "amount"]).equals(
        table.select(["transaction_id", "is_fraud", "amount"])
    )
    assert _plain(ring, rotated, "customer_email") == emails  # every row, nulls kept
    assert _plain(ring, rotated, "ip_address") == ips
    kids = {key_id_of(v) for v in rotated.column("ip_address").to_pylist()}
    assert kids == {"k2"}
    # The old key can now be retired: the new ring alone reads everything.
    assert _plain(KeyRing("k2", {"k2": K2}), rotated, "ip_address") == ips
    assert not list(tmp_path.glob(".*.tmp"))

    again = rotate_parquet_file(path, ring, SPEC)  # idempotent: nothing left to do
    assert again.reencrypted == 0 and again.already_current == result.reencrypted


def test_missing_old_key_aborts_without_touching_the_file(tmp_path: Path) -> None:
    table, _, _ = _table(KeyRing("k1", {"k1": K1}))
    path = tmp_path / "labels.parquet"
    pq.write_table(table, path)
    before = path.read_bytes()
    with pytest.raises(EncryptionError, match="unknown encryption key id 'k1'"):
        rotate_parquet_file(path, KeyRing("k2", {"k2": K2}), SPEC)
    assert path.read_bytes() == before


def test_failed_verification_keeps_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, _, _ = _table(KeyRing("k1", {"k1": K1}))
    path = tmp_path / "labels.parquet"
    pq.write_table(table, path)
    before = path.read_bytes()

    def boom(*args: object) -> None:
        raise DataError("simulated verification failure")

    monkeypatch.setattr("fraudlens.security.rotation.verify_rotation", boom)
    with pytest.raises(DataError, match="simulated"):
        rotate_parquet_file(path, KeyRing("k2", {"k1": K1, "k2": K2}), SPEC)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_verification_catches_a_lost_or_changed_row() -> None:
    ring = KeyRing("k2", {"k1": K1, "k2": K2})
    before, _, _ = _table(KeyRing("k1", {"k1": K1}))
    after, _ = rotate_table(before, ring, SPEC)
    verify_rotation(before, after, ring, SPEC)
    with pytest.raises(DataError):
        verify_rotation(before, after.slice(1), ring, SPEC)
    swapped = after.column("ip_address").to_pylist()
    swapped[0], swapped[1] = swapped[1], swapped[0]
    bad = after.set_column(4, "ip_address", pa.array(swapped))
    with pytest.raises((DataError, EncryptionError)):
        verify_rotation(before, bad, ring, SPEC)


def test_plaintext_in_an_encrypted_column_is_reported() -> None:
    table = pa.table({"transaction_id": ["t-1"], "customer_email": ["leak@example.org"]})
    out, counts = rotate_table(table, KeyRing("k1", {"k1": K1}), SPEC)
    assert counts["plaintext"] == 1 and out.equals(table)


def test_rotate_keys_over_the_inventory(tmp_path: Path) -> None:
    k1, k2 = generate_key(), generate_key()
    keys = {"encryption_keys": {"k1": k1}}
    old = Settings(data_dir=tmp_path, security=keys)
    from fraudlens.security.encryption import keyring_from_settings

    table, emails, _ = _table(keyring_from_settings(old))
    (tmp_path / "labels").mkdir()
    pq.write_table(table, tmp_path / "labels" / "2026-06-01.parquet")

    new = Settings(
        data_dir=tmp_path,
        security={"encryption_keys": {"k1": k1, "k2": k2}, "active_encryption_key": "k2"},
    )
    report = rotate_keys(new, actor="cli:test")
    assert report.old_keys_in_use == [] and report.key_usage["k2"] > 0
    assert report.reencrypted == sum(e is not None for e in emails) + N
    ring = keyring_from_settings(new)
    rotated = pq.read_table(tmp_path / "labels" / "2026-06-01.parquet")
    assert _plain(ring, rotated, "customer_email") == emails

    audit_path = tmp_path / "audit" / "audit.jsonl"
    assert verify(audit_path).ok
    entry = json.loads(audit_path.read_text().splitlines()[-1])
    assert entry["action"] == "keys.rotated" and entry["details"]["active_kid"] == "k2"
    assert k1 not in audit_path.read_text() and k2 not in audit_path.read_text()
