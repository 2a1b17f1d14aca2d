from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from fraudlens.errors import ConfigError, EncryptionError
from fraudlens.security.encryption import (
    KeyRing,
    field_context,
    generate_key,
    key_id_of,
    keyring_from_settings,
)
from fraudlens.settings import Settings

K1, K2 = b"\x01" * 32, b"\x02" * 32
CTX = field_context("label_store", "customer_email", "t-1")


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing("k2", {"k1": K1, "k2": K2})


def test_round_trip_with_key_id_and_fresh_nonce(ring: KeyRing) -> None:
    a = ring.encrypt("ana@example.org", CTX)
    b = ring.encrypt("ana@example.org", CTX)
    assert a != b  # random nonce: equal plaintexts do not show
    assert a.startswith("enc:v1:k2:") and key_id_of(a) == "k2"
    assert "ana" not in a
    assert ring.decrypt(a, CTX) == ring.decrypt(b, CTX) == "ana@example.org"
    assert ring.decrypt(ring.encrypt("", CTX), CTX) == ""
    assert ring.decrypt(ring.encrypt("Zoë 🙂", CTX), CTX) == "Zoë 🙂"


def test_old_key_still_decrypts(ring: KeyRing) -> None:
    old = ring.encrypt("10.0.0.1", CTX, kid="k1")
    assert key_id_of(old) == "k1"
    assert ring.decrypt(old, CTX) == "10.0.0.1"
    assert key_id_of(ring.reencrypt(old, CTX)) == "k2"


def _flip(token: str, index: int) -> str:
    head, body = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[index] ^= 0x01
    return head + ":" + base64.urlsafe_b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("index", [0, 12, -1])  # nonce, ciphertext, tag
def test_tampered_bytes_are_refused(ring: KeyRing, index: int) -> None:
    token = ring.encrypt("secret", CTX)
    with pytest.raises(EncryptionError, match="failed authentication"):
        ring.decrypt(_flip(token, index), CTX)


def test_context_binds_field_and_record(ring: KeyRing) -> None:
    token = ring.encrypt("ana@example.org", CTX)
    for other in (
        field_context("label_store", "customer_email", "t-2"),  # another record
        field_context("label_store", "customer_name", "t-1"),  # another column
        field_context("decision_log", "customer_email", "t-1"),  # another table
    ):
        with pytest.raises(EncryptionError):
            ring.decrypt(token, other)


def test_relabelled_key_id_is_refused(ring: KeyRing) -> None:
    token = ring.encrypt("secret", CTX)
    with pytest.raises(EncryptionError):
        ring.decrypt(token.replace("enc:v1:k2:", "enc:v1:k1:"), CTX)


def test_wrong_key_and_unknown_key(ring: KeyRing) -> None:
    token = ring.encrypt("secret", CTX)
    with pytest.raises(EncryptionError, match="failed authentication"):
        KeyRing("k2", {"k2": b"\x03" * 32}).decrypt(token, CTX)
    with pytest.raises(EncryptionError, match="unknown encryption key id 'k2'"):
        KeyRing("k1", {"k1": K1}).decrypt(token, CTX)


@pytest.mark.parametrize(
    "bad", ["plain text", "enc:v1:k2", "enc:v1:k2:!!!", "enc:v1:k2:AAAA", "enc:v1:b@d:AAAA"]
)
def test_malformed_values_are_refused(ring: KeyRing, bad: str) -> None:
    with pytest.raises(EncryptionError):
        ring.decrypt(bad, CTX)


def test_bad_rings_are_refused() -> None:
    with pytest.raises(ConfigError):
        KeyRing("k9", {"k1": K1})
    with pytest.raises(ConfigError, match="32 bytes"):
        KeyRing("k1", {"k1": b"short"})
    with pytest.raises(ConfigError):
        KeyRing("bad id", {"bad id": K1})


def test_keys_from_env_and_secret_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    k1, k2 = generate_key(), generate_key()
    secret = tmp_path / "keys.json"  # what a mounted Kubernetes secret looks like
    secret.write_text(json.dumps({"k2": k2}))
    monkeypatch.setenv("FRAUDLENS_SECURITY__ENCRYPTION_KEYS", json.dumps({"k1": k1}))
    monkeypatch.setenv("FRAUDLENS_SECURITY__ENCRYPTION_KEYS_FILE", str(secret))
    settings = Settings(data_dir=tmp_path)
    ring = keyring_from_settings(settings)
    assert ring.key_ids == ["k1", "k2"] and ring.active_kid == "k2"
    assert k1 not in repr(settings) and k2 not in repr(settings)
    monkeypatch.setenv("FRAUDLENS_SECURITY__ACTIVE_ENCRYPTION_KEY", "k1")
    assert keyring_from_settings(Settings(data_dir=tmp_path)).active_kid == "k1"
    monkeypatch.setenv("FRAUDLENS_SECURITY__ACTIVE_ENCRYPTION_KEY", "k7")
    with pytest.raises(ConfigError, match="k7"):
        keyring_from_settings(Settings(data_dir=tmp_path))


def test_bad_key_material_is_refused_without_echo(tmp_path: Path) -> None:
    short = base64.b64encode(b"x" * 16).decode()
    with pytest.raises(ConfigError, match="32 bytes") as info:
        keyring_from_settings(
            Settings(data_dir=tmp_path, security={"encryption_keys": {"k": short}})
        )
    assert short not in str(info.value)
    with pytest.raises(ConfigError, match="base64"):
        keyring_from_settings(
            Settings(data_dir=tmp_path, security={"encryption_keys": {"k": "%%"}})
        )


def test_production_needs_keys_outside_a_repository(tmp_path: Path) -> None:
    prod = {"mode": "production", "kafka": {"bootstrap_servers": "b:9093"}, "data_dir": tmp_path}
    with pytest.raises(ConfigError, match="required in production"):
        keyring_from_settings(Settings(**prod))
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "keys.json").write_text(json.dumps({"k1": generate_key()}))
    settings = Settings(**prod, security={"encryption_keys_file": repo / "keys.json"})
    with pytest.raises(ConfigError, match="source repository"):
        keyring_from_settings(settings)


def test_embedded_demo_key_is_kept_and_private(tmp_path: Path) -> None:
    first = keyring_from_settings(Settings(data_dir=tmp_path))
    token = first.encrypt("x", CTX)
    assert keyring_from_settings(Settings(data_dir=tmp_path)).decrypt(token, CTX) == "x"
    key_file = tmp_path / "secrets" / "demo-encryption-keys.json"
    assert key_file.stat().st_mode & 0o077 == 0
