"""The Serve config file and the app builder, checked offline with Ray's own schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from fraudlens.scoring import ScoringConfig
from fraudlens.settings import Settings
from ray_apps.app import AppArgs, build_app, settings_overrides

CONFIG = Path(__file__).resolve().parents[2] / "ray_apps" / "serve_config.yaml"


def test_serve_config_validates_with_rays_schema() -> None:
    schema = ServeDeploySchema.model_validate(yaml.safe_load(CONFIG.read_text()))
    (app,) = schema.applications
    assert app.import_path == "ray_apps.app:build_app"
    AppArgs.model_validate(app.args)
    deployments = {d.name: d for d in app.deployments}
    assert set(deployments) == {"scoring", "shadow"}
    scoring = deployments["scoring"]
    assert scoring.max_ongoing_requests > 5
    assert scoring.ray_actor_options.num_cpus < 1
    config = ScoringConfig.model_validate(scoring.user_config)
    assert config.rules is not None and config.rules.limits[0].name == "amount_cap"


def test_builder_uses_settings_for_deployment_options() -> None:
    app = build_app(
        AppArgs(settings={"serve": {"autoscaling": True, "num_cpus": 0.2}}, shadow=False)
    )
    deployment = app._bound_deployment
    assert deployment.name == "scoring"
    assert deployment.ray_actor_options["num_cpus"] == 0.2
    assert deployment._deployment_config.autoscaling_config.max_replicas == 4
    assert ScoringConfig.model_validate(deployment.user_config).model_alias == "champion"
    assert deployment.max_ongoing_requests == 256


def test_builder_accepts_the_config_files_args_as_a_dict() -> None:
    app = build_app({"shadow": True, "scoring": {"model_version": "7"}})  # type: ignore[arg-type]
    assert app._bound_deployment.user_config["model_version"] == "7"
    with pytest.raises(ValueError):
        build_app({"unknown": 1})  # type: ignore[arg-type]


def test_settings_overrides_carry_no_secret(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        security={"token_keys": {"k1": "s3cret-s3cret-s3cret"}, "active_token_key": "k1"},
        kafka={"bootstrap_servers": "b:9092", "sasl_password": "hunter2"},
    )
    overrides = settings_overrides(settings)
    text = str(overrides)
    assert "s3cret" not in text and "hunter2" not in text and "*****" not in text
    assert "token_keys" not in overrides["security"]
    rebuilt = Settings(**overrides)
    assert rebuilt.data_dir == tmp_path and rebuilt.kafka.bootstrap_servers == "b:9092"
    assert rebuilt.security.active_token_key == "k1"
