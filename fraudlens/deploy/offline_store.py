"""The offline store must outlive pods: one shared claim, mounted wherever it is used.

The stream feature job appends the offline rows; training and the scheduled
drift cycle (which retrains) read them through Feast. Under ``DATA_DIR`` (an
``emptyDir``) the rows would die with the writer's pod, the readers would
never see them, and they would fill the pod's disk until it is evicted. So
``FRAUDLENS_FEAST__OFFLINE_PATH`` must be set and be, in every Pod of those
workloads, a mount of a ``ReadWriteMany`` PersistentVolumeClaim of the bundle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fraudlens.deploy.kustomize import object_id
from fraudlens.deploy.problems import Problem
from fraudlens.deploy.settings_env import manifest_env
from fraudlens.deploy.workloads import PodTemplate, pod_templates

OFFLINE_PATH = "FRAUDLENS_FEAST__OFFLINE_PATH"
# The commands that write (stream features) or read (training, with or without the loop) it.
OFFLINE_USERS = ("fraudlens stream features", "fraudlens train", "fraudlens drift cycle")


def command_of(obj: Mapping[str, Any]) -> str | None:
    """The FraudLens command a workload runs: a Ray job's entrypoint, a Deployment's command."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "RayJob":
        return spec.get("entrypoint")
    if obj.get("kind") == "RayCronJob":
        return (spec.get("jobTemplate") or {}).get("entrypoint")
    for template in pod_templates(obj):
        for container in template.containers:
            if container.get("command"):
                return " ".join(container["command"])
    return None


def offline_store_problems(bundle: Sequence[Mapping[str, Any]], where: str) -> list[Problem]:
    """The rule above, for one environment's objects."""
    path = (manifest_env(bundle).get(OFFLINE_PATH) or ("", None))[1]
    claims = {
        str(o["metadata"]["name"]): o for o in bundle if o.get("kind") == "PersistentVolumeClaim"
    }
    problems: list[Problem] = []
    for obj in bundle:
        command = command_of(obj) or ""
        if not command.startswith(OFFLINE_USERS):
            continue
        here = f"{where} {object_id(obj)}"
        if not path:
            problems.append(
                Problem(
                    here,
                    f"runs `{command}` but {OFFLINE_PATH} is not set: the offline rows would "
                    "live on the pod's disk (DATA_DIR, an emptyDir)",
                )
            )
            continue
        for template in pod_templates(obj):
            reason = _mount_problem(template, path, claims)
            if reason:
                problems.append(Problem(here, f"{template.path}: {reason}"))
    return problems


def _mount_problem(
    template: PodTemplate, path: str, claims: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """Why ``path`` is not a shared claim in every container of ``template`` (None: it is)."""
    volumes = {v.get("name"): v for v in (template.template.get("spec") or {}).get("volumes") or []}
    for container in template.containers:
        mounts = [
            m
            for m in container.get("volumeMounts") or []
            if path == m.get("mountPath")
            or path.startswith(str(m.get("mountPath")).rstrip("/") + "/")
        ]
        if not mounts:
            return f"container {container.get('name')} does not mount {OFFLINE_PATH} ({path})"
        mount = max(mounts, key=lambda m: len(str(m.get("mountPath"))))  # the innermost
        claim = (volumes.get(mount.get("name")) or {}).get("persistentVolumeClaim")
        if not claim:
            return f"{path} is volume {mount.get('name')!r}, not a PersistentVolumeClaim"
        name = claim.get("claimName")
        if name not in claims:
            return f"PersistentVolumeClaim {name!r} is not in the bundle"
        if "ReadWriteMany" not in (claims[name].get("spec") or {}).get("accessModes", []):
            return f"PersistentVolumeClaim {name!r} must be ReadWriteMany (several pods mount it)"
    return None
