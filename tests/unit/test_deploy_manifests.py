"""The rendered environments are valid, and each kind of breakage is caught."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudlens.deploy.check import (
    ENVIRONMENTS,
    EXTERNAL_SECRETS,
    PENDING_SETTINGS,
    SECRET_ENV,
    check_bundle,
    ray_version,
    render_environment,
)
from fraudlens.deploy.k8s import validate_core
from fraudlens.deploy.kuberay_rules import kuberay_rules, serve_capacity
from fraudlens.deploy.offline_store import offline_store_problems
from fraudlens.deploy.policy import policy_problems
from fraudlens.deploy.problems import Problem
from fraudlens.deploy.settings_env import (
    manifest_env,
    production_env_problems,
    settings_env_problems,
)
from fraudlens.settings import Settings

ROOT = Path(__file__).parents[2]
CRDS = ROOT / "kuberay" / "crds"
Bundle = list[dict[str, Any]]


def _bundle(environment: str = "prod") -> Bundle:
    return copy.deepcopy(render_environment(ROOT, environment))


def _get(bundle: Bundle, kind: str, name: str | None = None) -> dict[str, Any]:
    return next(o for o in bundle if o["kind"] == kind and name in (None, o["metadata"]["name"]))


def _messages(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
def test_environment_passes_every_check(environment: str) -> None:
    problems = check_bundle(
        render_environment(ROOT, environment),
        environment,
        repo_root=ROOT,
        crd_dir=CRDS,
        pending_settings=PENDING_SETTINGS,
    )
    assert problems == [], _messages(problems)


def test_environments_have_what_the_issue_asks_for() -> None:
    bundle = _bundle("prod")
    kinds = {o["kind"] for o in bundle}
    assert {"RayService", "RayJob", "RayCronJob", "Deployment", "HorizontalPodAutoscaler"} <= kinds
    assert {"ConfigMap", "Service", "NetworkPolicy", "PodDisruptionBudget"} <= kinds
    assert "Secret" not in kinds
    cluster = _get(bundle, "RayService")["spec"]["rayClusterConfig"]
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    assert cluster["enableInTreeAutoscaling"] is True
    assert _get(bundle, "RayService")["spec"]["upgradeStrategy"]["type"] == "NewCluster"
    dev = _get(_bundle("dev"), "RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    assert (dev["minReplicas"], dev["maxReplicas"]) == (1, 2)
    assert cluster["workerGroupSpecs"][0]["maxReplicas"] == 12
    # The system of record and shared state, not the pod's disk or memory.
    config = _get(bundle, "ConfigMap")["data"]
    assert config["FRAUDLENS_SERVE__RULES_STORE"] == "postgres"
    assert config["FRAUDLENS_CHECKPOINT__URL"].startswith("s3://fraudlens-prod/")
    assert config["FRAUDLENS_CHECKPOINT__MISSING_HISTORY"] == "refuse"
    assert {"FRAUDLENS_RECORDS__DATABASE_URL", "FRAUDLENS_SECURITY__RATE_LIMIT_STORAGE"} <= set(
        SECRET_ENV
    )


def test_optional_mlflow_server_keeps_its_runs_in_postgresql() -> None:
    bundle = _bundle("prod")
    server = _get(bundle, "Deployment", "mlflow")
    service = _get(bundle, "Service", "mlflow")
    assert server["metadata"]["namespace"] == service["metadata"]["namespace"] == "mlflow"
    tracking = _get(bundle, "ConfigMap")["data"]["FRAUDLENS_MLFLOW__TRACKING_URI"]
    assert tracking == f"http://mlflow.mlflow.svc:{service['spec']['ports'][0]['port']}"
    container = server["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["mlflow", "server"]
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlflow-backend-store",
        "key": "uri",
    }
    assert "mlflow-backend-store" in EXTERNAL_SECRETS


# --- negative tests: each breakage must fail validation ----------------------


def _check(bundle: Bundle) -> str:
    return _messages(
        check_bundle(
            bundle, "prod", repo_root=ROOT, crd_dir=CRDS, pending_settings=PENDING_SETTINGS
        )
    )


def test_wrong_field_type_in_a_core_object_fails() -> None:
    bundle = _bundle()
    hpa = _get(bundle, "HorizontalPodAutoscaler", "fraudlens-stream-scorer")
    hpa["spec"]["maxReplicas"] = "twelve"
    assert "spec.maxReplicas: 'twelve' is not of type 'integer'" in _check(bundle)


def test_missing_required_field_in_a_core_object_fails() -> None:
    deployment = _get(_bundle(), "Deployment", "fraudlens-stream-features")
    del deployment["spec"]["selector"]
    problems = validate_core(deployment, "prod")
    assert "'selector' is a required property" in _messages(problems)


def test_wrong_field_type_in_a_kuberay_object_fails() -> None:
    bundle = _bundle()
    cron = _get(bundle, "RayCronJob")
    cron["spec"]["jobTemplate"]["activeDeadlineSeconds"] = "1h"
    assert "spec.jobTemplate.activeDeadlineSeconds: '1h' is not of type 'integer'" in _check(bundle)


def test_missing_required_field_in_a_kuberay_object_fails() -> None:
    bundle = _bundle()
    del _get(bundle, "RayCronJob")["spec"]["schedule"]
    assert "'schedule' is a required property" in _check(bundle)


def test_serve_config_drift_between_the_two_copies_fails() -> None:
    bundle = _bundle()
    rayservice = _get(bundle, "RayService")
    config = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    config["applications"][0]["deployments"][0]["autoscaling_config"]["max_replicas"] += 1
    rayservice["spec"]["serveConfigV2"] = yaml.safe_dump(config)
    assert (
        "serveConfigV2 differs from serve_config.yaml at applications[0].deployments[0].autoscaling_config.max_replicas"
        in _check(bundle)
    )


def test_invalid_serve_config_fails_ray_schema() -> None:
    bundle = _bundle()
    rayservice = _get(bundle, "RayService")
    config = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    config["applications"][0]["deployments"][0]["max_ongoing_requests"] = "lots"
    config["applications"][0]["deployments"][0]["autoscalng_config"] = {}
    rayservice["spec"]["serveConfigV2"] = yaml.safe_dump(config)
    messages = _check(bundle)
    assert "max_ongoing_requests: Input should be a valid integer" in messages
    assert "autoscalng_config: unknown field" in messages


def _mutations() -> list[tuple[str, Callable[[Bundle], None], str]]:
    def rayservice(b: Bundle) -> dict[str, Any]:
        return _get(b, "RayService")["spec"]

    def scorer(b: Bundle) -> dict[str, Any]:
        return _get(b, "Deployment", "fraudlens-stream-scorer")["spec"]["template"]["spec"]

    def set_(
        path: Callable[[Bundle], dict[str, Any]], key: str, value: Any
    ) -> Callable[[Bundle], None]:
        return lambda b: path(b).__setitem__(key, value)

    def head(b: Bundle) -> dict[str, Any]:
        return rayservice(b)["rayClusterConfig"]["headGroupSpec"]["rayStartParams"]

    def worker(b: Bundle) -> dict[str, Any]:
        return rayservice(b)["rayClusterConfig"]["workerGroupSpecs"][0]

    def container(b: Bundle) -> dict[str, Any]:
        return scorer(b)["containers"][0]

    def cron(b: Bundle) -> dict[str, Any]:
        return _get(b, "RayCronJob")["spec"]

    def train_head(b: Bundle) -> dict[str, Any]:
        return _get(b, "RayJob")["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]

    def features(b: Bundle) -> dict[str, Any]:
        deployment = _get(b, "Deployment", "fraudlens-stream-features")
        return deployment["spec"]["template"]["spec"]

    return [
        ("head schedules work", set_(head, "num-cpus", "1"), 'num-cpus: must be "0"'),
        ("min above max", set_(worker, "minReplicas", 20), "need 0 <= minReplicas (20)"),
        (
            "autoscaler off",
            lambda b: rayservice(b)["rayClusterConfig"].__setitem__(
                "enableInTreeAutoscaling", False
            ),
            "enableInTreeAutoscaling: must be true",
        ),
        (
            "upgrade with downtime",
            lambda b: rayservice(b)["upgradeStrategy"].__setitem__("type", "None"),
            "zero-downtime upgrades need",
        ),
        (
            "ray version mismatch",
            lambda b: rayservice(b)["rayClusterConfig"].__setitem__("rayVersion", "2.9.0"),
            "Ray is pinned at",
        ),
        ("serve cannot fit", set_(worker, "maxReplicas", 0), "maxReplicas: must be at least 1"),
        ("bad cron", set_(cron, "schedule", "0 25 * * *"), "field '25'"),
        (
            "deletion rules with shutdown",
            lambda b: cron(b)["jobTemplate"].__setitem__("shutdownAfterJobFinishes", True),
            "mutually exclusive with shutdownAfterJobFinishes",
        ),
        (
            "committed secret",
            lambda b: b.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "x"},
                    "stringData": {"k": "v"},
                }
            ),
            "Secrets are created out of band",
        ),
        (
            "secret in a configmap",
            lambda b: _get(b, "ConfigMap")["data"].__setitem__(
                "FRAUDLENS_KAFKA__SASL_PASSWORD", "hunter2"
            ),
            "looks secret",
        ),
        (
            "undocumented secret",
            lambda b: container(b)["envFrom"].append({"secretRef": {"name": "mystery"}}),
            "Secret 'mystery' is not one of the documented secrets",
        ),
        (
            "missing configmap",
            lambda b: container(b)["envFrom"].append({"configMapRef": {"name": "nope"}}),
            "ConfigMap 'nope' is not in the bundle",
        ),
        (
            "no limits",
            lambda b: container(b)["resources"].pop("limits"),
            "resources.limits.cpu: required",
        ),
        (
            "no readiness probe",
            lambda b: container(b).pop("readinessProbe"),
            "readinessProbe: required",
        ),
        ("latest image", set_(container, "image", "fraudlens:latest"), "pin a tag or digest"),
        (
            "runs as root",
            lambda b: scorer(b)["securityContext"].__setitem__("runAsNonRoot", False),
            "runAsNonRoot: must be true",
        ),
        (
            "hpa beyond partitions",
            lambda b: _get(b, "HorizontalPodAutoscaler", "fraudlens-stream-scorer")[
                "spec"
            ].__setitem__("maxReplicas", 13),
            "exceeds the topic's 12 partitions",
        ),
        (
            "hpa target missing",
            lambda b: _get(b, "HorizontalPodAutoscaler", "fraudlens-stream-scorer")["spec"][
                "scaleTargetRef"
            ].__setitem__("name", "ghost"),
            "scaleTargetRef Deployment/ghost is not in the bundle",
        ),
        (
            "replicas fight the hpa",
            lambda b: _get(b, "Deployment", "fraudlens-stream-scorer")["spec"].__setitem__(
                "replicas", 3
            ),
            "leave it to the HPA",
        ),
        (
            "pdb selects nothing",
            lambda b: _get(b, "PodDisruptionBudget", "fraudlens-scoring-workers")["spec"][
                "selector"
            ]["matchLabels"].__setitem__("ray.io/node-type", "wroker"),
            "matches no Pod",
        ),
        (
            "misspelt setting",
            lambda b: _get(b, "ConfigMap")["data"].__setitem__(
                "FRAUDLENS_KAFKA__BOOTSTRAP_SERVER", "x:9092"
            ),
            "FRAUDLENS_KAFKA__BOOTSTRAP_SERVER is not a setting",
        ),
        (
            "bad setting value",
            lambda b: _get(b, "ConfigMap")["data"].__setitem__(
                "FRAUDLENS_KAFKA__SECURITY_PROTOCOL", "SASL-SSL"
            ),
            "FRAUDLENS_KAFKA__SECURITY_PROTOCOL='SASL-SSL'",
        ),
        (
            "checkpoints on the pod's disk",
            lambda b: _get(b, "ConfigMap")["data"].__setitem__(
                "FRAUDLENS_CHECKPOINT__URL", "/var/lib/fraudlens/checkpoints"
            ),
            "checkpoint.url must name object storage in production mode",
        ),
        (
            "no checkpoint location",
            lambda b: _get(b, "ConfigMap")["data"].pop("FRAUDLENS_CHECKPOINT__URL"),
            "prod unset FRAUDLENS_CHECKPOINT__URL: checkpoint.url must name object storage",
        ),
        (
            "live rules in one pod",
            lambda b: _get(b, "ConfigMap")["data"].__setitem__(
                "FRAUDLENS_SERVE__RULES_STORE", "file"
            ),
            "serve.rules_store=file keeps live rules in one pod",
        ),
        (
            "rules in a redis without a url",
            lambda b: _get(b, "ConfigMap")["data"].__setitem__(
                "FRAUDLENS_SERVE__RULES_STORE", "redis"
            ),
            "serve.rules_store=redis needs serve.rules_redis_url",
        ),
        (
            "long name",
            lambda b: _get(b, "RayService")["metadata"].__setitem__("name", "x" * 48),
            "longer than 47",
        ),
        (
            "offline rows on the pod's disk",
            lambda b: _get(b, "ConfigMap")["data"].pop("FRAUDLENS_FEAST__OFFLINE_PATH"),
            "runs `fraudlens stream features` but FRAUDLENS_FEAST__OFFLINE_PATH is not set",
        ),
        (
            "training without the offline store",
            lambda b: train_head(b)["containers"][0]["volumeMounts"].pop(),
            "container ray-head does not mount FRAUDLENS_FEAST__OFFLINE_PATH",
        ),
        (
            "offline store on an emptyDir",
            lambda b: (
                features(b)["volumes"][1].__setitem__("emptyDir", {})
                or features(b)["volumes"][1].pop("persistentVolumeClaim")
            ),
            "/var/lib/fraudlens-offline is volume 'feast-offline', not a PersistentVolumeClaim",
        ),
        (
            "offline store on one node",
            lambda b: _get(b, "PersistentVolumeClaim")["spec"].__setitem__(
                "accessModes", ["ReadWriteOnce"]
            ),
            "'fraudlens-feast-offline' must be ReadWriteMany",
        ),
    ]


@pytest.mark.parametrize(
    ("case", "mutate", "expected"), _mutations(), ids=[m[0] for m in _mutations()]
)
def test_each_breakage_is_caught(
    case: str, mutate: Callable[[Bundle], None], expected: str
) -> None:
    bundle = _bundle()
    mutate(bundle)
    version = ray_version()
    problems = policy_problems(bundle, "prod", EXTERNAL_SECRETS)
    problems += offline_store_problems(bundle, "prod")
    problems += settings_env_problems(manifest_env(bundle), "prod", Settings, PENDING_SETTINGS)
    secrets = {name: ("Secret fraudlens-secrets", None) for name in SECRET_ENV}
    problems += production_env_problems(manifest_env(bundle) | secrets, "prod", Settings)
    for obj in bundle:
        if obj["apiVersion"].startswith("ray.io/"):
            problems += kuberay_rules(obj, f"prod {obj['kind']}", version)
    assert expected in _messages(problems), case


def test_per_replica_rate_limits_fail() -> None:
    env = manifest_env(_bundle())
    secrets = {name: ("Secret fraudlens-secrets", None) for name in SECRET_ENV}
    assert production_env_problems(env | secrets, "prod", Settings) == []
    limits = "FRAUDLENS_SECURITY__RATE_LIMIT_STORAGE"
    expected = "security.rate_limit_storage must be shared storage in production mode"
    del secrets[limits]  # not in the Secret: the memory:// default
    assert f"prod unset {limits}: {expected}" in _messages(
        production_env_problems(env | secrets, "prod", Settings)
    )
    env[limits] = ("ConfigMap fraudlens-config", "memory://")
    assert expected in _messages(production_env_problems(env | secrets, "prod", Settings))
    env[limits] = ("ConfigMap fraudlens-config", "redis://redis:6379/1")
    assert production_env_problems(env | secrets, "prod", Settings) == []


def test_serve_replicas_that_cannot_fit_the_cluster_fail() -> None:
    rayservice = _get(_bundle("dev"), "RayService")
    config = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    config["applications"][0]["deployments"][0]["autoscaling_config"]["min_replicas"] = 40
    problems = serve_capacity(rayservice, config, "dev")
    assert (
        "Serve needs 20.25 CPUs at its minimum replicas but the worker groups offer at most 4"
        in _messages(problems)
    )


def test_the_stream_deployments_run_the_stream_commands() -> None:
    bundle = _bundle()
    commands = {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["command"]
        for o in bundle
        if o["kind"] == "Deployment"
    }
    assert commands == {
        "fraudlens-stream-features": ["fraudlens", "stream", "features"],
        "fraudlens-stream-scorer": ["fraudlens", "stream", "score"],
        "fraudlens-records-sink": ["fraudlens", "records", "sink"],
        "mlflow": ["mlflow", "server"],  # the optional tracking server
    }
