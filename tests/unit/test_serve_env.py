"""Ray Serve's performance switches: one definition for `fraudlens serve` and KubeRay."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudlens.settings import ServeSettings, Settings
from ray_apps.run import serve_env, start_ray

RAYSERVICE = Path(__file__).resolve().parents[2] / "kuberay" / "base" / "rayservice-scoring.yaml"


def test_throughput_optimized_behind_haproxy_by_default() -> None:
    assert serve_env(ServeSettings()) == {
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        "RAY_SERVE_ENABLE_DIRECT_INGRESS": "1",
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
    }
    assert serve_env(ServeSettings(ingress="proxy", throughput_optimized=False)) == {
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "0",
        "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0",
        "RAY_SERVE_ENABLE_HA_PROXY": "0",
    }
    direct = serve_env(ServeSettings(ingress="direct"))
    assert direct["RAY_SERVE_ENABLE_DIRECT_INGRESS"] == "1"
    assert direct["RAY_SERVE_ENABLE_HA_PROXY"] == "0"


def test_every_rayservice_container_gets_the_same_switches() -> None:
    spec = yaml.safe_load(RAYSERVICE.read_text())["spec"]["rayClusterConfig"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    containers = [c for g in groups for c in g["template"]["spec"]["containers"]]
    assert len(containers) >= 2
    expected = serve_env(ServeSettings())
    for container in containers:
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        assert {k: v for k, v in env.items() if k.startswith("RAY_SERVE_")} == expected


def test_start_ray_sets_the_switches_before_ray_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    seen: dict[str, Any] = {}
    monkeypatch.setattr(os, "environ", dict(os.environ))  # start_ray writes to it
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: seen.update(kw, env=dict(os.environ)))
    os.environ.pop("RAY_SERVE_THROUGHPUT_OPTIMIZED", None)
    os.environ.pop("RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S", None)
    os.environ["RAY_SERVE_ENABLE_HA_PROXY"] = "0"  # set by hand: wins

    start_ray(Settings(), num_cpus=2)

    assert seen["num_cpus"] == 2 and seen["include_dashboard"] is False
    assert seen["env"]["RAY_SERVE_THROUGHPUT_OPTIMIZED"] == "1"
    # no load balancer to wait for: a stopping replica drains 5 s, not Serve's 30 s
    assert seen["env"]["RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"] == "5"
    assert seen["env"]["RAY_SERVE_ENABLE_HA_PROXY"] == "0"


def test_without_haproxy_the_python_proxy_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    import ray_apps.run

    seen: dict[str, str] = {}
    monkeypatch.setattr(os, "environ", dict(os.environ))  # start_ray writes to it
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: seen.update(os.environ))
    monkeypatch.setattr(ray_apps.run, "_haproxy_available", lambda: False)
    for name in serve_env(ServeSettings()):
        os.environ.pop(name, None)

    start_ray(Settings())

    assert seen["RAY_SERVE_ENABLE_HA_PROXY"] == "0"
    assert seen["RAY_SERVE_ENABLE_DIRECT_INGRESS"] == "0"
    assert seen["RAY_SERVE_THROUGHPUT_OPTIMIZED"] == "1"


def test_a_ray_started_without_the_switches_is_named(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import ray

    monkeypatch.setattr(os, "environ", dict(os.environ))
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "init", lambda **kw: pytest.fail("Ray is already running"))
    for name in serve_env(ServeSettings()):
        os.environ.pop(name, None)
    os.environ["RAY_SERVE_ENABLE_HA_PROXY"] = "1"

    start_ray(Settings())

    (record,) = [r for r in caplog.records if r.name == "ray_apps.run"]
    assert "RAY_SERVE_THROUGHPUT_OPTIMIZED" in record.getMessage()
    assert "RAY_SERVE_ENABLE_HA_PROXY" not in record.getMessage()
    caplog.clear()
    for name, value in serve_env(ServeSettings()).items():
        os.environ[name] = value
    start_ray(Settings())
    assert not [r for r in caplog.records if r.name == "ray_apps.run"]
