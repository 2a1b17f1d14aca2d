"""Validate core Kubernetes objects with kubernetes-validate (strict schemas, offline).

Strict means unknown fields fail, as they do with ``kubectl apply`` (the API
server validates fields strictly by default). Custom resources have no schema
in kubernetes-validate; their ``metadata`` is checked here as ObjectMeta and
their body by ``crds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fraudlens.deploy.problems import Problem, json_path

# The oldest Kubernetes minor FraudLens supports: a manifest valid for it is
# valid for newer ones (fields are only ever added within v1 APIs).
KUBERNETES_VERSION = "1.30"


def validate_core(
    obj: Mapping[str, Any], where: str, version: str = KUBERNETES_VERSION
) -> list[Problem]:
    """Validate one built-in object (Deployment, Service, HPA...) against its schema."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(dict(obj), version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [Problem(where, f"{json_path(exc.path)}: {exc.message}")]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [Problem(where, f"no schema: {exc.message}")]
    return []


def validate_metadata(
    obj: Mapping[str, Any], where: str, version: str = KUBERNETES_VERSION
) -> list[Problem]:
    """Validate the ``metadata`` of any object as ObjectMeta (names, labels...)."""
    wrapper = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
    if not isinstance(wrapper["metadata"], dict) or not wrapper["metadata"].get("name"):
        return [Problem(where, "metadata.name: required")]
    return validate_core(wrapper, where, version)
