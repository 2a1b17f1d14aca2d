from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from fraudlens.errors import ConfigError, DataError, EncryptionError
from fraudlens.importer import import_transactions, load_mapping
from fraudlens.security import KeyRing, Tokenizer
from fraudlens.security.encryption import field_context, is_ciphertext
from fraudlens.security.personal_fields import decrypt_personal_fields, decrypted_for_replay
from fraudlens.settings import Settings

PAN = "4111111111111111"
MAPPING = """
columns:
  transaction_id: id
  event_time: when
  pan: card_number
  customer_id: cust
  terminal_id: term
  merchant_id: merch
  amount: cents
  is_fraud: fraud
  device_id: dev
  ip_address: ip
defaults:
  currency: EUR
  channel: card_present
  entry_mode: chip
  country: FR
  mcc: "5411"
timezone: Europe/Paris
amount_scale: 0.01
label_delay_days: 20
"""


@pytest.fixture()
def tokenizer() -> Tokenizer:
    return Tokenizer("k1", {"k1": b"k" * 32})


@pytest.fixture()
def keyring() -> KeyRing:
    return KeyRing("e1", {"e1": b"e" * 32})


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def row(i: int, **extra: str) -> dict[str, str]:
    base = {
        "id": f"t{i}",
        "when": f"2026-05-0{i % 9 + 1} 10:00:00",
        "card_number": PAN,
        "cust": "C1",
        "term": "T1",
        "merch": "M1",
        "cents": "1250",
        "fraud": "0",
        "dev": f"device{i}",
        "ip": f"198.51.100.{i}",
    }
    base.update(extra)
    return base


def test_import_tokenizes_validates_and_keeps_rejects(
    tmp_path: Path,
    tokenizer: Tokenizer,
    keyring: KeyRing,
    pan_fixture_path: Callable[[str], Path],
) -> None:
    mapping_path = tmp_path / "map.yaml"
    mapping_path.write_text(MAPPING)
    rows = [
        row(1),
        row(2, fraud="1"),
        row(3, cents="-100"),
        row(4, card_number="1234"),
        row(5, cents="12,50"),
        row(6, when="soon"),
    ]
    source = write_csv(pan_fixture_path("in.csv"), rows)
    result = import_transactions(
        source, load_mapping(mapping_path), tmp_path / "out", tokenizer, keyring=keyring
    )

    assert (result.rows_in, result.accepted, result.rejected, result.frauds) == (6, 2, 4, 1)
    txns = pd.read_parquet(result.transactions_path)
    assert txns["amount"].tolist() == [12.5, 12.5]
    assert set(txns["card_token"]) == {tokenizer.tokenize(PAN)}
    assert str(txns["event_time"].dtype) == "datetime64[us, UTC]"
    assert txns["event_time"].iloc[0] == pd.Timestamp("2026-05-02 08:00:00", tz="UTC")
    labels = pd.read_parquet(result.labels_path)
    assert labels["transaction_id"].tolist() == ["t2"]
    fraud_time = txns.loc[txns["is_fraud"], "event_time"].iloc[0]
    assert labels["label_time"].iloc[0] - fraud_time == pd.Timedelta(days=20)

    assert result.rejects_path is not None
    rejects = pd.read_parquet(result.rejects_path)
    assert rejects["row"].tolist() == [2, 3, 4, 5]
    assert rejects["field"].tolist()[2:] == ["amount", "event_time"]
    assert rejects["field"].iloc[0] == "amount"
    assert rejects["field"].iloc[1] == "pan"
    assert "12-19 digits" in rejects["reason"].iloc[1]
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in {".parquet"}:
            data = path.read_bytes()
            assert PAN.encode() not in data and b"198.51.100" not in data
            assert not any(f"device{i}".encode() in data for i in range(1, 7))


def test_personal_fields_are_encrypted_per_row(
    tmp_path: Path, tokenizer: Tokenizer, keyring: KeyRing, pan_fixture_path: Callable[[str], Path]
) -> None:
    mapping_path = tmp_path / "map.yaml"
    mapping_path.write_text(MAPPING)
    rows = [row(1), row(2, dev="", ip="")]
    source = write_csv(pan_fixture_path("in.csv"), rows)
    result = import_transactions(
        source, load_mapping(mapping_path), tmp_path / "out", tokenizer, keyring=keyring
    )
    stored = pd.read_parquet(result.transactions_path)
    assert is_ciphertext(stored["device_id"].iloc[0]) and is_ciphertext(
        stored["ip_address"].iloc[0]
    )
    assert stored["device_id"].iloc[1] is None and stored["ip_address"].iloc[1] is None
    # Bound to the raw_history store, the column and the row: what keys rotate expects.
    context = field_context("raw_history", "ip_address", "t1")
    assert keyring.decrypt(stored["ip_address"].iloc[0], context) == "198.51.100.1"
    clear = decrypt_personal_fields(stored, keyring)
    assert clear["device_id"].tolist() == ["device1", None]
    assert clear.drop(columns=["device_id", "ip_address"]).equals(
        stored.drop(columns=["device_id", "ip_address"])
    )
    # A ciphertext moved to another row does not decrypt there.
    swapped = stored.assign(device_id=[stored["device_id"].iloc[0]] * 2)
    with pytest.raises(EncryptionError):
        decrypt_personal_fields(swapped.assign(ip_address=[None, None]).iloc[::-1], keyring)
    # Replay decrypts with the configured keys; simulator output (clear) passes through.
    settings = Settings(
        data_dir=tmp_path,
        security={"encryption_keys": {"e1": "ZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWU="}},
    )
    assert decrypted_for_replay(settings, stored)["ip_address"].iloc[0] == "198.51.100.1"
    plain = clear.copy()
    assert decrypted_for_replay(Settings(data_dir=tmp_path / "none"), plain) is plain
    assert not (tmp_path / "none" / "secrets").exists()  # no key ring was needed


def test_mapping_errors_are_specific(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  amount: a\n  colour: c\n  pan: p\n")
    with pytest.raises(ConfigError, match="colour"):
        load_mapping(bad)
    bad.write_text("columns:\n  amount: a\n")
    with pytest.raises(ConfigError, match="exactly one of pan"):
        load_mapping(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_mapping(tmp_path / "missing.yaml")


def test_missing_column_and_bad_file(tmp_path: Path, tokenizer: Tokenizer) -> None:
    mapping_path = tmp_path / "map.yaml"
    mapping_path.write_text(MAPPING)
    source = write_csv(tmp_path / "in.csv", [{"id": "t1"}])
    with pytest.raises(DataError, match="not found: card_number"):
        import_transactions(
            source,
            load_mapping(mapping_path),
            tmp_path / "o",
            tokenizer,
            keyring=KeyRing("e1", {"e1": b"e" * 32}),
        )
    with pytest.raises(DataError, match="unsupported"):
        import_transactions(
            tmp_path / "x.xlsx",
            load_mapping(mapping_path),
            tmp_path,
            tokenizer,
            keyring=KeyRing("e1", {"e1": b"e" * 32}),
        )


def test_example_mapping_is_valid() -> None:
    example = Path(__file__).parents[2] / "examples" / "mapping.yaml"
    mapping = load_mapping(example)
    assert mapping.columns["pan"] == "card_number"


REF_MAPPING = """
columns:
  transaction_id: id
  event_time: when
  card_reference: card
  customer_id: cust
  terminal_id: term
  merchant_id: merch
  mcc: mcc
  amount: amount
defaults:
  currency: EUR
  channel: ecommerce
  entry_mode: ecom_3ds
  country: FR
"""


def numeric_ids(n: int, **columns: list[object]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "id": range(1, n + 1),  # int64, as in the benchmark's Parquet file
            "when": pd.date_range("2026-05-01", periods=n, freq="h", tz="UTC"),
            "card": [1000 + i for i in range(n)],
            "cust": [float(7 + i) for i in range(n)],  # float without a fraction
            "term": pd.array([3] * n, dtype="Int64"),  # nullable integers
            "merch": ["M1"] * n,
            "mcc": [742] * n,  # an MCC read as a number loses its leading zero
            "amount": [12.5] * n,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def test_parquet_numeric_ids_are_accepted_as_text(
    tmp_path: Path, tokenizer: Tokenizer, keyring: KeyRing
) -> None:
    (tmp_path / "map.yaml").write_text(REF_MAPPING)
    source = tmp_path / "in.parquet"
    numeric_ids(4, cust=[7.0, 8.0, 9.5, 10.0], amount=[12.5, 0.0, 1.0, -3.0]).to_parquet(source)
    result = import_transactions(
        source, load_mapping(tmp_path / "map.yaml"), tmp_path / "out", tokenizer, keyring=keyring
    )
    assert (result.accepted, result.rejected) == (2, 2)
    txns = pd.read_parquet(result.transactions_path)
    assert txns["transaction_id"].tolist() == ["1", "2"]
    assert txns["customer_id"].tolist() == ["7", "8"]
    assert txns["terminal_id"].tolist() == ["3", "3"]
    assert txns["mcc"].tolist() == ["0742", "0742"]
    assert txns["amount"].tolist() == [12.5, 0.0]  # a zero-amount card check is kept
    assert txns["card_token"].iloc[0] == tokenizer.tokenize_reference("1000")
    assert result.rejects_path is not None
    rejects = pd.read_parquet(result.rejects_path)
    assert rejects["field"].tolist() == ["customer_id", "amount"]
    assert "fraction" in rejects["reason"].iloc[0]
    assert "must not be negative" in rejects["reason"].iloc[1]


def test_import_that_accepts_nothing_fails_naming_the_reason(
    tmp_path: Path, tokenizer: Tokenizer, keyring: KeyRing
) -> None:
    (tmp_path / "map.yaml").write_text(REF_MAPPING)
    source = tmp_path / "in.parquet"
    numeric_ids(3, amount=[-1.0, -2.0, 5.0], merch=["M1", "M2", "bad id"]).to_parquet(source)
    with pytest.raises(DataError) as info:
        import_transactions(
            source,
            load_mapping(tmp_path / "map.yaml"),
            tmp_path / "out",
            tokenizer,
            keyring=keyring,
        )
    message = str(info.value)
    assert "no row accepted, all 3 rejected" in message
    assert "field amount (2 rows)" in message and "must not be negative" in message
    assert len(pd.read_parquet(tmp_path / "out" / "rejects.parquet")) == 3
    assert not (tmp_path / "out" / "transactions.parquet").exists()


def test_missing_required_mapping_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(REF_MAPPING.replace("  merchant_id: merch\n", "").replace("  mcc: mcc\n", ""))
    with pytest.raises(ConfigError) as info:
        load_mapping(path)
    assert "merchant_id, mcc not mapped: map a column or set a default" in str(info.value)
    assert "\n" not in str(info.value)
    path.write_text(REF_MAPPING.replace("  mcc: mcc\n", "") + "  mcc: 5411\n")
    assert load_mapping(path).defaults["mcc"] == 5411


def test_imported_devices_and_ips_keep_their_codes_beside_the_ciphertexts(
    tmp_path: Path, tokenizer: Tokenizer, keyring: KeyRing, pan_fixture_path: Callable[[str], Path]
) -> None:
    from training.local_features import compute_features

    mapping_path = tmp_path / "map.yaml"
    mapping_path.write_text(MAPPING)
    rows = [row(1, dev="d1"), row(2, dev="d1"), row(3, dev="d2"), row(4, dev="", ip="")]
    source = write_csv(pan_fixture_path("in.csv"), rows)
    result = import_transactions(
        source, load_mapping(mapping_path), tmp_path / "out", tokenizer, keyring=keyring
    )
    stored = pd.read_parquet(result.transactions_path)
    assert is_ciphertext(stored["device_id"].iloc[0])
    names = ["card_new_device_30d", "card_new_ip_30d", "card_distinct_devices_30d"]
    features = compute_features(stored)[names]
    # The same values as from the clear history (codes hashed from the values).
    clear = decrypt_personal_fields(stored, keyring).drop(columns=["device_code", "ip_code"])
    assert features.equals(compute_features(clear)[names])
    # d1, d1 again, d2, none; the IPs share one /24 network.
    assert features["card_new_device_30d"].tolist() == [1, 0, 1, -1]
    assert features["card_new_ip_30d"].tolist() == [1, 0, 0, -1]
    assert features["card_distinct_devices_30d"].tolist() == [0, 1, 1, 2]
    # Ciphertexts alone cannot be compared: unknown, never new.
    blind = compute_features(stored.drop(columns=["device_code", "ip_code"]))[names]
    assert set(blind["card_new_device_30d"]) == {-1}
