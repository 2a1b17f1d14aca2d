"""Rules the KubeRay operator enforces at reconcile time, and FraudLens's own for Ray.

The CRD schema accepts objects the operator then rejects (its validation
runs in the controller, not at admission), so the operator's rules for the
fields FraudLens uses are restated here (from ray-operator's
``utils/validation.go``). On top of them, FraudLens's rules: the head
schedules no work, the Ray autoscaler is on, worker groups have sane bounds,
Ray versions agree, and the Serve replicas' minimum fits the cluster's maximum.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fraudlens.deploy.problems import Problem
from fraudlens.deploy.workloads import parse_cpu, ray_cluster_specs

# A RayCluster name is at most 53 characters (its "-serve-svc" Service must
# fit in 63); RayService and RayJob names get 6 more characters appended.
MAX_NAME = 47
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_UPGRADE_TYPES = {"NewCluster", "NewClusterWithIncrementalUpgrade"}
_RESOURCE_PARAMS = {"num-cpus", "num-gpus", "memory", "resources"}
_DELETION_ORDER = ("DeleteWorkers", "DeleteCluster", "DeleteSelf")
_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def kuberay_rules(obj: Mapping[str, Any], where: str, ray_version: str) -> list[Problem]:
    """Check one RayService, RayJob or RayCronJob; ``ray_version`` is the pinned Ray."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    messages = _name_rules(str((obj.get("metadata") or {}).get("name", "")))
    for path, cluster in ray_cluster_specs(obj):
        messages += _cluster_rules(path, cluster, ray_version)
    if kind == "RayService":
        messages += _rayservice_rules(spec)
    elif kind == "RayJob":
        messages += _rayjob_rules("spec", spec)
    elif kind == "RayCronJob":
        messages += _cron_rules(str(spec.get("schedule", "")))
        messages += _rayjob_rules("spec.jobTemplate", spec.get("jobTemplate") or {})
    return [Problem(where, m) for m in messages]


def _name_rules(name: str) -> list[str]:
    out = []
    if len(name) > MAX_NAME:
        out.append(f"metadata.name: {name!r} is longer than {MAX_NAME} characters")
    if not _DNS1035.match(name):
        out.append(f"metadata.name: {name!r} is not a DNS-1035 label")
    return out


def _cluster_rules(path: str, cluster: Mapping[str, Any], ray_version: str) -> list[str]:
    out = []
    if str(cluster.get("rayVersion", "")) != ray_version:
        out.append(
            f"{path}.rayVersion: {cluster.get('rayVersion')!r}, Ray is pinned at {ray_version}"
        )
    if cluster.get("enableInTreeAutoscaling") is not True:
        out.append(f"{path}.enableInTreeAutoscaling: must be true (the Ray autoscaler)")
    head = cluster.get("headGroupSpec") or {}
    params = head.get("rayStartParams") or {}
    if params.get("num-cpus") != "0":
        out.append(
            f'{path}.headGroupSpec.rayStartParams.num-cpus: must be "0" (no work on the head)'
        )
    v2 = (cluster.get("autoscalerOptions") or {}).get("version") == "v2"
    groups = [("headGroupSpec", head)] + [
        (f"workerGroupSpecs[{i}]", g) for i, g in enumerate(cluster.get("workerGroupSpecs") or [])
    ]
    names = [g.get("groupName") for _, g in groups[1:]]
    if len(names) != len(set(names)):
        out.append(f"{path}.workerGroupSpecs: groupName values must be unique")
    for label, group in groups:
        where = f"{path}.{label}"
        group_params = group.get("rayStartParams") or {}
        if group.get("resources") and _RESOURCE_PARAMS & set(group_params):
            out.append(f"{where}: resources set in both rayStartParams and resources")
        if "labels" in group_params:
            out.append(f"{where}.rayStartParams.labels: not supported, use {where}.labels")
        restart = ((group.get("template") or {}).get("spec") or {}).get("restartPolicy")
        if v2 and restart not in (None, "Never"):
            out.append(
                f"{where}.template.spec.restartPolicy: must be Never or unset (autoscaler v2)"
            )
        if label != "headGroupSpec":
            out += _worker_bounds(where, group)
    return out


def _worker_bounds(where: str, group: Mapping[str, Any]) -> list[str]:
    low, high = group.get("minReplicas", 0), group.get("maxReplicas")
    replicas = group.get("replicas", low)
    if not isinstance(high, int) or high < 1:
        return [f"{where}.maxReplicas: must be at least 1"]
    if not (isinstance(low, int) and isinstance(replicas, int) and 0 <= low <= replicas <= high):
        return [
            f"{where}: need 0 <= minReplicas ({low}) <= replicas ({replicas}) <= maxReplicas ({high})"
        ]
    return []


def _rayservice_rules(spec: Mapping[str, Any]) -> list[str]:
    out = []
    upgrade = (spec.get("upgradeStrategy") or {}).get("type")
    if upgrade not in _UPGRADE_TYPES:
        out.append(
            f"spec.upgradeStrategy.type: {upgrade!r}; zero-downtime upgrades need one of "
            f"{sorted(_UPGRADE_TYPES)}"
        )
    if upgrade == "NewClusterWithIncrementalUpgrade":
        options = (spec.get("upgradeStrategy") or {}).get("clusterUpgradeOptions") or {}
        for key in ("gatewayClassName", "stepSizePercent", "intervalSeconds"):
            if not options.get(key):
                out.append(f"spec.upgradeStrategy.clusterUpgradeOptions.{key}: required")
    if spec.get("rayClusterDeletionDelaySeconds", 0) < 0:
        out.append("spec.rayClusterDeletionDelaySeconds: must not be negative")
    if not spec.get("serveConfigV2"):
        out.append("spec.serveConfigV2: required (the Serve app to run)")
    return out


def _rayjob_rules(path: str, spec: Mapping[str, Any]) -> list[str]:
    out = []
    shutdown = bool(spec.get("shutdownAfterJobFinishes"))
    if not str(spec.get("entrypoint", "")).strip():
        out.append(f"{path}.entrypoint: required")
    if spec.get("suspend") and not shutdown:
        out.append(f"{path}.suspend: needs shutdownAfterJobFinishes: true")
    if spec.get("ttlSecondsAfterFinished", 0) > 0 and not shutdown:
        out.append(f"{path}.ttlSecondsAfterFinished: needs shutdownAfterJobFinishes: true")
    if not spec.get("rayClusterSpec") and not spec.get("clusterSelector"):
        out.append(f"{path}: one of rayClusterSpec or clusterSelector is required")
    if "activeDeadlineSeconds" in spec and spec["activeDeadlineSeconds"] <= 0:
        out.append(f"{path}.activeDeadlineSeconds: must be positive")
    if spec.get("backoffLimit", 0) < 0:
        out.append(f"{path}.backoffLimit: must not be negative")
    strategy = spec.get("deletionStrategy")
    if strategy is not None:
        out += _deletion_rules(f"{path}.deletionStrategy", strategy, spec, shutdown)
    return out


def _deletion_rules(
    path: str, strategy: Mapping[str, Any], spec: Mapping[str, Any], shutdown: bool
) -> list[str]:
    rules = strategy.get("deletionRules") or []
    legacy = "onSuccess" in strategy or "onFailure" in strategy
    if rules and legacy:
        return [f"{path}: deletionRules and onSuccess/onFailure are mutually exclusive"]
    if not rules:
        if not ("onSuccess" in strategy and "onFailure" in strategy):
            return [f"{path}: needs both onSuccess and onFailure, or deletionRules"]
        return []
    out = []
    if shutdown:
        out.append(f"{path}.deletionRules: mutually exclusive with shutdownAfterJobFinishes")
    autoscaling = (spec.get("rayClusterSpec") or {}).get("enableInTreeAutoscaling") is True
    ttls: dict[tuple[str, str], int] = {}
    for i, rule in enumerate(rules):
        condition, policy = rule.get("condition") or {}, str(rule.get("policy"))
        has_job, has_deploy = "jobStatus" in condition, "jobDeploymentStatus" in condition
        if has_job == has_deploy:
            out.append(
                f"{path}.deletionRules[{i}].condition: exactly one of jobStatus or jobDeploymentStatus"
            )
        if autoscaling and policy == "DeleteWorkers":
            out.append(
                f"{path}.deletionRules[{i}]: DeleteWorkers is not supported with autoscaling"
            )
        status = str(condition.get("jobStatus", condition.get("jobDeploymentStatus", "")))
        if (status, policy) in ttls:
            out.append(f"{path}.deletionRules[{i}]: duplicate rule for {status}/{policy}")
        ttls[(status, policy)] = int(condition.get("ttlSeconds", 0))
    for status in {s for s, _ in ttls}:
        order = [ttls[(status, p)] for p in _DELETION_ORDER if (status, p) in ttls]
        if order != sorted(order):
            out.append(
                f"{path}.deletionRules: for {status}, TTLs must grow DeleteWorkers <= DeleteCluster <= DeleteSelf"
            )
    return out


def _cron_rules(schedule: str) -> list[str]:
    fields = schedule.split()
    if schedule.startswith("@") or len(fields) != 5:
        return [f"spec.schedule: {schedule!r} is not a five-field cron expression"]
    for text, (low, high) in zip(fields, _CRON_RANGES, strict=True):
        numbers = [int(n) for n in re.findall(r"\d+", text.split("/")[0])]
        if not _CRON_FIELD.match(text) or any(not low <= n <= high for n in numbers):
            return [f"spec.schedule: field {text!r} of {schedule!r} is invalid"]
    return []


def serve_capacity(
    obj: Mapping[str, Any], serve_config: Mapping[str, Any], where: str
) -> list[Problem]:
    """The Serve replicas' minimum CPU demand must fit the worker groups' maximum.

    Otherwise the application can never become healthy, whatever the Ray
    autoscaler does. Replicas ask for ``ray_actor_options.num_cpus`` (Serve's
    default is 1); a worker offers its ``num-cpus`` start parameter or its CPU
    limit.
    """
    demand = 0.0
    for app in serve_config.get("applications") or []:
        for dep in app.get("deployments") or []:
            autoscaling = dep.get("autoscaling_config") or {}
            replicas = autoscaling.get("min_replicas", dep.get("num_replicas", 1))
            cpus = (dep.get("ray_actor_options") or {}).get("num_cpus", 1)
            demand += float(replicas if isinstance(replicas, int | float) else 1) * float(cpus)
    supply = 0.0
    for path, cluster in ray_cluster_specs(obj):
        for i, group in enumerate(cluster.get("workerGroupSpecs") or []):
            try:
                supply += group.get("maxReplicas", 0) * _worker_cpus(group)
            except ValueError as exc:
                return [Problem(where, f"{path}.workerGroupSpecs[{i}]: {exc}")]
    if demand > supply:
        return [
            Problem(
                where,
                f"Serve needs {demand:g} CPUs at its minimum replicas but the worker "
                f"groups offer at most {supply:g}",
            )
        ]
    return []


def _worker_cpus(group: Mapping[str, Any]) -> float:
    if "num-cpus" in (group.get("rayStartParams") or {}):
        return parse_cpu(group["rayStartParams"]["num-cpus"])
    containers = ((group.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    limits = (containers[0].get("resources") or {}).get("limits") or {}
    if "cpu" not in limits:
        raise ValueError("the Ray container has no CPU limit (or num-cpus) to size it")
    return parse_cpu(limits["cpu"])
