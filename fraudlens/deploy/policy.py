"""FraudLens's rules for a rendered environment, beyond what schemas can say.

Run on a *bundle*: every object one environment applies (the overlay and its
training job), so references between objects can be resolved:

- no Secret is committed, secret-looking values never sit in plain env or
  ConfigMaps, and every referenced Secret is one the docs tell users to create;
- every referenced ConfigMap and ServiceAccount is in the bundle;
- every container has CPU/memory requests and limits, a tagged image, a
  readiness probe (Deployments and Ray Pods), no privilege escalation, and
  runs as non-root; named probe ports exist;
- Services, NetworkPolicies and PodDisruptionBudgets select some Pod (with the
  labels KubeRay adds to Ray Pods); HPAs target a Deployment of the bundle that
  leaves ``replicas`` to them, with min <= max <= Kafka partitions for the
  stream jobs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fraudlens.deploy.kustomize import object_id, split_image
from fraudlens.deploy.problems import Problem
from fraudlens.deploy.workloads import PodTemplate, pod_templates, selector_matches

_SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE|_KEYS?$|CONNECTION_STRING)")
PARTITIONS_KEY = "FRAUDLENS_KAFKA__PARTITIONS"


def policy_problems(
    bundle: Sequence[Mapping[str, Any]], where: str, external_secrets: Iterable[str]
) -> list[Problem]:
    """Every rule above, for one environment's objects."""
    allowed_secrets = set(external_secrets)
    problems: list[Problem] = []
    templates = [(obj, t) for obj in bundle for t in pod_templates(obj)]
    configmaps = {_name(o) for o in bundle if o.get("kind") == "ConfigMap"}
    accounts = {_name(o) for o in bundle if o.get("kind") == "ServiceAccount"}
    for obj in bundle:
        here = f"{where} {object_id(obj)}"
        kind = obj.get("kind")
        if kind == "Secret":
            problems.append(Problem(here, "Secrets are created out of band, never committed"))
        if kind == "ConfigMap":
            problems += [
                Problem(here, f"data.{key}: looks secret; put it in a Secret")
                for key in obj.get("data") or {}
                if _SECRET_NAME.search(key)
            ]
        problems += _references(obj, here, configmaps, allowed_secrets)
        for template in pod_templates(obj):
            problems += _pod_rules(obj, template, here, accounts)
        spec = obj.get("spec") or {}
        if kind in {"Service", "PodDisruptionBudget", "NetworkPolicy"}:
            selector = spec.get("podSelector") if kind == "NetworkPolicy" else spec.get("selector")
            selector = {"matchLabels": selector} if kind == "Service" else selector
            problems += _selects_something(here, selector or {}, templates, kind == "NetworkPolicy")
        if kind == "HorizontalPodAutoscaler":
            problems += _hpa_rules(obj, here, bundle)
    return problems


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _references(
    node: Any, here: str, configmaps: set[str], secrets: set[str], path: str = ""
) -> list[Problem]:
    """Resolve configMap/secret references anywhere in an object."""
    out: list[Problem] = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else str(key)
            name = value.get("name") if isinstance(value, Mapping) else None
            if key in {"configMapRef", "configMapKeyRef"} or (key == "configMap" and name):
                if name not in configmaps:
                    out.append(Problem(here, f"{sub}: ConfigMap {name!r} is not in the bundle"))
            elif key in {"secretRef", "secretKeyRef"} or (
                key == "secret" and isinstance(value, Mapping) and "secretName" in value
            ):
                secret = value.get("secretName") if key == "secret" else name
                if secret not in secrets:
                    out.append(
                        Problem(
                            here,
                            f"{sub}: Secret {secret!r} is not one of the documented secrets "
                            f"{sorted(secrets)} (docs/deploy.md)",
                        )
                    )
            out += _references(value, here, configmaps, secrets, sub)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            out += _references(item, here, configmaps, secrets, f"{path}[{i}]")
    return out


def _pod_rules(
    obj: Mapping[str, Any], template: PodTemplate, here: str, accounts: set[str]
) -> list[Problem]:
    spec = template.template.get("spec") or {}
    path = template.path
    out = []
    account = spec.get("serviceAccountName")
    if account and account not in accounts:
        out.append(
            Problem(here, f"{path}.spec.serviceAccountName: {account!r} is not in the bundle")
        )
    if (spec.get("securityContext") or {}).get("runAsNonRoot") is not True:
        out.append(Problem(here, f"{path}.spec.securityContext.runAsNonRoot: must be true"))
    needs_probe = obj.get("kind") == "Deployment" or template.ray_node_type is not None
    for i, container in enumerate(template.containers):
        where = f"{path}.spec.containers[{i}] ({container.get('name')})"
        out += [Problem(here, f"{where}: {m}") for m in _container_rules(container, needs_probe)]
    return out


def _container_rules(container: Mapping[str, Any], needs_probe: bool) -> list[str]:
    out = []
    resources = container.get("resources") or {}
    for section in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(section) or {}):
                out.append(f"resources.{section}.{resource}: required")
    _, tag, digest = split_image(str(container.get("image", "")))
    if not digest and tag in {"", "latest"}:
        out.append(f"image {container.get('image')!r}: pin a tag or digest (not latest)")
    if (container.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False:
        out.append("securityContext.allowPrivilegeEscalation: must be false")
    if needs_probe and "readinessProbe" not in container:
        out.append("readinessProbe: required")
    ports = {p.get("name") for p in container.get("ports") or []}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        port = ((container.get(probe) or {}).get("httpGet") or {}).get("port")
        if isinstance(port, str) and port not in ports:
            out.append(f"{probe}.httpGet.port: no container port named {port!r}")
    for env in container.get("env") or []:
        if "value" in env and _SECRET_NAME.search(str(env.get("name", ""))):
            out.append(f"env {env.get('name')}: looks secret; use valueFrom.secretKeyRef")
    return out


def _selects_something(
    here: str,
    selector: Mapping[str, Any],
    templates: Sequence[tuple[Mapping[str, Any], PodTemplate]],
    empty_ok: bool,
) -> list[Problem]:
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return [] if empty_ok else [Problem(here, "selector is empty: it would select every Pod")]
    if any(selector_matches(selector, t.labels) for _, t in templates):
        return []
    return [Problem(here, f"selector {dict(selector)} matches no Pod of the bundle")]


def _hpa_rules(
    hpa: Mapping[str, Any], here: str, bundle: Sequence[Mapping[str, Any]]
) -> list[Problem]:
    spec = hpa.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    target = next(
        (o for o in bundle if o.get("kind") == ref.get("kind") and _name(o) == ref.get("name")),
        None,
    )
    if target is None:
        return [
            Problem(
                here, f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} is not in the bundle"
            )
        ]
    out = []
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
    if not 1 <= low <= high:
        out.append(Problem(here, f"need 1 <= minReplicas ({low}) <= maxReplicas ({high})"))
    if "replicas" in (target.get("spec") or {}):
        out.append(Problem(here, f"{object_id(target)} sets spec.replicas; leave it to the HPA"))
    commands = [c.get("command") or [] for t in pod_templates(target) for c in t.containers]
    if any(cmd[:2] == ["fraudlens", "stream"] for cmd in commands):
        partitions = _partitions(bundle)
        if partitions is None:
            out.append(Problem(here, f"no {PARTITIONS_KEY} in a ConfigMap to size the stream job"))
        elif high > partitions:
            out.append(
                Problem(
                    here,
                    f"maxReplicas {high} exceeds the topic's {partitions} partitions "
                    f"({PARTITIONS_KEY}): the extra consumers would sit idle",
                )
            )
    return out


def _partitions(bundle: Sequence[Mapping[str, Any]]) -> int | None:
    for obj in bundle:
        data = obj.get("data") or {}
        if obj.get("kind") == "ConfigMap" and PARTITIONS_KEY in data:
            return int(data[PARTITIONS_KEY])
    return None
