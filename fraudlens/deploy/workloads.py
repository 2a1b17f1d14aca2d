"""Walk the Pods that objects will create: Deployments, and the Ray Pods of KubeRay objects."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Labels KubeRay puts on every Ray Pod; they win over the template's own.
KUBERAY_POD_LABELS = {
    "ray.io/is-ray-node": "yes",
    "app.kubernetes.io/name": "kuberay",
    "app.kubernetes.io/created-by": "kuberay-operator",
}


@dataclass(frozen=True)
class PodTemplate:
    """A Pod template and the labels its Pods will carry.

    Attributes:
        path: where the template sits in its object, e.g. ``spec.template``.
        template: the PodTemplateSpec (``metadata`` + ``spec``).
        labels: the labels of the running Pods (KubeRay's added for Ray Pods).
        ray_node_type: ``head`` or ``worker`` for Ray Pods, None otherwise.
    """

    path: str
    template: Mapping[str, Any]
    labels: Mapping[str, str]
    ray_node_type: str | None = None

    @property
    def containers(self) -> list[dict[str, Any]]:
        """The template's containers."""
        return list((self.template.get("spec") or {}).get("containers") or [])


def ray_cluster_specs(obj: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(path, RayClusterSpec)`` of a RayService, RayJob or RayCronJob."""
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind == "RayService" and "rayClusterConfig" in spec:
        yield "spec.rayClusterConfig", spec["rayClusterConfig"]
    elif kind == "RayJob" and "rayClusterSpec" in spec:
        yield "spec.rayClusterSpec", spec["rayClusterSpec"]
    elif kind == "RayCronJob" and "rayClusterSpec" in (spec.get("jobTemplate") or {}):
        yield "spec.jobTemplate.rayClusterSpec", spec["jobTemplate"]["rayClusterSpec"]


def pod_templates(obj: Mapping[str, Any]) -> Iterator[PodTemplate]:
    """Every Pod template of ``obj`` with the labels its Pods will have."""
    spec = obj.get("spec") or {}
    if obj.get("kind") in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        template = spec.get("template") or {}
        yield PodTemplate("spec.template", template, _labels(template))
    elif obj.get("kind") == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        yield PodTemplate("spec.jobTemplate.spec.template", template, _labels(template))
    for path, cluster in ray_cluster_specs(obj):
        head = cluster.get("headGroupSpec") or {}
        yield _ray_template(f"{path}.headGroupSpec.template", head, "head", "headgroup")
        for i, group in enumerate(cluster.get("workerGroupSpecs") or []):
            yield _ray_template(
                f"{path}.workerGroupSpecs[{i}].template", group, "worker", group.get("groupName")
            )


def _labels(template: Mapping[str, Any]) -> dict[str, str]:
    return dict((template.get("metadata") or {}).get("labels") or {})


def _ray_template(path: str, group: Mapping[str, Any], node_type: str, name: Any) -> PodTemplate:
    template = group.get("template") or {}
    labels = _labels(template) | KUBERAY_POD_LABELS
    labels |= {"ray.io/node-type": node_type, "ray.io/group": str(name)}
    return PodTemplate(path, template, labels, node_type)


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels / matchExpressions) selects ``labels``."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def parse_cpu(quantity: Any) -> float:
    """CPU cores from a Kubernetes quantity: ``"500m"`` -> 0.5, ``"2"`` -> 2.0.

    Raises:
        ValueError: not a CPU quantity.
    """
    text = str(quantity).strip()
    if text.endswith("m"):
        return float(text[:-1]) / 1000
    return float(text)
