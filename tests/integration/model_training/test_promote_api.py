"""POST /v1/model/promote through the real app, the real MLflow gate and the real audit log.

Two registered versions: the session's trained model (champion) and a worse
copy of it (its calibration slope inverted, so it ranks fraud last; registered
without training). The gate judges on the trained model's test period, with
the features folded in memory from the same simulated history. The scoring
service behind the app is a fake: these routes do not score.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pandas as pd
import pytest
from asgi_client import AsgiClient
from fake_api import fake_api_context

from fraudlens.features import FEATURE_NAMES
from fraudlens.model import FraudModel, mlflow_client
from fraudlens.security.audit import verify_audit_log
from fraudlens.security.auth import Authenticator, generate_api_key
from fraudlens.security.roles import Role
from fraudlens.settings import Settings
from ray_apps.admin import AdminContext
from ray_apps.api import create_api
from training.pipeline import TrainResult

pytestmark = pytest.mark.integration

KEYS = {role: generate_api_key(f"{role.value}07") for role in (Role.ADMIN, Role.ANALYST)}
REASON = "fraud ops sign-off #4711: new pattern, holdout too short"


class Client(AsgiClient):
    def promote(self, role: Role, **body: Any) -> httpx.Response:
        return self.post("/v1/model/promote", json=body, headers={"X-API-Key": KEYS[role][1]})


@pytest.fixture(scope="module")
def worse_version(
    trained: TrainResult, register_variant: Callable[[FraudModel, str, dict[str, str]], str]
) -> str:
    """The trained ensemble with its calibration slope negated: same inputs, reversed ranking."""
    a, b = trained.model.calibration
    model = dataclasses.replace(trained.model, calibration=(-a, b), version="")
    return register_variant(model, "inverted", {"calibration": "slope negated"})


@pytest.fixture(scope="module")
def settings(
    training_settings: Settings, history: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The training registry, API keys, an audit key, and the history the gate reads."""
    sim = tmp_path_factory.mktemp("promote-history")
    history.drop(columns=list(FEATURE_NAMES)).to_parquet(sim / "transactions.parquet")
    fraud = history[history["is_fraud"].astype(bool)]
    fraud[["transaction_id", "is_fraud", "label_time", "fraud_scenario"]].to_parquet(
        sim / "labels.parquet"
    )
    keys = {kid: {"role": role.value, "sha256": digest} for role, (kid, _, digest) in KEYS.items()}
    training = training_settings.training.model_copy(
        update={"features_source": "memory", "history_dir": sim}
    )
    return Settings(
        data_dir=training_settings.data_dir,
        training=training,
        security={
            "api_keys": keys,
            "audit_hmac_key": "a" * 40,
            "audit_log_path": sim / "audit.jsonl",
        },
    )


@pytest.fixture
def client(settings: Settings, trained: TrainResult) -> Iterator[Client]:
    """The app with the real admin context; the trained model is champion on entry and exit."""
    mlflow = mlflow_client(settings)
    name = settings.mlflow.model_name
    mlflow.set_registered_model_alias(name, "champion", trained.version)
    ctx = fake_api_context(
        authenticator=Authenticator.from_settings(settings),
        admin=AdminContext.from_settings(settings),
    )
    http = Client(create_api(ctx))
    yield http
    http.close()
    ctx.service.close()
    mlflow.set_registered_model_alias(name, "champion", trained.version)


def aliases(settings: Settings) -> dict[str, str]:
    model = mlflow_client(settings).get_registered_model(settings.mlflow.model_name)
    return {key: str(value) for key, value in model.aliases.items()}


def audit_actions(settings: Settings) -> list[tuple[str, str, str | None]]:
    path = settings.security.audit_log_path
    assert path is not None
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    return [(e["action"], e["actor"], e["details"].get("override_reason")) for e in entries]


def test_promote_gate_refuses_then_override_moves_the_champion(
    client: Client, settings: Settings, trained: TrainResult, worse_version: str
) -> None:
    champion = trained.version
    admin_actor = f"api_key:{KEYS[Role.ADMIN][0]}"

    denied = client.promote(Role.ANALYST, version=worse_version, override_reason=REASON)
    assert denied.status_code == 403, denied.text
    assert aliases(settings)["champion"] == champion and audit_actions(settings) == []

    refused = client.promote(Role.ADMIN, version=worse_version)
    assert refused.status_code == 200, refused.text
    body = refused.json()
    assert body["promoted"] is False and body["overridden"] is False
    assert body["previous_champion"] == champion
    assert any("does not beat" in reason for reason in body["reasons"]), body["reasons"]
    now = aliases(settings)
    assert now["champion"] == champion and now["challenger"] == worse_version
    assert audit_actions(settings) == [("model.promotion_refused", admin_actor, None)]

    forced = client.promote(Role.ADMIN, version=worse_version, override_reason=REASON)
    assert forced.status_code == 200, forced.text
    body = forced.json()
    assert body["promoted"] is True and body["overridden"] is True
    assert body["previous_champion"] == champion
    assert body["reasons"] == [f"gate overridden: {REASON}"]
    now = aliases(settings)
    assert now["champion"] == worse_version and now["previous_champion"] == champion
    assert "challenger" not in now
    assert audit_actions(settings) == [
        ("model.promotion_refused", admin_actor, None),
        ("model.promoted", admin_actor, REASON),
    ]
    check = verify_audit_log(settings, expected_head=body["audit_hash"])
    assert check.ok and check.entries == 2 and check.problems == []
    assert check.head == body["audit_hash"]
