"""The Serve config: one source of truth, Ray's schema, the builder's models."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudlens.deploy.check import RAYSERVICE_FILE, app_problems
from fraudlens.deploy.serve import (
    SERVE_SOURCE,
    serve_config_drift,
    serve_rules,
    sync_serve_config,
    validate_serve_config,
)
from fraudlens.errors import ConfigError

ROOT = Path(__file__).parents[2]


def _embedded(path: Path) -> str:
    text = yaml.safe_load(path.read_text())["spec"]["serveConfigV2"]
    assert isinstance(text, str)
    return text


def _source() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load((ROOT / SERVE_SOURCE).read_text()))


def test_repository_copies_are_identical() -> None:
    assert serve_config_drift(_embedded(ROOT / RAYSERVICE_FILE), ROOT / SERVE_SOURCE, "base") == []


def test_source_is_valid_for_ray_and_for_kubernetes() -> None:
    config = _source()
    assert validate_serve_config(config, "src") == []
    assert serve_rules(config, "src", fixed_replicas_ok=("shadow",)) == []
    assert app_problems(config, "src") == []


def test_sync_rewrites_only_the_block_and_is_idempotent(tmp_path: Path) -> None:
    rayservice = tmp_path / "rayservice.yaml"
    original = (ROOT / RAYSERVICE_FILE).read_text()
    source = tmp_path / "serve_config.yaml"
    config = _source()
    config["applications"][0]["deployments"][0]["autoscaling_config"]["max_replicas"] = 99
    source.write_text("# a comment kept in the copy\n" + yaml.safe_dump(config, sort_keys=False))
    rayservice.write_text(original)
    assert serve_config_drift(_embedded(rayservice), source, "x") != []
    assert sync_serve_config(rayservice, source) is True
    assert serve_config_drift(_embedded(rayservice), source, "x") == []
    assert "# a comment kept in the copy" in _embedded(rayservice)
    assert sync_serve_config(rayservice, source) is False
    before, after = (
        original.split("serveConfigV2: |")[0],
        rayservice.read_text().split("serveConfigV2: |")[0],
    )
    assert before == after
    assert (
        original.split("  rayClusterConfig:")[1]
        == rayservice.read_text().split("  rayClusterConfig:")[1]
    )


def test_drift_names_the_field(tmp_path: Path) -> None:
    source = tmp_path / "serve_config.yaml"
    config = _source()
    config["http_options"]["request_timeout_s"] = 30
    source.write_text(yaml.safe_dump(config))
    problems = serve_config_drift(_embedded(ROOT / RAYSERVICE_FILE), source, "base")
    assert [p.message.split(";")[0] for p in problems] == [
        "serveConfigV2 differs from serve_config.yaml at http_options.request_timeout_s"
    ]


def test_missing_source_is_a_problem_not_a_pass(tmp_path: Path) -> None:
    problems = serve_config_drift("applications: []", tmp_path / "serve_config.yaml", "base")
    assert "does not exist" in problems[0].message


def test_sync_refuses_a_broken_source_or_target(tmp_path: Path) -> None:
    source = tmp_path / "serve_config.yaml"
    source.write_text("applications: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        sync_serve_config(ROOT / RAYSERVICE_FILE, source)
    source.write_text("applications: []\n")
    target = tmp_path / "rayservice.yaml"
    target.write_text("spec: {}\n")
    with pytest.raises(ConfigError, match="no `serveConfigV2: |` block"):
        sync_serve_config(target, source)


def test_builder_args_user_config_and_import_path_are_checked() -> None:
    config = _source()
    app = config["applications"][0]
    app["args"]["shadwo"] = True
    app["deployments"][0]["user_config"]["thresholds"] = {"review": 0.9, "decline": 0.5}
    messages = "\n".join(p.message for p in app_problems(config, "src"))
    assert "applications[0].args: Extra inputs are not permitted" in messages
    assert "thresholds.review must not exceed thresholds.decline" in messages
    app["import_path"] = "ray_apps.app:no_such_builder"
    assert "cannot import ray_apps.app:no_such_builder" in app_problems(config, "src")[0].message


def test_fixed_replicas_need_an_explicit_exception() -> None:
    config = _source()
    messages = [p.message for p in serve_rules(config, "src")]
    assert any("(shadow): autoscaling_config is required" in m for m in messages)
    config["http_options"]["host"] = "127.0.0.1"
    assert any("0.0.0.0" in p.message for p in serve_rules(config, "src", ("shadow",)))
