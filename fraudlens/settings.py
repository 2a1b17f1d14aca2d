"""One typed settings object, read from ``FRAUDLENS_*`` environment variables.

Nested groups use ``__``: ``FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS=broker:9092``.
Settings are built at an entry point (``Settings()``) and passed in; nothing
reads them at import time.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudlens.errors import ConfigError

Mode = Literal["embedded", "production"]


class KafkaSettings(BaseModel):
    """Kafka connection and topic names."""

    bootstrap_servers: str = Field(
        "", description="host:port list; empty in embedded mode starts the bundled broker"
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: Path | None = None
    transactions_topic: str = "transactions"
    labels_topic: str = "labels"
    decisions_topic: str = "decisions"
    dead_letter_topic: str = "dead-letter"
    partitions: int = Field(4, ge=1, description="partitions for topics FraudLens creates")
    consumer_group: str = "fraudlens"

    def client_config(self) -> dict[str, str]:
        """librdkafka settings shared by producers, consumers and admin clients."""
        if not self.bootstrap_servers:
            raise ConfigError(
                "kafka.bootstrap_servers is empty (set FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS)"
            )
        conf = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL"):
            if not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
                raise ConfigError(
                    "kafka.sasl_mechanism, kafka.sasl_username and kafka.sasl_password "
                    f"are required with security_protocol={self.security_protocol}"
                )
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.sasl_username
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location is not None:
            conf["ssl.ca.location"] = str(self.ssl_ca_location)
        return conf


class SecuritySettings(BaseModel):
    """Keys for PAN tokenization (and later field encryption)."""

    token_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='HMAC keys by key id, JSON: {"k1": "secret"}; required in production',
    )
    active_token_key: str | None = Field(None, description="key id used for new tokens")

    def resolved_token_keys(self, mode: Mode, data_dir: Path) -> tuple[str, dict[str, bytes]]:
        """Return ``(active key id, {key id: key bytes})``.

        In embedded mode with no keys configured, a throwaway demo key is
        generated once under ``data_dir/secrets`` (so every command of one demo
        agrees on tokens); production refuses to start without keys.
        """
        if not self.token_keys:
            if mode == "production":
                raise ConfigError("security.token_keys is required in production mode")
            return "demo", {"demo": _demo_key(data_dir / "secrets" / "demo-token.key")}
        keys = {kid: value.get_secret_value().encode() for kid, value in self.token_keys.items()}
        active = self.active_token_key or sorted(keys)[-1]
        if active not in keys:
            raise ConfigError(f"security.active_token_key {active!r} is not in security.token_keys")
        return active, keys


def _demo_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


class ValidationSettings(BaseModel):
    """Limits applied when validating incoming events."""

    max_amount: float = Field(1_000_000.0, gt=0, description="largest accepted amount")
    max_future_seconds: float = Field(
        300.0, ge=0, description="how far in the future an event time may be (clock skew)"
    )


class SimulatorSettings(BaseModel):
    """Defaults for ``fraudlens simulate``."""

    customers: int = Field(5_000, ge=1)
    terminals: int = Field(2_000, ge=1)
    days: int = Field(60, ge=1)
    start_date: str = Field("2026-06-01", description="first simulated day (UTC, ISO date)")
    fraud_rate: float = Field(0.004, ge=0, le=0.5, description="target share of fraud")
    seed: int = 7


class Settings(BaseSettings):
    """All FraudLens settings. Build once at the entry point and pass in."""

    model_config = SettingsConfigDict(
        env_prefix="FRAUDLENS_", env_nested_delimiter="__", extra="forbid"
    )

    mode: Mode = Field("embedded", description="embedded demo defaults or production")
    data_dir: Path = Field(
        default_factory=lambda: Path.home() / ".fraudlens",
        description="where data, stores and reports are written",
    )
    log_level: str = "INFO"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)

    @model_validator(mode="after")
    def _production_needs_services(self) -> Settings:
        if self.mode == "production" and not self.kafka.bootstrap_servers:
            raise ValueError("kafka.bootstrap_servers is required in production mode")
        return self
