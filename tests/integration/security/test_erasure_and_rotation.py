"""Erasure and key rotation against the real stores: Feast SQLite and Redis online
stores, the Parquet offline store, raw history, label store and decision log."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from fraudlens.features.offline import read_view
from fraudlens.features.repo import feast_variables, offline_path
from fraudlens.features.state import CARD_COLUMNS, TERMINAL_COLUMNS
from fraudlens.features.store import open_store
from fraudlens.security.audit import verify
from fraudlens.security.encryption import field_context, is_ciphertext, keyring_from_settings
from fraudlens.security.inventory import ENCRYPTED_FIELDS
from fraudlens.security.personal_fields import decrypt_personal_fields
from fraudlens.security.privacy import erase_customer
from fraudlens.security.rotation import rotate_keys
from fraudlens.settings import SecuritySettings

pytestmark = pytest.mark.integration

KEY_2 = base64.b64encode(b"2" * 32).decode()
Stores = Any  # tests/integration/security/conftest.py: Stores (settings, transactions, cards)


def _online(stores: Stores, view: str, key: str, columns: Any, values: list[str]) -> dict[str, Any]:
    store = open_store(stores.settings)
    response = store.get_online_features(
        features=[f"{view}:{c}" for c, _, _ in columns],
        entity_rows=[{key: v} for v in values],
    ).to_dict()
    first = columns[0][0]
    return dict(zip(values, response[first], strict=True))


def _all_cards(stores: Stores) -> dict[str, Any]:
    cards = sorted(stores.transactions["card_token"].unique())
    return _online(stores, "card_state", "card_token", CARD_COLUMNS, cards)


@pytest.mark.parametrize("online_store", ["sqlite", "redis"])
def test_erasure_removes_the_customer_from_every_store(
    populated: Callable[[str], Stores], online_store: str
) -> None:
    stores = populated(online_store)
    settings, data = stores.settings, stores.settings.data_dir
    before = _all_cards(stores)
    assert all(v for v in before.values())  # every card has online state
    terminals_before = _online(
        stores, "terminal_state", "terminal_id", TERMINAL_COLUMNS, ["term0", "term1", "term2"]
    )
    offline_before = read_view(offline_path(settings), "card_state").num_rows

    report = erase_customer(settings, "C1", actor="test")

    assert report.complete and report.card_tokens == 2 and report.transactions == 6
    by_store = {s.store: s.rows_removed for s in report.stores}
    assert by_store["online_store"] == 2  # C1's two cards
    after = _all_cards(stores)
    gone, kept = stores.cards("C1"), stores.cards("C2") + stores.cards("C3")
    assert all(after[c] is None for c in gone)
    assert all(after[c] == before[c] for c in kept)  # others intact, value for value
    terminals_after = _online(
        stores, "terminal_state", "terminal_id", TERMINAL_COLUMNS, ["term0", "term1", "term2"]
    )
    assert terminals_after == terminals_before  # terminals are not personal data

    offline = read_view(offline_path(settings), "card_state").to_pandas()
    assert not offline["card_token"].isin(gone).any()
    assert offline["card_token"].isin(kept).sum() == offline_before - by_store["offline_store"]
    assert by_store["offline_store"] == 6  # one state row per transaction of C1's cards
    raw = pd.read_parquet(data / "import" / "transactions.parquet")
    assert sorted(raw["customer_id"].unique()) == ["C2", "C3"] and len(raw) == 12
    for part in ("labels/part-0.parquet", "decisions/date=2026-06-01/part-0.parquet"):
        ids = pq.read_table(data / part).column("transaction_id").to_pylist()
        assert len(ids) == 12 and not any(i.startswith("t-C1-") for i in ids)

    if online_store == "sqlite":  # secure_delete: no bytes of the tokens left in the file
        path = Path(feast_variables(settings)["FRAUDLENS_FEAST__SQLITE_PATH"])
        raw_bytes = path.read_bytes()
        assert b"a" * 32 not in raw_bytes and b"b" * 32 not in raw_bytes
        assert b"c" * 32 in raw_bytes
        with sqlite3.connect(path) as con:
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert verify(data / "audit" / "audit.jsonl").ok
    again = erase_customer(settings, "C1", actor="test")
    assert again.rows_removed == 0 and again.complete


def test_rotation_round_trips_every_row_in_every_store(populated: Callable[[str], Stores]) -> None:
    stores = populated("sqlite")
    old = stores.settings
    ring_old = keyring_from_settings(old)
    data = old.data_dir
    files = {
        "raw_history": data / "import" / "transactions.parquet",
        "label_store": data / "labels" / "part-0.parquet",
        "decision_log": data / "decisions" / "date=2026-06-01" / "part-0.parquet",
    }
    clear = {name: _decrypt_all(path, name, ring_old) for name, path in files.items()}
    assert clear["raw_history"]["device_id"][0] == "device-C1-0"

    new = old.model_copy(
        update={
            "security": SecuritySettings(
                encryption_keys={  # type: ignore[dict-item]
                    "k1": old.security.encryption_keys["k1"].get_secret_value(),
                    "k2": KEY_2,
                },
                active_encryption_key="k2",
            )
        }
    )
    report = rotate_keys(new, actor="test")
    ring_new = keyring_from_settings(new)
    assert report.reencrypted == 18 * 2 + 18 + 18  # device+IP per transaction, 2 e-mail columns
    assert report.old_keys_in_use == [] and report.key_usage == {"k2": 72}
    for name, path in files.items():
        table = pq.read_table(path)
        for column in ENCRYPTED_FIELDS:
            if column in table.column_names:
                assert all(v.startswith("enc:v1:k2:") for v in table.column(column).to_pylist())
        assert _decrypt_all(path, name, ring_new) == clear[name]  # every row, every value
    again = rotate_keys(new, actor="test")
    assert again.reencrypted == 0
    # The importer's output still replays: decrypted with the rotated key ring.
    frame = decrypt_personal_fields(pd.read_parquet(files["raw_history"]), ring_new)
    assert frame["ip_address"].tolist() == clear["raw_history"]["ip_address"]
    # The online store keeps no personal field, so there is nothing to rotate there.
    features = {c for c, _, _ in CARD_COLUMNS + TERMINAL_COLUMNS}
    assert not features & set(ENCRYPTED_FIELDS)


def _decrypt_all(path: Path, table_name: str, ring: Any) -> dict[str, list[str]]:
    table = pq.read_table(path)
    ids = [str(i) for i in table.column("transaction_id").to_pylist()]
    out: dict[str, list[str]] = {}
    for column in ENCRYPTED_FIELDS:
        if column not in table.column_names:
            continue
        values = table.column(column).to_pylist()
        assert all(is_ciphertext(v) for v in values)
        out[column] = [
            ring.decrypt(v, field_context(table_name, column, rid))
            for rid, v in zip(ids, values, strict=True)
        ]
    return out
