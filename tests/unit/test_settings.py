from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fraudlens.errors import ConfigError
from fraudlens.security import tokenizer_from_settings
from fraudlens.settings import Settings


def test_env_nesting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS", "b1:9092")
    monkeypatch.setenv("FRAUDLENS_KAFKA__PARTITIONS", "8")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.kafka.client_config()["bootstrap.servers"] == "b1:9092"
    assert settings.kafka.partitions == 8


def test_production_requires_keys_and_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDLENS_MODE", "production")
    with pytest.raises(ValueError, match="bootstrap_servers"):
        Settings()
    monkeypatch.setenv("FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS", "b1:9092")
    with pytest.raises(ConfigError, match="token_keys"):
        tokenizer_from_settings(Settings())
    monkeypatch.setenv("FRAUDLENS_SECURITY__TOKEN_KEYS", '{"k1": "0123456789abcdef0123"}')
    assert tokenizer_from_settings(Settings()).active_kid == "k1"


def test_demo_key_is_kept_between_runs(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = tokenizer_from_settings(settings).tokenize("4111111111111111")
    again = tokenizer_from_settings(settings).tokenize("4111111111111111")
    assert first == again
    assert (tmp_path / "secrets" / "demo-token.key").stat().st_mode & 0o077 == 0


def test_sasl_needs_credentials() -> None:
    settings = Settings(kafka={"bootstrap_servers": "b:9093", "security_protocol": "SASL_SSL"})
    with pytest.raises(ConfigError, match="sasl"):
        settings.kafka.client_config()
    settings = Settings(
        kafka={
            "bootstrap_servers": "b:9093",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "fraudlens",
            "sasl_password": "s3cret",
        }
    )
    conf = settings.kafka.client_config()
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert "s3cret" not in repr(settings)


def test_unknown_setting_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError):
        Settings(colour="blue")  # type: ignore[call-arg]


def test_matured_delay_setting_defaults_and_bounds_follow_the_feature_code() -> None:
    from fraudlens.features import state
    from fraudlens.settings import DEFAULT_MATURED_DELAY_DAYS, MAX_MATURED_DELAY_DAYS

    assert DEFAULT_MATURED_DELAY_DAYS == state.DEFAULT_MATURED_DELAY_DAYS == 7
    assert MAX_MATURED_DELAY_DAYS == state.MAX_MATURED_DELAY_DAYS
    assert Settings().features.matured_delay_days == 7
    for bad in (-1, MAX_MATURED_DELAY_DAYS + 1):
        with pytest.raises(ValidationError):
            Settings.model_validate({"features": {"matured_delay_days": bad}})
