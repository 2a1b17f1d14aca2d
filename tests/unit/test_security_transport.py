from __future__ import annotations

import re
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, SecretStr

from fraudlens.settings import Settings

SECRET_NAME = re.compile(r"password|secret|hmac_key|(token|encryption)_keys$")


def _secret_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(_secret_fields(annotation, f"{prefix}{name}."))
        elif SECRET_NAME.search(name):
            found.append((prefix + name, annotation))
    return found


def _holds_secretstr(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    if get_origin(annotation) in (Union, UnionType, dict, list, tuple):
        return any(_holds_secretstr(a) for a in get_args(annotation))
    return False


def test_every_secret_setting_is_a_secretstr() -> None:
    fields = _secret_fields(Settings)
    assert {"kafka.sasl_password", "security.encryption_keys", "security.audit_hmac_key"} <= {
        name for name, _ in fields
    }
    for name, annotation in fields:
        assert _holds_secretstr(annotation), f"{name} must be a SecretStr (never printed)"


def test_kafka_sasl_ssl_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    env = {
        "FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS": "kafka-0.kafka:9093,kafka-1.kafka:9093",
        "FRAUDLENS_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "FRAUDLENS_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "FRAUDLENS_KAFKA__SASL_USERNAME": "fraudlens",
        "FRAUDLENS_KAFKA__SASL_PASSWORD": "pw-from-a-secret",
        "FRAUDLENS_KAFKA__SSL_CA_LOCATION": str(ca),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    conf = settings.kafka.client_config()
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512" and conf["ssl.ca.location"] == str(ca)
    assert conf["sasl.password"] == "pw-from-a-secret"
    assert "pw-from-a-secret" not in repr(settings) and "pw-from-a-secret" not in str(settings)
