"""Validate KubeRay objects against the openAPIV3Schema of their CRDs, offline.

The CRDs come from, in order: the folder named by ``FRAUDLENS_KUBERAY_CRDS``
(the CRDs of your KubeRay release), the copy vendored in ``kuberay/crds/``
(v1.7.0), or ``../shared/kuberay-crds`` beside the repository. A missing
folder or file is an error with a message saying what to set, never a skip.

The API server rejects unknown fields (``kubectl apply`` validates strictly),
but CRD schemas do not say ``additionalProperties: false``; the schemas are
made strict here so a misspelt field fails too. CEL rules
(``x-kubernetes-validations``) are not evaluated: ``kuberay_rules`` checks the
operator's own rules for the fields FraudLens uses.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from fraudlens.deploy.problems import Problem, json_path
from fraudlens.errors import ConfigError

CRDS_ENV = "FRAUDLENS_KUBERAY_CRDS"
GROUP = "ray.io"
CRD_FILES = {
    "RayService": "ray.io_rayservices.yaml",
    "RayJob": "ray.io_rayjobs.yaml",
    "RayCronJob": "ray.io_raycronjobs.yaml",
}


def find_crd_dir(repo_root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The folder holding the KubeRay CRDs to validate against.

    Raises:
        ConfigError: ``FRAUDLENS_KUBERAY_CRDS`` names a folder that is missing
            or incomplete, or no CRD folder is found at all.
    """
    env = os.environ if environ is None else environ
    if value := env.get(CRDS_ENV):
        folder = Path(value).expanduser()
        _require_files(folder, f"{CRDS_ENV}={value}")
        return folder
    candidates = [repo_root / "kuberay" / "crds", repo_root.parent / "shared" / "kuberay-crds"]
    for folder in candidates:
        if folder.is_dir():
            _require_files(folder, str(folder))
            return folder
    raise ConfigError(
        "KubeRay CRD schemas not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + f"); set {CRDS_ENV} to the folder holding "
        + ", ".join(sorted(CRD_FILES.values()))
        + " (ray-operator/config/crd/bases of your KubeRay release)"
    )


def _require_files(folder: Path, label: str) -> None:
    if not folder.is_dir():
        raise ConfigError(f"KubeRay CRD folder {label} does not exist")
    missing = [name for name in CRD_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise ConfigError(f"KubeRay CRD folder {label} lacks {', '.join(missing)}")


def is_kuberay(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` is a KubeRay custom resource (``ray.io/...``)."""
    return str(obj.get("apiVersion", "")).startswith(f"{GROUP}/")


def validate_kuberay(obj: Mapping[str, Any], crd_dir: Path, where: str) -> list[Problem]:
    """Validate one KubeRay object against its CRD's schema (made strict).

    Raises:
        ConfigError: the CRD file cannot be read.
    """
    kind = str(obj.get("kind"))
    if kind not in CRD_FILES:
        return [Problem(where, f"kind {kind} has no known KubeRay CRD ({', '.join(CRD_FILES)})")]
    version = str(obj.get("apiVersion", "")).split("/", 1)[-1]
    schemas = _schemas(crd_dir / CRD_FILES[kind])
    if version not in schemas:
        return [Problem(where, f"apiVersion {obj.get('apiVersion')} is not served by the CRD")]
    validator = jsonschema.Draft7Validator(schemas[version])
    return [
        Problem(where, f"{json_path(err.absolute_path)}: {err.message}")
        for err in sorted(validator.iter_errors(dict(obj)), key=lambda e: list(e.absolute_path))
    ]


@functools.lru_cache(maxsize=16)
def _schemas(path: Path) -> dict[str, dict[str, Any]]:
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        crd = yaml.load(path.read_text(), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read CRD {path}: {exc}") from exc
    try:
        return {
            version["name"]: strict_schema(version["schema"]["openAPIV3Schema"])
            for version in crd["spec"]["versions"]
            if version.get("served", True)
        }
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a CustomResourceDefinition with schemas") from exc


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of an OpenAPI v3 schema where objects reject unknown fields.

    Objects that declare ``properties`` get ``additionalProperties: false``
    unless they already constrain additional properties or carry
    ``x-kubernetes-preserve-unknown-fields: true``.
    """
    out = copy.deepcopy(schema)
    _tighten(out)
    return out


def _tighten(node: Any) -> None:
    if isinstance(node, dict):
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            _tighten(value)
    elif isinstance(node, list):
        for item in node:
            _tighten(item)
